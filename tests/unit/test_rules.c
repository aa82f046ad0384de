/*
 * Rule packs and the scanner: what the fixture pack (data/rules) finds and
 * where, exact to the byte; that the prefiltered scan the gateway runs
 * finds exactly what PCRE2 alone finds; and the exact error for each kind
 * of broken pack, which an operator reads at "nginx -t" time.
 */

#include "zt.h"
#include "zoll_internal.h"     /* zoll_scan_at */

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#define ZT_SPANS_LEN  4096


static zoll_rules_t *
zt_rules(const char *dir)
{
    char           err[ZOLL_ERR_LEN];
    zoll_rules_t  *rs;

    rs = zoll_rules_load(zt_data(dir), NULL, err, sizeof(err));
    if (rs == NULL) {
        fail_msg("%s: %s", zt_data(dir), err);
    }

    return rs;
}


/* the index of the rule with this id */

static unsigned
zt_rule(const zoll_rules_t *rs, const char *id)
{
    size_t  i, n;

    n = zoll_rules_count(rs, NULL);

    for (i = 0; i < n; i++) {
        if (strcmp(zoll_rule_id(rs, (unsigned) i), id) == 0) {
            return (unsigned) i;
        }
    }

    fail_msg("no rule \"%s\"", id);
    return 0;
}


/* Spans as text, "email[5,20) iban[27,54)", so that a failure shows all
 * of them at once.  Every span must carry its rule's entity. */

static const char *
zt_fmt(const zoll_rules_t *rs, const zoll_span_t *spans, size_t n)
{
    static char  buf[ZT_SPANS_LEN];
    size_t       i, len;

    buf[0] = '\0';
    len = 0;

    for (i = 0; i < n; i++) {
        assert_string_equal(zoll_rules_entity(rs, spans[i].entity),
                            zoll_rule_entity(rs, spans[i].rule));

        len += snprintf(buf + len, sizeof(buf) - len, "%s%s[%zu,%zu)",
                        i ? " " : "", zoll_rule_id(rs, spans[i].rule),
                        spans[i].start, spans[i].end);
        assert_true(len < sizeof(buf));
    }

    return buf;
}


/* Scans a heap copy of exactly len bytes (no NUL after it, so a read past
 * the end shows under valgrind and ASan). */

static const char *
zt_scan_len(zoll_scanner_t *sc, const zoll_rules_t *rs, const char *text,
    size_t len)
{
    size_t              n;
    const char         *s;
    unsigned char      *copy;
    const zoll_span_t  *spans;

    copy = malloc(len ? len : 1);
    assert_non_null(copy);
    memcpy(copy, text, len);

    assert_int_equal(zoll_scan(sc, copy, len, &spans, &n), 0);
    s = zt_fmt(rs, spans, n);

    free(copy);
    return s;
}


/* the spans of text must be want, in both scan modes */

static void
zt_expect(const zoll_rules_t *rs, const char *text, const char *want)
{
    unsigned         mode;
    zoll_scanner_t  *sc;

    for (mode = 0; mode <= ZOLL_SCAN_PCRE_ONLY; mode++) {
        sc = zoll_scanner_new(rs, mode);
        assert_non_null(sc);
        assert_int_equal(zoll_scanner_mode(sc), mode);

        if (strcmp(zt_scan_len(sc, rs, text, strlen(text)), want) != 0) {
            fail_msg("%s scan of \"%s\":\n  got  \"%s\"\n  want \"%s\"",
                     mode ? "PCRE2-only" : "prefiltered", text,
                     zt_scan_len(sc, rs, text, strlen(text)), want);
        }

        zoll_scanner_free(sc);
    }
}


static void
test_rules_fixture_loads(void **state)
{
    size_t         pf;
    zoll_rules_t  *rs;

    (void) state;

    rs = zt_rules("rules");

    /* every rule of the pack is simple enough for the prefilter */
    pf = 99;
    assert_int_equal(zoll_rules_count(rs, &pf), 4);
    assert_int_equal(pf, 4);

    assert_string_equal(zoll_rule_id(rs, 0), "email");
    assert_string_equal(zoll_rule_id(rs, 1), "iban");
    assert_string_equal(zoll_rule_id(rs, 2), "person");
    assert_string_equal(zoll_rule_id(rs, 3), "plate");
    assert_string_equal(zoll_rule_entity(rs, 3), "DE_LICENSE_PLATE");

    /* entities in the order the rules name them first */
    assert_int_equal(zoll_rules_entities(rs), 4);
    assert_string_equal(zoll_rules_entity(rs, 0), "EMAIL");
    assert_string_equal(zoll_rules_entity(rs, 1), "IBAN");
    assert_string_equal(zoll_rules_entity(rs, 2), "PERSON");
    assert_string_equal(zoll_rules_entity(rs, 3), "DE_LICENSE_PLATE");
    assert_int_equal(zoll_rules_entity_index(rs, "PERSON"), 2);
    assert_int_equal(zoll_rules_entity_index(rs, "DE_LICENSE_PLATE"), 3);
    assert_int_equal(zoll_rules_entity_index(rs, "PHONE"), -1);
    assert_int_equal(zoll_rules_entity_index(rs, "email"), -1);

    zoll_rules_free(rs);
}


/* One text with one of everything; offsets are bytes. */

static void
test_scan_spans(void **state)
{
    zoll_rules_t  *rs;

    (void) state;

    rs = zt_rules("rules");

    zt_expect(rs, "Mail anna@example.de, IBAN DE89 3704 0044 0532 0130 00 "
              "oder DE89370400440532013000; Anna Schmidt; Kennzeichen "
              "B-AB 1234.",
              "email[5,20) iban[27,54) iban[60,82) person[84,96) "
              "plate[110,119)");

    /* the whole text, and nothing around it */
    zt_expect(rs, "anna@example.de", "email[0,15)");
    zt_expect(rs, "x@y.de,z@w.com;anna.b+tag@sub.example.co.uk",
              "email[0,6) email[7,14) email[15,43)");
    zt_expect(rs, "GB82 WEST 1234 5698 7654 32 und GB82WEST12345698765432",
              "iban[0,27) iban[32,54)");

    /* nothing to find */
    zt_expect(rs, "", "");
    zt_expect(rs, "Die Rechnung kommt morgen.", "");

    zoll_rules_free(rs);
}


/* Offsets count bytes, not characters: 2-, 3- and 4-byte sequences before
 * a span move it by their byte length. */

static void
test_scan_utf8_offsets(void **state)
{
    zoll_rules_t  *rs;

    (void) state;

    rs = zt_rules("rules");

    zt_expect(rs, "\xc3\xa4 anna@example.de", "email[3,18)");
    zt_expect(rs, "\xe2\x82\xac anna@example.de", "email[4,19)");
    zt_expect(rs, "\xf0\x9f\x98\x80 anna@example.de", "email[5,20)");
    zt_expect(rs, "\xc3\xa4\xe2\x82\xac\xf0\x9f\x98\x80 anna@example.de",
              "email[10,25)");

    /* "Jonas Müller": 12 characters, 13 bytes; "Ä" is \p{Lu} */
    zt_expect(rs, "\xf0\x9f\x98\x80 Jonas M\xc3\xbcller und Lea "
              "\xc3\x84rzte",
              "person[5,18) person[23,33)");

    /* "MÜ": a two-byte letter inside the plate */
    zt_expect(rs, "\xe2\x82\xac Kennzeichen: M\xc3\x9c-AB 12E",
              "plate[17,27)");

    /* a span right after a multi-byte character, no space between */
    zt_expect(rs, "\xe2\x82\xac" "DE89 3704 0044 0532 0130 00",
              "iban[3,30)");

    zoll_rules_free(rs);
}


/* "<a><n spaces><b>" in a static buffer */

static const char *
zt_spaced(const char *a, int n, const char *b)
{
    static char  buf[256];

    snprintf(buf, sizeof(buf), "%s%*s%s", a, n, "", b);
    return buf;
}


/* The plate rule requires a context word within 30 bytes before or after
 * it, ASCII case-insensitively; without one a plate is any code. */

static void
test_scan_context(void **state)
{
    zoll_rules_t  *rs;

    (void) state;

    rs = zt_rules("rules");

    zt_expect(rs, "Kennzeichen B-AB 1234", "plate[12,21)");
    zt_expect(rs, "KENNZEICHEN: B-AB 1234", "plate[13,22)");
    zt_expect(rs, "B-AB 1234 ist mein Kennzeichen", "plate[0,9)");
    zt_expect(rs, "Code B-AB 1234", "");
    zt_expect(rs, "B-AB 1234", "");

    /* the word must lie wholly within the 30 bytes before (or after) the
     * plate: its 11 letters and 19 spaces do, with 20 spaces they do not */
    zt_expect(rs, zt_spaced("Kennzeichen", 19, "B-AB 1234"),
              "plate[30,39)");
    zt_expect(rs, zt_spaced("Kennzeichen", 20, "B-AB 1234"), "");
    zt_expect(rs, zt_spaced("B-AB 1234", 19, "kennzeichen"), "plate[0,9)");
    zt_expect(rs, zt_spaced("B-AB 1234", 20, "kennzeichen"), "");

    /* a fifth digit: not a plate, context or not */
    zt_expect(rs, "Kennzeichen B-AB 12345", "");

    zoll_rules_free(rs);
}


/* A match whose validator refuses it is no finding. */

static void
test_scan_validators(void **state)
{
    zoll_rules_t  *rs;

    (void) state;

    rs = zt_rules("rules");

    /* a valid IBAN with one digit changed: the check digits disagree */
    zt_expect(rs, "IBAN DE89 3704 0044 0532 0130 01", "");
    zt_expect(rs, "IBAN DE89370400440532013001", "");
    zt_expect(rs, "IBAN DE88 3704 0044 0532 0130 00", "");
    zt_expect(rs, "IBAN DE89 3704 0044 0532 0130 00", "iban[5,32)");

    /* no domain, dots in the wrong place */
    zt_expect(rs, "user@localhost", "");
    zt_expect(rs, "an a.@b.de", "");
    zt_expect(rs, "an a..b@c.de", "");

    zoll_rules_free(rs);
}


/* The first-name list: whole words only, and a capitalised surname; a
 * candidate the list rejects does not hide the name that starts inside
 * it. */

static void
test_scan_gazetteer(void **state)
{
    zoll_rules_t  *rs;

    (void) state;

    rs = zt_rules("rules");

    zt_expect(rs, "mit Anna Schmidt reden", "person[4,16)");
    zt_expect(rs, "Lea Meier, Jonas Weber", "person[0,9) person[11,22)");

    /* "Die Anna" is no name, "Anna Schmidt" inside it is */
    zt_expect(rs, "Die Anna Schmidt", "person[4,16)");
    zt_expect(rs, "Dear Lea Meier", "person[5,14)");
    zt_expect(rs, "Leander Schmidt", "");
    zt_expect(rs, "Johanna Schmidt", "");
    zt_expect(rs, "\xc3\xa9" "Anna Schmidt", "");
    zt_expect(rs, "AnnaSchmidt", "");
    zt_expect(rs, "Anna schmidt", "");
    zt_expect(rs, "Marie Curie", "");

    zoll_rules_free(rs);
}


/* A list holds words (letters, hyphens, apostrophes, any script); "#"
 * comments, blank lines, CR and trailing blanks are not entries.  A word
 * matches as a whole: "Lena" is not "Anna-Lena".  A rejected candidate
 * ("Die Zoë") does not hide the real one that starts inside it. */

static void
test_scan_list_words(void **state)
{
    zoll_rules_t  *rs;

    (void) state;

    rs = zt_rules("rules_lists");

    zt_expect(rs, "Anna-Lena Schmidt", "name[0,17)");
    zt_expect(rs, "O'Brien Smith", "name[0,13)");
    zt_expect(rs, "D\xe2\x80\x99" "Angelo Rossi", "name[0,16)");
    zt_expect(rs, "Zo\xc3\xab Weber", "name[0,10)");
    zt_expect(rs, "Die Zo\xc3\xab Weber", "name[4,14)");
    zt_expect(rs, "J\xc3\xbcrgen Klopp, Lea Weber", "name[0,13) name[15,24)");

    zt_expect(rs, "Lena Schmidt", "");
    zt_expect(rs, "Anna Schmidt", "");
    zt_expect(rs, "Zoe Weber", "");
    zt_expect(rs, "Leah Weber", "");
    zt_expect(rs, "# Weber", "");

    zoll_rules_free(rs);
}


/* A list reference matches what the alternation of its words would: a
 * word of the list, then the rest of the pattern.  "Anna" is in the list
 * and "-Maria" is what the pattern allows after it. */

static void
test_scan_list_word_then_more(void **state)
{
    zoll_rules_t  *rs;

    (void) state;

    rs = zt_rules("rules_lists_more");

    zt_expect(rs, "Jonas Weber", "double[0,11)");
    zt_expect(rs, "Anna-Maria Weber", "double[0,16)");
    zt_expect(rs, "Jonas-Emil Weber", "double[0,16)");

    zoll_rules_free(rs);
}


/* Under the caseless flag the list's words match in any case, as the
 * rest of the pattern (and the prefilter) does. */

static void
test_scan_list_caseless(void **state)
{
    zoll_rules_t  *rs;

    (void) state;

    rs = zt_rules("rules_lists_more");

    zt_expect(rs, "Anna SCHMIDT", "ci[0,12)");
    zt_expect(rs, "ANNA SCHMIDT", "ci[0,12)");
    zt_expect(rs, "jonas schmidt", "ci[0,13)");

    zoll_rules_free(rs);
}


/* data/rules_overlap: acct (priority 20) against num and tag (both 10).
 * Where spans overlap, the higher priority wins even when it is shorter;
 * at equal priority the longer one, whichever rule it comes from; at equal
 * length the earlier one. */

static void
test_scan_overlap(void **state)
{
    const zoll_span_t  *spans;
    size_t              n;
    zoll_rules_t       *rs;
    zoll_scanner_t     *sc;

    (void) state;

    rs = zt_rules("rules_overlap");

    /* acct [0,6) against num [4,13), three bytes longer */
    zt_expect(rs, "ACC-123456789", "acct[0,6)");

    /* tag [0,4) against num [3,10): num is longer */
    zt_expect(rs, "#ab1234567", "num[3,10)");

    /* tag [0,10) against num [9,15): tag is longer */
    zt_expect(rs, "#abcdefgh123456", "tag[0,10)");

    /* tag [0,6) against num [5,11): as long, tag starts first */
    zt_expect(rs, "#abcd123456", "tag[0,6)");

    /* apart, both stay; so do spans that only touch */
    zt_expect(rs, "ACC-12 123456 #ab", "acct[0,6) num[7,13) tag[14,17)");
    zt_expect(rs, "ACC-12#ab", "acct[0,6) tag[6,9)");

    /* the rule alone sees its own match, before the overlap is settled */
    sc = zoll_scanner_new(rs, 0);
    assert_non_null(sc);
    assert_int_equal(zoll_scan_rule(sc, zt_rule(rs, "num"),
                                    (const unsigned char *) "ACC-123456789",
                                    13, &spans, &n), 0);
    assert_string_equal(zt_fmt(rs, spans, n), "num[4,13)");
    zoll_scanner_free(sc);

    zoll_rules_free(rs);
}


/* zoll_scan_at(), the redaction bench's ceiling: one search of one rule
 * for a match starting in [pos, upto], its validator applied; nothing
 * before pos or after upto is a start. */

static void
test_scan_at(void **state)
{
    static const char  text[] =
        "Mail anna@example.de, IBAN DE89 3704 0044 0532 0130 00, "
        "IBAN DE89 3704 0044 0532 0130 01";

    size_t              n, len = sizeof(text) - 1;
    unsigned            email, iban;
    zoll_rules_t       *rs;
    zoll_scanner_t     *sc;
    const zoll_span_t  *spans;
    const unsigned char *t = (const unsigned char *) text;

    (void) state;

    rs = zt_rules("rules");
    sc = zoll_scanner_new(rs, 0);
    assert_non_null(sc);

    email = zt_rule(rs, "email");
    iban = zt_rule(rs, "iban");

    assert_int_equal(zoll_scan_at(sc, email, t, len, 5, 5, &spans, &n), 0);
    assert_string_equal(zt_fmt(rs, spans, n), "email[5,20)");

    assert_int_equal(zoll_scan_at(sc, email, t, len, 0, 4, &spans, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(zoll_scan_at(sc, email, t, len, 6, 40, &spans, &n), 0);
    assert_int_equal(n, 0);

    assert_int_equal(zoll_scan_at(sc, iban, t, len, 0, 30, &spans, &n), 0);
    assert_string_equal(zt_fmt(rs, spans, n), "iban[27,54)");

    /* the second IBAN fails mod 97 */
    assert_int_equal(zoll_scan_at(sc, iban, t, len, 61, 61, &spans, &n), 0);
    assert_int_equal(n, 0);

    assert_int_equal(zoll_scan_at(sc, 4, t, len, 0, 0, &spans, &n), -1);
    assert_int_equal(zoll_scan_at(sc, email, t, len, 0, len, &spans, &n),
                     -1);
    assert_int_equal(zoll_scan_at(sc, email, t, len, 6, 5, &spans, &n), -1);

    zoll_scanner_free(sc);
    zoll_rules_free(rs);
}


/* zoll_scan_rule(): that rule's spans only, in both modes; a rule number
 * out of range is an error, not a read past the array. */

static void
test_scan_rule_alone(void **state)
{
    static const char  text[] =
        "Mail anna@example.de, IBAN DE89 3704 0044 0532 0130 00, "
        "Anna Schmidt, bob@example.org";

    size_t              n;
    unsigned            mode;
    zoll_rules_t       *rs;
    zoll_scanner_t     *sc;
    const zoll_span_t  *spans;

    (void) state;

    rs = zt_rules("rules");

    for (mode = 0; mode <= ZOLL_SCAN_PCRE_ONLY; mode++) {
        sc = zoll_scanner_new(rs, mode);
        assert_non_null(sc);

        assert_int_equal(zoll_scan_rule(sc, zt_rule(rs, "email"),
                                        (const unsigned char *) text,
                                        sizeof(text) - 1, &spans, &n), 0);
        assert_string_equal(zt_fmt(rs, spans, n),
                            "email[5,20) email[70,85)");

        assert_int_equal(zoll_scan_rule(sc, zt_rule(rs, "iban"),
                                        (const unsigned char *) text,
                                        sizeof(text) - 1, &spans, &n), 0);
        assert_string_equal(zt_fmt(rs, spans, n), "iban[27,54)");

        assert_int_equal(zoll_scan_rule(sc, zt_rule(rs, "plate"),
                                        (const unsigned char *) text,
                                        sizeof(text) - 1, &spans, &n), 0);
        assert_int_equal(n, 0);

        assert_int_equal(zoll_scan_rule(sc, 4, (const unsigned char *) text,
                                        sizeof(text) - 1, &spans, &n), -1);

        /* and a full scan afterwards sees every rule again */
        assert_int_equal(zoll_scan(sc, (const unsigned char *) text,
                                   sizeof(text) - 1, &spans, &n), 0);
        assert_string_equal(zt_fmt(rs, spans, n),
                            "email[5,20) iban[27,54) person[56,68) "
                            "email[70,85)");

        zoll_scanner_free(sc);
    }

    zoll_rules_free(rs);
}


/* The prefilter only decides where PCRE2 looks; what is found must not
 * depend on it.  Varied texts, then all of them run together many times
 * (so reports of one rule arrive while another's window is open, and
 * spans sit at every distance from each other). */

static const char *const  zt_texts[] = {
    "Mail anna@example.de bitte",
    "x@y.de,z@w.com;anna.b+tag@sub.example.co.uk",
    "IBAN DE89 3704 0044 0532 0130 00 und DE89370400440532013000",
    "GB82 WEST 1234 5698 7654 32",
    "DE89 3704 0044 0532 0130 01 (falsche Pruefziffer)",
    "DE89 3704 0044 0532 0130 00DE89 3704 0044 0532 0130 00",
    "mit Anna Schmidt und Jonas M\xc3\xbcller reden",
    "Lea \xc3\x84rzte, Leander Schmidt, AnnaSchmidt",
    "Kennzeichen B-AB 1234 und M\xc3\x9c-X 1E",
    "Code B-AB 1234",
    "B-AB 1234 ist mein Kennzeichen",
    "\xc3\xa4\xe2\x82\xac\xf0\x9f\x98\x80 anna@example.de \xf0\x9f\x98\x80",
    "user@localhost a.@b.de a..b@c.de",
    "anna@example.de.",
    "@@@ anna@@example.de anna@example..de @example.de",
    "Anna Schmidt<anna@example.de>",
    "kennzeichen:B-AB 1,B-AB 12,B-AB 123",
    ("\xe2\x80\x8b" "Anna Schmidt\xe2\x80\x8b"),
    "DE89370400440532013000anna@example.de",
    "Die Rechnung kommt morgen. Keine Daten hier.",
    "Jonas Jonas Jonas Weber",
    "a-b_c.d+e@x-y.example.org, 1@2.de",
    "a@b.cca@b.cca@b.cc",
    "Anna Anna Anna Anna Schmidt",
    "DE89 3704 0044 0532 0130 00 00 00 00",
    "Die Anna Schmidt kommt",
    "Dear Lea Meier, Herr Jonas Weber",
    "Die Zoe Anna Lea Jonas Weber",
};

#define ZT_NTEXTS  (sizeof(zt_texts) / sizeof(zt_texts[0]))


static void
zt_modes_agree(const zoll_rules_t *rs, zoll_scanner_t *pf,
    zoll_scanner_t *pcre, const char *text, size_t len, size_t *found)
{
    size_t              i, n, m;
    const zoll_span_t  *a, *b;

    assert_int_equal(zoll_scan(pf, (const unsigned char *) text, len, &a,
                               &n), 0);
    assert_int_equal(zoll_scan(pcre, (const unsigned char *) text, len, &b,
                               &m), 0);

    for (i = 0; i < n && i < m; i++) {
        if (a[i].start != b[i].start || a[i].end != b[i].end
            || a[i].rule != b[i].rule || a[i].entity != b[i].entity)
        {
            break;
        }
    }

    if (i < n || i < m) {
        fail_msg("span %zu of \"%.200s\" differs: prefiltered %s[%zu,%zu) "
                 "(%zu spans), PCRE2 only %s[%zu,%zu) (%zu spans)", i, text,
                 i < n ? zoll_rule_id(rs, a[i].rule) : "-",
                 i < n ? a[i].start : 0, i < n ? a[i].end : 0, n,
                 i < m ? zoll_rule_id(rs, b[i].rule) : "-",
                 i < m ? b[i].start : 0, i < m ? b[i].end : 0, m);
    }

    *found = n;
}


static void
test_scan_modes_agree(void **state)
{
    char            *all;
    size_t           i, k, len, cap, n, total;
    zoll_rules_t    *rs;
    zoll_scanner_t  *pf, *pcre;

    (void) state;

    rs = zt_rules("rules");
    pf = zoll_scanner_new(rs, 0);
    pcre = zoll_scanner_new(rs, ZOLL_SCAN_PCRE_ONLY);
    assert_non_null(pf);
    assert_non_null(pcre);

    total = 0;

    for (i = 0; i < ZT_NTEXTS; i++) {
        zt_modes_agree(rs, pf, pcre, zt_texts[i], strlen(zt_texts[i]), &n);
        total += n;
    }

    /* not a vacuous agreement on nothing */
    assert_int_equal(total, 36);

    /* 200 rounds, each with the texts in another order and joined by
     * separators of varying length */
    cap = 0;

    for (i = 0; i < ZT_NTEXTS; i++) {
        cap += strlen(zt_texts[i]) + 8;
    }

    cap = cap * 200 + 1;
    all = malloc(cap);
    assert_non_null(all);
    len = 0;

    for (k = 0; k < 200; k++) {
        for (i = 0; i < ZT_NTEXTS; i++) {
            len += snprintf(all + len, cap - len, "%s%.*s",
                            zt_texts[(i * 7 + k) % ZT_NTEXTS],
                            (int) (1 + (i + k) % 5), "\n  | ");
        }
    }

    zt_modes_agree(rs, pf, pcre, all, len, &n);
    assert_true(n >= 200 * 20);

    free(all);
    zoll_scanner_free(pcre);
    zoll_scanner_free(pf);
    zoll_rules_free(rs);
}


/* A megabyte of prose with a few findings far apart, and near-misses
 * (an IBAN with bad check digits, an address without a domain) in
 * between: the prefilter's windows must land on each one exactly. */

static void
test_scan_long_text(void **state)
{
    static const char  filler[] = "Lorem ipsum dolor sit amet, consectetur "
                                  "adipiscing elit. ";
    static const struct {
        size_t       at;
        const char  *text;
    } put[] = {
        { 0, "anna@example.de" },
        { 4096, "DE89 3704 0044 0532 0130 01" },
        { 65537, "user@localhost" },
        { 300001, "DE89 3704 0044 0532 0130 00" },
        { 700003, "Kennzeichen B-AB 1234" },
        { 900000, "Jonas Weber" },
        { 1048576 - 16, "bob@example.org" },
    };

    char            *text, want[512];
    size_t           i, len, n;
    unsigned         mode;
    zoll_rules_t    *rs;
    zoll_scanner_t  *sc;

    (void) state;

    len = 1048576;
    text = malloc(len);
    assert_non_null(text);

    for (i = 0; i < len; i++) {
        text[i] = filler[i % (sizeof(filler) - 1)];
    }

    for (i = 0; i < sizeof(put) / sizeof(put[0]); i++) {
        n = strlen(put[i].text);
        text[put[i].at - (put[i].at > 0)] = ' ';
        memcpy(text + put[i].at, put[i].text, n);
        if (put[i].at + n < len) {
            text[put[i].at + n] = ' ';
        }
    }

    snprintf(want, sizeof(want), "email[0,15) iban[300001,300028) "
             "plate[%d,%d) person[900000,900011) email[%d,%d)",
             700003 + 12, 700003 + 21, 1048576 - 16, 1048576 - 1);

    rs = zt_rules("rules");

    for (mode = 0; mode <= ZOLL_SCAN_PCRE_ONLY; mode++) {
        sc = zoll_scanner_new(rs, mode);
        assert_non_null(sc);
        assert_string_equal(zt_scan_len(sc, rs, text, len), want);
        zoll_scanner_free(sc);
    }

    zoll_rules_free(rs);
    free(text);
}


/* max_len (256 by default) is the longest span a rule finds, in both
 * modes alike: the prefiltered scan looks only that far back from a
 * report, so a longer match is no finding in PCRE2-only mode either.  The
 * email rule keeps the default, above the 254 bytes RFC 5321 leaves an
 * address: 256 bytes are found, 257 are not. */

static void
zt_long_email(char *buf, size_t k)
{
    char  a[65], b[61];

    memset(a, 'a', 64);
    a[64] = '\0';
    memset(b, 'b', 60);
    b[60] = '\0';

    /* 64 + 1 + 3 * 61 + k + 3 bytes */
    sprintf(buf, "x %s@%s.%s.%s.%.*s.de y", a, b, b, b, (int) k,
            "cccccccccc");
}


static void
test_scan_max_len(void **state)
{
    char           text[512];
    zoll_rules_t  *rs;

    (void) state;

    rs = zt_rules("rules");

    zt_long_email(text, 5);
    assert_int_equal(strlen(text), 2 + 256 + 2);
    zt_expect(rs, text, "email[2,258)");

    zt_long_email(text, 6);
    assert_int_equal(strlen(text), 2 + 257 + 2);
    zt_expect(rs, text, "");

    zoll_rules_free(rs);
}


/* A rule Vectorscan cannot take (\K here; any rule with the extended
 * flag) is not lost: PCRE2 scans the whole text for it, in both modes. */

static void
test_rules_not_prefiltered(void **state)
{
    size_t         pf;
    zoll_rules_t  *rs;

    (void) state;

    rs = zt_rules("rules_pcre");

    assert_int_equal(zoll_rules_count(rs, &pf), 3);
    assert_int_equal(pf, 1);

    zt_expect(rs, "Ref: ABC1234, AB-123, 10115 und AB - 123, 123456",
              "ref[5,12) code[14,20) zip[22,27)");
    zt_expect(rs, "ABC1234 Ref: XYZ0001", "ref[13,20)");

    zoll_rules_free(rs);
}


/* A prefilter that marks where matches start: PCRE2 tries each start
 * from the leftmost one Vectorscan reports up to the report, so a match
 * at a later start of another prefilter match ending there is found
 * ("xABo": "ABo" is refused by the lookbehind, "Bo" is not), and a
 * prefilter match that contains an earlier-reported one is still tried. */

static void
test_scan_starts_with_prefilter(void **state)
{
    size_t         pf;
    zoll_rules_t  *rs;

    (void) state;

    rs = zt_rules("rules_som");

    assert_int_equal(zoll_rules_count(rs, &pf), 3);
    assert_int_equal(pf, 3);

    zt_expect(rs, "xABo", "name[2,4)");

    /* "Zo" is reported first and refused; the starts it tried must stay
     * open for "QZoW", which starts before it and is reported after it */
    zt_expect(rs, "QZoW Zo", "nested[0,4) nested[5,7)");
    zt_expect(rs, "ABo, Bo Meier xBo Boot", "name[0,3) name[5,13)");
    zt_expect(rs, "Bearer abcdefgh1 Bearer Bearer xyzxyzxyz Bearer 123",
              "bearer[7,16) bearer[31,40)");

    zoll_rules_free(rs);
}


/* Literal alternations are compiled as tries (zoll_rules.c, zoll_factor):
 * whichever alternatives could match at a place are still tried in the
 * order written, across shared prefixes, an alternative that is the
 * prefix of others, a repeated word, UTF-8 letters and the ways of
 * writing one character ("[ ]", "\\ ", "\\."). */

static void
test_scan_literal_tries(void **state)
{
    zoll_rules_t  *rs;

    (void) state;

    rs = zt_rules("rules_trie");

    zt_expect(rs, "Drive Dro Drx", "short_first[0,2) short_first[6,8) "
              "short_first[10,12)");
    zt_expect(rs, "Kaiserin Kaiser Kai x Kaiserinnen",
              "long_first[0,8) long_first[9,15) long_first[16,19)");
    zt_expect(rs, "Qabcd Qabd Qad Qa Qabcdd",
              "empty_between[0,5) empty_between[6,10) empty_between[11,14) "
              "empty_between[18,23)");
    zt_expect(rs, "#Die #Diego #Dienstag #Dienstags #Das #Übel #Überall",
              "stop[6,11) stop[23,32) stop[46,54)");
    zt_expect(rs, "a bx a cx a.dx a.ex ä-fx a-bx",
              "spelled[0,4) spelled[5,9) spelled[10,14) spelled[15,19) "
              "spelled[20,25)");

    zoll_rules_free(rs);
}


/* Gates (rules/README.md).  A rule gated by digits is searched only around
 * runs of digits, each at most ZOLL_DIGIT_GAP (4) bytes after the one
 * before, from "lead" bytes before a run's first digit to its N-th digit
 * from the end; a match inside a run that began earlier is found.  A rule gated by context
 * is searched only around its context words, at both ends of the window.
 * The gates are real: a pair five spaces apart is no digit run, so the
 * prefiltered scan does not look there while PCRE2 alone finds it (which
 * is why every example runs through both paths at load). */

static void
test_scan_gates(void **state)
{
    size_t           pf;
    zoll_rules_t    *rs;
    zoll_scanner_t  *sc;

    (void) state;

    rs = zt_rules("rules_gate");

    assert_int_equal(zoll_rules_count(rs, &pf), 6);
    assert_int_equal(pf, 6);

    zt_expect(rs, "x 123    456 y", "pair[2,12)");
    zt_expect(rs, "1 2 3 4 5 ++123456 and 12.3 ++654321",
              "plus[10,18) plus[28,36)");
    zt_expect(rs, "++12345 ++1234567 x++123456", "plus[19,27)");

    /* a run is searched up to its N-th digit from the end: a match whose
     * N digits end the run, or begin it with more after them */
    zt_expect(rs, "1 2 3 4 5 6 7 8 9 ++123456", "plus[18,26)");
    zt_expect(rs, "++123456 7 8", "plus[0,8)");
    zt_expect(rs, "x 123 456", "pair[2,9)");

    /* a digit window holding no byte a match can start with is not
     * searched: PCRE2's start bytes (a class), the first one at the
     * lead's edge; a caseless first letter (one code unit) in both cases;
     * one with a case beyond ASCII (k, K, KELVIN SIGN) in all three */
    zt_expect(rs, "12 345678 AB123456 ab123456 ZZ999999",
              "cc[10,18) cc[28,36)");
    zt_expect(rs, "q123456 Q654321", "qq[0,7) qq[8,15)");
    zt_expect(rs, "k123456 K654321 \xe2\x84\xaa" "111111",
              "kk[0,7) kk[8,15) kk[16,25)");

    zt_expect(rs, "ref:      XYX", "ref[10,13)");
    zt_expect(rs, "ref:       XYX", "");
    zt_expect(rs, "XYX      REF:", "ref[0,3)");
    zt_expect(rs, "XYX       ref:", "");
    zt_expect(rs, "ref: XXX ref: YYY ref: XYX XXX", "ref[5,8) ref[14,17) "
              "ref[23,26) ref[27,30)");

    sc = zoll_scanner_new(rs, 0);
    assert_non_null(sc);
    assert_string_equal(zt_scan_len(sc, rs, "x 123     456 y", 15), "");
    zoll_scanner_free(sc);

    sc = zoll_scanner_new(rs, ZOLL_SCAN_PCRE_ONLY);
    assert_non_null(sc);
    assert_string_equal(zt_scan_len(sc, rs, "x 123     456 y", 15),
                        "pair[2,13)");
    zoll_scanner_free(sc);

    zoll_rules_free(rs);
}


/* A pattern that backtracks past the match limit fails the scan (and the
 * request with it); it must not report "nothing found".  The scanner
 * works normally for the next text. */

static void
test_scan_match_limit_fails_closed(void **state)
{
    char                text[64];
    size_t              n;
    unsigned            mode;
    zoll_rules_t       *rs;
    zoll_scanner_t     *sc;
    const zoll_span_t  *spans;

    (void) state;

    memset(text, 'a', 40);
    memcpy(text + 40, "bx", 3);

    rs = zt_rules("rules_redos");

    for (mode = 0; mode <= ZOLL_SCAN_PCRE_ONLY; mode++) {
        sc = zoll_scanner_new(rs, mode);
        assert_non_null(sc);

        assert_int_equal(zoll_scan(sc, (const unsigned char *) text, 42,
                                   &spans, &n), -1);
        assert_int_equal(zoll_scan_rule(sc, zt_rule(rs, "slow"),
                                        (const unsigned char *) text, 42,
                                        &spans, &n), -1);

        assert_string_equal(zt_scan_len(sc, rs, "aab anna@example.de", 19),
                            "slow[0,3) email[4,19)");

        zoll_scanner_free(sc);
    }

    zoll_rules_free(rs);
}


/* Broken packs: each directory under data/ holds one mistake.  Errors
 * name the pack file, the JSON path (the rule's index, or for examples
 * the rule's id) and the problem. */

typedef struct {
    const char  *name;
    const char  *dir;
    const char  *error;
    int          prefix;      /* error is the start of the message only */
} zt_bad_pack_t;


static const zt_bad_pack_t  zt_bad_packs[] = {

    { "test_pack_unknown_key", "rules_bad_key",
      "bad.json: $.rules[1]: unknown key \"colour\"", 0 },
    { "test_pack_unknown_validator", "rules_bad_validator",
      "bad.json: $.rules[0]: unknown validator \"luhn10\"", 0 },
    { "test_pack_bad_regex", "rules_bad_regex",
      "bad.json: $.rules[1]: pattern: missing closing parenthesis at "
      "offset 9", 0 },

    /* across packs: b.json loads after a.json */
    { "test_pack_duplicate_rule", "rules_bad_duplicate",
      "b.json: $.rules[0]: rule \"email\" is defined twice", 0 },
    { "test_pack_unknown_list", "rules_bad_list",
      "bad.json: $.rules[0]: unknown list \"{{nope}}\"", 0 },

    /* the second entry; the message quotes it from the file just read */
    { "test_pack_list_not_a_word", "rules_bad_list_word",
      "bad.json: $.lists: list \"names\": \"J.R.\" is not one word", 0 },

    /* match[0] passes; match[1] marks only part of the match */
    { "test_pack_example_must_match", "rules_bad_match",
      "bad.json: $.email.examples.match[1]: \"mail [[anna]]@example.de\" "
      "must match exactly the marked span (prefiltered)", 0 },
    { "test_pack_example_must_not_match", "rules_bad_no_match",
      "bad.json: $.email.examples.no_match[1]: \"write to "
      "anna@example.de\" must not match, but matched \"anna@example.de\"",
      0 },

    { "test_pack_som_without_prefilter", "rules_bad_som",
      "bad.json: $.rules[0]: \"starts_with_prefilter\" needs a "
      "\"prefilter\"", 0 },
    /* a prefilter is written for Vectorscan: if it refuses one, say so */
    { "test_pack_prefilter_refused", "rules_bad_prefilter",
      "bad.json: $.bearer.prefilter: Vectorscan: ", 1 },

    /* a digit gate whose lead is one byte short of "++": the example
     * catches it */
    { "test_pack_gate_lead_too_short", "rules_bad_gate_lead",
      "bad.json: $.plus.examples.match[0]: \"[[++123456]]\" must match "
      "exactly the marked span (prefiltered)", 0 },
    { "test_pack_gate_and_prefilter", "rules_bad_gate_prefilter",
      "bad.json: $.rules[0]: \"gate\" replaces \"prefilter\" and "
      "\"starts_with_prefilter\": give one or the other", 0 },
    { "test_pack_entity_too_long", "rules_bad_entity_long",
      "bad.json: $.rules[0]: \"entity\" is longer than 48 characters", 0 },
    { "test_pack_lead_without_prefilter", "rules_bad_lead",
      "bad.json: $.rules[0]: \"lead\" needs a \"prefilter\" without "
      "\"starts_with_prefilter\"", 0 },
    /* "street" has the two spaces it allows before its report; "short"
     * has two where it allows one, and its example shows it */
    { "test_pack_lead_spaces_too_few", "rules_bad_lead_spaces",
      "bad.json: $.short.examples.match[0]: \"[[Kleine Fischergasse 3]]\" "
      "must match exactly the marked span (prefiltered)", 0 },
    { "test_pack_lead_spaces_with_som", "rules_bad_lead_spaces_som",
      "bad.json: $.rules[0]: \"lead_spaces\" needs a \"prefilter\" "
      "without \"starts_with_prefilter\"", 0 },
    { "test_pack_gate_context_not_required", "rules_bad_gate_context",
      "bad.json: $.rules[0]: \"gate\": \"context\" needs "
      "\"context.required\": true", 0 },

    /* the parser's own words after the position */
    { "test_pack_invalid_json", "rules_bad_json",
      "bad.json: $: line 3, column 1: ", 1 },
};

#define ZT_NBAD_PACKS  (sizeof(zt_bad_packs) / sizeof(zt_bad_packs[0]))


static void
zt_rules_error(const char *dir, const char *want, int prefix)
{
    char           err[ZOLL_ERR_LEN];
    zoll_rules_t  *rs;

    /* glibc: freed memory is overwritten and large buffers come from the
     * heap, so an error message that quotes a freed buffer shows */
    mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
    mallopt(M_PERTURB, 0x5a);

    strcpy(err, "untouched");
    rs = zoll_rules_load(zt_data(dir), NULL, err, sizeof(err));

    mallopt(M_PERTURB, 0);

    if (rs != NULL) {
        zoll_rules_free(rs);
        fail_msg("%s loaded; expected \"%s\"", dir, want);
    }

    if (prefix) {
        if (strncmp(err, want, strlen(want)) != 0) {
            fail_msg("\"%s\" does not start with \"%s\"", err, want);
        }

        assert_true(strlen(err) > strlen(want));

    } else {
        assert_string_equal(err, want);
    }
}


static void
zt_run_bad_pack(void **state)
{
    const zt_bad_pack_t  *b = *state;

    zt_rules_error(b->dir, b->error, b->prefix);
}


static void
test_pack_directory_errors(void **state)
{
    char  want[ZOLL_ERR_LEN];

    (void) state;

    /* a README and a hidden ".hidden.json" (not JSON) only */
    snprintf(want, sizeof(want), "%s: $: the rules directory holds no "
             "*.json pack", zt_data("rules_empty"));
    zt_rules_error("rules_empty", want, 0);

    snprintf(want, sizeof(want), "%s: $: cannot open the rules directory: "
             "No such file or directory", zt_data("rules_missing"));
    zt_rules_error("rules_missing", want, 0);

    /* a file is not a directory */
    snprintf(want, sizeof(want), "%s: $: cannot open the rules directory: "
             "Not a directory", zt_data("policy.json"));
    zt_rules_error("policy.json", want, 0);
}


/* "examples" is checked as strictly as the rule around it: a misspelt
 * "matches" would otherwise turn off the check it was written for, and a
 * rule that misses what its author promised would load. */

static void
test_pack_examples_unknown_key(void **state)
{
    char           err[ZOLL_ERR_LEN];
    zoll_rules_t  *rs;

    (void) state;

    err[0] = '\0';
    rs = zoll_rules_load(zt_data("rules_bad_examples"), NULL, err,
                         sizeof(err));

    if (rs != NULL) {
        zoll_rules_free(rs);
        fail_msg("a pack with \"examples\": {\"matches\": [...]} loaded");
    }

    zt_assert_contains(err, "bad.json: ");
    zt_assert_contains(err, "\"matches\"");
}


int
zt_rules_tests(void)
{
    static const struct CMUnitTest  fixed[] = {
        cmocka_unit_test(test_rules_fixture_loads),
        cmocka_unit_test(test_scan_spans),
        cmocka_unit_test(test_scan_utf8_offsets),
        cmocka_unit_test(test_scan_context),
        cmocka_unit_test(test_scan_validators),
        cmocka_unit_test(test_scan_gazetteer),
        cmocka_unit_test(test_scan_list_words),
        cmocka_unit_test(test_scan_list_word_then_more),
        cmocka_unit_test(test_scan_list_caseless),
        cmocka_unit_test(test_scan_overlap),
        cmocka_unit_test(test_scan_rule_alone),
        cmocka_unit_test(test_scan_modes_agree),
        cmocka_unit_test(test_scan_long_text),
        cmocka_unit_test(test_scan_max_len),
        cmocka_unit_test(test_rules_not_prefiltered),
        cmocka_unit_test(test_scan_starts_with_prefilter),
        cmocka_unit_test(test_scan_literal_tries),
        cmocka_unit_test(test_scan_gates),
        cmocka_unit_test(test_scan_at),
        cmocka_unit_test(test_scan_match_limit_fails_closed),
        cmocka_unit_test(test_pack_directory_errors),
        cmocka_unit_test(test_pack_examples_unknown_key),
    };

    static struct CMUnitTest  tests[sizeof(fixed) / sizeof(fixed[0])
                                    + ZT_NBAD_PACKS];

    size_t  i, n;

    /* the hand-written tests, then one named test per broken pack */
    n = sizeof(fixed) / sizeof(fixed[0]);
    memcpy(tests, fixed, sizeof(fixed));

    for (i = 0; i < ZT_NBAD_PACKS; i++) {
        tests[n + i].name = zt_bad_packs[i].name;
        tests[n + i].test_func = zt_run_bad_pack;
        tests[n + i].initial_state = (void *) &zt_bad_packs[i];
    }

    return cmocka_run_group_tests_name("rules", tests, NULL, NULL);
}
