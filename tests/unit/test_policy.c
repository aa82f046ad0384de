/*
 * Policy loading: what loads, what the loaded policy holds, and the exact
 * error for each kind of mistake.  An operator reads these errors at
 * "nginx -t" time, so the JSON path in them is part of the contract.
 */

#include "zt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>


static const char  zt_minimal[] =
    "{\"version\": 1,"
    " \"legal_bases\": [{\"id\": \"art28\", \"article\": \"GDPR Art. 28\","
    "                    \"instrument\": \"contract\"}],"
    " \"countries\": {\"eea\": [\"IE\"]},"
    " \"subprocessors\": [{\"id\": \"sp\", \"legal_name\": \"SP Ltd\","
    "     \"address\": \"Dublin\", \"purpose\": \"chat\", \"api\": \"openai\","
    "     \"regions\": [{\"id\": \"eu\", \"endpoint\": \"https://sp.example\","
    "                    \"country\": \"IE\"}]}],"
    " \"redaction\": {\"rules\": \"rules\", \"default_profile\": \"m\","
    "                 \"profiles\": {\"m\": {\"default\": \"mask\"}}},"
    " \"tenants\": [{\"id\": \"t\", \"residency\": \"eea_only\","
    "     \"keys\": [\"sha256:555b2b73bfe75d1437f06910d99622dc"
    "526d7b5cb8b8014f06bf37327576bee2\"],"
    "     \"subprocessors\": [{\"id\": \"sp\","
    "                         \"credential_file\": \"credentials/a.key\"}]}]}";


static zoll_policy_t *
zt_parse_text(const char *json, char err[ZOLL_ERR_LEN])
{
    char  dir[ZT_PATH_LEN];

    snprintf(dir, sizeof(dir), "%s", zt_data(""));
    return zoll_policy_parse(json, strlen(json), dir, err, ZOLL_ERR_LEN);
}


static void
test_load_minimal_policy(void **state)
{
    char                        err[ZOLL_ERR_LEN];
    zoll_policy_t              *p;
    zoll_decision_t             d;
    const zoll_region_t        *r;
    const zoll_subprocessor_t  *sp;

    (void) state;

    p = zt_parse_text(zt_minimal, err);
    if (p == NULL) {
        fail_msg("%s", err);
    }

    sp = zt_sp(p, "sp");
    r = &sp->regions[0];
    assert_int_equal(sp->nregions, 1);
    assert_string_equal(r->host, "sp.example");
    assert_string_equal(r->upstream, "sp.example");
    assert_int_equal(r->port, 443);
    assert_int_equal(zoll_policy_log(p)->client_addr,
                     ZOLL_CLIENT_ADDR_TRUNCATE);
    assert_int_equal(zoll_policy_log(p)->durability, ZOLL_DURABILITY_WRITE);
    assert_int_equal(zoll_policy_log(p)->checkpoint_records, 1000);
    assert_int_equal(zoll_policy_log(p)->checkpoint_seconds, 60);
    assert_int_equal(zoll_policy_log(p)->retention_days, 0);
    assert_false(zoll_policy_log(p)->signing);

    /* an EEA region may list no legal basis: the route then has none */
    assert_int_equal(zoll_route(p, zt_tenant(p, "t"), sp, NULL, &d), ZOLL_OK);
    assert_ptr_equal(d.region, r);
    assert_null(d.basis);
    assert_false(d.third_country);
    assert_string_equal(d.credential, "cred-a");

    zoll_policy_free(p);
}


static void
test_load_base_policy_fixture(void **state)
{
    zoll_policy_t              *p;
    const zoll_subprocessor_t  *llm;

    (void) state;

    p = zt_load_base();
    llm = zt_sp(p, "llm");
    assert_int_equal(llm->api, ZOLL_API_OPENAI);
    assert_int_equal(zt_sp(p, "other")->api, ZOLL_API_ANTHROPIC);
    assert_int_equal(zt_sp(p, "auto")->api, ZOLL_API_GEMINI);
    assert_null(zoll_policy_subprocessor(p, "nope"));
    assert_null(zoll_policy_tenant_by_id(p, "nope"));

    assert_int_equal(llm->nregions, 3);
    assert_string_equal(llm->regions[0].host, "us.example");
    assert_int_equal(llm->regions[0].port, 8443);
    assert_string_equal(llm->regions[0].upstream, "llm_us");
    assert_int_equal(llm->regions[0].nbases, 2);
    assert_string_equal(llm->regions[0].bases[0]->id, "dpf");
    assert_string_equal(llm->regions[0].bases[1]->id, "scc");

    /* no "upstream": the endpoint's host is the proxy target */
    assert_string_equal(llm->regions[1].host, "eu.example");
    assert_int_equal(llm->regions[1].port, 443);
    assert_string_equal(llm->regions[1].upstream, "eu.example");

    /* a single trailing slash is not a path */
    assert_string_equal(llm->regions[2].host, "ch.example");
    assert_int_equal(llm->regions[2].port, 443);

    assert_true(zoll_policy_is_eea(p, "IE"));
    assert_false(zoll_policy_is_eea(p, "US"));
    assert_false(zoll_policy_is_eea(p, "CH"));

    zoll_policy_free(p);
}


/* The repository's own policies, three levels above the data directory.
 * Credential files resolve relative to the policy file. */

static void
zt_load_real(const char *rel, const char *tenant, const char *sp)
{
    char            path[ZT_PATH_LEN], err[ZOLL_ERR_LEN];
    zoll_policy_t  *p;

    snprintf(path, sizeof(path), "%s", zt_data(rel));

    p = zoll_policy_load(path, err, sizeof(err));
    if (p == NULL) {
        fail_msg("%s: %s", path, err);
    }

    assert_non_null(zoll_policy_tenant_by_id(p, tenant));
    assert_non_null(zoll_policy_subprocessor(p, sp));
    zoll_policy_free(p);
}


static void
test_load_example_policy(void **state)
{
    (void) state;
    zt_load_real("../../../config/policy.json", "example_tenant", "mistral");
}


static void
test_load_demo_policy(void **state)
{
    (void) state;
    zt_load_real("../../../config/demo/policy.json", "initech_adequate",
                 "anthropic");
}


static void
test_load_missing_file(void **state)
{
    char  err[ZOLL_ERR_LEN];

    (void) state;

    assert_null(zoll_policy_load(zt_data("no-such-policy.json"), err,
                                 sizeof(err)));
    assert_string_equal(err, "cannot open: No such file or directory");
}


static void
test_digest_is_sha256_of_bytes(void **state)
{
    char            err[ZOLL_ERR_LEN], hex[ZOLL_SHA256_HEX_LEN + 1];
    char           *text, *x;
    size_t          len;
    json_t         *root;
    zoll_policy_t  *p, *q;
    unsigned char   md[ZOLL_SHA256_LEN];

    (void) state;

    root = zt_base();
    text = json_dumps(root, JSON_INDENT(2));
    json_decref(root);
    assert_non_null(text);
    len = strlen(text);

    p = zt_parse_text(text, err);
    assert_non_null(p);

    zoll_sha256(text, len, md);
    zoll_hex(md, sizeof(md), hex);
    assert_int_equal(strlen(zoll_policy_digest(p)), 7 + 64);
    assert_memory_equal(zoll_policy_digest(p), "sha256:", 7);
    assert_int_equal(strspn(zoll_policy_digest(p) + 7, "0123456789abcdef"),
                     64);
    assert_string_equal(zoll_policy_digest(p) + 7, hex);

    /* one byte of the policy id; still a valid policy */
    x = strstr(text, "unit-test");
    assert_non_null(x);
    x[0] = 'U';

    q = zt_parse_text(text, err);
    assert_non_null(q);
    assert_string_not_equal(zoll_policy_digest(p), zoll_policy_digest(q));

    zoll_policy_free(q);
    zoll_policy_free(p);
    free(text);
}


static void
test_enabled_by_default_becomes_grant(void **state)
{
    static const struct {
        const char  *tenant;
        int          granted;
    } want[] = {
        { "t_eea", 1 }, { "t_any", 1 }, { "t_eu_first", 1 },
        { "t_objector", 0 },    /* objected to it */
    };

    size_t                      i, n;
    zoll_policy_t              *p;
    const zoll_tenant_t        *t;
    const zoll_subprocessor_t  *sp;

    (void) state;

    p = zt_load_base();
    sp = zt_sp(p, "auto");

    for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        t = zt_tenant(p, want[i].tenant);

        for (n = 0; n < t->ngrants; n++) {
            if (t->grants[n].sp == sp) {
                break;
            }
        }

        assert_int_equal(n < t->ngrants, want[i].granted);
    }

    zoll_policy_free(p);
}


static const char *
zt_grant_credential(const zoll_policy_t *p, const char *tenant,
    const char *sp)
{
    size_t                i;
    const zoll_tenant_t  *t = zt_tenant(p, tenant);

    for (i = 0; i < t->ngrants; i++) {
        if (strcmp(t->grants[i].sp->id, sp) == 0) {
            return t->grants[i].credential;
        }
    }

    fail_msg("%s has no grant of %s", tenant, sp);
    return NULL;
}


static void
test_credential_trailing_space_trimmed(void **state)
{
    zoll_policy_t  *p;

    (void) state;

    p = zt_load_base();

    assert_string_equal(zt_sp(p, "llm")->credential, "cred-default");
    assert_null(zt_sp(p, "other")->credential);
    assert_string_equal(zt_grant_credential(p, "t_eea", "llm"), "cred-a");
    assert_string_equal(zt_grant_credential(p, "t_eu_first", "auto"),
                        "cred-b");

    /* default grants and grants without a file use the operator's */
    assert_null(zt_grant_credential(p, "t_any", "llm"));
    assert_null(zt_grant_credential(p, "t_any", "auto"));

    zoll_policy_free(p);
}


static void
test_logging_client_address(void **state)
{
    zoll_policy_t  *p;

    (void) state;

    p = zt_base_with("logging.client_address", "\"omit\"");
    assert_int_equal(zoll_policy_log(p)->client_addr, ZOLL_CLIENT_ADDR_OMIT);
    zoll_policy_free(p);

    p = zt_base_with("logging.client_address", "\"hmac\"");
    assert_int_equal(zoll_policy_log(p)->client_addr, ZOLL_CLIENT_ADDR_HMAC);
    zoll_policy_free(p);

    p = zt_base_with("logging.durability", "\"sync\"");
    assert_int_equal(zoll_policy_log(p)->durability, ZOLL_DURABILITY_SYNC);
    zoll_policy_free(p);

    p = zt_base_with("logging.retention_days", "180");
    assert_int_equal(zoll_policy_log(p)->retention_days, 180);
    zoll_policy_free(p);
}


/* Bad policies that are not one edit of the base policy */

static void
test_bad_json_syntax(void **state)
{
    char  err[ZOLL_ERR_LEN];

    (void) state;

    assert_null(zt_parse_text("{\"version\": 1,\n  \"legal_bases\": [,]}",
                              err));
    assert_memory_equal(err, "line 2, column 19: ", 19);
    zt_assert_contains(err, "unexpected token");

    assert_null(zt_parse_text("[1]", err));
    assert_string_equal(err, "$: must be an object");
}


static void
test_bad_json_duplicate_key(void **state)
{
    char    err[ZOLL_ERR_LEN];
    char   *text, *x;
    json_t *root;

    (void) state;

    assert_null(zt_parse_text("{\"version\": 1, \"version\": 1}", err));
    assert_memory_equal(err, "line 1, column ", 15);
    zt_assert_contains(err, "duplicate object key");

    /* deep down, too: a second "id" must not override the first */
    root = zt_base();
    text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    x = strstr(text, "\"suspended\":false");
    assert_non_null(x);
    memcpy(x, "\"id\"       :\"y\"  ", 17);

    assert_null(zt_parse_text(text, err));
    zt_assert_contains(err, "duplicate object key");
    free(text);
}


/* A grant of tenant 1 naming a bad credential file; tenant 0 has loaded
 * its own file by then, which must be released (valgrind, ASan). */

static void
zt_bad_credential(const char *file, const char *before, const char *after)
{
    char  value[256], want[ZOLL_ERR_LEN];

    snprintf(value, sizeof(value), "\"credentials/%s\"", file);
    snprintf(want, sizeof(want), "$.tenants[1].subprocessors[0]."
             "credential_file: %s\"%s/credentials/%s\"%s", before,
             zt_data(""), file, after);

    zt_base_error("tenants[1].subprocessors[0].credential_file", value, want);
}


#define ZT_TOKEN  " must hold one token of visible ASCII characters"


static void
test_bad_credential_missing(void **state)
{
    (void) state;
    zt_bad_credential("missing.key", "cannot read ",
                      ": No such file or directory");
}


static void
test_bad_credential_empty(void **state)
{
    (void) state;
    zt_bad_credential("empty.key", "", ZT_TOKEN);
    zt_bad_credential("blank.key", "", ZT_TOKEN);
}


static void
test_bad_credential_two_lines(void **state)
{
    (void) state;

    /* a second line (or a NUL) would inject a header upstream */
    zt_bad_credential("multiline.key", "", ZT_TOKEN);
    zt_bad_credential("nul.key", "", ZT_TOKEN);

    /* white space or control characters inside: not a token */
    zt_bad_credential("space.key", "", ZT_TOKEN);
}


static void
test_bad_sp_default_credential(void **state)
{
    char  want[ZOLL_ERR_LEN];

    (void) state;

    /* subprocessor 1 fails after subprocessor 0 read its default */
    snprintf(want, sizeof(want), "$.subprocessors[1].credential_file: "
             "\"%s/credentials/multiline.key\"" ZT_TOKEN,
             zt_data(""));
    zt_base_error("subprocessors[1].credential_file",
                  "\"credentials/multiline.key\"", want);
}


/* Bad policies: the base policy with one value changed (NULL removes it),
 * and the exact error.  Each row runs as a test of its own name. */

typedef struct {
    const char  *name;
    const char  *path;
    const char  *value;
    const char  *error;
} zt_bad_t;


#define ZT_EP   "subprocessors[0].regions[0].endpoint"
#define ZT_EPE  "$." ZT_EP ": "
#define ZT_KEY  "$.tenants[0].keys[0]: must be \"sha256:\" and 64 " \
                "lower-case hex digits (zollctl key new prints one)"
#define ZT_HEX  "41835692e00365835b026129d50cab48" \
                "11076345b27946c8563d11b4756438b0"

static const zt_bad_t  zt_bad[] = {

    { "test_bad_version_missing", "version", NULL, "$.version: must be 1" },
    { "test_bad_version_string", "version", "\"1\"", "$.version: must be 1" },
    { "test_bad_version_2", "version", "2", "$.version: must be 1" },

    /* the typo that matters: a suspension that would silently not apply */
    { "test_bad_unknown_key_suspend", "legal_bases[0].suspend", "true",
      "$.legal_bases[0]: unknown key \"suspend\"" },
    { "test_bad_unknown_key_top", "tenant", "[]",
      "$: unknown key \"tenant\"" },
    { "test_bad_unknown_key_adequacy", "countries.adequacy[1].basis",
      "\"dpf\"", "$.countries.adequacy[1]: unknown key \"basis\"" },
    { "test_bad_unknown_key_region", "subprocessors[0].regions[2].endpiont",
      "\"x\"", "$.subprocessors[0].regions[2]: unknown key \"endpiont\"" },
    { "test_bad_unknown_key_grant",
      "tenants[0].subprocessors[0].credentials_file", "\"x\"",
      "$.tenants[0].subprocessors[0]: unknown key \"credentials_file\"" },
    { "test_bad_unknown_key_logging", "logging.client_addr", "\"omit\"",
      "$.logging: unknown key \"client_addr\"" },

    { "test_bad_basis_duplicate_id", "legal_bases[4]",
      "{\"id\": \"dpf\", \"article\": \"a\", \"instrument\": \"i\"}",
      "$.legal_bases[4]: duplicate legal basis id \"dpf\"" },
    { "test_bad_basis_suspended_string", "legal_bases[0].suspended", "\"yes\"",
      "$.legal_bases[0].suspended: must be true or false" },
    { "test_bad_basis_without_article", "legal_bases[0].article", NULL,
      "$.legal_bases[0].article: is required" },
    { "test_bad_basis_id_chars", "legal_bases[0].id", "\"a b\"",
      "$.legal_bases[0].id: \"a b\" must be 1-64 of [A-Za-z0-9_.-]" },

    /* region 0 is loaded by then: its host must not leak */
    { "test_bad_region_unknown_basis",
      "subprocessors[0].regions[1].legal_bases[0]", "\"x\"",
      "$.subprocessors[0].regions[1].legal_bases[0]: "
      "unknown legal basis \"x\"" },
    { "test_bad_adequacy_unknown_basis", "countries.adequacy[0].legal_basis",
      "\"x\"", "$.countries.adequacy[0].legal_basis: "
      "unknown legal basis \"x\"" },

    { "test_bad_endpoint_http", ZT_EP, "\"http://us.example\"",
      ZT_EPE "\"http://us.example\": only https endpoints are accepted" },
    { "test_bad_endpoint_no_scheme", ZT_EP, "\"us.example\"",
      ZT_EPE "\"us.example\": only https endpoints are accepted" },
    { "test_bad_endpoint_path", ZT_EP, "\"https://us.example/v1\"",
      ZT_EPE "\"https://us.example/v1\": give scheme, host and port only; "
      "the path comes from the client request" },
    { "test_bad_endpoint_query", ZT_EP, "\"https://us.example?x=1\"",
      ZT_EPE "\"https://us.example?x=1\": give scheme, host and port only; "
      "the path comes from the client request" },
    { "test_bad_endpoint_userinfo", ZT_EP, "\"https://u@us.example\"",
      ZT_EPE "\"https://u@us.example\": invalid host name" },
    { "test_bad_endpoint_no_host", ZT_EP, "\"https://\"",
      ZT_EPE "\"https://\": invalid host name" },
    { "test_bad_endpoint_port_empty", ZT_EP, "\"https://us.example:\"",
      ZT_EPE "\"https://us.example:\": invalid port" },
    { "test_bad_endpoint_port_0", ZT_EP, "\"https://us.example:0\"",
      ZT_EPE "\"https://us.example:0\": invalid port" },
    { "test_bad_endpoint_port_65536", ZT_EP, "\"https://us.example:65536\"",
      ZT_EPE "\"https://us.example:65536\": invalid port" },
    { "test_bad_endpoint_port_huge", ZT_EP,
      "\"https://us.example:99999999999999999999\"",
      ZT_EPE "\"https://us.example:99999999999999999999\": invalid port" },
    { "test_bad_endpoint_port_trailing", ZT_EP, "\"https://us.example:44x\"",
      ZT_EPE "\"https://us.example:44x\": invalid port" },
    { "test_bad_endpoint_port_negative", ZT_EP, "\"https://us.example:-1\"",
      ZT_EPE "\"https://us.example:-1\": invalid port" },

    /* RFC 3986: port = *DIGIT; strtoul() alone also takes a sign or
     * leading white space */
    { "test_bad_endpoint_port_plus", ZT_EP, "\"https://us.example:+443\"",
      ZT_EPE "\"https://us.example:+443\": invalid port" },
    { "test_bad_endpoint_port_space", ZT_EP, "\"https://us.example: 443\"",
      ZT_EPE "\"https://us.example: 443\": invalid port" },

    /* "upstream" becomes proxy_pass https://<upstream>: a name only */
    { "test_bad_upstream_with_port_and_path",
      "subprocessors[0].regions[0].upstream", "\"evil.example:80/steal?x=\"",
      "$.subprocessors[0].regions[0].upstream: \"evil.example:80/steal?x=\" "
      "must be the name of an nginx upstream block (1-64 of [A-Za-z0-9_.-])" },

    /* an adequacy decision covers its own country only */
    { "test_bad_adequacy_basis_for_another_country",
      "subprocessors[0].regions[2].legal_bases", "[\"dpf\"]",
      "$.subprocessors[0].regions[2].legal_bases[0]: \"dpf\" is the "
      "adequacy decision for US, not for CH" },

    /* after the endpoint's host was allocated */
    { "test_bad_region_country", "subprocessors[0].regions[0].country",
      "\"USA\"", "$.subprocessors[0].regions[0].country: \"USA\" is not an "
      "ISO 3166-1 alpha-2 code" },
    { "test_bad_eea_country_lower_case", "countries.eea[1]", "\"fr\"",
      "$.countries.eea[1]: must be an ISO 3166-1 alpha-2 code" },
    { "test_bad_eea_country_twice", "countries.eea[2]", "\"DE\"",
      "$.countries.eea[2]: duplicate country \"DE\"" },
    { "test_bad_adequacy_country", "countries.adequacy[1].country", "\"C\"",
      "$.countries.adequacy[1]: country \"C\" is not an ISO 3166-1 alpha-2 "
      "code" },
    { "test_bad_adequacy_eea_country", "countries.adequacy[2]",
      "{\"country\": \"DE\", \"legal_basis\": \"dpf\"}",
      "$.countries.adequacy[2]: country \"DE\" is in the EEA; it needs no "
      "adequacy decision" },

    { "test_bad_third_country_without_bases",
      "subprocessors[0].regions[0].legal_bases", NULL,
      "$.subprocessors[0].regions[0].legal_bases: a region outside the EEA "
      "(US) needs at least one legal basis" },
    { "test_bad_third_country_empty_bases",
      "subprocessors[0].regions[0].legal_bases", "[]",
      "$.subprocessors[0].regions[0].legal_bases: a region outside the EEA "
      "(US) needs at least one legal basis" },

    { "test_bad_key_upper_case", "tenants[0].keys[0]",
      "\"sha256:41835692E00365835B026129D50CAB48"
      "11076345B27946C8563D11B4756438B0\"", ZT_KEY },
    { "test_bad_key_63_digits", "tenants[0].keys[0]",
      "\"sha256:41835692e00365835b026129d50cab48"
      "11076345b27946c8563d11b4756438b\"", ZT_KEY },
    { "test_bad_key_no_prefix", "tenants[0].keys[0]", "\"" ZT_HEX "\"",
      ZT_KEY },
    { "test_bad_key_sha512_prefix", "tenants[0].keys[0]",
      "\"sha512:" ZT_HEX "\"", ZT_KEY },
    { "test_bad_key_not_string", "tenants[0].keys[0]", "42", ZT_KEY },

    /* one key, one tenant: t_eea has read its credential file by then */
    { "test_bad_key_of_other_tenant", "tenants[1].keys[1]",
      "\"sha256:" ZT_HEX "\"",
      "$.tenants[1].keys[1]: key is already used by tenant \"t_eea\"" },
    { "test_bad_key_twice", "tenants[0].keys[1]", "\"sha256:" ZT_HEX "\"",
      "$.tenants[0].keys[1]: duplicate key" },

    { "test_bad_residency", "tenants[2].residency", "\"eu\"",
      "$.tenants[2].residency: must be one of eea_only, adequate, any" },
    { "test_bad_residency_missing", "tenants[2].residency", NULL,
      "$.tenants[2].residency: is required" },

    { "test_bad_grant_unknown_subprocessor", "tenants[0].subprocessors[0].id",
      "\"nope\"", "$.tenants[0].subprocessors[0].id: unknown subprocessor "
      "\"nope\"" },
    { "test_bad_grant_twice", "tenants[0].subprocessors[1]",
      "{\"id\": \"llm\"}",
      "$.tenants[0].subprocessors[1].id: \"llm\" is enabled twice" },
    { "test_bad_objection_unknown_subprocessor", "tenants[1].objections[1]",
      "\"nope\"", "$.tenants[1].objections[1]: unknown subprocessor "
      "\"nope\"" },

    /* after the grant's credential file was read */
    { "test_bad_enable_and_object", "tenants[0].objections", "[\"llm\"]",
      "$.tenants[0].subprocessors[0]: tenant both enables and objects to "
      "\"llm\"" },

    { "test_bad_grant_without_credential", "tenants[0].subprocessors[1]",
      "{\"id\": \"other\"}",
      "$.tenants[0].subprocessors[1].credential_file: is required: "
      "subprocessor \"other\" has no default credential" },
    { "test_bad_grant_unknown_region", "tenants[0].subprocessors[0].regions",
      "[\"us\", \"mars\"]",
      "$.tenants[0].subprocessors[0].regions[1]: subprocessor \"llm\" has "
      "no region \"mars\"" },
    { "test_bad_grant_no_regions", "tenants[0].subprocessors[0].regions",
      "[]", "$.tenants[0].subprocessors[0].regions: must not be empty (omit "
      "it to allow every region)" },

    { "test_bad_default_without_credential",
      "subprocessors[2].credential_file", NULL,
      "$.subprocessors[2].credential_file: is required when "
      "enabled_by_default is true" },

    { "test_bad_logging_mode", "logging.client_address", "\"hash\"",
      "$.logging.client_address: must be one of truncate, hmac, omit" },

    { "test_bad_logging_durability", "logging.durability", "\"fsync\"",
      "$.logging.durability: must be one of write, interval, sync" },

    { "test_bad_logging_checkpoint", "logging.checkpoint_records", "0",
      "$.logging.checkpoint_records: must be a whole number from 1 to "
      "1000000" },

    { "test_bad_logging_retention", "logging.retention_days", "\"180d\"",
      "$.logging.retention_days: must be a whole number from 0 to 36500" },

    { "test_bad_rules_cache", "redaction.rules_cache", "true",
      "$.redaction.rules_cache: must be a non-empty string, or false" },
    { "test_bad_rules_cache_empty", "redaction.rules_cache", "\"\"",
      "$.redaction.rules_cache: must be a non-empty string, or false" },

    { "test_bad_logging_key_missing", "logging.signing_key_file",
      "\"/nonexistent/log.key\"",
      "$.logging.signing_key_file: cannot read \"/nonexistent/log.key\": "
      "No such file or directory" },
};

#define ZT_NBAD  (sizeof(zt_bad) / sizeof(zt_bad[0]))


static void
zt_run_bad(void **state)
{
    const zt_bad_t  *b = *state;

    zt_base_error(b->path, b->value, b->error);
}


/* redaction.rules_cache: a directory the compiled rules are kept in
 * between loads, or false for none */

static void
test_rules_cache_key(void **state)
{
    char            dir[64], value[96];
    unsigned        hits;
    zoll_policy_t  *p;

    (void) state;

    p = zt_base_with("redaction.rules_cache", "false");
    assert_string_equal(zoll_rules_cache_note(zoll_policy_rules(p), &hits),
                        "");
    assert_int_equal(hits, 0);
    zoll_policy_free(p);

    snprintf(dir, sizeof(dir), "/tmp/zt-policy-cache-XXXXXX");
    assert_non_null(mkdtemp(dir));
    assert_int_equal(chmod(dir, 0755), 0);
    snprintf(value, sizeof(value), "\"%s/sub\"", dir);

    p = zt_base_with("redaction.rules_cache", value);
    (void) zoll_rules_cache_note(zoll_policy_rules(p), &hits);
    assert_int_equal(hits, 0);
    zoll_policy_free(p);

    p = zt_base_with("redaction.rules_cache", value);
    assert_string_equal(zoll_rules_cache_note(zoll_policy_rules(p), &hits),
                        "");
    assert_int_equal(hits, 1);
    zoll_policy_free(p);

    snprintf(value, sizeof(value), "rm -r '%s'", dir);
    assert_int_equal(system(value), 0);
}


int
zt_policy_tests(void)
{
    static const struct CMUnitTest  fixed[] = {
        cmocka_unit_test(test_load_minimal_policy),
        cmocka_unit_test(test_load_base_policy_fixture),
        cmocka_unit_test(test_load_example_policy),
        cmocka_unit_test(test_load_demo_policy),
        cmocka_unit_test(test_load_missing_file),
        cmocka_unit_test(test_digest_is_sha256_of_bytes),
        cmocka_unit_test(test_enabled_by_default_becomes_grant),
        cmocka_unit_test(test_credential_trailing_space_trimmed),
        cmocka_unit_test(test_logging_client_address),
        cmocka_unit_test(test_rules_cache_key),
        cmocka_unit_test(test_bad_json_syntax),
        cmocka_unit_test(test_bad_json_duplicate_key),
        cmocka_unit_test(test_bad_credential_missing),
        cmocka_unit_test(test_bad_credential_empty),
        cmocka_unit_test(test_bad_credential_two_lines),
        cmocka_unit_test(test_bad_sp_default_credential),
    };

    static struct CMUnitTest  tests[sizeof(fixed) / sizeof(fixed[0])
                                    + ZT_NBAD];

    size_t  i, n;

    /* the hand-written tests, then one named test per bad policy */
    n = sizeof(fixed) / sizeof(fixed[0]);
    memcpy(tests, fixed, sizeof(fixed));

    for (i = 0; i < ZT_NBAD; i++) {
        tests[n + i].name = zt_bad[i].name;
        tests[n + i].test_func = zt_run_bad;
        tests[n + i].initial_state = (void *) &zt_bad[i];
    }

    return cmocka_run_group_tests_name("policy", tests, NULL, NULL);
}
