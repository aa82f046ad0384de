/*
 * Shared helpers of the engine's unit tests (cmocka).
 *
 * Fixtures live in $ZOLL_TEST_DATA (default tests/unit/data, relative to
 * the repository root the tests are run from).  Most policy tests start
 * from the base policy data/policy.json, change one value with zt_set() and
 * parse the result, so each test shows only what it is about.
 */

#ifndef ZT_H
#define ZT_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>

#include "zoll.h"


#define ZT_PATH_LEN  4096

#define zt_assert_contains(hay, needle)                                     \
    do {                                                                    \
        if (strstr((hay), (needle)) == NULL) {                              \
            fail_msg("\"%s\" does not contain \"%s\"", (hay), (needle));    \
        }                                                                   \
    } while (0)


/* "$ZOLL_TEST_DATA/<name>" in a static buffer (one at a time) */
const char *zt_data(const char *name);

/* the base policy, loaded as a file */
zoll_policy_t *zt_load_base(void);

/* cmocka group fixtures: *state is the base policy */
int zt_setup_base(void **state);
int zt_teardown_policy(void **state);

/* the base policy as a jansson tree, for editing */
json_t *zt_base(void);

/* Sets the value at a path like "tenants[1].keys[0]" to the JSON text
 * value; NULL removes it, and index == size appends to an array. */
void zt_set(json_t *root, const char *path, const char *value);

/* the value at such a path, or NULL */
json_t *zt_get(json_t *root, const char *path);
const char *zt_str(json_t *root, const char *path);

/* Serialises and parses root (and releases it) with the data directory as
 * base_dir; err receives the engine's error. */
zoll_policy_t *zt_parse(json_t *root, char err[ZOLL_ERR_LEN]);

/* zt_parse() must fail with exactly this message */
void zt_expect_error(json_t *root, const char *want);

/* the base policy with one value changed: loads, or fails with want */
zoll_policy_t *zt_base_with(const char *path, const char *value);
void zt_base_error(const char *path, const char *value, const char *want);

/* parses a record or error body: one line, ending in "\n", valid JSON */
json_t *zt_json_line(const char *buf, size_t len);

const zoll_tenant_t *zt_tenant(const zoll_policy_t *p, const char *id);
const zoll_subprocessor_t *zt_sp(const zoll_policy_t *p, const char *id);


int zt_policy_tests(void);
int zt_route_tests(void);
int zt_record_tests(void);
int zt_validate_tests(void);
int zt_rules_tests(void);
int zt_hs_cache_tests(void);
int zt_redact_tests(void);
int zt_chain_tests(void);
int zt_geoip_tests(void);
int zt_restore_tests(void);

#endif /* ZT_H */
