/*
 * Transfer records, error bodies, client addresses and status codes: the
 * engine's output.  Every writer must produce one valid JSON line whatever
 * bytes a client sent, and must honour the snprintf-style size contract.
 */

#include "zt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>


#define ZT_STR(s)  { (s), sizeof(s) - 1 }
#define ZT_FFFD    "\xef\xbf\xbd"


typedef struct {
    zoll_policy_t        *policy;
    zoll_request_info_t   ri;
    zoll_decision_t       d;
    zoll_outcome_t        o;
} zt_rec_t;


/* A request for llm under the base policy with dpf suspended, so that a
 * US route goes by SCC; with scc suspended too, only EEA routes remain. */

static void
zt_rec_init(zt_rec_t *r, int scc_suspended)
{
    static const zoll_request_info_t  ri = {
        .time_ms = 1700000000123,
        .request_id = ZT_STR("req-1"),
        .method = ZT_STR("POST"),
        .path = ZT_STR("/v1/chat/completions"),
        .client = ZT_STR("203.0.113.0/24"),
        .request_bytes = 1234,
    };

    json_t  *root;
    char     err[ZOLL_ERR_LEN];

    memset(r, 0, sizeof(zt_rec_t));

    root = zt_base();
    zt_set(root, "legal_bases[1].suspended", "true");
    zt_set(root, "legal_bases[2].suspended", scc_suspended ? "true" : "false");
    r->policy = zt_parse(root, err);
    assert_non_null(r->policy);

    r->ri = ri;
    r->ri.sp = zt_sp(r->policy, "llm");
}


static void
zt_rec_route(zt_rec_t *r, const char *tenant, zoll_status_e want)
{
    assert_int_equal(zoll_route(r->policy, zt_tenant(r->policy, tenant),
                                r->ri.sp, NULL, &r->d), want);
}


/* a writer under test, behind one signature */
typedef size_t (*zt_writer_pt)(const zt_rec_t *r, char *buf, size_t cap);


static size_t
zt_write_decision(const zt_rec_t *r, char *buf, size_t cap)
{
    return zoll_record_decision(r->policy, &r->ri, &r->d, buf, cap);
}


static size_t
zt_write_outcome(const zt_rec_t *r, char *buf, size_t cap)
{
    return zoll_record_outcome(&r->ri, &r->d, &r->o, buf, cap);
}


static size_t
zt_write_error(const zt_rec_t *r, char *buf, size_t cap)
{
    return zoll_error_body(ZOLL_API_GEMINI, r->d.status, r->d.reason,
                           r->ri.request_id, buf, cap);
}


/* writes into a buffer of just the right size and parses the line */

static json_t *
zt_write_json(zt_writer_pt writer, const zt_rec_t *r)
{
    char    *buf;
    size_t   n;
    json_t  *root;

    n = writer(r, NULL, 0);
    buf = malloc(n + 1);
    assert_non_null(buf);
    assert_int_equal(writer(r, buf, n + 1), n);

    root = zt_json_line(buf, n);
    free(buf);
    return root;
}


static void
zt_rec_free(zt_rec_t *r, json_t *root)
{
    json_decref(root);
    zoll_policy_free(r->policy);
}


static void
test_record_forwarded_by_scc(void **state)
{
    zt_rec_t  r;
    json_t   *j;

    (void) state;

    zt_rec_init(&r, 0);
    zt_rec_route(&r, "t_any", ZOLL_OK);
    j = zt_write_json(zt_write_decision, &r);

    assert_int_equal(json_integer_value(zt_get(j, "v")), 1);
    assert_string_equal(zt_str(j, "event"), "decision");
    assert_string_equal(zt_str(j, "time"), "2023-11-14T22:13:20.123Z");
    assert_string_equal(zt_str(j, "request_id"), "req-1");
    assert_string_equal(zt_str(j, "tenant"), "t_any");
    assert_string_equal(zt_str(j, "residency"), "any");
    assert_string_equal(zt_str(j, "subprocessor.id"), "llm");
    assert_string_equal(zt_str(j, "subprocessor.legal_name"), "LLM Inc.");
    assert_string_equal(zt_str(j, "method"), "POST");
    assert_string_equal(zt_str(j, "path"), "/v1/chat/completions");

    assert_string_equal(zt_str(j, "decision"), "forwarded");
    assert_true(json_is_null(zt_get(j, "status")));
    assert_true(json_is_null(zt_get(j, "code")));
    assert_string_equal(zt_str(j, "reason"), r.d.reason);

    assert_string_equal(zt_str(j, "endpoint"), "us.example");
    assert_string_equal(zt_str(j, "region"), "us");
    assert_string_equal(zt_str(j, "country"), "US");
    assert_true(json_is_true(zt_get(j, "third_country")));
    assert_string_equal(zt_str(j, "legal_basis.id"), "scc");
    assert_string_equal(zt_str(j, "legal_basis.article"),
                        "GDPR Art. 46(2)(c)");
    zt_assert_contains(zt_str(j, "legal_basis.instrument"), "2021/914");
    assert_string_equal(zt_str(j, "legal_basis.module"),
                        "Module Three (processor to processor)");

    assert_string_equal(zt_str(j, "client"), "203.0.113.0/24");
    assert_int_equal(json_integer_value(zt_get(j, "request_bytes")), 1234);
    assert_string_equal(zt_str(j, "policy"),
                        zoll_policy_digest(r.policy));

    zt_rec_free(&r, j);
}


static void
test_record_refused(void **state)
{
    zt_rec_t  r;
    json_t   *j;

    (void) state;

    /* dpf and scc suspended: t_us_only has nowhere to go */
    zt_rec_init(&r, 1);
    zt_rec_route(&r, "t_us_only", ZOLL_ERR_NO_LAWFUL_ROUTE);
    j = zt_write_json(zt_write_decision, &r);

    assert_string_equal(zt_str(j, "tenant"), "t_us_only");
    assert_string_equal(zt_str(j, "decision"), "refused");
    assert_int_equal(json_integer_value(zt_get(j, "status")), 451);
    assert_string_equal(zt_str(j, "code"), "no_lawful_route");
    assert_string_equal(zt_str(j, "reason"), r.d.reason);
    assert_true(json_is_null(zt_get(j, "region")));
    assert_true(json_is_null(zt_get(j, "endpoint")));
    assert_true(json_is_null(zt_get(j, "third_country")));
    assert_true(json_is_null(zt_get(j, "legal_basis")));

    zt_rec_free(&r, j);
}


static void
test_record_without_tenant(void **state)
{
    zt_rec_t  r;
    json_t   *j;

    (void) state;

    /* a request with a bad key: no tenant, no decision of zoll_route */
    zt_rec_init(&r, 0);
    r.d.status = ZOLL_ERR_UNAUTHENTICATED;
    r.ri.client.len = 0;
    r.ri.request_bytes = -1;
    j = zt_write_json(zt_write_decision, &r);

    assert_true(json_is_null(zt_get(j, "tenant")));
    assert_true(json_is_null(zt_get(j, "residency")));
    assert_string_equal(zt_str(j, "subprocessor.id"), "llm");
    assert_int_equal(json_integer_value(zt_get(j, "status")), 401);
    assert_string_equal(zt_str(j, "code"), "invalid_api_key");
    assert_true(json_is_null(zt_get(j, "client")));
    assert_true(json_is_null(zt_get(j, "request_bytes")));

    zt_rec_free(&r, j);
}


static void
test_record_empty_request_id(void **state)
{
    zt_rec_t  r;
    json_t   *j, *id;

    (void) state;

    /* the connector leaves it empty when $request_id is not set */
    zt_rec_init(&r, 0);
    zt_rec_route(&r, "t_eea", ZOLL_OK);
    r.ri.request_id.data = NULL;
    r.ri.request_id.len = 0;
    j = zt_write_json(zt_write_decision, &r);

    id = zt_get(j, "request_id");
    assert_true(json_is_null(id)
                || (json_is_string(id) && json_string_length(id) == 0));

    zt_rec_free(&r, j);
}


static void
test_record_outcome(void **state)
{
    zt_rec_t  r;
    json_t   *j;

    (void) state;

    zt_rec_init(&r, 0);
    zt_rec_route(&r, "t_any", ZOLL_OK);
    r.o.status = 200;
    r.o.upstream_status = 201;
    r.o.request_bytes = 10;
    r.o.response_bytes = 20;
    r.o.duration_ms = 30;
    j = zt_write_json(zt_write_outcome, &r);

    assert_string_equal(zt_str(j, "event"), "outcome");
    assert_string_equal(zt_str(j, "request_id"), "req-1");
    assert_string_equal(zt_str(j, "tenant"), "t_any");
    assert_string_equal(zt_str(j, "subprocessor"), "llm");
    assert_string_equal(zt_str(j, "region"), "us");
    assert_int_equal(json_integer_value(zt_get(j, "status")), 200);
    assert_int_equal(json_integer_value(zt_get(j, "upstream_status")), 201);
    assert_int_equal(json_integer_value(zt_get(j, "request_bytes")), 10);
    assert_int_equal(json_integer_value(zt_get(j, "response_bytes")), 20);
    assert_int_equal(json_integer_value(zt_get(j, "duration_ms")), 30);
    assert_true(json_is_null(zt_get(j, "reversible_tokens")));
    json_decref(j);

    /* the tokenize operator's tokens, and how many came back restored */
    r.o.tokens_issued = 3;
    r.o.tokens_restored = 2;
    j = zt_write_json(zt_write_outcome, &r);
    assert_int_equal(json_integer_value(zt_get(j, "reversible_tokens.issued")),
                     3);
    assert_int_equal(
        json_integer_value(zt_get(j, "reversible_tokens.restored")), 2);
    json_decref(j);
    r.o.tokens_issued = 0;

    /* nothing came back from upstream; sizes unknown */
    r.o.status = 502;
    r.o.upstream_status = 0;
    r.o.request_bytes = -1;
    r.o.response_bytes = -1;
    j = zt_write_json(zt_write_outcome, &r);

    assert_int_equal(json_integer_value(zt_get(j, "status")), 502);
    assert_true(json_is_null(zt_get(j, "upstream_status")));
    assert_true(json_is_null(zt_get(j, "request_bytes")));
    assert_true(json_is_null(zt_get(j, "response_bytes")));

    zt_rec_free(&r, j);
}


/* snprintf-style: every cap gives the full length back, writes at most cap
 * bytes (the canary after them survives), NUL-terminates, and a cap of
 * length + 1 gives the whole line. */

static void
zt_check_cap(zt_writer_pt writer, const zt_rec_t *r)
{
    char    *full, *buf;
    size_t   n, cap;

    n = writer(r, NULL, 0);
    assert_true(n > 0);

    full = malloc(n + 1);
    assert_non_null(full);
    assert_int_equal(writer(r, full, n + 1), n);
    assert_int_equal(strlen(full), n);

    for (cap = 1; cap <= n + 1; cap++) {
        buf = malloc(cap + 1);
        assert_non_null(buf);
        memset(buf, 0x5a, cap + 1);

        assert_int_equal(writer(r, buf, cap), n);
        assert_int_equal(buf[cap], 0x5a);
        assert_int_equal(buf[cap - 1], '\0');
        assert_memory_equal(buf, full, cap - 1);

        free(buf);
    }

    free(full);
}


static void
test_record_size_contract(void **state)
{
    zt_rec_t  r;

    (void) state;

    zt_rec_init(&r, 0);
    zt_rec_route(&r, "t_any", ZOLL_OK);
    r.o.status = 200;

    zt_check_cap(zt_write_decision, &r);
    zt_check_cap(zt_write_outcome, &r);

    r.d.status = ZOLL_ERR_NO_LAWFUL_ROUTE;
    zt_check_cap(zt_write_error, &r);

    zt_rec_free(&r, NULL);
}


/* the path as the record has it, after a JSON round trip */

static json_t *
zt_path_record(zt_rec_t *r, const char *path, size_t len)
{
    r->ri.path.data = path;
    r->ri.path.len = len;
    return zt_write_json(zt_write_decision, r);
}


static void
test_record_escapes_path(void **state)
{
    static const char  path[] = "/a\"b\\c\x01\x1f\n\r\t\x7f" "\0" "d/"
                                "\xc3\xa4\xe2\x82\xac\xf0\x9f\x98\x80"
                                "\xc2\x80\xf4\x8f\xbf\xbf";
    zt_rec_t  r;
    json_t   *j, *v;

    (void) state;

    zt_rec_init(&r, 0);
    zt_rec_route(&r, "t_any", ZOLL_OK);
    j = zt_path_record(&r, path, sizeof(path) - 1);

    /* control characters, quotes, NUL and valid UTF-8 come back intact */
    v = zt_get(j, "path");
    assert_int_equal(json_string_length(v), sizeof(path) - 1);
    assert_memory_equal(json_string_value(v), path, sizeof(path) - 1);

    zt_rec_free(&r, j);
}


static void
test_record_replaces_invalid_utf8(void **state)
{
    static const struct {
        const char  *bytes;
        size_t       len;
        const char  *tail;     /* the valid rest */
    } bad[] = {
        { "\xff", 1, "" },                  /* never in UTF-8 */
        { "\x80", 1, "" },                  /* lone continuation byte */
        { "\xc0\xaf", 2, "" },              /* overlong "/" */
        { "\xe0\x80\xaf", 3, "" },          /* overlong "/" */
        { "\xed\xa0\x80", 3, "" },          /* surrogate U+D800 */
        { "\xf4\x90\x80\x80", 4, "" },      /* U+110000 */
        { "\xe2\x82", 2, "" },              /* truncated, at the end */
        { "\xe2\x82" "A", 3, "A" },         /* truncated, mid-string */
    };

    char         in[16], want[64];
    size_t       i, k;
    zt_rec_t     r;
    json_t      *j;
    const char  *s;

    (void) state;

    zt_rec_init(&r, 0);
    zt_rec_route(&r, "t_any", ZOLL_OK);

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        in[0] = '<';
        memcpy(in + 1, bad[i].bytes, bad[i].len);
        j = zt_path_record(&r, in, 1 + bad[i].len);
        s = zt_str(j, "path");
        assert_non_null(s);

        /* "<", one U+FFFD per bad byte or per bad sequence (both are
         * common practice), then the valid tail if any; want grows by
         * one U+FFFD a round */
        want[0] = '<';

        for (k = 1; k <= bad[i].len; k++) {
            memcpy(want + 1 + 3 * (k - 1), ZT_FFFD, 3);
            want[1 + 3 * k] = '\0';

            if (strncmp(s, want, 1 + 3 * k) == 0
                && strcmp(s + 1 + 3 * k, bad[i].tail) == 0)
            {
                break;
            }
        }

        if (k > bad[i].len) {
            fail_msg("bad sequence %zu came back as \"%s\"", i, s);
        }

        json_decref(j);
    }

    zt_rec_free(&r, NULL);
}


/* Error bodies, in each provider's shape */

static const struct {
    zoll_status_e   status;
    int             http;
    const char     *type;      /* OpenAI and Anthropic */
    const char     *grpc;      /* Gemini */
} zt_errors[] = {
    { ZOLL_ERR_UNAUTHENTICATED, 401, "authentication_error",
      "UNAUTHENTICATED" },
    { ZOLL_ERR_NOT_ENABLED, 403, "permission_error", "PERMISSION_DENIED" },
    { ZOLL_ERR_OBJECTED, 403, "permission_error", "PERMISSION_DENIED" },
    { ZOLL_ERR_NO_LAWFUL_ROUTE, 451, "permission_error",
      "PERMISSION_DENIED" },
    { ZOLL_ERR_BAD_REQUEST, 400, "invalid_request_error",
      "INVALID_ARGUMENT" },
    { ZOLL_ERR_LOG_UNWRITABLE, 503, "api_error", "UNAVAILABLE" },
    { ZOLL_ERR_UNPROTECTED, 500, "api_error", "INTERNAL" },
    { ZOLL_ERR_TOO_LARGE, 413, "invalid_request_error", "INVALID_ARGUMENT" },
    { ZOLL_ERR_UNINSPECTABLE, 415, "invalid_request_error",
      "INVALID_ARGUMENT" },
    { ZOLL_ERR_PII_BLOCKED, 422, "invalid_request_error",
      "INVALID_ARGUMENT" },
    { ZOLL_ERR_UNRESTORABLE, 502, "api_error", "UNAVAILABLE" },
    { ZOLL_ERR_METHOD, 405, "invalid_request_error", "INVALID_ARGUMENT" },
};

#define ZT_NERRORS  (sizeof(zt_errors) / sizeof(zt_errors[0]))
#define ZT_MESSAGE  "region \"us\" (US): legal basis \"dpf\" is suspended"


static json_t *
zt_error_json(zoll_api_e api, zoll_status_e s)
{
    char         buf[1024];
    size_t       n;
    zoll_str_t   id = ZT_STR("req-9");

    n = zoll_error_body(api, s, ZT_MESSAGE, id, buf, sizeof(buf));
    assert_true(n < sizeof(buf));
    return zt_json_line(buf, n);
}


static void
test_error_body_openai(void **state)
{
    size_t   i;
    json_t  *j;

    (void) state;

    for (i = 0; i < ZT_NERRORS; i++) {
        j = zt_error_json(ZOLL_API_OPENAI, zt_errors[i].status);

        assert_int_equal(json_object_size(j), 1);
        assert_int_equal(json_object_size(zt_get(j, "error")), 5);
        assert_string_equal(zt_str(j, "error.message"), ZT_MESSAGE);
        assert_string_equal(zt_str(j, "error.type"), zt_errors[i].type);
        assert_true(json_is_null(zt_get(j, "error.param")));
        assert_string_equal(zt_str(j, "error.code"),
                            zoll_status_code(zt_errors[i].status));
        assert_string_equal(zt_str(j, "error.request_id"), "req-9");

        json_decref(j);
    }
}


static void
test_error_body_anthropic(void **state)
{
    size_t   i;
    json_t  *j;

    (void) state;

    for (i = 0; i < ZT_NERRORS; i++) {
        j = zt_error_json(ZOLL_API_ANTHROPIC, zt_errors[i].status);

        assert_int_equal(json_object_size(j), 3);
        assert_string_equal(zt_str(j, "type"), "error");
        assert_int_equal(json_object_size(zt_get(j, "error")), 3);
        assert_string_equal(zt_str(j, "error.type"), zt_errors[i].type);
        assert_string_equal(zt_str(j, "error.message"), ZT_MESSAGE);
        assert_string_equal(zt_str(j, "error.code"),
                            zoll_status_code(zt_errors[i].status));
        assert_string_equal(zt_str(j, "request_id"), "req-9");

        json_decref(j);
    }
}


static void
test_error_body_gemini(void **state)
{
    size_t   i;
    json_t  *j;

    (void) state;

    for (i = 0; i < ZT_NERRORS; i++) {
        j = zt_error_json(ZOLL_API_GEMINI, zt_errors[i].status);

        assert_int_equal(json_object_size(j), 1);
        assert_int_equal(json_object_size(zt_get(j, "error")), 4);
        assert_true(json_is_integer(zt_get(j, "error.code")));
        assert_int_equal(json_integer_value(zt_get(j, "error.code")),
                         zt_errors[i].http);
        assert_string_equal(zt_str(j, "error.message"), ZT_MESSAGE);
        assert_string_equal(zt_str(j, "error.status"), zt_errors[i].grpc);
        assert_int_equal(json_array_size(zt_get(j, "error.details")), 1);
        assert_string_equal(zt_str(j, "error.details[0].reason"),
                            zoll_status_code(zt_errors[i].status));
        assert_string_equal(zt_str(j, "error.details[0].@type"),
                            "type.googleapis.com/google.rpc.ErrorInfo");
        assert_string_equal(zt_str(j, "error.details[0].metadata.request_id"),
                            "req-9");

        json_decref(j);
    }
}


/* Client addresses */

static void
zt_check_addr(zoll_client_addr_e mode, int family, const unsigned char *a,
    const char *want)
{
    char    buf[64];
    size_t  n;

    memset(buf, 0x5a, sizeof(buf));
    n = zoll_client_addr(mode, NULL, family, a, buf, sizeof(buf));

    assert_int_equal(n, strlen(want));
    assert_string_equal(buf, want);

    /* too small: the needed length, and no byte written past cap */
    memset(buf, 0x5a, sizeof(buf));
    assert_int_equal(zoll_client_addr(mode, NULL, family, a, buf, 4), n);
    assert_int_equal(buf[4], 0x5a);
}


/* Any valid spelling of the /48 will do ("2001:db8:0::" and the RFC 5952
 * "2001:db8::" alike): it must parse back to the first 48 bits. */

static void
zt_check_addr6_prefix(const unsigned char *a)
{
    char           buf[64], *slash;
    unsigned char  back[16] = { 0 };

    assert_true(zoll_client_addr(ZOLL_CLIENT_ADDR_TRUNCATE, NULL, 6, a, buf,
                                 sizeof(buf)) < sizeof(buf));
    slash = strchr(buf, '/');
    assert_non_null(slash);
    assert_string_equal(slash, "/48");
    *slash = '\0';

    assert_int_equal(inet_pton(AF_INET6, buf, back), 1);
    assert_memory_equal(back, a, 6);
    assert_memory_equal(back + 6, "\0\0\0\0\0\0\0\0\0\0", 10);
}


static void
test_client_addr(void **state)
{
    static const unsigned char  v4[4] = { 203, 0, 113, 77 };
    static const unsigned char  v6[16] = {
        0x20, 0x01, 0x0d, 0xb8, 0x12, 0x34, 0x56, 0x78,
        0, 0, 0, 0, 0, 0, 0, 1
    };
    static const unsigned char  v6z[16] = {
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0xff, 0xff,
        0, 0, 0, 0, 0, 0, 0, 1
    };
    static const unsigned char  v6zz[16] = {
        0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 1
    };

    (void) state;

    zt_check_addr(ZOLL_CLIENT_ADDR_TRUNCATE, 4, v4, "203.0.113.0/24");
    zt_check_addr(ZOLL_CLIENT_ADDR_TRUNCATE, 6, v6, "2001:db8:1234::/48");
    zt_check_addr6_prefix(v6);
    zt_check_addr6_prefix(v6z);
    zt_check_addr6_prefix(v6zz);
    zt_check_addr(ZOLL_CLIENT_ADDR_OMIT, 4, v4, "");
    zt_check_addr(ZOLL_CLIENT_ADDR_OMIT, 6, v6, "");
}


static void
test_status_table(void **state)
{
    static const struct {
        zoll_status_e   s;
        int             http;
        const char     *code;
    } want[] = {
        { ZOLL_OK, 200, "ok" },
        { ZOLL_ERR_BAD_REQUEST, 400, "bad_request" },
        { ZOLL_ERR_UNAUTHENTICATED, 401, "invalid_api_key" },
        { ZOLL_ERR_NOT_ENABLED, 403, "subprocessor_not_enabled" },
        { ZOLL_ERR_OBJECTED, 403, "subprocessor_objected" },
        { ZOLL_ERR_TLS_REQUIRED, 426, "tls_required" },
        { ZOLL_ERR_NO_LAWFUL_ROUTE, 451, "no_lawful_route" },
        { ZOLL_ERR_LOG_UNWRITABLE, 503, "transfer_log_unwritable" },
        { ZOLL_ERR_UNPROTECTED, 500, "unprotected_location" },
        { ZOLL_ERR_TOO_LARGE, 413, "body_too_large" },
        { ZOLL_ERR_UNINSPECTABLE, 415, "body_not_inspectable" },
        { ZOLL_ERR_PII_BLOCKED, 422, "pii_blocked" },
        { ZOLL_ERR_KEY_COLLISION, 422, "redaction_key_collision" },
        { ZOLL_ERR_UNRESTORABLE, 502, "response_not_restorable" },
        { ZOLL_ERR_METHOD, 405, "method_not_allowed" },
    };

    size_t  i;

    (void) state;

    /* every enum value, in order, so a new one cannot go untested */
    assert_int_equal(sizeof(want) / sizeof(want[0]), ZOLL_STATUS_N);

    for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        assert_int_equal(want[i].s, i);
        assert_int_equal(zoll_status_http(want[i].s), want[i].http);
        assert_string_equal(zoll_status_code(want[i].s), want[i].code);
    }

    assert_string_equal(zoll_residency_name(ZOLL_RESIDENCY_EEA_ONLY),
                        "eea_only");
    assert_string_equal(zoll_residency_name(ZOLL_RESIDENCY_ADEQUATE),
                        "adequate");
    assert_string_equal(zoll_residency_name(ZOLL_RESIDENCY_ANY), "any");
    assert_string_equal(zoll_api_name(ZOLL_API_OPENAI), "openai");
    assert_string_equal(zoll_api_name(ZOLL_API_ANTHROPIC), "anthropic");
    assert_string_equal(zoll_api_name(ZOLL_API_GEMINI), "gemini");
}


int
zt_record_tests(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_record_forwarded_by_scc),
        cmocka_unit_test(test_record_refused),
        cmocka_unit_test(test_record_without_tenant),
        cmocka_unit_test(test_record_empty_request_id),
        cmocka_unit_test(test_record_outcome),
        cmocka_unit_test(test_record_size_contract),
        cmocka_unit_test(test_record_escapes_path),
        cmocka_unit_test(test_record_replaces_invalid_utf8),
        cmocka_unit_test(test_error_body_openai),
        cmocka_unit_test(test_error_body_anthropic),
        cmocka_unit_test(test_error_body_gemini),
        cmocka_unit_test(test_client_addr),
        cmocka_unit_test(test_status_table),
    };

    return cmocka_run_group_tests_name("record", tests, NULL, NULL);
}
