/*
 * Redaction throughput: the full rule pack against a plain memchr() pass
 * over the same bytes, in one run, on one core.
 *
 *   bench_redact --rules DIR --policy FILE --tenant ID --corpus FILE
 *                [--seconds S] [--rows all|bounds]
 *                [--only scan|pcre|prefilter|searches|ceiling|
 *                        redact|mixed|memchr
 *                 [--repeat N]]
 *
 * Inputs:
 *   - the corpus texts (tests/data/corpus.jsonl), scanned one document at
 *     a time (zoll_scan): one labelled entity every ~80 bytes, the densest
 *     personal data a prompt is likely to hold;
 *   - a chat completion body of about 1 MB whose messages are the corpus
 *     texts, redacted whole (zoll_redact: JSON walk, decode, scan, mask);
 *   - a mixed chat body of about 1 MB: what a coding or document assistant
 *     sends, i.e. pasted files (this repository's own source and
 *     documentation, 4 KB per message) with every fourth message ~1 KB
 *     of corpus texts; its composition is printed.
 * A fourth workload is the floor of the prefiltered path: the Vectorscan
 * pass alone with the pack's own database over the corpus texts, every
 * report counted and none confirmed, i.e. what scanning would cost if
 * PCRE2, the digit gates and the validators were free.  A fifth is the
 * ceiling of any design that confirms with the rules' PCRE2 patterns:
 * the same Vectorscan pass plus one search per span the scan finds, at
 * the start of its match, validator included, as if a perfect prefilter
 * had named every match's rule and start and nothing else (no false
 * candidates, no digit runs, no overlaps to resolve); a sixth, those
 * searches alone, is the ceiling with that prefilter free.  These three
 * read the engine's internals (zoll_internal.h); nothing else does.
 * --rows bounds times the floor and the ceiling alone, for another
 * bench's texts (tests/bench/gateway/run: its bodies' strings).
 * With --only, each selected workload runs once inside bench_work(), so
 * that "valgrind --tool=callgrind --toggle-collect=bench_work" counts the
 * instructions of that work alone (tests/bench/redact/run does this).
 */

#include <zoll.h>
#include "zoll_internal.h"      /* the Vectorscan database: prefilter floor */

#include <glob.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>


#define BENCH_CHAT_BYTES  (1024 * 1024)
#define BENCH_PASTE_CHUNK 4096
#define BENCH_CORPUS_CHUNK 1024


/* pasted into the mixed chat body, relative to the repository root */
static const char *const  bench_paste[] = {
    "README.md", "policy/*.c", "policy/*.h", "ngx_module/*.c",
    "tests/integration/*.py", "rules/README.md", NULL
};


typedef struct {
    char          **docs;
    size_t         *lens;
    size_t          ndocs;
    size_t          bytes;
    char           *chat;
    size_t          chat_len;
    size_t          chat_text;      /* bytes of message text in it */
    char           *mixed;
    size_t          mixed_len;
    size_t          mixed_corpus;   /* bytes of corpus text in it */
    size_t          mixed_paste;    /* bytes of pasted files in it */
    size_t         *hit_doc;        /* the ceiling's searches: document, */
    unsigned       *hit_rule;       /* rule, and match start of each */
    size_t         *hit_start;      /* span the full scan found */
    size_t          nhits;
} bench_input_t;


static volatile size_t  bench_sink;


static double
now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}


static int
load_corpus(const char *path, bench_input_t *in)
{
    char          line[1 << 16];
    FILE         *f;
    json_t       *o, *msgs, *m, *body;
    json_error_t  jerr;
    size_t        cap, i;

    f = fopen(path, "r");
    if (f == NULL) {
        perror(path);
        return -1;
    }

    cap = 0;
    memset(in, 0, sizeof(*in));

    while (fgets(line, sizeof(line), f)) {
        o = json_loads(line, 0, &jerr);
        if (o == NULL || !json_is_string(json_object_get(o, "text"))) {
            fprintf(stderr, "%s: bad line: %s\n", path, jerr.text);
            fclose(f);
            return -1;
        }

        if (in->ndocs == cap) {
            cap = cap ? 2 * cap : 1024;
            in->docs = realloc(in->docs, cap * sizeof(char *));
            in->lens = realloc(in->lens, cap * sizeof(size_t));
        }

        in->lens[in->ndocs] = json_string_length(json_object_get(o, "text"));
        in->docs[in->ndocs] = malloc(in->lens[in->ndocs] + 1);
        memcpy(in->docs[in->ndocs],
               json_string_value(json_object_get(o, "text")),
               in->lens[in->ndocs] + 1);
        in->bytes += in->lens[in->ndocs];
        in->ndocs++;
        json_decref(o);
    }

    fclose(f);

    if (in->ndocs == 0) {
        fprintf(stderr, "%s: empty\n", path);
        return -1;
    }

    /* a chat body: user and assistant turns from the corpus, ~1 MB */
    msgs = json_array();

    for (i = 0; in->chat_text < BENCH_CHAT_BYTES - 8192; i++) {
        m = json_pack("{s:s,s:s}", "role", i % 2 ? "assistant" : "user",
                      "content", in->docs[i % in->ndocs]);
        json_array_append_new(msgs, m);
        in->chat_text += in->lens[i % in->ndocs];
    }

    body = json_pack("{s:s,s:o,s:f}", "model", "gpt-4o", "messages", msgs,
                     "temperature", 0.2);
    in->chat = json_dumps(body, JSON_COMPACT);
    in->chat_len = strlen(in->chat);
    json_decref(body);

    return 0;
}

/* The repository's own files, one after another. */
static char *
load_paste(size_t *len)
{
    char         *buf, *nb;
    FILE         *f;
    size_t        i, n, cap;
    glob_t        g;
    const char  *const *pat;

    buf = NULL;
    cap = 0;
    *len = 0;

    for (pat = bench_paste; *pat; pat++) {
        if (glob(*pat, 0, NULL, &g) != 0) {
            continue;
        }

        for (i = 0; i < g.gl_pathc; i++) {
            f = fopen(g.gl_pathv[i], "r");
            if (f == NULL) {
                continue;
            }

            for ( ;; ) {
                if (cap - *len < 65536) {
                    cap = cap ? 2 * cap : 1 << 20;
                    nb = realloc(buf, cap);
                    if (nb == NULL) {
                        exit(1);
                    }
                    buf = nb;
                }

                n = fread(buf + *len, 1, cap - *len, f);
                if (n == 0) {
                    break;
                }
                *len += n;
            }

            fclose(f);
        }

        globfree(&g);
    }

    return buf;
}


/* A mixed chat body: 4 KB pieces of pasted files (cut after a newline, so
 * each stays valid UTF-8), every fourth message ~1 KB of corpus texts. */
static int
build_mixed(bench_input_t *in)
{
    char    *paste, *text;
    size_t   plen, off, n, i, d, longest;
    json_t  *msgs, *body, *content;

    paste = load_paste(&plen);
    if (paste == NULL || plen < 2 * BENCH_PASTE_CHUNK) {
        fprintf(stderr, "bench_redact: no files to paste (run from the "
                "repository root)\n");
        return -1;
    }

    for (longest = 0, i = 0; i < in->ndocs; i++) {
        longest = in->lens[i] > longest ? in->lens[i] : longest;
    }

    text = malloc(BENCH_CORPUS_CHUNK + longest + 2);
    if (text == NULL) {
        return -1;
    }

    msgs = json_array();
    off = 0;
    d = 0;

    for (i = 0; in->mixed_corpus + in->mixed_paste < BENCH_CHAT_BYTES - 8192;
         i++)
    {
        if (i % 4 == 3) {
            /* about 1 KB of corpus texts, one per paragraph */
            for (n = 0; n < BENCH_CORPUS_CHUNK; d++) {
                memcpy(text + n, in->docs[d % in->ndocs],
                       in->lens[d % in->ndocs]);
                n += in->lens[d % in->ndocs];
                text[n++] = '\n';
                text[n++] = '\n';
            }

            content = json_stringn(text, n);
            in->mixed_corpus += n;

        } else {
            if (off + BENCH_PASTE_CHUNK > plen) {
                off = 0;
            }

            n = BENCH_PASTE_CHUNK;
            while (n > 1 && paste[off + n - 1] != '\n') {
                n--;
            }

            content = json_stringn(paste + off, n);
            in->mixed_paste += n;
            off += n;
        }

        if (content == NULL) {
            fprintf(stderr, "bench_redact: a pasted file is not UTF-8\n");
            return -1;
        }

        json_array_append_new(msgs, json_pack("{s:s,s:o}", "role",
                                              i % 2 ? "assistant" : "user",
                                              "content", content));
    }

    body = json_pack("{s:s,s:o}", "model", "gpt-4o", "messages", msgs);
    in->mixed = json_dumps(body, JSON_COMPACT);
    in->mixed_len = strlen(in->mixed);
    json_decref(body);
    free(paste);
    free(text);

    return 0;
}


typedef struct {
    const char         *only;
    zoll_scanner_t     *fast;
    zoll_scanner_t     *pcre;
    zoll_redactor_t    *rd;
    const zoll_tenant_t *tenant;
    const zoll_rules_t *rs;
    hs_scratch_t       *scratch;
    bench_input_t      *in;
} bench_t;


static size_t
run_scan(zoll_scanner_t *sc, bench_input_t *in)
{
    size_t              i, n, total;
    const zoll_span_t  *spans;

    total = 0;

    for (i = 0; i < in->ndocs; i++) {
        if (zoll_scan(sc, (const unsigned char *) in->docs[i], in->lens[i],
                      &spans, &n) != 0)
        {
            fprintf(stderr, "scan failed\n");
            exit(1);
        }
        total += n;
    }

    return total;
}


static size_t
run_redact(bench_t *b, const char *body, size_t len)
{
    zoll_redaction_t  res;

    if (zoll_redact(b->rd, b->tenant, ZOLL_API_OPENAI,
                    (const unsigned char *) body, len, &res) != ZOLL_OK)
    {
        fprintf(stderr, "redact failed: %s\n", res.reason);
        exit(1);
    }

    return res.redacted;
}


static int
count_report(unsigned int id, unsigned long long from, unsigned long long to,
    unsigned int flags, void *ctx)
{
    (void) id;
    (void) from;
    (void) to;
    (void) flags;

    (*(size_t *) ctx)++;
    return 0;
}


/* the pack's Vectorscan pass over document i, as zoll_scan() runs it
 * first, its reports counted */
static void
prefilter_doc(bench_t *b, size_t i, size_t *reports)
{
    if (hs_scan(b->rs->db, b->in->docs[i], (unsigned) b->in->lens[i], 0,
                b->scratch, count_report, reports) != HS_SUCCESS)
    {
        fprintf(stderr, "hs_scan failed\n");
        exit(1);
    }
}


/* the floor: that pass alone */
static size_t
run_prefilter(bench_t *b)
{
    size_t  i, reports;

    reports = 0;

    for (i = 0; i < b->in->ndocs; i++) {
        prefilter_doc(b, i, &reports);
    }

    return reports;
}


/* one search per span the full scan found in document i, at the start
 * of its match; h: the first of them (hits are in document order) */
static size_t
run_searches_in(bench_t *b, size_t i, size_t *h)
{
    size_t              n, found;
    const zoll_span_t  *spans;
    bench_input_t      *in = b->in;

    for (found = 0; *h < in->nhits && in->hit_doc[*h] == i; (*h)++) {
        if (zoll_scan_at(b->fast, in->hit_rule[*h],
                         (const unsigned char *) in->docs[i], in->lens[i],
                         in->hit_start[*h], in->hit_start[*h], &spans, &n)
            != 0)
        {
            fprintf(stderr, "zoll_scan_at failed\n");
            exit(1);
        }
        found += n;
    }

    return found;
}


/* the ceiling, document by document as zoll_scan() goes: the floor's
 * Vectorscan pass, then the searches; or the searches alone */
static size_t
run_ceiling(bench_t *b, int with_prefilter)
{
    size_t  i, h, found;

    found = 0;

    for (h = 0, i = 0; i < b->in->ndocs; i++) {
        if (with_prefilter) {
            prefilter_doc(b, i, &found);
        }

        found += run_searches_in(b, i, &h);
    }

    return found;
}


/* Where each span the full scan finds has its match start: the first
 * start at most max_len before the span whose search accepts exactly
 * that span.  Returns how many spans no such start was found for. */
static size_t
find_hits(bench_t *b)
{
    size_t              i, k, n, m, s, lo, cap, missed;
    zoll_span_t        *copy;
    const zoll_span_t  *spans, *got;
    bench_input_t      *in = b->in;

    cap = 0;
    missed = 0;

    for (i = 0; i < in->ndocs; i++) {
        if (zoll_scan(b->fast, (const unsigned char *) in->docs[i],
                      in->lens[i], &spans, &n) != 0)
        {
            return (size_t) -1;
        }

        copy = malloc((n + 1) * sizeof(zoll_span_t));
        if (copy == NULL) {
            return (size_t) -1;
        }
        memcpy(copy, spans, n * sizeof(zoll_span_t));

        for (k = 0; k < n; k++) {
            if (in->nhits == cap) {
                cap = cap ? 2 * cap : 4096;
                in->hit_doc = realloc(in->hit_doc, cap * sizeof(size_t));
                in->hit_rule = realloc(in->hit_rule, cap * sizeof(unsigned));
                in->hit_start = realloc(in->hit_start, cap * sizeof(size_t));

                if (in->hit_doc == NULL || in->hit_rule == NULL
                    || in->hit_start == NULL)
                {
                    free(copy);
                    return (size_t) -1;
                }
            }

            lo = copy[k].start > b->rs->rules[copy[k].rule].max_len
                 ? copy[k].start - b->rs->rules[copy[k].rule].max_len : 0;

            for (s = lo; s <= copy[k].start; s++) {
                if (zoll_scan_at(b->fast, copy[k].rule,
                                 (const unsigned char *) in->docs[i],
                                 in->lens[i], s, s, &got, &m) == 0
                    && m > 0 && got[0].start == copy[k].start
                    && got[0].end == copy[k].end)
                {
                    break;
                }
            }

            if (s > copy[k].start) {
                missed++;
                continue;
            }

            in->hit_doc[in->nhits] = i;
            in->hit_rule[in->nhits] = copy[k].rule;
            in->hit_start[in->nhits] = s;
            in->nhits++;
        }

        free(copy);
    }

    return missed;
}


/* the baseline: one memchr() per document for a byte that is not there,
 * i.e. the cheapest possible pass over the same bytes */
static size_t
run_memchr(bench_input_t *in)
{
    size_t  i, hits;

    hits = 0;

    for (i = 0; i < in->ndocs; i++) {
        hits += memchr(in->docs[i], '\x01', in->lens[i]) != NULL;
    }

    return hits;
}


__attribute__((noinline)) void bench_work(bench_t *b);

__attribute__((noinline)) void
bench_work(bench_t *b)
{
    if (strcmp(b->only, "scan") == 0) {
        bench_sink += run_scan(b->fast, b->in);

    } else if (strcmp(b->only, "pcre") == 0) {
        bench_sink += run_scan(b->pcre, b->in);

    } else if (strcmp(b->only, "prefilter") == 0) {
        bench_sink += run_prefilter(b);

    } else if (strcmp(b->only, "searches") == 0) {
        bench_sink += run_ceiling(b, 0);

    } else if (strcmp(b->only, "ceiling") == 0) {
        bench_sink += run_ceiling(b, 1);

    } else if (strcmp(b->only, "redact") == 0) {
        bench_sink += run_redact(b, b->in->chat, b->in->chat_len);

    } else if (strcmp(b->only, "mixed") == 0) {
        bench_sink += run_redact(b, b->in->mixed, b->in->mixed_len);

    } else {
        bench_sink += run_memchr(b->in);
    }
}


/* MB/s of one workload, repeated for at least `seconds` */
static double
measure(bench_t *b, const char *what, size_t bytes, double seconds)
{
    int     rounds;
    double  t0, t;

    b->only = what;
    bench_work(b);                      /* warm up */

    rounds = 0;
    t0 = now();

    do {
        bench_work(b);
        rounds++;
        t = now() - t0;
    } while (t < seconds);

    return (double) bytes * rounds / t / 1e6;
}


int
main(int argc, char **argv)
{
    int             i, repeat;
    char            err[ZOLL_ERR_LEN];
    double          secs, scan, pcre, pre, srch, ceil, redact, mixed, mem;
    size_t          nrules, npre, missed;
    const char     *rules, *policy, *tenant, *corpus, *only, *rows;
    bench_t         b;
    bench_input_t   in;
    zoll_rules_t   *rs;
    zoll_policy_t  *p;

    rules = "rules";
    policy = "config/demo/policy.json";
    tenant = "acme_eu";
    corpus = "tests/data/corpus.jsonl";
    only = NULL;
    rows = "all";
    repeat = 1;
    secs = 2.0;

    for (i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--rules") == 0) {
            rules = argv[i + 1];
        } else if (strcmp(argv[i], "--policy") == 0) {
            policy = argv[i + 1];
        } else if (strcmp(argv[i], "--tenant") == 0) {
            tenant = argv[i + 1];
        } else if (strcmp(argv[i], "--corpus") == 0) {
            corpus = argv[i + 1];
        } else if (strcmp(argv[i], "--seconds") == 0) {
            secs = atof(argv[i + 1]);
        } else if (strcmp(argv[i], "--only") == 0) {
            only = argv[i + 1];
        } else if (strcmp(argv[i], "--rows") == 0) {
            rows = argv[i + 1];
            if (strcmp(rows, "all") != 0 && strcmp(rows, "bounds") != 0) {
                fprintf(stderr, "--rows: all or bounds\n");
                return 2;
            }
        } else if (strcmp(argv[i], "--repeat") == 0) {
            repeat = atoi(argv[i + 1]);
        } else {
            fprintf(stderr, "unknown option %s\n", argv[i]);
            return 2;
        }
    }

    rs = zoll_rules_load(rules, ZOLL_RULES_CACHE_DIR, err, sizeof(err));
    p = zoll_policy_load(policy, err, sizeof(err));

    if (rs == NULL || p == NULL || load_corpus(corpus, &in) != 0
        || (strcmp(rows, "all") == 0 && build_mixed(&in) != 0))
    {
        fprintf(stderr, "bench_redact: %s\n", err);
        return 1;
    }

    b.in = &in;
    b.rs = rs;
    b.scratch = NULL;

    if (rs->db == NULL || hs_alloc_scratch(rs->db, &b.scratch) != HS_SUCCESS)
    {
        fprintf(stderr, "bench_redact: no Vectorscan database\n");
        return 1;
    }

    b.fast = zoll_scanner_new(rs, 0);
    b.pcre = zoll_scanner_new(rs, ZOLL_SCAN_PCRE_ONLY);
    b.rd = zoll_redactor_new(p, 0);
    b.tenant = zoll_policy_tenant_by_id(p, tenant);

    if (b.fast == NULL || b.pcre == NULL || b.rd == NULL || b.tenant == NULL)
    {
        fprintf(stderr, "bench_redact: setup failed\n");
        return 1;
    }

    /* the ceiling's spans: a scan and up to max_len searches for each,
     * done only where they are timed or counted */
    missed = (only == NULL || strcmp(only, "searches") == 0
              || strcmp(only, "ceiling") == 0) ? find_hits(&b) : 0;

    if (missed == (size_t) -1) {
        fprintf(stderr, "bench_redact: the ceiling's spans: scan failed or "
                "out of memory\n");
        return 1;
    }

    if (only) {
        b.only = only;
        for (i = 0; i < repeat; i++) {
            bench_work(&b);
        }
        printf("bytes %zu\n", strcmp(only, "redact") == 0 ? in.chat_len
                               : strcmp(only, "mixed") == 0 ? in.mixed_len
                               : in.bytes);
        return 0;
    }

    if (strcmp(rows, "bounds") == 0) {
        pre = measure(&b, "prefilter", in.bytes, secs);
        ceil = measure(&b, "ceiling", in.bytes, secs);
        printf("texts: %zu, %zu bytes, %zu spans found\n", in.ndocs,
               in.bytes, in.nhits + missed);
        printf("floor %.1f MB/s\nceiling %.1f MB/s\n", pre, ceil);
        return 0;
    }

    nrules = zoll_rules_count(rs, &npre);

    printf("corpus: %zu documents, %zu bytes; chat body: %zu bytes "
           "(%zu of them message text)\n", in.ndocs, in.bytes, in.chat_len,
           in.chat_text);
    printf("mixed chat body: %zu bytes (%zu of pasted files, %zu of "
           "corpus text)\n", in.mixed_len, in.mixed_paste, in.mixed_corpus);
    printf("rules: %zu, %zu of them prefiltered (Vectorscan or a gate)\n",
           nrules, npre);
    printf("spans found in the corpus texts: %zu (one every %.0f bytes), "
           "%zu without a start that finds them alone\n",
           in.nhits + missed, (double) in.bytes / (in.nhits + missed + 1),
           missed);

    mem = measure(&b, "memchr", in.bytes, secs);
    scan = measure(&b, "scan", in.bytes, secs);
    pcre = measure(&b, "pcre", in.bytes, secs);
    pre = measure(&b, "prefilter", in.bytes, secs);
    srch = measure(&b, "searches", in.bytes, secs);
    ceil = measure(&b, "ceiling", in.bytes, secs);
    redact = measure(&b, "redact", in.chat_len, secs);
    mixed = measure(&b, "mixed", in.mixed_len, secs);

    printf("%-44s %10.1f MB/s\n", "memchr baseline (corpus texts)", mem);
    printf("%-44s %10.1f MB/s\n", "scan, full pack, prefiltered (corpus)",
           scan);
    printf("%-44s %10.1f MB/s\n", "scan, full pack, PCRE2 only (corpus)",
           pcre);
    printf("%-44s %10.1f MB/s\n", "Vectorscan pass alone (corpus; floor)",
           pre);
    printf("%-44s %10.1f MB/s\n", "1 search a span found, alone (corpus)",
           srch);
    printf("%-44s %10.1f MB/s\n", "Vectorscan + 1 search a span (ceiling)",
           ceil);
    printf("%-44s %10.1f MB/s\n", "redact 1 MB chat body (JSON, mask)",
           redact);
    printf("%-44s %10.1f MB/s\n", "redact 1 MB mixed chat body (JSON, mask)",
           mixed);
    printf("ratio scan/memchr: %.4f; mixed/memchr: %.4f\n", scan / mem,
           mixed / mem);
    printf("ratio prefiltered/pcre-only: %.2f; prefiltered/floor: %.2f; "
           "prefiltered/ceiling: %.2f\n", scan / pcre, scan / pre,
           scan / ceil);

    hs_free_scratch(b.scratch);
    zoll_scanner_free(b.fast);
    zoll_scanner_free(b.pcre);
    zoll_redactor_free(b.rd);
    zoll_rules_free(rs);
    zoll_policy_free(p);
    return 0;
}
