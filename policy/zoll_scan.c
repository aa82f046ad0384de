/*
 * The scanner: finds the spans of personal data in a text.
 *
 * Semantics, whatever the path: for each rule, the leftmost non-overlapping
 * matches of its PCRE2 pattern from the start of the text (a global
 * match); a match whose validator or context fails is dropped; then, where
 * spans of different rules overlap, the higher priority wins, then the
 * longer span, then the earlier one, then the earlier rule.
 *
 * Fast path: Vectorscan reads the text once for all rules and reports each
 * offset where a rule's prefilter ends: its own pattern compiled in
 * prefilter mode, or a simpler "prefilter" the rule gives (a salutation, a
 * first name).  The contract: every real match contains the end of a
 * prefilter match.  At a report PCRE2 looks for matches that start at most
 * max_len before it (or the rule's "lead", or no further back than its
 * "lead_spaces" allow; never before the end of the rule's previous match)
 * and not after it, so text that no rule could match costs one Vectorscan
 * pass and nothing else.  A rule whose matches start where its prefilter's
 * do ("starts_with_prefilter": a first name, "Bearer ") has Vectorscan
 * report that start too, and PCRE2 tries only the starts from there to
 * the report.  PCRE2's offset limit ends each search at the report, so
 * the text after it is read only as far as a match needs.  Rules
 * Vectorscan could not take are scanned by PCRE2 over the whole text.
 *
 * Gates (rules/README.md) replace a rule's automaton where one would cost
 * more than it saves: a rule gated by context has Vectorscan report its
 * context words (literals, nearly free) and is searched in the window
 * around each; a rule gated by digits is searched around the runs of
 * digits that one pass of the scanner's own finds, which is how number
 * rules (phones, cards, ids), each a class-led automaton costing a
 * fraction of a nanosecond per byte of any text, cost nearly nothing on
 * text without long digit runs.
 *
 * Where the paths differ: a match longer than max_len is dropped, and the
 * whole-text search then goes on at the next character; a window's
 * subject ends 2 * max_len after its report, so there PCRE2 may find a
 * shorter match at the same start instead ("Anna" followed by 200 spaces
 * and a surname: PERSON in a window, nothing in the whole text).
 * A differential fuzzing run of the two paths (not in CI) found this
 * after 1.7 million inputs, the window finding more; whether a case
 * exists where it finds less is not known.
 */

#define _GNU_SOURCE          /* qsort_r */
#include "zoll_internal.h"     /* with <emmintrin.h> where SSE2 is */

#include <stdlib.h>
#include <string.h>
#include <strings.h>


/* Backtracking bounds: a pattern that would need more fails the scan, and
 * the request with it, rather than pass text through unscanned. */
#define ZOLL_MATCH_LIMIT  1000000
#define ZOLL_DEPTH_LIMIT  10000
#define ZOLL_JIT_STACK    (512 * 1024)


typedef struct {
    const zoll_scanner_t  *sc;
    const zoll_rule_t     *rule;
} zoll_callout_ctx_t;


struct zoll_scanner_s {
    const zoll_rules_t    *rules;
    unsigned               mode;
    int                    only;          /* one rule, or -1 */
    int                    failed;

    hs_scratch_t          *scratch;
    pcre2_match_data      *md;
    pcre2_match_context   *mctx;
    pcre2_jit_stack       *jit;
    PCRE2_SIZE            *ov;            /* md's ovector */
    zoll_callout_ctx_t     cx;            /* the list callout's data: set
                                             once, its rule at each
                                             search */

    const unsigned char   *text;
    size_t                 len;
    size_t                *examined;      /* per rule: every match start
                                             below it has been examined */

    zoll_span_t           *cand;
    size_t                 ncand;
    size_t                 ccap;
    zoll_span_t           *out;
    size_t                 nout;
    size_t                 ocap;
};


static int zoll_list_callout(pcre2_callout_block *cb, void *data);


zoll_scanner_t *
zoll_scanner_new(const zoll_rules_t *rs, unsigned mode)
{
    zoll_scanner_t  *sc;

    sc = calloc(1, sizeof(zoll_scanner_t));
    if (sc == NULL) {
        return NULL;
    }

    sc->rules = rs;
    sc->mode = mode;
    sc->only = -1;
    sc->examined = calloc(rs->nrules, sizeof(size_t));
    sc->md = pcre2_match_data_create((uint32_t) rs->max_groups, NULL);
    sc->mctx = pcre2_match_context_create(NULL);
    sc->jit = pcre2_jit_stack_create(32 * 1024, ZOLL_JIT_STACK, NULL);

    if (sc->examined == NULL || sc->md == NULL || sc->mctx == NULL
        || sc->jit == NULL)
    {
        zoll_scanner_free(sc);
        return NULL;
    }

    /* one callout function for every rule: a pattern without list
     * references has no callout points, so it is never called there */
    sc->ov = pcre2_get_ovector_pointer(sc->md);
    sc->cx.sc = sc;
    pcre2_set_callout(sc->mctx, zoll_list_callout, &sc->cx);
    pcre2_set_match_limit(sc->mctx, ZOLL_MATCH_LIMIT);
    pcre2_set_depth_limit(sc->mctx, ZOLL_DEPTH_LIMIT);
    pcre2_jit_stack_assign(sc->mctx, NULL, sc->jit);

    if (rs->db != NULL && hs_alloc_scratch(rs->db, &sc->scratch)
                          != HS_SUCCESS)
    {
        zoll_scanner_free(sc);
        return NULL;
    }

    return sc;
}


void
zoll_scanner_free(zoll_scanner_t *sc)
{
    if (sc == NULL) {
        return;
    }

    hs_free_scratch(sc->scratch);
    pcre2_match_data_free(sc->md);
    pcre2_match_context_free(sc->mctx);
    pcre2_jit_stack_free(sc->jit);
    free(sc->examined);
    free(sc->cand);
    free(sc->out);
    free(sc);
}


unsigned
zoll_scanner_mode(const zoll_scanner_t *sc)
{
    return sc->mode;
}


static int
zoll_span_push(zoll_span_t **a, size_t *n, size_t *cap, const zoll_span_t *s)
{
    size_t        ncap;
    zoll_span_t  *na;

    if (*n == *cap) {
        ncap = *cap ? 2 * *cap : 64;
        na = realloc(*a, ncap * sizeof(zoll_span_t));
        if (na == NULL) {
            return -1;
        }
        *a = na;
        *cap = ncap;
    }

    (*a)[(*n)++] = *s;
    return 0;
}


static int
zoll_ascii_lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}


/* A context word of rule r anywhere in [lo, hi), ASCII
 * case-insensitively: one pass over the window, comparing words only
 * where one could start. */

static int
zoll_words_in(const zoll_rule_t *r, const unsigned char *lo,
    const unsigned char *hi)
{
    size_t                i, k;
    const char           *w;
    const unsigned char  *p;

    for (p = lo; p < hi; p++) {
        if (!zoll_bytes_has(r->ctx_first, *p)) {
            continue;
        }

        for (i = 0; i < r->nctx_words; i++) {
            w = r->ctx_words[i];

            for (k = 0; w[k] != '\0' && p + k < hi
                        && zoll_ascii_lower(p[k])
                           == zoll_ascii_lower((unsigned char) w[k]); k++)
            {
                /* void */
            }

            if (w[k] == '\0') {
                return 1;
            }
        }
    }

    return 0;
}


static int
zoll_context(const zoll_scanner_t *sc, const zoll_rule_t *r, size_t s,
    size_t e)
{
    size_t                lo, hi;
    const unsigned char  *t = sc->text;

    lo = s > r->ctx_window ? s - r->ctx_window : 0;
    hi = e + r->ctx_window < sc->len ? e + r->ctx_window : sc->len;

    return zoll_words_in(r, t + lo, t + s) || zoll_words_in(r, t + e, t + hi);
}


static int
zoll_cmp_word(const void *key, const void *elt)
{
    const zoll_str_t  *w = key;
    const char        *e = *(char *const *) elt;
    int                c;

    c = strncasecmp(w->data, e, w->len);

    if (c == 0 && e[w->len] != '\0') {
        return -1;
    }

    return c;
}


/* Is the word in the list?  The list is sorted ASCII-caselessly; a
 * case-sensitive rule then looks for an exact entry among the caseless
 * equals around the hit. */

static int
zoll_list_has(const zoll_list_t *l, const zoll_str_t *w, int caseless)
{
    char  *const  *hit, *const *p;

    hit = bsearch(w, l->words, l->n, sizeof(char *), zoll_cmp_word);

    if (hit == NULL || caseless) {
        return hit != NULL;
    }

    for (p = hit; p >= l->words && zoll_cmp_word(w, p) == 0; p--) {
        if (strncmp(*p, w->data, w->len) == 0) {
            return 1;
        }
    }

    for (p = hit + 1; p < l->words + l->n && zoll_cmp_word(w, p) == 0; p++) {
        if (strncmp(*p, w->data, w->len) == 0) {
            return 1;
        }
    }

    return 0;
}


/* Called by PCRE2 right after a list capture "(?<zlK>word)(?C<K+1>)":
 * 0 lets the match go on, 1 makes PCRE2 backtrack into a shorter word. */

static int
zoll_list_callout(pcre2_callout_block *cb, void *data)
{
    unsigned                   k, g;
    zoll_str_t                 w;
    zoll_callout_ctx_t        *cx = data;
    const zoll_rule_t         *r = cx->rule;

    k = cb->callout_number - 1;

    if (k >= r->nlrefs) {
        return 0;
    }

    g = r->lrefs[k].group;

    if (g >= cb->capture_top || cb->offset_vector[2 * g] == PCRE2_UNSET) {
        return 1;
    }

    w.data = (const char *) cb->subject + cb->offset_vector[2 * g];
    w.len = cb->offset_vector[2 * g + 1] - cb->offset_vector[2 * g];

    return zoll_list_has(&cx->sc->rules->lists[r->lrefs[k].list], &w,
                         (r->pcre_opts & PCRE2_CASELESS) != 0) ? 0 : 1;
}


/* A PCRE2 match of rule ri: its span, if its list words, its validator
 * and its context agree, becomes a candidate (1); else 0. */

static int
zoll_candidate(zoll_scanner_t *sc, unsigned ri, const PCRE2_SIZE *ov)
{
    size_t              s, e;
    zoll_span_t         span;
    const zoll_rule_t  *r = &sc->rules->rules[ri];

    s = ov[2 * r->group];
    e = ov[2 * r->group + 1];

    if (s == PCRE2_UNSET || e <= s || ov[1] - ov[0] > r->max_len) {
        return 0;
    }

    if (r->validate && !r->validate(sc->text + s, e - s)) {
        return 0;
    }

    if (r->ctx_required && !zoll_context(sc, r, s, e)) {
        return 0;
    }

    span.start = s;
    span.end = e;
    span.rule = ri;
    span.entity = r->entity;

    return zoll_span_push(&sc->cand, &sc->ncand, &sc->ccap, &span) == 0
           ? 1 : -1;
}


static size_t
zoll_next_char(const zoll_scanner_t *sc, size_t i)
{
    i++;

    while (i < sc->len && (sc->text[i] & 0xc0) == 0x80) {
        i++;
    }

    return i;
}


/* Global matching of rule ri from pos, for matches that start at or
 * before upto (PCRE2's offset limit, so a search with nothing to find
 * stops there), in a subject cut at lim.  An accepted match consumes its
 * text; a rejected one (list word, validator, context, longer than
 * max_len) does not: the search goes on one character after its start, so
 * "Die Anna Schmidt" still finds "Anna Schmidt" after rejecting "Die
 * Anna". */

static void
zoll_examined(zoll_scanner_t *sc, unsigned ri, size_t upto)
{
    if (sc->examined[ri] < upto) {
        sc->examined[ri] = upto;
    }
}


static int
zoll_match_range(zoll_scanner_t *sc, unsigned ri, size_t pos, size_t upto,
    size_t lim)
{
    int                 rc;
    PCRE2_SIZE         *ov = sc->ov;
    const zoll_rule_t  *r = &sc->rules->rules[ri];

    sc->cx.rule = r;
    pcre2_set_offset_limit(sc->mctx, upto);

    while (pos <= upto && pos < lim) {
        /* the JIT's own entry skips pcre2_match()'s argument checks, a
         * good part of the cost of a search in a short window */
        rc = r->jit ? pcre2_jit_match(r->re, sc->text, lim, pos, 0, sc->md,
                                      sc->mctx)
                    : pcre2_match(r->re, sc->text, lim, pos,
                                  PCRE2_NO_UTF_CHECK, sc->md, sc->mctx);

        if (rc == PCRE2_ERROR_NOMATCH) {
            /* No match starts in [pos, upto].  A rule whose window began
             * at its prefilter's start leaves the text before that start
             * unexamined: a later report may start earlier. */
            if (!r->som) {
                zoll_examined(sc, ri, upto + 1);
            }
            return 0;
        }

        if (rc < 0) {
            return -1;
        }

        if (ov[1] == ov[0]) {
            pos = zoll_next_char(sc, ov[1]);
            continue;
        }

        rc = zoll_candidate(sc, ri, ov);

        if (rc < 0) {
            return -1;
        }

        pos = (rc == 0) ? zoll_next_char(sc, ov[0]) : ov[1];

        if (rc == 1 || !r->som) {
            zoll_examined(sc, ri, pos);
        }
    }

    return 0;
}


static size_t
zoll_char_start(const zoll_scanner_t *sc, size_t i)
{
    while (i < sc->len && (sc->text[i] & 0xc0) == 0x80) {
        i++;
    }

    return i;
}


static int zoll_window(zoll_scanner_t *sc, unsigned ri, size_t ws,
    size_t upto);


/* The earliest start in [ws, to) with at most n spaces after it before
 * "to": just after the (n+1)-th space back from "to", or ws. */

static size_t
zoll_after_spaces(const unsigned char *t, size_t ws, size_t to, int n)
{
    while (to > ws) {
        if (t[--to] == ' ' && n-- == 0) {
            return to + 1;
        }
    }

    return ws;
}


static int
zoll_on_report(unsigned int id, unsigned long long from,
    unsigned long long to, unsigned int flags, void *ctx)
{
    size_t              ws, upto, back;
    zoll_scanner_t     *sc = ctx;
    const zoll_rule_t  *r = &sc->rules->rules[id];

    (void) flags;

    /* a match containing the end of a prefilter match starts at most
     * max_len (or the rule's "lead") before it.  Starts already examined
     * for this rule are not searched again, so dense reports cost one
     * pass, not one window each. */
    if (sc->only >= 0 && id != (unsigned) sc->only) {
        return 0;
    }

    if (r->gate == ZOLL_GATE_CONTEXT) {
        /* a context word ending at "to" vouches for a match whose span
         * ends at most a window before it or starts at most a window
         * after it (zoll_context) */
        back = r->ctx_window + r->max_len;
        ws = to > back ? to - back : 0;
        upto = to + r->ctx_window;

    } else if (r->som) {
        ws = from;              /* the leftmost start of a prefilter match */
        upto = to;

    } else {
        ws = to > r->back ? to - r->back : 0;
        upto = to;

        if (r->lead_spaces >= 0) {
            ws = zoll_after_spaces(sc->text, ws, to, r->lead_spaces);
        }
    }

    if (zoll_window(sc, id, ws, upto) != 0) {
        sc->failed = 1;
        return 1;
    }

    return 0;
}


/* Searches rule ri for matches starting in [ws, upto], after the starts
 * it has examined already; a match ends at most max_len after its start,
 * and another max_len past that lets the pattern's lookaheads see what
 * they would in the whole text. */

static int
zoll_window(zoll_scanner_t *sc, unsigned ri, size_t ws, size_t upto)
{
    size_t              lim;
    const zoll_rule_t  *r = &sc->rules->rules[ri];

    if (ws < sc->examined[ri]) {
        ws = sc->examined[ri];
    }

    if (upto >= sc->len) {
        upto = sc->len - 1;
    }

    if (ws > upto) {
        return 0;
    }

    lim = upto + 2 * r->max_len < sc->len ? upto + 2 * r->max_len : sc->len;

    return zoll_match_range(sc, ri, zoll_char_start(sc, ws), upto,
                            zoll_char_start(sc, lim));
}


/* The digit gate (rules/README.md): one pass finds the runs of digits,
 * each digit at most ZOLL_DIGIT_GAP bytes after the one before, and a rule
 * gated by N digits with lead L searches the starts from L bytes before a
 * run of N or more digits to its N-th digit from the end.  Most text holds
 * few such runs, so number rules cost about one memchr() over it. */

static int
zoll_is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}


/* The first digit at or after i, eight bytes at a time: a word without
 * any byte in ['0', '9'] is skipped whole (bytes >= 0x80 never count). */

static size_t
zoll_next_digit(const unsigned char *t, size_t i, size_t len)
{
    uint64_t  x, lo7;

#ifdef __SSE2__
    /* sixteen bytes at a time where the CPU has SSE2 (every x86-64);
     * signed compares, so bytes >= 0x80 never count */
    __m128i   v, lo = _mm_set1_epi8('0' - 1), hi = _mm_set1_epi8('9' + 1);
    unsigned  bits;

    for ( /* void */ ; i + 16 <= len; i += 16) {
        v = _mm_loadu_si128((const __m128i *) (t + i));
        bits = (unsigned) _mm_movemask_epi8(
                   _mm_and_si128(_mm_cmpgt_epi8(v, lo),
                                 _mm_cmplt_epi8(v, hi)));

        if (bits) {
            return i + __builtin_ctz(bits);
        }
    }
#endif

    for ( /* void */ ; i + 8 <= len; i += 8) {
        memcpy(&x, t + i, 8);
        lo7 = x & (ZOLL_ONES * 0x7f);

        /* the high bit of each byte b < 0x80 with 0x2f < b < 0x3a */
        if (((ZOLL_ONES * (0x7f + 0x3a) - lo7) & ~x
             & (lo7 + ZOLL_ONES * (0x7f - 0x2f)) & ZOLL_HIGHS) != 0)
        {
            break;
        }
    }

    while (i < len && !zoll_is_digit(t[i])) {
        i++;
    }

    return i;
}


/* Could a match of rule r start in [p, last]?  Not if none of its bytes
 * is one a match can start with (zoll_first_bytes). */

static int
zoll_starts_in(const zoll_rule_t *r, const unsigned char *p,
    const unsigned char *last)
{
    for ( /* void */ ; p <= last; p++) {
        if (zoll_bytes_has(r->first, *p)) {
            return 1;
        }
    }

    return 0;
}


/* A match holds N digits of a run, one after the other, so the first of
 * them is at the latest the run's N-th digit from its end, and the match
 * starts at or before that digit: a rule is searched from L bytes before
 * the run's first digit to there, not to the run's last digit, which
 * spares the starts in a long run's tail (an 8-digit phone rule in a
 * 16-digit run tries 9 starts, not 16).  tail[] holds the positions of
 * the run's last 64 digits (a gate needs at most 64). */

static int
zoll_scan_digits(zoll_scanner_t *sc)
{
    size_t              i, j, first, last, n, k, lead, upto, tail[64];
    unsigned            ri;
    const zoll_rule_t  *r;
    const zoll_rules_t *rs = sc->rules;
    const unsigned char *t = sc->text;

    i = zoll_next_digit(t, 0, sc->len);

    while (i < sc->len) {
        first = last = i;
        tail[0] = i;
        n = 1;

        for (j = i + 1; j < sc->len && j - last <= ZOLL_DIGIT_GAP + 1; j++) {
            if (zoll_is_digit(t[j])) {
                last = j;
                tail[n & 63] = j;
                n++;
            }
        }

        i = zoll_next_digit(t, j, sc->len);

        if (n < rs->digit_min) {
            continue;
        }

        for (k = 0; k < rs->ndigit_rules; k++) {
            ri = rs->digit_rules[k];
            r = &rs->rules[ri];

            if (n < r->gate_digits) {
                break;          /* digit_rules are sorted by gate_digits */
            }

            if (sc->only >= 0 && ri != (unsigned) sc->only) {
                continue;
            }

            lead = first > r->gate_lead ? first - r->gate_lead : 0;
            upto = tail[(n - r->gate_digits) & 63];

            if (r->first_known && !zoll_starts_in(r, t + lead, t + upto)) {
                zoll_examined(sc, ri, upto + 1);    /* as PCRE2 would */
                continue;
            }

            if (zoll_window(sc, ri, lead, upto) != 0) {
                return -1;
            }
        }
    }

    return 0;
}


static int
zoll_span_cmp_pos(const void *a, const void *b)
{
    const zoll_span_t  *x = a, *y = b;

    if (x->start != y->start) {
        return x->start < y->start ? -1 : 1;
    }

    if (x->end != y->end) {
        return x->end > y->end ? -1 : 1;
    }

    return x->rule < y->rule ? -1 : (x->rule > y->rule);
}


static int
zoll_span_cmp_rank(const void *a, const void *b, void *arg)
{
    int                  pa, pb;
    const zoll_span_t   *x = a, *y = b;
    const zoll_rules_t  *rs = arg;

    pa = rs->rules[x->rule].priority;
    pb = rs->rules[y->rule].priority;

    if (pa != pb) {
        return pa > pb ? -1 : 1;
    }

    if (x->end - x->start != y->end - y->start) {
        return x->end - x->start > y->end - y->start ? -1 : 1;
    }

    return zoll_span_cmp_pos(a, b);
}


/* Sorts spans by cmp, a total order (ties only between equal spans), so
 * the result is the one qsort() gives; a text's few candidates and a
 * cluster's handful are sorted by insertion, without qsort()'s set-up,
 * which cost more than the sorting at one or two spans a text. */

static void
zoll_span_sort(zoll_span_t *a, size_t n,
    int (*cmp)(const void *, const void *, void *), void *arg)
{
    size_t       i, j;
    zoll_span_t  t;

    if (n > 16) {
        qsort_r(a, n, sizeof(zoll_span_t), cmp, arg);
        return;
    }

    for (i = 1; i < n; i++) {
        t = a[i];

        for (j = i; j > 0 && cmp(&a[j - 1], &t, arg) > 0; j--) {
            a[j] = a[j - 1];
        }

        a[j] = t;
    }
}


static int
zoll_span_cmp_pos_r(const void *a, const void *b, void *arg)
{
    (void) arg;

    return zoll_span_cmp_pos(a, b);
}


/* Overlaps are settled within clusters of candidates that overlap each
 * other transitively; clusters are small (usually one span), so the
 * quadratic pick inside one costs nothing. */

static int
zoll_resolve(zoll_scanner_t *sc)
{
    size_t        i, j, k, a, end, nacc;
    zoll_span_t  *c = sc->cand;

    sc->nout = 0;

    if (sc->ncand == 0) {
        return 0;
    }

    zoll_span_sort(c, sc->ncand, zoll_span_cmp_pos_r, NULL);

    for (i = 0; i < sc->ncand; i = j) {
        end = c[i].end;

        for (j = i + 1; j < sc->ncand && c[j].start < end; j++) {
            if (c[j].end > end) {
                end = c[j].end;
            }
        }

        if (j == i + 1) {
            if (zoll_span_push(&sc->out, &sc->nout, &sc->ocap, &c[i]) != 0) {
                return -1;
            }
            continue;
        }

        zoll_span_sort(c + i, j - i, zoll_span_cmp_rank, (void *) sc->rules);

        a = sc->nout;

        for (k = i; k < j; k++) {
            for (nacc = a; nacc < sc->nout; nacc++) {
                if (c[k].start < sc->out[nacc].end
                    && sc->out[nacc].start < c[k].end)
                {
                    break;
                }
            }

            if (nacc == sc->nout
                && zoll_span_push(&sc->out, &sc->nout, &sc->ocap, &c[k])
                   != 0)
            {
                return -1;
            }
        }

        zoll_span_sort(sc->out + a, sc->nout - a, zoll_span_cmp_pos_r, NULL);
    }

    return 0;
}


static int
zoll_scan_all(zoll_scanner_t *sc, const unsigned char *text, size_t len)
{
    size_t              i, k, n;
    hs_error_t          rc;
    const zoll_rules_t  *rs = sc->rules;

    sc->text = text;
    sc->len = len;
    sc->ncand = 0;
    sc->nout = 0;
    sc->failed = 0;
    memset(sc->examined, 0, rs->nrules * sizeof(size_t));

    if (len == 0) {
        return 0;
    }

    if (sc->mode != ZOLL_SCAN_PCRE_ONLY && rs->db != NULL) {
        rc = hs_scan(rs->db, (const char *) text, (unsigned) len, 0,
                     sc->scratch, zoll_on_report, sc);

        if (sc->failed || (rc != HS_SUCCESS && rc != HS_SCAN_TERMINATED)) {
            return -1;
        }
    }

    if (sc->mode != ZOLL_SCAN_PCRE_ONLY && rs->ndigit_rules
        && zoll_scan_digits(sc) != 0)
    {
        return -1;
    }

    /* PCRE2 over the whole text: every rule on the reference path, on
     * the prefiltered one the rules neither gated by digits nor in the
     * database (rs->whole_rules, in rule order) */
    n = sc->mode == ZOLL_SCAN_PCRE_ONLY ? rs->nrules : rs->nwhole_rules;

    for (k = 0; k < n; k++) {
        i = sc->mode == ZOLL_SCAN_PCRE_ONLY ? k : rs->whole_rules[k];

        if (sc->only >= 0 && i != (size_t) sc->only) {
            continue;
        }

        if (zoll_match_range(sc, (unsigned) i, 0, len, len) != 0) {
            return -1;
        }
    }

    return 0;
}


int
zoll_scan(zoll_scanner_t *sc, const unsigned char *text, size_t len,
    const zoll_span_t **spans, size_t *n)
{
    /* Vectorscan takes lengths as unsigned int; bodies are far smaller */
    if (len > 0xffffffffu) {
        return -1;
    }

    sc->only = -1;

    if (zoll_scan_all(sc, text, len) != 0 || zoll_resolve(sc) != 0) {
        return -1;
    }

    *spans = sc->out;
    *n = sc->nout;
    return 0;
}


int
zoll_scan_rule(zoll_scanner_t *sc, unsigned rule, const unsigned char *text,
    size_t len, const zoll_span_t **spans, size_t *n)
{
    int  rc;

    if (len > 0xffffffffu || rule >= sc->rules->nrules) {
        return -1;
    }

    sc->only = (int) rule;
    rc = zoll_scan_all(sc, text, len);
    sc->only = -1;

    if (rc != 0) {
        return -1;
    }

    if (sc->ncand) {
        zoll_span_sort(sc->cand, sc->ncand, zoll_span_cmp_pos_r, NULL);
    }

    *spans = sc->cand;
    *n = sc->ncand;
    return 0;
}


int
zoll_scan_at(zoll_scanner_t *sc, unsigned ri, const unsigned char *text,
    size_t len, size_t pos, size_t upto, const zoll_span_t **spans,
    size_t *n)
{
    if (len > 0xffffffffu || ri >= sc->rules->nrules || upto >= len
        || pos > upto)
    {
        return -1;
    }

    sc->text = text;
    sc->len = len;
    sc->ncand = 0;

    if (zoll_match_range(sc, ri, pos, upto, len) != 0) {
        return -1;
    }

    *spans = sc->cand;
    *n = sc->ncand;
    return 0;
}
