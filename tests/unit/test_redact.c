/*
 * The redactor: what leaves for the provider.  Each operator's exact
 * output; that everything but a changed string is forwarded byte for byte;
 * that escapes cannot hide a value from the rules and are written back as
 * valid JSON; that any body which is not strict JSON is refused with the
 * offset of its first bad byte (a gateway that forwarded what it could not
 * parse would forward what it could not redact); the transfer record of a
 * redaction; and the policy errors of the "redaction" section.
 */

#include "zt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>


#define ZT_BODY(s)  (s), sizeof(s) - 1


typedef struct {
    zoll_policy_t     *policy;
    zoll_redactor_t   *rd;
    zoll_redaction_t   res;
    zoll_api_e         api;       /* the request's format: openai unless
                                     a test says otherwise */
    unsigned char     *in;        /* the last body, as zoll_redact() saw it */
    size_t             len;
    const void        *row;       /* a table test's row */
} zt_red_t;


static zt_red_t *
zt_red_new(zoll_policy_t *p, unsigned mode)
{
    zt_red_t  *r;

    r = calloc(1, sizeof(zt_red_t));
    assert_non_null(r);

    r->policy = p;
    r->rd = zoll_redactor_new(p, mode);
    assert_non_null(r->rd);

    return r;
}


static void
zt_red_free(zt_red_t *r)
{
    zoll_redactor_free(r->rd);
    zoll_policy_free(r->policy);
    free(r->in);
    free(r);
}


/* every test gets the base policy and a prefiltered redactor; a table
 * test finds its row in r->row */

static int
zt_red_setup(void **state)
{
    zt_red_t  *r;

    r = zt_red_new(zt_load_base(), 0);
    r->row = *state;
    *state = r;
    return 0;
}


static int
zt_red_teardown(void **state)
{
    zt_red_free(*state);
    return 0;
}


/* Redacts a heap copy of exactly len bytes (no NUL after it, so a read
 * past the end shows under valgrind and ASan).  The copy lives until the
 * next call: res.body may point into it. */

static zoll_status_e
zt_redact(zt_red_t *r, const char *tenant, const char *body, size_t len)
{
    zoll_status_e  rc;

    free(r->in);
    r->in = malloc(len ? len : 1);
    assert_non_null(r->in);
    memcpy(r->in, body, len);
    r->len = len;

    /* so that a field the redactor leaves unset shows */
    memset(&r->res, 0x5a, sizeof(r->res));

    rc = zoll_redact(r->rd, zt_tenant(r->policy, tenant), r->api, r->in, len,
                     &r->res);

    assert_int_equal(r->res.status, rc);
    return rc;
}


/* The body must come out as want, exactly; NULL: unchanged, and then
 * res.body is the input itself (nothing was copied). */

static void
zt_expect(zt_red_t *r, const char *tenant, const char *in, const char *want)
{
    size_t  n;

    n = strlen(in);

    if (zt_redact(r, tenant, in, n) != ZOLL_OK) {
        fail_msg("%s: %s", zoll_status_code(r->res.status), r->res.reason);
    }

    assert_string_equal(r->res.reason, "");

    if (want == NULL) {
        assert_int_equal(r->res.changed, 0);
        assert_ptr_equal(r->res.body, r->in);
        assert_int_equal(r->res.len, n);
        return;
    }

    if (r->res.len != strlen(want) || memcmp(r->res.body, want, r->res.len))
    {
        fail_msg("redacted:\n  got  %.*s\n  want %s", (int) r->res.len,
                 (const char *) r->res.body, want);
    }

    assert_int_equal(r->res.changed, 1);
    assert_ptr_not_equal(r->res.body, r->in);
}


static unsigned
zt_entity(zt_red_t *r, const char *name)
{
    int  e;

    e = zoll_rules_entity_index(zoll_policy_rules(r->policy), name);
    if (e < 0) {
        fail_msg("no entity \"%s\"", name);
    }

    return (unsigned) e;
}


static size_t
zt_found(zt_red_t *r, const char *entity)
{
    return zoll_redaction_found(r->rd, zt_entity(r, entity));
}


/* the output body parsed; it must be one JSON value */

static json_t *
zt_out_json(zt_red_t *r)
{
    json_t        *j;
    json_error_t   jerr;

    j = json_loadb((const char *) r->res.body, r->res.len,
                   JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES,
                   &jerr);
    if (j == NULL) {
        fail_msg("not JSON (%s at %d): %.*s", jerr.text, jerr.position,
                 (int) r->res.len, (const char *) r->res.body);
    }

    return j;
}


/* The pseudonym Zoll must write: the first 4 bytes of HMAC-SHA256 over
 * entity, NUL, value, keyed with the key file's token, in lower-case hex. */

static void
zt_pseudonym(const char *keyfile, const char *entity, const char *value,
    char hex[9])
{
    char            key[256], data[256];
    size_t          klen, el, vl, i;
    FILE           *f;
    unsigned int    mdlen;
    unsigned char   md[EVP_MAX_MD_SIZE];

    f = fopen(zt_data(keyfile), "rb");
    assert_non_null(f);
    klen = fread(key, 1, sizeof(key), f);
    fclose(f);

    while (klen > 0 && (key[klen - 1] == '\n' || key[klen - 1] == '\r')) {
        klen--;
    }

    assert_true(klen >= 16);

    el = strlen(entity) + 1;
    vl = strlen(value);
    assert_true(el + vl <= sizeof(data));
    memcpy(data, entity, el);
    memcpy(data + el, value, vl);

    assert_non_null(HMAC(EVP_sha256(), key, (int) klen,
                         (unsigned char *) data, el + vl, md, &mdlen));
    assert_int_equal(mdlen, 32);

    for (i = 0; i < 4; i++) {
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    }
}


static void
test_redact_mask(void **state)
{
    zt_red_t  *r = *state;

    zt_expect(r, "t_eea",
              "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\","
              "\"content\":\"Mail anna@example.de\"}]}",
              "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\","
              "\"content\":\"Mail [EMAIL]\"}]}");

    assert_int_equal(r->res.redacted, 1);
    assert_int_equal(zt_found(r, "EMAIL"), 1);
    assert_int_equal(zt_found(r, "IBAN"), 0);
    assert_int_equal(zt_found(r, "PERSON"), 0);
    assert_int_equal(zoll_redaction_tokens(r->rd), 0);

    /* every entity of the default profile; counts per body */
    zt_expect(r, "t_eea",
              "[\"Anna Schmidt: DE89 3704 0044 0532 0130 00\","
              "\"Kennzeichen B-AB 1234, anna@example.de, bob@example.org\"]",
              "[\"[PERSON]: [IBAN]\","
              "\"Kennzeichen [DE_LICENSE_PLATE], [EMAIL], [EMAIL]\"]");

    assert_int_equal(r->res.redacted, 5);
    assert_int_equal(zt_found(r, "EMAIL"), 2);
    assert_int_equal(zt_found(r, "IBAN"), 1);
    assert_int_equal(zt_found(r, "PERSON"), 1);
    assert_int_equal(zt_found(r, "DE_LICENSE_PLATE"), 1);
}


/* Only a string that changes is rewritten: white space, number spellings,
 * literals and other strings' escapes go out as they came. */

static void
test_redact_other_bytes_kept(void **state)
{
    zt_red_t  *r = *state;

    zt_expect(r, "t_eea",
              " { \"a\" : -1.50e+3 , \"b\" :[ true,false,null, 0, 1E-2 ] ,"
              "\"c\" :\t\"x anna@example.de y\" , \"d\":\"\\u00e4\\/\" }"
              "\r\n",
              " { \"a\" : -1.50e+3 , \"b\" :[ true,false,null, 0, 1E-2 ] ,"
              "\"c\" :\t\"x [EMAIL] y\" , \"d\":\"\\u00e4\\/\" }\r\n");

    /* a finding in the first and in the last string of the body */
    zt_expect(r, "t_eea", "\"anna@example.de\"", "\"[EMAIL]\"");
    zt_expect(r, "t_eea", "[\"anna@example.de\",1,\"bob@example.org\"]",
              "[\"[EMAIL]\",1,\"[EMAIL]\"]");
}


static void
test_redact_no_findings(void **state)
{
    size_t     i;
    zt_red_t  *r = *state;

    zt_expect(r, "t_eea",
              "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\","
              "\"content\":\"Die Rechnung kommt morgen, user@localhost\"}],"
              "\"n\":1}", NULL);

    assert_int_equal(r->res.redacted, 0);

    for (i = 0; i < zoll_rules_entities(zoll_policy_rules(r->policy)); i++) {
        assert_int_equal(zoll_redaction_found(r->rd, (unsigned) i), 0);
    }

    /* scalars and empty containers are bodies too */
    zt_expect(r, "t_eea", "{}", NULL);
    zt_expect(r, "t_eea", "[]", NULL);
    zt_expect(r, "t_eea", "\"\"", NULL);
    zt_expect(r, "t_eea", " 0 ", NULL);
    zt_expect(r, "t_eea", "null", NULL);
}


/* The strings and numbers at the policy's structural paths of the
 * request's API ($.model, $.messages[*].role, $.tool_calls[*].id, ...) are
 * protocol, not prompt: not scanned.  Everything else is, at any depth and
 * under any key name: names, users, free-form metadata with keys like "id"
 * or "model", nested arrays, and tool-call arguments, which are JSON inside
 * a JSON string. */

static void
test_redact_structural_paths(void **state)
{
    json_t      *j, *args;
    zt_red_t    *r = *state;
    const char  *s;

    zt_expect(r, "t_eea",
              "{\"model\":\"anna@example.de\",\"id\":\"anna@example.de\","
              "\"role\":\"anna@example.de\",\"type\":\"anna@example.de\"}",
              NULL);
    assert_int_equal(zt_found(r, "EMAIL"), 0);

    zt_expect(r, "t_eea",
              "{\"id\":\"anna@example.de\",\"model\":\"anna@example.de\","
              "\"user\":\"anna@example.de\",\"name\":\"Anna Schmidt\","
              "\"metadata\":{\"owner\":\"bob@example.org\",\"id\":"
              "\"bob@example.org\",\"tags\":[[\"x\",[\"carl@example.com\"]]]},"
              "\"tool_calls\":[{\"id\":\"call_1\",\"type\":\"function\","
              "\"function\":{\"name\":\"send\",\"arguments\":"
              "\"{\\\"email\\\":\\\"a@example.de\\\"}\"}}]}",

              "{\"id\":\"anna@example.de\",\"model\":\"anna@example.de\","
              "\"user\":\"[EMAIL]\",\"name\":\"[PERSON]\","
              "\"metadata\":{\"owner\":\"[EMAIL]\",\"id\":"
              "\"[EMAIL]\",\"tags\":[[\"x\",[\"[EMAIL]\"]]]},"
              "\"tool_calls\":[{\"id\":\"call_1\",\"type\":\"function\","
              "\"function\":{\"name\":\"send\",\"arguments\":"
              "\"{\\\"email\\\":\\\"[EMAIL]\\\"}\"}}]}");

    assert_int_equal(r->res.redacted, 6);
    assert_int_equal(zt_found(r, "EMAIL"), 5);
    assert_int_equal(zt_found(r, "PERSON"), 1);

    /* and the arguments are still JSON, with the value replaced */
    j = zt_out_json(r);
    s = zt_str(j, "tool_calls[0].function.arguments");
    assert_non_null(s);
    args = json_loads(s, 0, NULL);
    assert_non_null(args);
    assert_string_equal(zt_str(args, "email"), "[EMAIL]");
    assert_string_equal(zt_str(j, "metadata.tags[0][1][0]"), "[EMAIL]");

    json_decref(args);
    json_decref(j);

    /* a structural path's object or array value is content: scanned */
    zt_expect(r, "t_eea", "{\"id\":[\"anna@example.de\"]}",
              "{\"id\":[\"[EMAIL]\"]}");
    zt_expect(r, "t_eea", "{\"type\":{\"x\":\"anna@example.de\"}}",
              "{\"type\":{\"x\":\"[EMAIL]\"}}");

    /* the next member after a skipped value is scanned again */
    zt_expect(r, "t_eea", "{\"id\":1,\"c\":\"anna@example.de\"}",
              "{\"id\":1,\"c\":\"[EMAIL]\"}");
    zt_expect(r, "t_eea", "{\"id\":\"x\",\"c\":\"anna@example.de\"}",
              "{\"id\":\"x\",\"c\":\"[EMAIL]\"}");

    /* every element of an array, and only at the path's own depth */
    zt_expect(r, "t_eea",
              "{\"messages\":[{\"role\":\"a\"},"
              "{\"content\":\"anna@example.de\","
              "\"role\":\"anna@example.de\"},[{\"role\":\"bob@example.org\"}],"
              "{\"x\":{\"role\":\"carl@example.com\"}}],"
              "\"x\":{\"model\":\"dora@example.com\"}}",
              "{\"messages\":[{\"role\":\"a\"},{\"content\":\"[EMAIL]\","
              "\"role\":\"anna@example.de\"},[{\"role\":\"[EMAIL]\"}],"
              "{\"x\":{\"role\":\"[EMAIL]\"}}],"
              "\"x\":{\"model\":\"[EMAIL]\"}}");

    /* a path names the key as decoded */
    zt_expect(r, "t_eea", "{\"mod\\u0065l\":\"anna@example.de\"}", NULL);

    /* the paths of the request's API only */
    r->api = ZOLL_API_ANTHROPIC;
    zt_expect(r, "t_eea", "{\"model\":\"anna@example.de\","
              "\"role\":\"anna@example.de\"}",
              "{\"model\":\"anna@example.de\",\"role\":\"[EMAIL]\"}");
    r->api = ZOLL_API_GEMINI;
    zt_expect(r, "t_eea", "{\"model\":\"anna@example.de\"}",
              "{\"model\":\"[EMAIL]\"}");
}


/* Object keys are scanned and rewritten like values: an address used as
 * a key is personal data too.  A rewritten key must not become equal to
 * another key of its object (the provider would keep one member): such a
 * body is refused, whichever key came first and however it was spelled. */

static void
test_redact_keys(void **state)
{
    zt_red_t    *r = *state;
    json_t      *j;

    zt_expect(r, "t_eea",
              "{\"metadata\":{\"anna@example.de\":\"vip\",\"x\":1}}",
              "{\"metadata\":{\"[EMAIL]\":\"vip\",\"x\":1}}");
    assert_int_equal(zt_found(r, "EMAIL"), 1);
    assert_int_equal(r->res.redacted, 1);

    zt_expect(r, "t_eea", "{\"anna\\u0040example.de\":1}",
              "{\"[EMAIL]\":1}");
    zt_expect(r, "t_eea", "{\"Mail an anna@example.de\":[]}",
              "{\"Mail an [EMAIL]\":[]}");

    /* key and value of one member, and keys of nested objects, each in
     * its own object */
    zt_expect(r, "t_eea",
              "{\"anna@example.de\":{\"bob@example.org\":\"carl@example.com\"},"
              "\"a\":{\"anna@example.de\":1},\"b\":{\"bob@example.org\":2}}",
              "{\"[EMAIL]\":{\"[EMAIL]\":\"[EMAIL]\"},"
              "\"a\":{\"[EMAIL]\":1},\"b\":{\"[EMAIL]\":2}}");
    j = zt_out_json(r);
    json_decref(j);

    /* tokens keep different values apart */
    zt_expect(r, "t_tokens", "{\"anna@example.de\":1,\"bob@example.org\":2}",
              "{\"[EMAIL_1]\":1,\"[EMAIL_2]\":2}");

    /* a client's own duplicate keys, however spelt, are invalid JSON:
     * which one a provider keeps is up to its parser */
    assert_int_equal(zt_redact(r, "t_eea", ZT_BODY("{\"a\":1,\"a\":2}")),
                     ZOLL_ERR_BAD_REQUEST);
    zt_assert_contains(r->res.reason, "a key repeats");
    assert_int_equal(zt_redact(r, "t_eea",
                               ZT_BODY("{\"a\":1,\"\\u0061\":2,"
                                       "\"anna@example.de\":3}")),
                     ZOLL_ERR_BAD_REQUEST);
    zt_expect(r, "t_eea", "[{\"a\":1},{\"a\":2}]", NULL);

    /* a blocked entity in a key refuses the body like one in a value */
    assert_int_equal(zt_redact(r, "t_any",
                               ZT_BODY("{\"DE89 3704 0044 0532 0130 00\":1}")),
                     ZOLL_ERR_PII_BLOCKED);
}


static void
test_redact_keys_collide(void **state)
{
    size_t      i;
    zt_red_t   *r = *state;

    static const char *const  bodies[] = {
        "{\"anna@example.de\":1,\"bob@example.org\":2}",
        "{\"[EMAIL]\":0,\"anna@example.de\":1}",
        "{\"anna@example.de\":1,\"[EMAIL]\":0}",
        "{\"\\u005bEMAIL]\":0,\"x\":[],\"anna@example.de\":1}",
        "{\"o\":{\"i\":{},\"anna@example.de\":1,\"bob@example.org\":{}}}",
        "[{\"a\":1},{\"anna@example.de\":1,\"anna@example.de\":2}]",
    };

    for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        if (zt_redact(r, "t_eea", bodies[i], strlen(bodies[i]))
            != ZOLL_ERR_KEY_COLLISION)
        {
            fail_msg("%s: %s", bodies[i], zoll_status_code(r->res.status));
        }

        assert_int_equal(r->res.changed, 0);
        assert_ptr_equal(r->res.body, r->in);
        zt_assert_contains(r->res.reason, "would make two of them the same");
        assert_null(strstr(r->res.reason, "anna"));
    }

    /* and the next body is redacted as if nothing happened */
    zt_expect(r, "t_eea", "{\"x\":{\"anna@example.de\":1}}",
              "{\"x\":{\"[EMAIL]\":1}}");
}


/* Numbers are scanned as the text they are written as: a card number or
 * a tax id may be sent as a JSON number.  A number in which a rule finds
 * something becomes a JSON string with the operator's output (no operator
 * writes a number).  Other numbers stay byte for byte. */

static void
test_redact_numbers(void **state)
{
    char         err[ZOLL_ERR_LEN];
    json_t      *j;
    zt_red_t    *r;

    (void) state;

    /* the fixture pack has no rule for digits: the real packs */
    j = zt_base();
    zt_set(j, "redaction.rules", "\"../../../rules\"");
    r = zt_red_new(zt_parse(j, err), 0);
    assert_non_null(r->policy);

    zt_expect(r, "t_eea",
              "{\"card\":4111111111111111,\"max_tokens\":4096,"
              "\"temperature\":0.7,\"seed\":1700000000,\"x\":-3e5}",
              "{\"card\":\"[CREDIT_CARD]\",\"max_tokens\":4096,"
              "\"temperature\":0.7,\"seed\":1700000000,\"x\":-3e5}");
    assert_int_equal(zt_found(r, "CREDIT_CARD"), 1);
    assert_int_equal(r->res.redacted, 1);

    zt_expect(r, "t_eea", "[86095742719, 1.5, 4111111111111112]",
              "[\"[DE_TAX_ID]\", 1.5, 4111111111111112]");

    zt_expect(r, "t_eea",
              "{\"max_tokens\":4096,\"temperature\":0.25,\"n\":1,"
              "\"seed\":1700000000,\"top_p\":1e-3,\"z\":0}", NULL);

    /* the same value as number and as string: the same token */
    zt_expect(r, "t_tokens", "{\"a\":86095742719,\"b\":\"86095742719\"}",
              "{\"a\":\"[DE_TAX_ID_1]\",\"b\":\"[DE_TAX_ID_1]\"}");

    /* a structural key's number is not scanned, like its string */
    zt_expect(r, "t_eea", "{\"id\":86095742719}", NULL);

    /* a member's key is its value's context: a phone number as a bare
     * number or digit string next to "phone" or "tel", escaped or not;
     * the same digits elsewhere are a number like any other */
    zt_expect(r, "t_eea",
              "{\"phone\": 4915123456789, \"tel\":\"0301234567\","
              "\"fax\":\"49301\\u00323456\",\"order\":4915123456789,"
              "\"items\":[4915123456789]}",
              "{\"phone\": \"[PHONE]\", \"tel\":\"[PHONE]\","
              "\"fax\":\"[PHONE]\",\"order\":4915123456789,"
              "\"items\":[4915123456789]}");
    assert_int_equal(zt_found(r, "PHONE"), 3);

    /* the key's own finding is the key's: found and replaced there once,
     * not in the value it gives context to */
    zt_expect(r, "t_eea", "{\"anna@example.de\":\"tel 0301234567\"}",
              "{\"[EMAIL]\":\"tel [PHONE]\"}");
    assert_int_equal(zt_found(r, "EMAIL"), 1);
    assert_int_equal(zt_found(r, "PHONE"), 1);

    zt_red_free(r);
}


/* Escapes are decoded before the rules see a string, so "\u0040" cannot
 * hide an "@"; the string is written back re-encoded. */

static void
test_redact_escaped_finding(void **state)
{
    zt_red_t  *r = *state;

    zt_expect(r, "t_eea", "{\"c\":\"anna\\u0040example.de\"}",
              "{\"c\":\"[EMAIL]\"}");
    zt_expect(r, "t_eea", "{\"c\":\"\\u0041nna@example\\u002ede\"}",
              "{\"c\":\"[EMAIL]\"}");
    zt_expect(r, "t_eea", "{\"c\":\"anna\\u002bx@example.de\"}",
              "{\"c\":\"[EMAIL]\"}");
    assert_int_equal(zt_found(r, "EMAIL"), 1);

    /* "Mail\nAnna Schmidt": the newline stays an escape */
    zt_expect(r, "t_eea", "[\"Mail\\nAnna Schmidt\\n\"]",
              "[\"Mail\\n[PERSON]\\n\"]");
}


/* A surrogate pair is one character: decoded to its four UTF-8 bytes and
 * written back as valid JSON, in upper or lower case hex. */

static void
test_redact_surrogate_pair(void **state)
{
    json_t    *j;
    zt_red_t  *r = *state;

    assert_int_equal(zt_redact(r, "t_eea",
                               ZT_BODY("{\"c\":\"\\ud83d\\ude00"
                                       "anna@example.de\\uD83D\\uDE00\"}")),
                     ZOLL_OK);
    assert_int_equal(r->res.changed, 1);

    j = zt_out_json(r);
    assert_string_equal(zt_str(j, "c"),
                        "\xf0\x9f\x98\x80[EMAIL]\xf0\x9f\x98\x80");
    json_decref(j);

    /* U+10FFFF, the last one */
    assert_int_equal(zt_redact(r, "t_eea",
                               ZT_BODY("[\"\\udbff\\udfff "
                                       "anna@example.de\"]")),
                     ZOLL_OK);
    j = zt_out_json(r);
    assert_string_equal(zt_str(j, "[0]"), "\xf4\x8f\xbf\xbf [EMAIL]");
    json_decref(j);
}


/* Every escape of RFC 8259 around a finding: the output parses, and says
 * what the input said with the finding replaced. */

static void
test_redact_escapes_reencoded(void **state)
{
    static const char  body[] =
        "{\"c\":\"q\\\"b\\\\c\\n\\t\\r\\b\\f\\/\\u00e4\\u20ac\\u0001\\u001f"
        "\\u007f anna@example.de \\\"end\\\\\"}";

    char        *want, *at;
    json_t      *in, *out;
    size_t       n;
    zt_red_t    *r = *state;
    const char  *s;

    in = json_loads(body, 0, NULL);
    assert_non_null(in);

    /* the input's text with the finding replaced */
    s = zt_str(in, "c");
    n = strlen(s);
    want = malloc(n + 1);
    assert_non_null(want);
    at = strstr(s, "anna@example.de");
    assert_non_null(at);
    n = snprintf(want, n + 1, "%.*s[EMAIL]%s", (int) (at - s), s,
                 at + strlen("anna@example.de"));

    assert_int_equal(zt_redact(r, "t_eea", ZT_BODY(body)), ZOLL_OK);
    assert_int_equal(r->res.changed, 1);
    assert_int_equal(r->res.redacted, 1);

    out = zt_out_json(r);
    assert_int_equal(json_object_size(out), 1);
    assert_int_equal(json_string_length(zt_get(out, "c")), n);
    assert_string_equal(zt_str(out, "c"), want);

    /* and in one line: no raw control character came back */
    for (n = 0; n < r->res.len; n++) {
        assert_true(r->res.body[n] >= 0x20);
    }

    json_decref(out);
    json_decref(in);
    free(want);
}


/* Strings are read eight bytes at a time: an escape, a UTF-8 character, a
 * raw control byte or an invalid byte is found at every offset within and
 * across those words, and an error names its exact byte. */

static void
test_redact_special_byte_at_every_offset(void **state)
{
    char         in[128], want[128], reason[96];
    size_t       k, len;
    zt_red_t    *r = *state;

    for (k = 0; k < 20; k++) {
        /* an escaped quote k bytes in; the e-mail after it is found, and
         * the rewritten string carries the decoded "\u00e4" as UTF-8 */
        snprintf(in, sizeof(in), "[\"%.*s\\\" anna@example.de \\u00e4x\"]",
                 (int) k, "abcdefghijklmnopqrstuvwxyz");
        snprintf(want, sizeof(want), "[\"%.*s\\\" [EMAIL] \xc3\xa4x\"]",
                 (int) k, "abcdefghijklmnopqrstuvwxyz");
        zt_expect(r, "t_eea", in, want);

        /* a UTF-8 character k bytes in, copied as it is */
        snprintf(in, sizeof(in), "[\"%.*s\xc3\xa4 anna@example.de\"]",
                 (int) k, "abcdefghijklmnopqrstuvwxyz");
        snprintf(want, sizeof(want), "[\"%.*s\xc3\xa4 [EMAIL]\"]",
                 (int) k, "abcdefghijklmnopqrstuvwxyz");
        zt_expect(r, "t_eea", in, want);

        /* a raw tab, then an invalid byte, k bytes in */
        len = (size_t) snprintf(in, sizeof(in), "[\"%.*s\tabcdefgh\"]",
                                (int) k, "abcdefghijklmnopqrstuvwxyz");
        assert_int_equal(zt_redact(r, "t_eea", in, len),
                         ZOLL_ERR_BAD_REQUEST);
        snprintf(reason, sizeof(reason), "invalid JSON: control character "
                 "in a string at byte %zu", k + 2);
        assert_string_equal(r->res.reason, reason);

        len = (size_t) snprintf(in, sizeof(in), "[\"%.*s\xff" "abcdefgh\"]",
                                (int) k, "abcdefghijklmnopqrstuvwxyz");
        assert_int_equal(zt_redact(r, "t_eea", in, len),
                         ZOLL_ERR_BAD_REQUEST);
        snprintf(reason, sizeof(reason), "invalid UTF-8 in a string at "
                 "byte %zu", k + 2);
        assert_string_equal(r->res.reason, reason);
    }
}


/* A NUL inside a string is text like any other: the finding after it is
 * redacted, and the NUL goes out escaped as it came. */

static void
test_redact_nul(void **state)
{
    json_t    *j;
    zt_red_t  *r = *state;

    zt_expect(r, "t_eea", "[\"a\\u0000b anna@example.de\"]",
              "[\"a\\u0000b [EMAIL]\"]");

    j = zt_out_json(r);
    assert_int_equal(json_string_length(zt_get(j, "[0]")), 11);
    assert_memory_equal(json_string_value(zt_get(j, "[0]")),
                        "a\0b [EMAIL]", 11);
    json_decref(j);
}


/* Pseudonyms: HMAC of entity and value under the tenant's own key, so
 * the same value gives the same pseudonym within and across requests of
 * one tenant, and an unlinkable one for another tenant. */

static void
test_redact_pseudonymize(void **state)
{
    char       want[512], any[9], adequate[9], person[9];
    zt_red_t  *r = *state;

    zt_pseudonym("credentials/pseudo_any.key", "EMAIL", "anna@example.de",
                 any);
    zt_pseudonym("credentials/pseudo_adequate.key", "EMAIL",
                 "anna@example.de", adequate);
    zt_pseudonym("credentials/pseudo_any.key", "PERSON", "Anna Schmidt",
                 person);

    assert_int_equal(strspn(any, "0123456789abcdef"), 8);
    assert_string_not_equal(any, adequate);

    snprintf(want, sizeof(want), "{\"a\":\"[EMAIL_%s]\",\"b\":[\"x "
             "[EMAIL_%s] y [PERSON_%s]\"]}", any, any, person);

    zt_expect(r, "t_any", "{\"a\":\"anna@example.de\",\"b\":[\"x "
              "anna@example.de y Anna Schmidt\"]}", want);
    assert_int_equal(r->res.redacted, 3);
    assert_int_equal(zt_found(r, "EMAIL"), 2);

    /* the next request: the same pseudonym */
    zt_expect(r, "t_any", "{\"a\":\"anna@example.de\",\"b\":[\"x "
              "anna@example.de y Anna Schmidt\"]}", want);

    /* of the decoded value, however it was escaped */
    snprintf(want, sizeof(want), "[\"[EMAIL_%s]\"]", any);
    zt_expect(r, "t_any", "[\"anna\\u0040example.de\"]", want);

    /* another tenant, another key */
    snprintf(want, sizeof(want), "[\"[EMAIL_%s]\"]", adequate);
    zt_expect(r, "t_adequate", "[\"anna@example.de\"]", want);

    /* another value, another pseudonym */
    zt_pseudonym("credentials/pseudo_any.key", "EMAIL", "bob@example.org",
                 adequate);
    assert_string_not_equal(any, adequate);
    snprintf(want, sizeof(want), "[\"[EMAIL_%s]\"]", adequate);
    zt_expect(r, "t_any", "[\"bob@example.org\"]", want);

    /* no tokens: pseudonyms are not reversible within the request */
    assert_int_equal(zoll_redaction_tokens(r->rd), 0);
}


/* "keep" under the "pseudo" profile: the plate is sent as it is, by
 * choice; it is counted, and the record says it went in clear. */

static void
test_redact_keep(void **state)
{
    char       want[256], hex[9];
    zt_red_t  *r = *state;

    zt_expect(r, "t_any", "{\"c\":\"Kennzeichen B-AB 1234\"}", NULL);
    assert_int_equal(r->res.redacted, 0);
    assert_int_equal(zt_found(r, "DE_LICENSE_PLATE"), 1);

    /* in one string with a value that is replaced */
    zt_pseudonym("credentials/pseudo_any.key", "EMAIL", "anna@example.de",
                 hex);
    snprintf(want, sizeof(want), "{\"c\":\"Kennzeichen B-AB 1234, "
             "[EMAIL_%s]\"}", hex);
    zt_expect(r, "t_any", "{\"c\":\"Kennzeichen B-AB 1234, "
              "anna@example.de\"}", want);
    assert_int_equal(r->res.redacted, 1);
    assert_int_equal(zt_found(r, "DE_LICENSE_PLATE"), 1);
    assert_int_equal(zt_found(r, "EMAIL"), 1);

    /* a kept span with escapes around it is written back valid */
    snprintf(want, sizeof(want), "[\"\\\"Kennzeichen\\\" B-AB 1234\\n"
             "[EMAIL_%s]\"]", hex);
    zt_expect(r, "t_any", "[\"\\\"Kennzeichen\\\" B-AB 1234\\n"
              "anna@example.de\"]", want);
}


/* Tokens: numbered per entity in the order of first appearance, the same
 * value the same token, reversible through zoll_redaction_token(); each
 * body starts again at 1. */

static void
test_redact_tokenize(void **state)
{
    char        buf[32];
    zt_red_t   *r = *state;
    zoll_str_t  v;

    zt_expect(r, "t_tokens",
              "{\"a\":\"anna@example.de, bob@example.org\","
              "\"b\":[\"anna@example.de\",\"Anna Schmidt\","
              "\"anna\\u0040example.de\"]}",
              "{\"a\":\"[EMAIL_1], [EMAIL_2]\","
              "\"b\":[\"[EMAIL_1]\",\"[PERSON_1]\",\"[EMAIL_1]\"]}");

    assert_int_equal(r->res.redacted, 5);
    assert_int_equal(zt_found(r, "EMAIL"), 4);
    assert_int_equal(zoll_redaction_tokens(r->rd), 3);

    assert_int_equal(zoll_redaction_token(r->rd, 0, buf, sizeof(buf), &v), 9);
    assert_string_equal(buf, "[EMAIL_1]");
    assert_int_equal(v.len, 15);
    assert_memory_equal(v.data, "anna@example.de", 15);

    assert_int_equal(zoll_redaction_token(r->rd, 1, buf, sizeof(buf), &v), 9);
    assert_string_equal(buf, "[EMAIL_2]");
    assert_int_equal(v.len, 15);
    assert_memory_equal(v.data, "bob@example.org", 15);

    assert_int_equal(zoll_redaction_token(r->rd, 2, buf, sizeof(buf), &v),
                     10);
    assert_string_equal(buf, "[PERSON_1]");
    assert_int_equal(v.len, 12);
    assert_memory_equal(v.data, "Anna Schmidt", 12);

    /* snprintf-style: the length needed, whatever fits */
    memset(buf, 0x5a, sizeof(buf));
    assert_int_equal(zoll_redaction_token(r->rd, 2, buf, 4, &v), 10);
    assert_string_equal(buf, "[PE");
    assert_int_equal(zoll_redaction_token(r->rd, 2, NULL, 0, &v), 10);

    /* the next body: its own tokens only, numbered from 1 */
    zt_expect(r, "t_tokens", "[\"carl@example.com anna@example.de\"]",
              "[\"[EMAIL_1] [EMAIL_2]\"]");
    assert_int_equal(zoll_redaction_tokens(r->rd), 2);
    assert_int_equal(zoll_redaction_token(r->rd, 0, buf, sizeof(buf), &v), 9);
    assert_string_equal(buf, "[EMAIL_1]");
    assert_int_equal(v.len, 16);
    assert_memory_equal(v.data, "carl@example.com", 16);
    assert_int_equal(zoll_redaction_token(r->rd, 1, buf, sizeof(buf), &v), 9);
    assert_int_equal(v.len, 15);
    assert_memory_equal(v.data, "anna@example.de", 15);

    /* and a body without findings has none */
    zt_expect(r, "t_tokens", "[\"nothing\"]", NULL);
    assert_int_equal(zoll_redaction_tokens(r->rd), 0);
}


/* Many distinct values in one body (the token table grows several times
 * while it is being filled), each mentioned twice. */

static void
test_redact_many_tokens(void **state)
{
    char       *in, *want, buf[32];
    size_t      i, k, ni, nw, cap;
    zt_red_t   *r = *state;
    zoll_str_t  v;

    cap = 1000 * 64;
    in = malloc(cap);
    want = malloc(cap);
    assert_non_null(in);
    assert_non_null(want);

    ni = snprintf(in, cap, "[");
    nw = snprintf(want, cap, "[");

    for (k = 0; k < 2; k++) {
        for (i = 0; i < 1000; i++) {
            ni += snprintf(in + ni, cap - ni, "%s\"u%zu@example.de\"",
                           k + i ? "," : "", i);
            nw += snprintf(want + nw, cap - nw, "%s\"[EMAIL_%zu]\"",
                           k + i ? "," : "", i + 1);
        }
    }

    snprintf(in + ni, cap - ni, "]");
    snprintf(want + nw, cap - nw, "]");

    zt_expect(r, "t_tokens", in, want);
    assert_int_equal(r->res.redacted, 2000);
    assert_int_equal(zoll_redaction_tokens(r->rd), 1000);

    for (i = 0; i < 1000; i++) {
        snprintf(in, cap, "u%zu@example.de", i);
        snprintf(want, cap, "[EMAIL_%zu]", i + 1);
        zoll_redaction_token(r->rd, i, buf, sizeof(buf), &v);
        assert_string_equal(buf, want);
        assert_int_equal(v.len, strlen(in));
        assert_memory_equal(v.data, in, v.len);
    }

    free(in);
    free(want);
}


/* "block": the request is refused as a whole, the body left untouched,
 * and the reason names the entity but never the value. */

static void
test_redact_block(void **state)
{
    zt_red_t  *r = *state;

    assert_int_equal(zt_redact(r, "t_any",
                               ZT_BODY("{\"c\":\"IBAN DE89 3704 0044 0532 "
                                       "0130 00\"}")),
                     ZOLL_ERR_PII_BLOCKED);
    assert_string_equal(r->res.reason, "the redaction profile blocks IBAN");
    assert_ptr_equal(r->res.body, r->in);
    assert_int_equal(r->res.len, r->len);
    assert_int_equal(r->res.changed, 0);
    assert_int_equal(zt_found(r, "IBAN"), 1);

    /* strings before it that would have been rewritten change nothing */
    assert_int_equal(zt_redact(r, "t_any",
                               ZT_BODY("[\"anna@example.de\","
                                       "\"DE89370400440532013000\","
                                       "\"bob@example.org\"]")),
                     ZOLL_ERR_PII_BLOCKED);
    assert_string_equal(r->res.reason, "the redaction profile blocks IBAN");
    assert_ptr_equal(r->res.body, r->in);
    assert_int_equal(r->res.len, r->len);
    assert_int_equal(r->res.changed, 0);
    assert_null(strstr(r->res.reason, "DE89"));
    assert_null(strstr(r->res.reason, "3704"));
    assert_null(strstr(r->res.reason, "anna"));

    /* and the redactor is clean for the next body */
    zt_expect(r, "t_any", "[\"Die Rechnung\"]", NULL);
    zt_expect(r, "t_eea", "[\"DE89370400440532013000\"]", "[\"[IBAN]\"]");
}


/* The same outputs with the prefilter off. */

static void
test_redact_pcre_only(void **state)
{
    zt_red_t  *r = *state, *q;

    q = zt_red_new(zt_load_base(), ZOLL_SCAN_PCRE_ONLY);

    zt_expect(r, "t_eea", "[\"Anna Schmidt: DE89 3704 0044 0532 0130 00, "
              "anna@example.de\"]", "[\"[PERSON]: [IBAN], [EMAIL]\"]");
    zt_expect(q, "t_eea", "[\"Anna Schmidt: DE89 3704 0044 0532 0130 00, "
              "anna@example.de\"]", "[\"[PERSON]: [IBAN], [EMAIL]\"]");

    zt_red_free(q);
}


/* A string the rules cannot scan completely (a pattern past its match
 * limit) refuses the body: unscanned text is not forwarded. */

static void
test_redact_scan_failure(void **state)
{
    char           err[ZOLL_ERR_LEN];
    json_t        *root;
    zt_red_t      *q;
    zoll_policy_t *p;

    (void) state;

    root = zt_base();
    zt_set(root, "redaction.rules", "\"rules_redos\"");
    zt_set(root, "redaction.profiles.pseudo.entities", NULL);
    p = zt_parse(root, err);
    if (p == NULL) {
        fail_msg("%s", err);
    }

    q = zt_red_new(p, 0);

    assert_int_equal(zt_redact(q, "t_eea",
                               ZT_BODY("[\"anna@example.de\",\"x "
                                       "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                                       "bx\"]")),
                     ZOLL_ERR_UNINSPECTABLE);
    assert_string_equal(q->res.reason,
                        "a string could not be scanned completely at byte 20");
    assert_ptr_equal(q->res.body, q->in);
    assert_int_equal(q->res.changed, 0);

    zt_expect(q, "t_eea", "[\"anna@example.de\"]", "[\"[EMAIL]\"]");

    zt_red_free(q);
}


/* Bodies that are not strict JSON (RFC 8259, UTF-8): refused with the
 * offset of the first bad byte, whatever they hold.  Each row runs as a
 * test of its own name. */

typedef struct {
    const char  *name;
    const char  *body;
    size_t       len;
    const char  *reason;
} zt_bad_body_t;


#define ZT_BAD(name, body, reason)  { name, ZT_BODY(body), reason }
#define ZT_END       "invalid JSON: unexpected end at byte "
#define ZT_UNEXP     "invalid JSON: unexpected character at byte "
#define ZT_UTF8      "invalid UTF-8 in a string at byte "
#define ZT_NEXT      "invalid JSON: expected ',' or the end of the " \
                     "container at byte "
#define ZT_NUMBER    "invalid JSON number at byte "

static const zt_bad_body_t  zt_bad_bodies[] = {

    ZT_BAD("test_body_empty", "", ZT_END "0"),
    ZT_BAD("test_body_blank", " \r\n\t", ZT_END "4"),
    ZT_BAD("test_body_truncated", "{\"a\":\"b\"", ZT_END "8"),
    ZT_BAD("test_body_truncated_array", "[1,[2]", ZT_END "6"),
    ZT_BAD("test_body_truncated_string", "{\"a\":\"b",
           "invalid JSON: unterminated string at byte 7"),
    ZT_BAD("test_body_truncated_escape", "[\"a\\",
           "invalid JSON: unterminated string at byte 3"),
    ZT_BAD("test_body_trailing_garbage", "{\"a\":1} x",
           "invalid JSON: data after the value at byte 8"),
    ZT_BAD("test_body_two_values", "{}{}",
           "invalid JSON: data after the value at byte 2"),
    ZT_BAD("test_body_missing_value", "{\"a\":}", ZT_UNEXP "5"),
    ZT_BAD("test_body_single_quoted_key", "{'a':1}",
           "invalid JSON: expected a key at byte 1"),
    ZT_BAD("test_body_single_quoted_value", "{\"a\":'b'}", ZT_UNEXP "5"),
    ZT_BAD("test_body_key_not_string", "{1:2}",
           "invalid JSON: expected a key at byte 1"),
    ZT_BAD("test_body_missing_colon", "{\"a\" 1}",
           "invalid JSON: expected ':' at byte 5"),
    ZT_BAD("test_body_trailing_comma_array", "[1,]", ZT_UNEXP "3"),
    ZT_BAD("test_body_trailing_comma_object", "{\"a\":1,}",
           "invalid JSON: expected a key at byte 7"),
    ZT_BAD("test_body_missing_comma", "[1 2]", ZT_NEXT "3"),
    ZT_BAD("test_body_mismatched_close", "{\"a\":[1}", ZT_NEXT "7"),
    ZT_BAD("test_body_close_unopened", "]", ZT_UNEXP "0"),
    ZT_BAD("test_body_literal_cut", "[tru]", ZT_UNEXP "1"),
    ZT_BAD("test_body_literal_case", "[True]", ZT_UNEXP "1"),
    ZT_BAD("test_body_nan", "[NaN]", ZT_UNEXP "1"),
    ZT_BAD("test_body_form_feed", "[\f1]", ZT_UNEXP "1"),
    ZT_BAD("test_body_bom", "\xef\xbb\xbf{}", ZT_UNEXP "0"),

    ZT_BAD("test_body_leading_zero", "[01]", ZT_NEXT "2"),
    ZT_BAD("test_body_leading_zero_negative", "{\"n\":-01}", ZT_NEXT "7"),
    ZT_BAD("test_body_number_dot", "[1.]", ZT_NUMBER "1"),
    ZT_BAD("test_body_number_minus", "[-]", ZT_NUMBER "1"),
    ZT_BAD("test_body_number_minus_end", "-", ZT_NUMBER "0"),
    ZT_BAD("test_body_number_exponent", "[1e]", ZT_NUMBER "1"),
    ZT_BAD("test_body_number_exponent_sign", "[1e+]", ZT_NUMBER "1"),
    ZT_BAD("test_body_number_dot_first", "[.5]", ZT_UNEXP "1"),
    ZT_BAD("test_body_number_plus", "[+1]", ZT_UNEXP "1"),
    ZT_BAD("test_body_number_hex", "[0x1]", ZT_NEXT "2"),

    ZT_BAD("test_body_utf8_bad_continuation", "[\"\xc3\x28\"]", ZT_UTF8 "2"),
    ZT_BAD("test_body_utf8_overlong", "[\"\xc0\xaf\"]", ZT_UTF8 "2"),
    ZT_BAD("test_body_utf8_overlong_3", "[\"a\xe0\x80\xaf\"]", ZT_UTF8 "3"),
    ZT_BAD("test_body_utf8_overlong_4", "[\"\xf0\x80\x80\xaf\"]",
           ZT_UTF8 "2"),
    ZT_BAD("test_body_utf8_surrogate", "[\"\xed\xa0\x80\"]", ZT_UTF8 "2"),
    ZT_BAD("test_body_utf8_low_surrogate", "[\"\xed\xbf\xbf\"]",
           ZT_UTF8 "2"),
    ZT_BAD("test_body_utf8_above_max", "[\"\xf4\x90\x80\x80\"]",
           ZT_UTF8 "2"),
    ZT_BAD("test_body_utf8_f5", "[\"\xf5\x80\x80\x80\"]", ZT_UTF8 "2"),
    ZT_BAD("test_body_utf8_ff", "[\"ab\xff\"]", ZT_UTF8 "4"),
    ZT_BAD("test_body_utf8_lone_continuation", "[\"\x80\"]", ZT_UTF8 "2"),
    ZT_BAD("test_body_utf8_cut", "[\"a\xe2\x82\"]", ZT_UTF8 "3"),
    ZT_BAD("test_body_utf8_cut_at_end", "[\"a\xe2\x82", ZT_UTF8 "3"),

    /* after 8 plain bytes, where the word-at-a-time path hands over */
    ZT_BAD("test_body_utf8_after_8", "[\"abcdefgh\xc3\x28\"]", ZT_UTF8 "10"),
    ZT_BAD("test_body_utf8_outside_string", "[1,\xc3\xa4]", ZT_UNEXP "3"),

    ZT_BAD("test_body_lone_high_surrogate", "[\"\\ud800\"]",
           "invalid JSON: lone high surrogate at byte 2"),
    ZT_BAD("test_body_high_surrogate_then_other", "[\"\\ud800\\u0041\"]",
           "invalid JSON: lone high surrogate at byte 2"),
    ZT_BAD("test_body_high_surrogate_twice", "[\"x\\udbff\\udbff\"]",
           "invalid JSON: lone high surrogate at byte 3"),
    ZT_BAD("test_body_high_surrogate_then_text", "[\"\\ud83dabcdef\"]",
           "invalid JSON: lone high surrogate at byte 2"),
    ZT_BAD("test_body_lone_low_surrogate", "[\"\\udc00\"]",
           "invalid JSON: lone low surrogate at byte 2"),
    ZT_BAD("test_body_low_then_high", "[\"\\ude00\\ud83d\"]",
           "invalid JSON: lone low surrogate at byte 2"),
    ZT_BAD("test_body_bad_escape", "[\"\\x\"]",
           "invalid JSON: bad escape at byte 2"),
    ZT_BAD("test_body_bad_escape_single_quote", "[\"\\'\"]",
           "invalid JSON: bad escape at byte 2"),
    ZT_BAD("test_body_bad_escape_nul", "[\"\\\0\"]",
           "invalid JSON: bad escape at byte 2"),
    ZT_BAD("test_body_short_unicode_escape", "[\"\\u12\"]",
           "invalid JSON: bad escape at byte 2"),
    ZT_BAD("test_body_bad_hex_escape", "[\"\\u12g4\"]",
           "invalid JSON: bad escape at byte 2"),
    ZT_BAD("test_body_control_char", "[\"a\tb\"]",
           "invalid JSON: control character in a string at byte 3"),
    ZT_BAD("test_body_raw_newline", "[\"abcdefghij\nb\"]",
           "invalid JSON: control character in a string at byte 12"),
    ZT_BAD("test_body_raw_nul", "[\"a\0b\"]",
           "invalid JSON: control character in a string at byte 3"),
    ZT_BAD("test_body_raw_nul_in_key", "{\"a\0\":1}",
           "invalid JSON: control character in a string at byte 3"),
};

#define ZT_NBAD_BODIES  (sizeof(zt_bad_bodies) / sizeof(zt_bad_bodies[0]))


static void
zt_run_bad_body(void **state)
{
    zt_red_t             *r = *state;
    const zt_bad_body_t  *b = r->row;

    assert_int_equal(zt_redact(r, "t_eea", b->body, b->len),
                     ZOLL_ERR_BAD_REQUEST);
    assert_string_equal(r->res.reason, b->reason);
    assert_int_equal(r->res.changed, 0);

    /* a refused body leaves nothing behind for the next one */
    zt_expect(r, "t_eea", "[\"anna@example.de\"]", "[\"[EMAIL]\"]");
}


/* max_depth (64 unless the policy says otherwise) counts arrays and
 * objects alike: 64 levels pass, the 65th opening is refused. */

static char *
zt_nested(size_t depth, const char *inner)
{
    char    *s;
    size_t   i, n;

    n = strlen(inner);
    s = malloc(2 * depth + n + 1);
    assert_non_null(s);

    for (i = 0; i < depth; i++) {
        s[i] = '[';
        s[depth + n + i] = ']';
    }

    memcpy(s + depth, inner, n);
    s[2 * depth + n] = '\0';
    return s;
}


static void
test_redact_max_depth(void **state)
{
    char      *in, *want;
    size_t     i;
    zt_red_t  *r = *state, *q;

    in = zt_nested(64, "\"anna@example.de\"");
    want = zt_nested(64, "\"[EMAIL]\"");
    zt_expect(r, "t_eea", in, want);
    free(in);
    free(want);

    in = zt_nested(65, "1");
    assert_int_equal(zt_redact(r, "t_eea", in, strlen(in)),
                     ZOLL_ERR_BAD_REQUEST);
    assert_string_equal(r->res.reason, "JSON nested too deeply at byte 64");
    free(in);

    /* an object at the 64th level is as deep as an array */
    in = zt_nested(63, "{\"c\":\"anna@example.de\"}");
    want = zt_nested(63, "{\"c\":\"[EMAIL]\"}");
    zt_expect(r, "t_eea", in, want);
    free(in);
    free(want);

    in = zt_nested(64, "{}");
    assert_int_equal(zt_redact(r, "t_eea", in, strlen(in)),
                     ZOLL_ERR_BAD_REQUEST);
    assert_string_equal(r->res.reason, "JSON nested too deeply at byte 64");
    free(in);

    /* depth is depth, not the number of containers: [[1],[1],...] */
    in = malloc(1 + 4 * 16000 + 1);
    assert_non_null(in);
    in[0] = '[';

    for (i = 0; i < 16000; i++) {
        memcpy(in + 1 + 4 * i, "[1],", 4);
    }

    memcpy(in + 4 * 16000, "]", 2);
    zt_expect(r, "t_eea", in, NULL);
    free(in);

    /* the policy's own limit */
    q = zt_red_new(zt_base_with("redaction.max_depth", "2"), 0);
    zt_expect(q, "t_eea", "[[\"anna@example.de\"]]", "[[\"[EMAIL]\"]]");
    zt_expect(q, "t_eea", "{\"a\":{\"b\":1}}", NULL);

    assert_int_equal(zt_redact(q, "t_eea", ZT_BODY("[[[1]]]")),
                     ZOLL_ERR_BAD_REQUEST);
    assert_string_equal(q->res.reason, "JSON nested too deeply at byte 2");
    assert_int_equal(zt_redact(q, "t_eea", ZT_BODY("[{\"a\":[1]}]")),
                     ZOLL_ERR_BAD_REQUEST);
    assert_string_equal(q->res.reason, "JSON nested too deeply at byte 6");

    zt_red_free(q);
}


/* The decision record of a redacted request: which supplementary
 * measures were applied, which categories were found and how often,
 * which went out in clear.  Without an inspection nothing is known,
 * which the record says with null rather than an empty object. */

static json_t *
zt_record(zt_red_t *r, const char *tenant, const zoll_redactor_t *rd)
{
    char                         buf[4096];
    size_t                       n;
    zoll_decision_t              d;
    zoll_request_info_t          ri;
    const zoll_subprocessor_t   *sp;

    sp = zt_sp(r->policy, "llm");
    assert_int_equal(zoll_route(r->policy, zt_tenant(r->policy, tenant), sp,
                                NULL, &d), ZOLL_OK);

    memset(&ri, 0, sizeof(ri));
    ri.time_ms = 1700000000123;
    ri.request_id.data = "req-1";
    ri.request_id.len = 5;
    ri.method.data = "POST";
    ri.method.len = 4;
    ri.path.data = "/v1/chat/completions";
    ri.path.len = 20;
    ri.request_bytes = (int64_t) r->len;
    ri.sp = sp;
    ri.redaction = rd;

    n = zoll_record_decision(r->policy, &ri, &d, buf, sizeof(buf));
    assert_true(n < sizeof(buf));

    return zt_json_line(buf, n);
}


static void
zt_expect_list(json_t *j, const char *path, const char *want)
{
    char     *s;
    json_t   *v;

    v = zt_get(j, path);
    assert_true(json_is_array(v));
    s = json_dumps(v, JSON_COMPACT);
    assert_non_null(s);
    assert_string_equal(s, want);
    free(s);
}


static void
test_redact_record(void **state)
{
    json_t    *j;
    zt_red_t  *r = *state;

    zt_expect(r, "t_eea", "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":"
              "\"user\",\"content\":\"Mail anna@example.de\"}]}",
              "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":"
              "\"user\",\"content\":\"Mail [EMAIL]\"}]}");

    j = zt_record(r, "t_eea", r->rd);
    zt_expect_list(j, "supplementary_measures", "[\"masking\"]");
    assert_int_equal(json_object_size(zt_get(j, "data_categories")), 1);
    assert_int_equal(json_integer_value(zt_get(j, "data_categories.EMAIL")),
                     1);
    zt_expect_list(j, "sent_in_clear", "[]");
    assert_int_equal(json_integer_value(zt_get(j, "redactions")), 1);
    json_decref(j);

    /* not inspected */
    j = zt_record(r, "t_eea", NULL);
    assert_true(json_is_null(zt_get(j, "data_categories")));
    zt_expect_list(j, "supplementary_measures", "[]");
    json_decref(j);

    /* inspected, nothing found: an empty object, not null */
    zt_expect(r, "t_eea", "[\"nothing\"]", NULL);
    j = zt_record(r, "t_eea", r->rd);
    assert_true(json_is_object(zt_get(j, "data_categories")));
    assert_int_equal(json_object_size(zt_get(j, "data_categories")), 0);
    zt_expect_list(j, "supplementary_measures", "[]");
    zt_expect_list(j, "sent_in_clear", "[]");
    assert_int_equal(json_integer_value(zt_get(j, "redactions")), 0);
    json_decref(j);

    /* pseudonymised, and a plate kept */
    assert_int_equal(zt_redact(r, "t_any",
                               ZT_BODY("[\"Kennzeichen B-AB 1234\","
                                       "\"anna@example.de "
                                       "bob@example.org\"]")),
                     ZOLL_OK);
    j = zt_record(r, "t_any", r->rd);
    zt_expect_list(j, "supplementary_measures", "[\"pseudonymisation\"]");
    assert_int_equal(json_object_size(zt_get(j, "data_categories")), 2);
    assert_int_equal(json_integer_value(zt_get(j, "data_categories.EMAIL")),
                     2);
    assert_int_equal(json_integer_value(
                         zt_get(j, "data_categories.DE_LICENSE_PLATE")), 1);
    zt_expect_list(j, "sent_in_clear", "[\"DE_LICENSE_PLATE\"]");
    assert_int_equal(json_integer_value(zt_get(j, "redactions")), 2);
    json_decref(j);

    /* tokenised */
    zt_expect(r, "t_tokens", "[\"anna@example.de\"]", "[\"[EMAIL_1]\"]");
    j = zt_record(r, "t_tokens", r->rd);
    zt_expect_list(j, "supplementary_measures", "[\"tokenisation\"]");
    json_decref(j);
}


/* Eight megabytes: a JSON array of 1 KB strings, each ending in an
 * address.  Every one is replaced; the rest is copied as it was. */

static void
test_redact_large_body(void **state)
{
    char      *in, *want, filler[1001];
    size_t     i, n, ni, nw, cap;
    zt_red_t  *r = *state;

    for (i = 0; i < 1000; i++) {
        filler[i] = "lorem ipsum dolor "[i % 18];
    }

    filler[1000] = '\0';

    n = 8 * 1024 * 1024 / 1020;
    cap = n * 1040 + 16;
    in = malloc(cap);
    want = malloc(cap);
    assert_non_null(in);
    assert_non_null(want);

    ni = snprintf(in, cap, "[");
    nw = snprintf(want, cap, "[");

    for (i = 0; i < n; i++) {
        ni += snprintf(in + ni, cap - ni, "%s\"%s anna@example.de\"",
                       i ? "," : "", filler);
        nw += snprintf(want + nw, cap - nw, "%s\"%s [EMAIL]\"",
                       i ? "," : "", filler);
    }

    ni += snprintf(in + ni, cap - ni, "]");
    nw += snprintf(want + nw, cap - nw, "]");

    assert_true(ni >= 8 * 1000 * 1000);
    assert_int_equal(nw, ni - n * (15 - 7));

    assert_int_equal(zt_redact(r, "t_eea", in, ni), ZOLL_OK);
    assert_int_equal(r->res.changed, 1);
    assert_int_equal(r->res.redacted, n);
    assert_int_equal(zt_found(r, "EMAIL"), n);
    assert_int_equal(r->res.len, nw);
    assert_memory_equal(r->res.body, want, nw);

    free(in);
    free(want);
}


/* The "redaction" section of the policy: the base policy with one value
 * changed (NULL removes it) and the exact error. */

typedef struct {
    const char  *name;
    const char  *path;
    const char  *value;
    const char  *error;
} zt_bad_section_t;


#define ZT_OPS  "must be one of keep, mask, pseudonymize, tokenize, block"

static const zt_bad_section_t  zt_bad_sections[] = {

    { "test_redaction_missing", "redaction", NULL,
      "$.redaction: is required: without rules and profiles no body could "
      "be inspected" },
    { "test_redaction_unknown_key", "redaction.profile", "{}",
      "$.redaction: unknown key \"profile\"" },

    { "test_redaction_unknown_operator",
      "redaction.profiles.pseudo.entities.IBAN", "\"drop\"",
      "$.redaction.profiles.pseudo.entities.IBAN: " ZT_OPS },
    { "test_redaction_unknown_default_operator",
      "redaction.profiles.mask_all.default", "\"redact\"",
      "$.redaction.profiles.mask_all.default: " ZT_OPS },
    { "test_redaction_operator_not_string",
      "redaction.profiles.mask_all.default", "1",
      "$.redaction.profiles.mask_all.default: " ZT_OPS },
    { "test_redaction_operator_case", "redaction.profiles.tokens.default",
      "\"Mask\"", "$.redaction.profiles.tokens.default: " ZT_OPS },

    /* a profile naming an entity no pack detects protects nothing */
    { "test_redaction_unknown_entity",
      "redaction.profiles.pseudo.entities.PHONE", "\"mask\"",
      "$.redaction.profiles.pseudo.entities.PHONE: no rule pack detects "
      "\"PHONE\"" },
    { "test_redaction_profile_without_default",
      "redaction.profiles.tokens.default", NULL,
      "$.redaction.profiles.tokens.default: is required" },
    { "test_redaction_no_profiles", "redaction.profiles", "{}",
      "$.redaction.profiles: must be a non-empty object" },
    { "test_redaction_profile_name", "redaction.profiles.a b",
      "{\"default\": \"mask\"}",
      "$.redaction.profiles.a b: profile names may hold letters, digits, "
      "\"_\", \"-\" and \".\" only" },
    { "test_redaction_unknown_default_profile",
      "redaction.default_profile", "\"nope\"",
      "$.redaction.default_profile: unknown redaction profile \"nope\"" },

    { "test_redaction_tenant_unknown_profile", "tenants[0].redaction",
      "\"nope\"", "$.tenants[0].redaction: unknown redaction profile "
      "\"nope\"" },
    { "test_redaction_tenant_without_profile", "redaction.default_profile",
      NULL, "$.tenants[0].redaction: is required when "
      "$.redaction.default_profile is not set" },
    { "test_redaction_pseudonym_key_missing",
      "tenants[1].pseudonym_key_file", NULL,
      "$.tenants[1].pseudonym_key_file: is required: profile \"pseudo\" "
      "pseudonymises" },

    /* through the default profile, too */
    { "test_redaction_pseudonym_key_missing_default",
      "redaction.profiles.mask_all.default", "\"pseudonymize\"",
      "$.tenants[0].pseudonym_key_file: is required: profile \"mask_all\" "
      "pseudonymises" },
    { "test_redaction_pseudonym_key_short",
      "tenants[1].pseudonym_key_file", "\"credentials/a.key\"",
      "$.tenants[1].pseudonym_key_file: the key must be at least 16 "
      "characters" },

    { "test_redaction_max_depth_low", "redaction.max_depth", "1",
      "$.redaction.max_depth: must be an integer from 2 to 1024" },
    { "test_redaction_max_depth_high", "redaction.max_depth", "1025",
      "$.redaction.max_depth: must be an integer from 2 to 1024" },
    { "test_redaction_structural_keys_replaced",
      "redaction.structural_keys", "[\"id\"]",
      "$.redaction.structural_keys: is replaced by \"structural_paths\" "
      "(paths per API, e.g. \"$.messages[*].role\"): a key name matched at "
      "any depth lets personal data through" },
    { "test_redaction_structural_paths_not_object",
      "redaction.structural_paths", "[\"$.model\"]",
      "$.redaction.structural_paths: must be an object: API name -> array "
      "of paths" },
    { "test_redaction_structural_paths_unknown_api",
      "redaction.structural_paths.mistral", "[\"$.model\"]",
      "$.redaction.structural_paths.mistral: must be one of openai, "
      "anthropic, gemini" },
    { "test_redaction_structural_paths_not_array",
      "redaction.structural_paths.gemini", "\"$.model\"",
      "$.redaction.structural_paths.gemini: must be an array of paths" },
    { "test_redaction_structural_path_empty",
      "redaction.structural_paths.openai[1]", "\"\"",
      "$.redaction.structural_paths.openai[1]: must be a non-empty string" },
    { "test_redaction_structural_path_no_root",
      "redaction.structural_paths.openai[1]", "\"model\"",
      "$.redaction.structural_paths.openai[1]: \"model\": a path is \"$\" "
      "followed by \".name\" and \"[*]\" steps" },
    { "test_redaction_structural_path_root_only",
      "redaction.structural_paths.openai[1]", "\"$\"",
      "$.redaction.structural_paths.openai[1]: \"$\": a path is \"$\" "
      "followed by \".name\" and \"[*]\" steps" },
    { "test_redaction_structural_path_index",
      "redaction.structural_paths.openai[1]", "\"$.messages[0].role\"",
      "$.redaction.structural_paths.openai[1]: \"$.messages[0].role\": at "
      "offset 10: expected \".name\" (letters, digits, \"_\", \"-\") or "
      "\"[*]\"" },
    { "test_redaction_structural_path_empty_step",
      "redaction.structural_paths.openai[1]", "\"$..role\"",
      "$.redaction.structural_paths.openai[1]: \"$..role\": at offset 2: "
      "expected \".name\" (letters, digits, \"_\", \"-\") or \"[*]\"" },
    { "test_redaction_structural_path_twice",
      "redaction.structural_paths.openai[1]", "\"$.model\"",
      "$.redaction.structural_paths.openai[1]: \"$.model\" is listed "
      "twice" },

    /* a broken pack fails the policy, with the pack's own error */
    { "test_redaction_bad_pack", "redaction.rules", "\"rules_bad_key\"",
      "$.redaction.rules: bad.json: $.rules[1]: unknown key \"colour\"" },
};

#define ZT_NBAD_SECTIONS  (sizeof(zt_bad_sections) \
                           / sizeof(zt_bad_sections[0]))


static void
zt_run_bad_section(void **state)
{
    const zt_bad_section_t  *b = *state;

    zt_base_error(b->path, b->value, b->error);
}


static void
test_redaction_rules_dir_missing(void **state)
{
    char  want[ZOLL_ERR_LEN];

    (void) state;

    snprintf(want, sizeof(want), "$.redaction.rules: %s/no_such_rules: $: "
             "cannot open the rules directory: No such file or directory",
             zt_data(""));
    zt_base_error("redaction.rules", "\"no_such_rules\"", want);
}


/* What the loaded policy holds: each tenant's profile and key. */

static void
test_redaction_profiles_loaded(void **state)
{
    zt_red_t             *r = *state;
    const zoll_tenant_t  *t;

    t = zt_tenant(r->policy, "t_eea");
    assert_string_equal(t->profile->id, "mask_all");
    assert_null(t->pseudonym_key);
    assert_int_equal(t->profile->ops[zt_entity(r, "EMAIL")], ZOLL_OP_MASK);
    assert_int_equal(t->profile->uses, 1u << ZOLL_OP_MASK);

    t = zt_tenant(r->policy, "t_any");
    assert_string_equal(t->profile->id, "pseudo");
    assert_non_null(t->pseudonym_key);
    assert_true(strlen(t->pseudonym_key) >= 16);
    assert_null(strchr(t->pseudonym_key, '\n'));
    assert_int_equal(t->profile->ops[zt_entity(r, "EMAIL")],
                     ZOLL_OP_PSEUDONYMIZE);
    assert_int_equal(t->profile->ops[zt_entity(r, "IBAN")], ZOLL_OP_BLOCK);
    assert_int_equal(t->profile->ops[zt_entity(r, "DE_LICENSE_PLATE")],
                     ZOLL_OP_KEEP);
    assert_int_equal(t->profile->uses, (1u << ZOLL_OP_PSEUDONYMIZE)
                                       | (1u << ZOLL_OP_BLOCK)
                                       | (1u << ZOLL_OP_KEEP));
    assert_string_not_equal(t->pseudonym_key,
                            zt_tenant(r->policy,
                                      "t_adequate")->pseudonym_key);

    t = zt_tenant(r->policy, "t_tokens");
    assert_string_equal(t->profile->id, "tokens");
    assert_int_equal(t->profile->uses, 1u << ZOLL_OP_TOKENIZE);
}


#define ZT_RED(f)  cmocka_unit_test_setup_teardown(f, zt_red_setup,        \
                                                   zt_red_teardown)

int
zt_redact_tests(void)
{
    static const struct CMUnitTest  fixed[] = {
        ZT_RED(test_redact_mask),
        ZT_RED(test_redact_other_bytes_kept),
        ZT_RED(test_redact_no_findings),
        ZT_RED(test_redact_structural_paths),
        ZT_RED(test_redact_keys),
        ZT_RED(test_redact_keys_collide),
        cmocka_unit_test(test_redact_numbers),
        ZT_RED(test_redact_escaped_finding),
        ZT_RED(test_redact_surrogate_pair),
        ZT_RED(test_redact_escapes_reencoded),
        ZT_RED(test_redact_special_byte_at_every_offset),
        ZT_RED(test_redact_nul),
        ZT_RED(test_redact_pseudonymize),
        ZT_RED(test_redact_keep),
        ZT_RED(test_redact_tokenize),
        ZT_RED(test_redact_many_tokens),
        ZT_RED(test_redact_block),
        ZT_RED(test_redact_pcre_only),
        cmocka_unit_test(test_redact_scan_failure),
        ZT_RED(test_redact_max_depth),
        ZT_RED(test_redact_record),
        ZT_RED(test_redact_large_body),
        ZT_RED(test_redaction_profiles_loaded),
        cmocka_unit_test(test_redaction_rules_dir_missing),
    };

    static struct CMUnitTest  tests[sizeof(fixed) / sizeof(fixed[0])
                                    + ZT_NBAD_BODIES + ZT_NBAD_SECTIONS];

    size_t  i, n;

    /* the hand-written tests, then one named test per bad body and per
     * bad policy section */
    n = sizeof(fixed) / sizeof(fixed[0]);
    memcpy(tests, fixed, sizeof(fixed));

    for (i = 0; i < ZT_NBAD_BODIES; i++) {
        tests[n].name = zt_bad_bodies[i].name;
        tests[n].test_func = zt_run_bad_body;
        tests[n].setup_func = zt_red_setup;
        tests[n].teardown_func = zt_red_teardown;
        tests[n].initial_state = (void *) &zt_bad_bodies[i];
        n++;
    }

    for (i = 0; i < ZT_NBAD_SECTIONS; i++) {
        tests[n].name = zt_bad_sections[i].name;
        tests[n].test_func = zt_run_bad_section;
        tests[n].initial_state = (void *) &zt_bad_sections[i];
        n++;
    }

    return cmocka_run_group_tests_name("redact", tests, NULL, NULL);
}
