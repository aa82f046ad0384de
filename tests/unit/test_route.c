/*
 * Routing decisions and tenant keys.
 *
 * The base policy's subprocessor "llm" has the regions us (US: dpf, scc),
 * eu (IE: eea_art28) and ch (CH: adequacy_ch), in that order; US has
 * adequacy through dpf, CH through adequacy_ch.
 */

#include "zt.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#define ZT_DPF_SUSPENDED  "legal_bases[1].suspended"
#define ZT_SCC_SUSPENDED  "legal_bases[2].suspended"


/* routes tenant to subprocessor and checks the status */

static void
zt_route(const zoll_policy_t *p, const char *tenant, const char *sp,
    zoll_status_e want, zoll_decision_t *d)
{
    zoll_status_e  s;

    s = zoll_route(p, zt_tenant(p, tenant), zt_sp(p, sp), NULL, d);

    if (s != want || d->status != want) {
        fail_msg("%s -> %s: status %d, expected %d: %s", tenant, sp,
                 (int) s, (int) want, d->reason);
    }
}


static void
zt_assert_route(const zoll_decision_t *d, const char *region,
    const char *basis, int third_country)
{
    assert_non_null(d->region);
    assert_string_equal(d->region->id, region);
    assert_int_equal(d->third_country, third_country);

    if (basis == NULL) {
        assert_null(d->basis);

    } else {
        assert_non_null(d->basis);
        assert_string_equal(d->basis->id, basis);
    }
}


static void
zt_assert_refused(const zoll_decision_t *d, zoll_status_e s, int http,
    const char *code)
{
    assert_int_equal(d->status, s);
    assert_int_equal(zoll_status_http(d->status), http);
    assert_string_equal(zoll_status_code(d->status), code);
    assert_null(d->region);
    assert_null(d->basis);
    assert_null(d->credential);
}


static void
test_route_eea_only_goes_to_eu(void **state)
{
    zoll_decision_t  d;

    zt_route(*state, "t_eea", "llm", ZOLL_OK, &d);
    zt_assert_route(&d, "eu", "eea_art28", 0);

    assert_string_equal(d.region->host, "eu.example");
    assert_string_equal(d.region->upstream, "eu.example");
    assert_int_equal(d.region->port, 443);
    assert_string_equal(d.credential, "cred-a");

    /* the US region, first in policy order, was passed over and why */
    zt_assert_contains(d.reason, "region \"us\" (US): outside the EEA");
}


static void
test_route_eea_only_ignores_order(void **state)
{
    size_t           i;
    zoll_policy_t   *p;
    zoll_decision_t  d;
    const char      *orders[] = {
        "[\"us\", \"eu\"]", "[\"eu\", \"us\"]", "[\"ch\", \"us\", \"eu\"]"
    };

    (void) state;

    for (i = 0; i < sizeof(orders) / sizeof(orders[0]); i++) {
        p = zt_base_with("tenants[0].subprocessors[0].regions", orders[i]);
        zt_route(p, "t_eea", "llm", ZOLL_OK, &d);
        zt_assert_route(&d, "eu", "eea_art28", 0);
        zoll_policy_free(p);
    }
}


static void
test_route_any_takes_first_region(void **state)
{
    zoll_decision_t  d;

    zt_route(*state, "t_any", "llm", ZOLL_OK, &d);
    zt_assert_route(&d, "us", "dpf", 1);

    assert_string_equal(d.region->host, "us.example");
    assert_string_equal(d.region->upstream, "llm_us");
    assert_int_equal(d.region->port, 8443);
    assert_string_equal(d.credential, "cred-default");
}


static void
test_route_dpf_suspended_falls_back_to_scc(void **state)
{
    zoll_policy_t   *p;
    zoll_decision_t  d;

    (void) state;

    p = zt_base_with(ZT_DPF_SUSPENDED, "true");
    zt_route(p, "t_any", "llm", ZOLL_OK, &d);
    zt_assert_route(&d, "us", "scc", 1);

    /* a reviewer must see that the suspension re-routed the request */
    zt_assert_contains(d.reason, "legal basis \"dpf\" is suspended");
    zoll_policy_free(p);
}


static void
test_route_all_us_bases_suspended_goes_eu(void **state)
{
    json_t          *root;
    zoll_policy_t   *p;
    zoll_decision_t  d;
    char             err[ZOLL_ERR_LEN];

    (void) state;

    root = zt_base();
    zt_set(root, ZT_DPF_SUSPENDED, "true");
    zt_set(root, ZT_SCC_SUSPENDED, "true");
    p = zt_parse(root, err);
    assert_non_null(p);

    zt_route(p, "t_any", "llm", ZOLL_OK, &d);
    zt_assert_route(&d, "eu", "eea_art28", 0);
    zt_assert_contains(d.reason, "\"dpf\" is suspended");
    zt_assert_contains(d.reason, "\"scc\" is suspended");

    /* a tenant held to the US region has no lawful route left */
    zt_route(p, "t_us_only", "llm", ZOLL_ERR_NO_LAWFUL_ROUTE, &d);
    zt_assert_refused(&d, ZOLL_ERR_NO_LAWFUL_ROUTE, 451, "no_lawful_route");
    zt_assert_contains(d.reason, "no lawful route for tenant \"t_us_only\"");
    zt_assert_contains(d.reason, "legal basis \"dpf\" is suspended");
    zt_assert_contains(d.reason, "legal basis \"scc\" is suspended");

    zoll_policy_free(p);
}


static void
test_route_adequate_uses_adequacy(void **state)
{
    zoll_decision_t  d;

    zt_route(*state, "t_adequate", "llm", ZOLL_OK, &d);
    zt_assert_route(&d, "us", "dpf", 1);
}


static void
test_route_adequate_refuses_scc(void **state)
{
    zoll_policy_t   *p;
    zoll_decision_t  d;

    (void) state;

    /* SCCs are a lawful basis, but not an adequacy decision */
    p = zt_base_with(ZT_DPF_SUSPENDED, "true");

    zt_route(p, "t_adequate", "llm", ZOLL_OK, &d);
    zt_assert_route(&d, "eu", "eea_art28", 0);
    zt_assert_contains(d.reason, "no adequacy decision");

    /* the tenant's order puts Switzerland before the EEA */
    zt_route(p, "t_adequate_ch", "llm", ZOLL_OK, &d);
    zt_assert_route(&d, "ch", "adequacy_ch", 1);
    assert_string_equal(d.region->host, "ch.example");

    zoll_policy_free(p);
}


static void
test_route_objected(void **state)
{
    zoll_decision_t  d;

    zt_route(*state, "t_any", "other", ZOLL_ERR_OBJECTED, &d);
    zt_assert_refused(&d, ZOLL_ERR_OBJECTED, 403, "subprocessor_objected");

    /* objecting to an enabled_by_default subprocessor */
    zt_route(*state, "t_objector", "auto", ZOLL_ERR_OBJECTED, &d);
    zt_assert_refused(&d, ZOLL_ERR_OBJECTED, 403, "subprocessor_objected");
}


static void
test_route_not_enabled(void **state)
{
    zoll_decision_t  d;

    zt_route(*state, "t_eea", "other", ZOLL_ERR_NOT_ENABLED, &d);
    zt_assert_refused(&d, ZOLL_ERR_NOT_ENABLED, 403,
                      "subprocessor_not_enabled");

    zt_route(*state, "t_objector", "llm", ZOLL_ERR_NOT_ENABLED, &d);
    zt_assert_refused(&d, ZOLL_ERR_NOT_ENABLED, 403,
                      "subprocessor_not_enabled");
}


static void
test_route_tenant_order_overrides(void **state)
{
    zoll_decision_t  d;

    zt_route(*state, "t_eu_first", "llm", ZOLL_OK, &d);
    zt_assert_route(&d, "eu", "eea_art28", 0);
}


static void
test_route_credential_choice(void **state)
{
    zoll_decision_t  d;

    /* the grant's own credential, else the subprocessor's default */
    zt_route(*state, "t_eea", "llm", ZOLL_OK, &d);
    assert_string_equal(d.credential, "cred-a");
    zt_route(*state, "t_any", "llm", ZOLL_OK, &d);
    assert_string_equal(d.credential, "cred-default");
    zt_route(*state, "t_eu_first", "auto", ZOLL_OK, &d);
    assert_string_equal(d.credential, "cred-b");
    zt_route(*state, "t_any", "auto", ZOLL_OK, &d);
    assert_string_equal(d.credential, "cred-default");
}


/* Keys */

static void
test_key_new_format(void **state)
{
    int   i;
    char  a[ZOLL_KEY_LEN + 1], b[ZOLL_KEY_LEN + 1];

    (void) state;

    assert_int_equal(zoll_key_new(a), 0);
    assert_int_equal(zoll_key_new(b), 0);

    assert_int_equal(strlen(a), ZOLL_KEY_LEN);
    assert_memory_equal(a, "zk_", 3);

    for (i = 3; i < ZOLL_KEY_LEN; i++) {
        if (!isalnum((unsigned char) a[i]) && a[i] != '-' && a[i] != '_') {
            fail_msg("%s: not base64url at %d", a, i);
        }
    }

    assert_string_not_equal(a, b);
}


static void
test_sha256_vectors(void **state)
{
    char           hex[ZOLL_SHA256_HEX_LEN + 1];
    unsigned char  md[ZOLL_SHA256_LEN];

    (void) state;

    /* FIPS 180-2, appendix B.1 */
    zoll_sha256("abc", 3, md);
    zoll_hex(md, sizeof(md), hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223"
                             "b00361a396177a9cb410ff61f20015ad");

    zoll_sha256("", 0, md);
    zoll_hex(md, sizeof(md), hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb924"
                             "27ae41e4649b934ca495991b7852b855");
}


static const char *
zt_lookup(const zoll_policy_t *p, const char *key)
{
    const zoll_tenant_t  *t;

    t = zoll_tenant_lookup(p, key, strlen(key));
    return t ? t->id : NULL;
}


static void
test_tenant_lookup(void **state)
{
    const zoll_policy_t  *p = *state;

    assert_string_equal(zt_lookup(p, "zk_unit_eea"), "t_eea");
    assert_string_equal(zt_lookup(p, "zk_unit_objector"), "t_objector");

    /* a tenant with two keys is found by either */
    assert_string_equal(zt_lookup(p, "zk_unit_any_1"), "t_any");
    assert_string_equal(zt_lookup(p, "zk_unit_any_2"), "t_any");

    assert_null(zt_lookup(p, "zk_wrong"));
    assert_null(zt_lookup(p, "zk_unit_eeb"));
    assert_null(zt_lookup(p, "Zk_unit_eea"));
    assert_null(zt_lookup(p, "zk_unit_eea "));
    assert_null(zt_lookup(p, ""));
    assert_null(zoll_tenant_lookup(p, "zk_unit_eea", 10));
}


/* config/demo/keys.env holds the demo tenants' plain keys; each must find
 * its tenant in the demo policy. */

static void
test_tenant_lookup_demo_keys(void **state)
{
    int             n = 0;
    char            line[256], path[ZT_PATH_LEN], err[ZOLL_ERR_LEN], *eq;
    FILE           *f;
    zoll_policy_t  *p;

    (void) state;

    snprintf(path, sizeof(path), "%s",
             zt_data("../../../config/demo/policy.json"));
    p = zoll_policy_load(path, err, sizeof(err));
    if (p == NULL) {
        fail_msg("%s", err);
    }

    f = fopen(zt_data("../../../config/demo/keys.env"), "r");
    assert_non_null(f);

    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\r\n")] = '\0';
        eq = strchr(line, '=');

        if (eq == NULL || line[0] == '#') {
            continue;
        }

        *eq = '\0';
        assert_string_equal(zt_lookup(p, eq + 1), line);
        n++;
    }

    fclose(f);
    zoll_policy_free(p);
    assert_int_equal(n, 4);
}


int
zt_route_tests(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_route_eea_only_goes_to_eu),
        cmocka_unit_test(test_route_eea_only_ignores_order),
        cmocka_unit_test(test_route_any_takes_first_region),
        cmocka_unit_test(test_route_dpf_suspended_falls_back_to_scc),
        cmocka_unit_test(test_route_all_us_bases_suspended_goes_eu),
        cmocka_unit_test(test_route_adequate_uses_adequacy),
        cmocka_unit_test(test_route_adequate_refuses_scc),
        cmocka_unit_test(test_route_objected),
        cmocka_unit_test(test_route_not_enabled),
        cmocka_unit_test(test_route_tenant_order_overrides),
        cmocka_unit_test(test_route_credential_choice),
        cmocka_unit_test(test_key_new_format),
        cmocka_unit_test(test_sha256_vectors),
        cmocka_unit_test(test_tenant_lookup),
        cmocka_unit_test(test_tenant_lookup_demo_keys),
    };

    return cmocka_run_group_tests_name("route", tests,
                                       zt_setup_base, zt_teardown_policy);
}
