/*
 * The restorer (policy/zoll_restore.c): reversible tokens back to their
 * values in JSON bodies and event streams.  Every stream is also fed cut
 * at every byte position, and one byte at a time: the output must not
 * depend on where the network cut it.
 */

#include "zt.h"

#include <stdlib.h>


typedef struct {
    const char  *token;
    const char  *value;
} zt_pair_t;


static const zt_pair_t  zt_tokens[] = {
    { "[PERSON_1]", "Jane \"JJ\" Doe" },
    { "[PERSON_2]", "Jörg Müller" },
    { "[EMAIL_1]", "jane@example.org" },
    { "[EMAIL_10]", "ten@example.org" },
    { NULL, NULL }
};


static zoll_restorer_t *
zt_restorer(zoll_restore_mode_e mode)
{
    zoll_restorer_t   *rs;
    const zt_pair_t   *p;

    rs = zoll_restorer_new(mode);
    assert_non_null(rs);

    for (p = zt_tokens; p->token; p++) {
        assert_int_equal(zoll_restorer_add(rs, p->token, strlen(p->token),
                                           p->value, strlen(p->value)), 0);
    }

    return rs;
}


static void
zt_append(char **acc, size_t *len, const unsigned char *p, size_t n)
{
    *acc = realloc(*acc, *len + n + 1);
    assert_non_null(*acc);
    if (n) {
        memcpy(*acc + *len, p, n);
    }
    *len += n;
    (*acc)[*len] = '\0';
}


/* in fed in pieces cut at the given offsets (ascending, ncuts of them) */
static char *
zt_run_cuts(zoll_restore_mode_e mode, const char *in, const size_t *cuts,
    size_t ncuts, size_t *restored)
{
    char                 *acc = NULL;
    size_t                len = 0, from = 0, i, to, n, olen;
    const unsigned char  *out;
    zoll_restorer_t      *rs = zt_restorer(mode);

    n = strlen(in);
    zt_append(&acc, &len, (const unsigned char *) "", 0);

    for (i = 0; i <= ncuts; i++) {
        to = i < ncuts ? cuts[i] : n;
        assert_int_equal(zoll_restore(rs, (const unsigned char *) in + from,
                                      to - from, &out, &olen), 0);
        zt_append(&acc, &len, out, olen);
        from = to;
    }

    assert_int_equal(zoll_restore_finish(rs, &out, &olen), 0);
    zt_append(&acc, &len, out, olen);

    if (restored) {
        *restored = zoll_restored(rs);
    }

    zoll_restorer_free(rs);
    return acc;
}


/* The whole input at once gives want; so does every cut into two pieces,
 * and one byte at a time. */

static void
zt_check(zoll_restore_mode_e mode, const char *in, const char *want,
    size_t want_restored)
{
    char    *got;
    size_t   i, n, restored, *cuts;

    got = zt_run_cuts(mode, in, NULL, 0, &restored);
    assert_string_equal(got, want);
    assert_int_equal(restored, want_restored);
    free(got);

    n = strlen(in);

    for (i = 0; i <= n; i++) {
        got = zt_run_cuts(mode, in, &i, 1, &restored);
        if (strcmp(got, want) != 0) {
            fail_msg("cut at %zu:\n%s\nwant:\n%s", i, got, want);
        }
        assert_int_equal(restored, want_restored);
        free(got);
    }

    cuts = calloc(n + 1, sizeof(size_t));
    assert_non_null(cuts);
    for (i = 0; i < n; i++) {
        cuts[i] = i;
    }

    got = zt_run_cuts(mode, in, cuts, n, &restored);
    assert_string_equal(got, want);
    free(got);
    free(cuts);
}


static void
test_json_body(void **state)
{
    (void) state;

    /* escaping of the value, UTF-8 kept, a token written with an escape,
     * keys left alone, tokens never issued and non-tokens untouched */
    zt_check(ZOLL_RESTORE_JSON,
        "{\"choices\":[{\"message\":{\"content\":\"Dear [PERSON_1], "
        "[PERSON_2] wrote to [EMAIL_1] and [EMAIL_10]; [EMAIL_2] and "
        "[PERSON_3] were never issued, [[EMAIL_1]] [EMAIL_ [E\\u004dAIL_1]"
        "\"}}],\"[EMAIL_1]\":[\"[EMAIL_1]\",1,null]}",
        "{\"choices\":[{\"message\":{\"content\":\"Dear Jane \\\"JJ\\\" Doe, "
        "Jörg Müller wrote to jane@example.org and ten@example.org; "
        "[EMAIL_2] and [PERSON_3] were never issued, [jane@example.org] "
        "[EMAIL_ jane@example.org\"}}],\"[EMAIL_1]\":"
        "[\"jane@example.org\",1,null]}",
        7);
}


static void
test_json_arguments(void **state)
{
    (void) state;

    /* tool call arguments are JSON text in a string: the value is escaped
     * for the inner JSON too; Anthropic's tool_use input is plain JSON */
    zt_check(ZOLL_RESTORE_JSON,
        "{\"tool_calls\":[{\"function\":{\"name\":\"send\",\"arguments\":"
        "\"{\\\"to\\\":\\\"[PERSON_1]\\\"}\"}}],"
        "\"content\":[{\"type\":\"tool_use\",\"input\":{\"to\":"
        "\"[PERSON_1]\"}}]}",
        "{\"tool_calls\":[{\"function\":{\"name\":\"send\",\"arguments\":"
        "\"{\\\"to\\\":\\\"Jane \\\\\\\"JJ\\\\\\\" Doe\\\"}\"}}],"
        "\"content\":[{\"type\":\"tool_use\",\"input\":{\"to\":"
        "\"Jane \\\"JJ\\\" Doe\"}}]}",
        2);
}


#define ZT_OAI(s)                                                          \
    "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":"            \
    "{\"content\":\"" s "\"},\"finish_reason\":null}]}\n\n"

static void
test_sse_openai_split(void **state)
{
    (void) state;

    /* "[PER" + "SON_1]": the held "[PER" moves into the next delta;
     * "[EMA" + "IL_1" + "]" over three; "[EMA" then a non-token */
    zt_check(ZOLL_RESTORE_SSE,
        ": a comment\n\n"
        ZT_OAI("Hi [PER")
        ZT_OAI("SON_1], [EMA")
        ZT_OAI("IL_1")
        ZT_OAI("] or [EMA")
        ZT_OAI("X] [EMAIL_")
        "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{},"
        "\"finish_reason\":\"stop\"}]}\n\n"
        "data: [DONE]\n\n",
        ": a comment\n\n"
        ZT_OAI("Hi ")
        ZT_OAI("Jane \\\"JJ\\\" Doe, ")
        ZT_OAI("")
        ZT_OAI("jane@example.org or ")
        ZT_OAI("[EMAX] [EMAIL_")
        "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{},"
        "\"finish_reason\":\"stop\"}]}\n\n"
        "data: [DONE]\n\n",
        2);
}


#define ZT_ANT(i, s)                                                       \
    "event: content_block_delta\r\n"                                       \
    "data: {\"type\":\"content_block_delta\",\"index\":" #i ","            \
    "\"delta\":{\"type\":\"text_delta\",\"text\":\"" s "\"}}\r\n\r\n"

#define ZT_PING  "event: ping\r\ndata: {\"type\":\"ping\"}\r\n\r\n"

static void
test_sse_anthropic(void **state)
{
    (void) state;

    /* CRLF framing; a ping between the halves waits behind the held
     * event; a suffix never moves into another content block */
    zt_check(ZOLL_RESTORE_SSE,
        "id: 7\r\n"
        ZT_ANT(0, "To [EMAIL")
        ZT_PING
        ZT_ANT(0, "_1]! [PERSON_")
        "event: content_block_stop\r\n"
        "data: {\"type\":\"content_block_stop\",\"index\":0}\r\n\r\n"
        ZT_ANT(1, "2]")
        "event: content_block_delta\r\n"
        "data: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":"
        "{\"type\":\"input_json_delta\",\"partial_json\":"
        "\"{\\\"to\\\": \\\"[PERS\"}}\r\n\r\n"
        "event: content_block_delta\r\n"
        "data: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":"
        "{\"type\":\"input_json_delta\",\"partial_json\":"
        "\"ON_1]\\\"}\"}}\r\n\r\n"
        "event: message_stop\r\ndata: {\"type\":\"message_stop\"}\r\n\r\n",
        "id: 7\r\n"
        ZT_ANT(0, "To ")
        ZT_PING
        ZT_ANT(0, "jane@example.org! [PERSON_")
        "event: content_block_stop\r\n"
        "data: {\"type\":\"content_block_stop\",\"index\":0}\r\n\r\n"
        ZT_ANT(1, "2]")
        "event: content_block_delta\r\n"
        "data: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":"
        "{\"type\":\"input_json_delta\",\"partial_json\":"
        "\"{\\\"to\\\": \\\"\"}}\r\n\r\n"
        "event: content_block_delta\r\n"
        "data: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":"
        "{\"type\":\"input_json_delta\",\"partial_json\":"
        "\"Jane \\\\\\\"JJ\\\\\\\" Doe\\\"}\"}}\r\n\r\n"
        "event: message_stop\r\ndata: {\"type\":\"message_stop\"}\r\n\r\n",
        2);
}


#define ZT_RESP(o, s)                                                      \
    "event: response.output_text.delta\n"                                 \
    "data: {\"type\":\"response.output_text.delta\",\"item_id\":\"m\","   \
    "\"output_index\":" #o ",\"content_index\":0,\"delta\":\"" s "\"}\n\n"

static void
test_sse_responses(void **state)
{
    (void) state;

    /* OpenAI Responses: deltas continue each other within one output
     * item and content part (output_index, content_index), not across */
    zt_check(ZOLL_RESTORE_SSE,
        ZT_RESP(0, "Hi [EMA")
        ZT_RESP(0, "IL_1] and [PER")
        ZT_RESP(1, "SON_1] x")
        "data: {\"type\":\"response.function_call_arguments.delta\","
        "\"output_index\":2,\"delta\":\"{\\\"to\\\":\\\"[PERSON_1]\\\"}\"}\n\n"
        "data: [DONE]\n\n",
        ZT_RESP(0, "Hi ")
        ZT_RESP(0, "jane@example.org and [PER")
        ZT_RESP(1, "SON_1] x")
        "data: {\"type\":\"response.function_call_arguments.delta\","
        "\"output_index\":2,\"delta\":\"{\\\"to\\\":\\\"Jane \\\\\\\"JJ"
        "\\\\\\\" Doe\\\"}\"}\n\n"
        "data: [DONE]\n\n",
        2);

    /* (output_index 0, content_index 5) and (output_index 5) are two
     * channels, not one: nothing moves from the first into the second */
    zt_check(ZOLL_RESTORE_SSE,
        "data: {\"type\":\"response.output_text.delta\",\"output_index\":0,"
        "\"content_index\":5,\"delta\":\"x [PER\"}\n\n"
        "data: {\"type\":\"response.output_text.delta\",\"output_index\":5,"
        "\"delta\":\"SON_1] y\"}\n\n"
        "data: [DONE]\n\n",
        "data: {\"type\":\"response.output_text.delta\",\"output_index\":0,"
        "\"content_index\":5,\"delta\":\"x [PER\"}\n\n"
        "data: {\"type\":\"response.output_text.delta\",\"output_index\":5,"
        "\"delta\":\"SON_1] y\"}\n\n"
        "data: [DONE]\n\n",
        0);
}


static void
test_sse_gemini_and_end(void **state)
{
    (void) state;

    /* Gemini's parts; a stream that ends while a suffix is held and
     * without its last blank line gives the suffix back in place */
    zt_check(ZOLL_RESTORE_SSE,
        "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":"
        "\"a [EMAIL_1\"}]}}]}\n\n"
        "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":"
        "\"0] b [PERSON_\"}]}}]}",
        "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":"
        "\"a \"}]}}]}\n\n"
        "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":"
        "\"ten@example.org b [PERSON_\"}]}}]}",
        1);
}


/* Text that cannot become a token is not held: each event goes out as
 * soon as its blank line is read, and a held event goes out with its
 * suffix when the next text is not its continuation. */

static void
test_sse_no_delay(void **state)
{
    size_t                olen;
    const unsigned char  *out;
    zoll_restorer_t      *rs = zt_restorer(ZOLL_RESTORE_SSE);
    static const char     e1[] = ZT_OAI("plain [text] here");
    static const char     e2[] = ZT_OAI("held [EMAIL_1");
    static const char     e3[] = ZT_OAI("x");

    (void) state;

    assert_int_equal(zoll_restore(rs, (const unsigned char *) e1,
                                  sizeof(e1) - 1, &out, &olen), 0);
    assert_int_equal(olen, sizeof(e1) - 1);
    assert_memory_equal(out, e1, olen);

    assert_int_equal(zoll_restore(rs, (const unsigned char *) e2,
                                  sizeof(e2) - 1, &out, &olen), 0);
    assert_int_equal(olen, 0);

    assert_int_equal(zoll_restore(rs, (const unsigned char *) e3,
                                  sizeof(e3) - 1, &out, &olen), 0);
    assert_int_equal(olen, sizeof(e2) - 1 + sizeof(e3) - 1 + 0);
    assert_memory_equal(out, ZT_OAI("held ") ZT_OAI("[EMAIL_1x"), olen);

    assert_int_equal(zoll_restore_finish(rs, &out, &olen), 0);
    assert_int_equal(olen, 0);
    assert_int_equal(zoll_restored(rs), 0);
    zoll_restorer_free(rs);
}


/* A long stream: the SDK's view (the concatenated deltas) is the restored
 * text, and every data line stays valid JSON. */

static void
test_sse_long_stream(void **state)
{
    char            *in = NULL, *got, *text = NULL, *want = NULL, ev[256];
    size_t           ilen = 0, tlen = 0, wlen = 0, i, k, n;
    json_t          *j;
    json_error_t     err;
    const char      *line, *nl, *s;
    static const char  prose[] =
        "Dear [PERSON_1], please write to [EMAIL_1] or [EMAIL_10]; "
        "[PERSON_2] agrees. \"Quotes\" and [brackets] stay. ";

    (void) state;

    for (k = 0; k < 200; k++) {
        for (i = 0; i < sizeof(prose) - 1; i += n) {
            n = 1 + (k + i) % 7;
            if (n > sizeof(prose) - 1 - i) {
                n = sizeof(prose) - 1 - i;
            }
            /* the prose has quotes: escape them for the JSON */
            snprintf(ev, sizeof(ev), "data: {\"choices\":[{\"index\":0,"
                     "\"delta\":{\"content\":\"");
            zt_append(&in, &ilen, (unsigned char *) ev, strlen(ev));
            for (s = prose + i; s < prose + i + n; s++) {
                if (*s == '"') {
                    zt_append(&in, &ilen, (unsigned char *) "\\", 1);
                }
                zt_append(&in, &ilen, (unsigned char *) s, 1);
            }
            zt_append(&in, &ilen, (unsigned char *) "\"}}]}\n\n", 7);
        }

        s = "Dear Jane \"JJ\" Doe, please write to jane@example.org or "
            "ten@example.org; Jörg Müller agrees. \"Quotes\" and "
            "[brackets] stay. ";
        zt_append(&want, &wlen, (const unsigned char *) s, strlen(s));
    }

    zt_append(&in, &ilen, (unsigned char *) "data: [DONE]\n\n", 14);

    got = zt_run_cuts(ZOLL_RESTORE_SSE, in, NULL, 0, NULL);
    zt_append(&text, &tlen, (const unsigned char *) "", 0);

    for (line = got; (nl = strchr(line, '\n')) != NULL; line = nl + 1) {
        if (strncmp(line, "data: {", 7) != 0) {
            continue;
        }

        j = json_loadb(line + 6, (size_t) (nl - line - 6), 0, &err);
        if (j == NULL) {
            fail_msg("not JSON: %.*s", (int) (nl - line), line);
        }

        s = json_string_value(json_object_get(json_object_get(json_array_get(
                json_object_get(j, "choices"), 0), "delta"), "content"));
        assert_non_null(s);
        zt_append(&text, &tlen, (const unsigned char *) s, strlen(s));
        json_decref(j);
    }

    assert_string_equal(text, want);
    free(in);
    free(got);
    free(text);
    free(want);
}


/* What the provider gets wrong goes through as it came: an invalid
 * "\u12" escape (the quote after it still ends the string, so the token
 * in the next string is restored), and an escape cut off by the end of
 * the body or of a data line.  (Found by tests/fuzz/fuzz_restore.c.) */

static void
test_broken_escapes(void **state)
{
    (void) state;

    zt_check(ZOLL_RESTORE_JSON,
        "{\"a\":\"x\\u12\",\"b\":\"[EMAIL_1]\",\"c\":\"\\u00zz [PERSON_2]\"}",
        "{\"a\":\"x\\u12\",\"b\":\"jane@example.org\",\"c\":\"\\u00zz "
        "J\xc3\xb6rg M\xc3\xbcller\"}",
        2);
    zt_check(ZOLL_RESTORE_JSON, "{\"a\":\"[EMAIL_1] x\\u00",
        "{\"a\":\"jane@example.org x\\u00", 1);
    zt_check(ZOLL_RESTORE_JSON, "{\"a\":\"x\\", "{\"a\":\"x\\", 0);
    zt_check(ZOLL_RESTORE_SSE,
        "data: {\"a\":\"x\\u0\ndata: {\"a\":\"[EMAIL_1]\"}\n\n",
        "data: {\"a\":\"x\\u0\ndata: {\"a\":\"jane@example.org\"}\n\n", 1);
}


static void
test_limits(void **state)
{
    char                 *big;
    size_t                olen, n = ZOLL_RESTORE_EVENT_MAX + 10;
    const unsigned char  *out;
    zoll_restorer_t      *rs;

    (void) state;

    /* not tokens */
    rs = zoll_restorer_new(ZOLL_RESTORE_JSON);
    assert_int_equal(zoll_restorer_add(rs, "EMAIL_1", 7, "x", 1), -1);
    assert_int_equal(zoll_restorer_add(rs, "[A[B]", 5, "x", 1), -1);
    assert_int_equal(zoll_restorer_add(rs, "[A]B]", 5, "x", 1), -1);
    assert_int_equal(zoll_restorer_add(rs, "[A\"]", 4, "x", 1), -1);
    zoll_restorer_free(rs);

    /* a line without end above the limit cannot be restored */
    big = malloc(n);
    assert_non_null(big);
    memset(big, 'a', n);
    memcpy(big, "data: ", 6);

    rs = zt_restorer(ZOLL_RESTORE_SSE);
    assert_int_equal(zoll_restore(rs, (unsigned char *) big, n, &out, &olen),
                     -1);
    assert_int_equal(zoll_restore_finish(rs, &out, &olen), -1);
    zoll_restorer_free(rs);

    /* a JSON body has no such limit: it is not held */
    rs = zt_restorer(ZOLL_RESTORE_JSON);
    assert_int_equal(zoll_restore(rs, (unsigned char *) big, n, &out, &olen),
                     0);
    assert_int_equal(olen, n);
    zoll_restorer_free(rs);
    free(big);
}


int
zt_restore_tests(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_json_body),
        cmocka_unit_test(test_json_arguments),
        cmocka_unit_test(test_sse_openai_split),
        cmocka_unit_test(test_sse_anthropic),
        cmocka_unit_test(test_sse_responses),
        cmocka_unit_test(test_sse_gemini_and_end),
        cmocka_unit_test(test_sse_no_delay),
        cmocka_unit_test(test_sse_long_stream),
        cmocka_unit_test(test_broken_escapes),
        cmocka_unit_test(test_limits),
    };

    return cmocka_run_group_tests_name("restore", tests, NULL, NULL);
}
