/*
 * zollctl report FILE... [--since DATE] [--until DATE] [--tenant ID]
 *                        [--format text|json|html]
 *
 * Summarises transfer logs the way an Art. 30 record and a transfer impact
 * assessment need them.  The files are read once; every record that passes
 * the tenant and period filters is added to counters, and the counters
 * become one JSON document, the report model, which the renderers show.
 *
 * Filtering happens before anything is counted, so a tenant's report is
 * built from that tenant's records only: nothing of another tenant (not
 * even how many records it has) can reach any format.
 *
 * The report does not verify the hash chain; "zollctl verify" does.
 */

#include "zoll_report.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>


#define ZR_BAD_SHOWN     20      /* unreadable lines named on stderr */
#define ZR_REASONS_MAX   50      /* distinct reasons kept per refusal code */

#define ZR_TIME_NONE     INT64_MIN


typedef struct {
    /* options */
    const char   *tenant;
    int64_t       since;            /* ms, inclusive, or ZR_TIME_NONE */
    int64_t       until;            /* ms, exclusive, or ZR_TIME_NONE */

    /* unreadable lines */
    size_t        bad;

    /* the key of the row being counted (zr_key) */
    char         *key;
    size_t        key_len;
    size_t        key_cap;

    /* counters */
    int64_t       first;            /* ms of the first and last record */
    int64_t       last;             /* in the report, or ZR_TIME_NONE */
    json_t       *read;             /* event -> records read */
    json_t       *kept;             /* event -> records in the report */
    json_t       *totals;
    json_t       *tenants;          /* identity key -> entry */
    json_t       *flows;
    json_t       *sps;
    json_t       *countries;
    json_t       *bases;
    json_t       *categories;
    json_t       *measures;
    json_t       *refusals;
    json_t       *days;
    json_t       *outcomes;
} zr_ctx_t;


/* helpers shared with the renderers */

void *
zr_alloc(size_t n)
{
    void  *p;

    p = malloc(n ? n : 1);
    if (p == NULL) {
        /* a report with silently missing counts would be worse */
        fprintf(stderr, "zollctl report: out of memory\n");
        exit(1);
    }

    return p;
}


char *
zr_printf(const char *fmt, ...)
{
    int       n;
    char     *s;
    va_list   ap;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);

    s = zr_alloc((size_t) (n < 0 ? 0 : n) + 1);

    va_start(ap, fmt);
    vsnprintf(s, (size_t) n + 1, fmt, ap);
    va_end(ap);

    return s;
}


const char *
zr_str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}


json_int_t
zr_int(const json_t *o, const char *key)
{
    return json_integer_value(json_object_get(o, key));
}


/* Thousands separated by commas: counts are read by people. */

void
zr_num(json_int_t v, char *buf, size_t len)
{
    char    digits[32];
    size_t  n, i, o;

    n = (size_t) snprintf(digits, sizeof(digits), "%lld", (long long) v);
    o = 0;

    for (i = 0; i < n && o + 2 < len; i++) {
        if (i > 0 && digits[i - 1] != '-' && (n - i) % 3 == 0) {
            buf[o++] = ',';
        }

        buf[o++] = digits[i];
    }

    buf[o] = '\0';
}


/* Proleptic Gregorian days since 1970-01-01 (H. Hinnant's algorithm):
 * no timegm(), no TZ environment, no locale. */

int64_t
zr_days_from_civil(int y, int m, int d)
{
    int64_t   era;
    unsigned  yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = (unsigned) (y - era * 400);
    doy = (153 * (unsigned) (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

    return era * 146097 + (int64_t) doe - 719468;
}


static void
zr_civil(int64_t z, int *y, int *m, int *d)
{
    int64_t   era;
    unsigned  doe, yoe, doy, mp;

    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = (unsigned) (z - era * 146097);
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;

    *d = (int) (doy - (153 * mp + 2) / 5 + 1);
    *m = (int) (mp < 10 ? mp + 3 : mp - 9);
    *y = (int) ((int64_t) yoe + era * 400 + (*m <= 2));
}


void
zr_date(int64_t days, char buf[11])
{
    int  y, m, d;

    zr_civil(days, &y, &m, &d);
    /* the compiler cannot know the ranges; the modulos tell it */
    snprintf(buf, 11, "%04u-%02u-%02u", (unsigned) y % 10000,
             (unsigned) m % 100, (unsigned) d % 100);
}


static int64_t
zr_floor_div(int64_t a, int64_t b)
{
    return a >= 0 ? a / b : -((-a - 1) / b) - 1;
}


static void
zr_iso(int64_t ms, int frac, char *buf, size_t len)
{
    int64_t  days, rest;
    char     date[11];

    days = zr_floor_div(ms, 86400000);
    rest = ms - days * 86400000;
    zr_date(days, date);

    if (frac) {
        snprintf(buf, len, "%sT%02d:%02d:%02d.%03dZ", date,
                 (int) (rest / 3600000), (int) (rest / 60000 % 60),
                 (int) (rest / 1000 % 60), (int) (rest % 1000));

    } else {
        snprintf(buf, len, "%sT%02d:%02d:%02dZ", date,
                 (int) (rest / 3600000), (int) (rest / 60000 % 60),
                 (int) (rest / 1000 % 60));
    }
}


static int
zr_digits(const char *s, int n, int *v)
{
    int  i;

    *v = 0;

    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }

        *v = *v * 10 + (s[i] - '0');
    }

    return 0;
}


/*
 * "YYYY-MM-DD" (midnight), "YYYY-MM-DDTHH:MM:SSZ" and, as the gateway
 * writes it, "YYYY-MM-DDTHH:MM:SS.fffZ" (any number of fraction digits,
 * milliseconds kept).  UTC only: a report must not depend on the reader's
 * time zone.
 */

int
zr_parse_time(const char *s, int64_t *ms)
{
    int      y, mo, d, h, mi, sec, yy, mm, dd, frac, i;
    int64_t  days;

    if (s == NULL
        || zr_digits(s, 4, &y) != 0 || s[4] != '-'
        || zr_digits(s + 5, 2, &mo) != 0 || s[7] != '-'
        || zr_digits(s + 8, 2, &d) != 0
        || mo < 1 || mo > 12 || d < 1 || d > 31)
    {
        return -1;
    }

    days = zr_days_from_civil(y, mo, d);

    /* 2026-02-30 would silently become March 2nd */
    zr_civil(days, &yy, &mm, &dd);
    if (yy != y || mm != mo || dd != d) {
        return -1;
    }

    h = mi = sec = frac = 0;
    s += 10;

    if (*s != '\0') {
        if (s[0] != 'T'
            || zr_digits(s + 1, 2, &h) != 0 || s[3] != ':'
            || zr_digits(s + 4, 2, &mi) != 0 || s[6] != ':'
            || zr_digits(s + 7, 2, &sec) != 0
            || h > 23 || mi > 59 || sec > 59)
        {
            return -1;
        }

        s += 9;

        if (*s == '.') {
            for (i = 0, s++; *s >= '0' && *s <= '9'; i++, s++) {
                if (i < 3) {
                    frac = frac * 10 + (*s - '0');
                }
            }

            if (i == 0) {
                return -1;
            }

            for ( /* void */ ; i < 3; i++) {
                frac *= 10;
            }
        }

        if (s[0] != 'Z' || s[1] != '\0') {
            return -1;
        }
    }

    *ms = ((days * 24 + h) * 60 + mi) * 60000 + (int64_t) sec * 1000 + frac;
    return 0;
}


/* "2026-11-22 16:22:47 UTC" from a record's or the model's ISO time */

void
zr_when(const char *iso, char *buf, size_t len)
{
    int64_t  ms, days, rest;
    char     date[11];

    if (zr_parse_time(iso, &ms) != 0) {
        snprintf(buf, len, "%s", iso ? iso : "-");
        return;
    }

    days = zr_floor_div(ms, 86400000);
    rest = ms - days * 86400000;
    zr_date(days, date);
    snprintf(buf, len, "%s %02d:%02d:%02d UTC", date, (int) (rest / 3600000),
             (int) (rest / 60000 % 60), (int) (rest / 1000 % 60));
}


/* counters */

static void
zr_add(json_t *o, const char *key, json_int_t n)
{
    json_t  *v;

    v = json_object_get(o, key);

    if (v == NULL) {
        json_object_set_new(o, key, json_integer(n));

    } else {
        json_integer_set(v, json_integer_value(v) + n);
    }
}


static void
zr_key_raw(zr_ctx_t *c, const char *s, size_t n)
{
    char  *p;

    if (c->key_len + n + 1 > c->key_cap) {
        c->key_cap = (c->key_len + n + 1) * 2;
        p = zr_alloc(c->key_cap);
        memcpy(p, c->key, c->key_len);
        free(c->key);
        c->key = p;
    }

    memcpy(c->key + c->key_len, s, n);
    c->key_len += n;
    c->key[c->key_len] = '\0';
}


/*
 * The key of a row: its identifying fields, each as a type letter and,
 * for a string, its length before its bytes, so that no content can make
 * two rows collide.  Built in one buffer: counting a row that exists
 * allocates nothing, which matters on a year of logs.
 */

static const char *
zr_key(zr_ctx_t *c, size_t n, ...)
{
    char           num[32];
    size_t         i;
    va_list        ap;
    const json_t  *v;

    c->key_len = 0;
    zr_key_raw(c, "", 0);
    va_start(ap, n);

    for (i = 0; i < n; i++) {
        v = va_arg(ap, const json_t *);

        if (json_is_string(v)) {
            snprintf(num, sizeof(num), "s%zu:", json_string_length(v));
            zr_key_raw(c, num, strlen(num));
            zr_key_raw(c, json_string_value(v), json_string_length(v));

        } else if (json_is_integer(v)) {
            snprintf(num, sizeof(num), "i%lld;",
                     (long long) json_integer_value(v));
            zr_key_raw(c, num, strlen(num));

        } else {
            /* null, absent, or a type no record has there */
            zr_key_raw(c, json_is_true(v) ? "t" : json_is_false(v) ? "f"
                                                                   : "n", 1);
        }
    }

    va_end(ap);
    return c->key;
}


/* a new row of a map; the caller looked it up first */

static json_t *
zr_row(json_t *map, const char *key, json_t *fresh)
{
    /* keys and values come from parsed UTF-8, so only a failed
     * allocation is left, and then no count may be silently lost */
    if (fresh == NULL || json_object_set_new(map, key, fresh) != 0) {
        fprintf(stderr, "zollctl report: out of memory\n");
        exit(1);
    }

    return fresh;
}


/* a record's field as a new reference for json_pack's "o": null when
 * absent, so that a missing field and a null one count alike */

static json_t *
zr_field(const json_t *o, const char *key)
{
    json_t  *v;

    v = json_object_get(o, key);
    return v ? json_incref(v) : json_null();
}


static void
zr_count_categories(json_t *to, const json_t *cats, const char *key)
{
    const char  *name;
    json_t      *n, *e;

    json_object_foreach((json_t *) cats, name, n) {
        if (!json_is_integer(n) || json_integer_value(n) <= 0) {
            continue;
        }

        e = json_object_get(to, name);

        if (e == NULL) {
            e = zr_row(to, name,
                       json_pack("{s:s, s:i, s:i, s:i, s:i, s:i}",
                                 "category", name, "requests", 0, "found", 0,
                                 "redacted", 0, "sent_in_clear", 0,
                                 "found_in_refused", 0));
        }

        zr_add(e, key, json_integer_value(n));

        if (strcmp(key, "found") == 0) {
            zr_add(e, "requests", 1);
        }
    }
}


/*
 * Values sent in clear per category.  The gateway lists the categories
 * whose operator is "keep" (every value of such a category is sent as it
 * is, so their count is the number found); a count per category is taken
 * as it is, should a later record format give one.
 */

static json_t *
zr_clear_counts(const json_t *clear, const json_t *cats)
{
    size_t       i;
    json_t      *out, *v;
    const char  *name;

    out = json_object();

    if (json_is_object(clear)) {
        json_object_foreach((json_t *) clear, name, v) {
            if (json_is_integer(v) && json_integer_value(v) > 0) {
                zr_add(out, name, json_integer_value(v));
            }
        }

    } else if (json_is_array(clear)) {
        json_array_foreach(clear, i, v) {
            name = json_string_value(v);

            if (name && json_integer_value(json_object_get(cats, name)) > 0) {
                zr_add(out, name,
                       json_integer_value(json_object_get(cats, name)));
            }
        }
    }

    return out;
}


/*
 * Redacted values per category: every value found in a forwarded request
 * was redacted unless its category was sent in clear (a "block" refuses
 * the request, so it never appears in a forwarded one).  A per-category
 * "redactions" object, should a later record format write one, wins.
 */

static json_t *
zr_redacted_counts(const json_t *r, const json_t *cats, const json_t *clear)
{
    json_t      *out, *v, *red;
    const char  *name;
    json_int_t   n;

    out = json_object();
    red = json_object_get(r, "redactions");

    json_object_foreach(json_is_object(red) ? red : (json_t *) cats, name,
                        v)
    {
        n = json_integer_value(v);

        if (!json_is_object(red)) {
            n -= json_integer_value(json_object_get(clear, name));
        }

        if (json_is_integer(v) && n > 0) {
            zr_add(out, name, n);
        }
    }

    return out;
}


static json_int_t
zr_sum(const json_t *o)
{
    const char  *name;
    json_t      *v;
    json_int_t   n;

    n = 0;

    json_object_foreach((json_t *) o, name, v) {
        n += json_integer_value(v);
    }

    return n;
}


static void
zr_merge(json_t *to, const char *key, const json_t *counts)
{
    const char  *name;
    json_t      *v, *sub;

    sub = json_object_get(to, key);

    json_object_foreach((json_t *) counts, name, v) {
        if (json_is_integer(v) && json_integer_value(v) > 0) {
            zr_add(sub, name, json_integer_value(v));
        }
    }
}


static json_t *
zr_day(zr_ctx_t *c, const char *date)
{
    json_t  *e;

    e = json_object_get(c->days, date);

    if (e == NULL) {
        e = zr_row(c->days, date,
                   json_pack("{s:s, s:i, s:i, s:i, s:{}, s:{}}",
                             "date", date, "transfers", 0, "refusals", 0,
                             "redactions", 0, "countries", "legal_bases"));
    }

    return e;
}


static json_t *
zr_tenant(zr_ctx_t *c, const json_t *r)
{
    json_t      *e;
    const char  *k;

    k = zr_key(c, 1, json_object_get(r, "tenant"));
    e = json_object_get(c->tenants, k);

    if (e == NULL) {
        e = zr_row(c->tenants, k,
                   json_pack("{s:o, s:i, s:i, s:i, s:i, s:i}",
                             "tenant", zr_field(r, "tenant"),
                             "transfers", 0, "third_country_transfers", 0,
                             "refusals", 0, "personal_data_found", 0,
                             "redactions", 0));
    }

    return e;
}


static json_t *
zr_subprocessor(zr_ctx_t *c, const json_t *sp)
{
    json_t      *e;
    const char  *k;

    k = zr_key(c, 2, json_object_get(sp, "id"),
               json_object_get(sp, "legal_name"));
    e = json_object_get(c->sps, k);

    if (e == NULL) {
        e = zr_row(c->sps, k,
                   json_pack("{s:o, s:o, s:i, s:i}", "id", zr_field(sp, "id"),
                             "legal_name", zr_field(sp, "legal_name"),
                             "transfers", 0, "refusals", 0));
    }

    return e;
}


/* only the fields this zollctl knows, so the output keeps its shape */

static json_t *
zr_basis(const json_t *lb)
{
    if (!json_is_object(lb)) {
        return json_null();
    }

    return json_pack("{s:o, s:o, s:o, s:o}", "id", zr_field(lb, "id"),
                     "article", zr_field(lb, "article"),
                     "instrument", zr_field(lb, "instrument"),
                     "module", zr_field(lb, "module"));
}


/* the flows are listed by tenant, subprocessor, endpoint, country and
 * basis: "sort" holds that order until the model is built */

static json_t *
zr_flow(const json_t *r, const json_t *sp, const json_t *lb)
{
    char    *sort;
    json_t  *flow;

    sort = zr_printf("%s\x01%s\x01%s\x01%s\x01%s",
                     zr_label_or(zr_str(r, "tenant"), ""),
                     zr_label_or(zr_str(sp, "id"), ""),
                     zr_label_or(zr_str(r, "endpoint"), ""),
                     zr_label_or(zr_str(r, "country"), ""),
                     zr_label_or(zr_str(lb, "id"), ""));

    flow = json_pack("{s:o, s:{s:o, s:o}, s:o, s:o, s:o, s:o, s:i, s:{},"
                     " s:{}, s:{}, s:i, s:s}",
                     "tenant", zr_field(r, "tenant"),
                     "subprocessor", "id", zr_field(sp, "id"),
                     "legal_name", zr_field(sp, "legal_name"),
                     "endpoint", zr_field(r, "endpoint"),
                     "country", zr_field(r, "country"),
                     "third_country", zr_field(r, "third_country"),
                     "legal_basis", zr_basis(lb),
                     "transfers", 0, "data_categories",
                     "supplementary_measures", "sent_in_clear",
                     "redactions", 0, "sort", sort);
    free(sort);
    return flow;
}


static void
zr_forwarded(zr_ctx_t *c, const json_t *r, const char *date)
{
    int          third;
    size_t       i;
    json_t      *sp, *lb, *cats, *clear, *red, *flow, *e, *day, *m;
    const char  *name, *k;
    json_int_t   found, redacted;

    sp = json_object_get(r, "subprocessor");
    lb = json_object_get(r, "legal_basis");
    cats = json_object_get(r, "data_categories");
    third = json_is_true(json_object_get(r, "third_country"));

    if (!json_is_object(cats)) {
        cats = NULL;
    }

    clear = zr_clear_counts(json_object_get(r, "sent_in_clear"), cats);
    red = zr_redacted_counts(r, cats, clear);
    found = zr_sum(cats);
    redacted = zr_sum(red);

    zr_add(c->totals, "transfers", 1);
    zr_add(c->totals, "third_country_transfers", third);
    zr_add(c->totals, "personal_data_found", found);
    zr_add(c->totals, "redactions", redacted);

    e = zr_tenant(c, r);
    zr_add(e, "transfers", 1);
    zr_add(e, "third_country_transfers", third);
    zr_add(e, "personal_data_found", found);
    zr_add(e, "redactions", redacted);

    zr_add(zr_subprocessor(c, sp), "transfers", 1);

    k = zr_key(c, 2, json_object_get(r, "country"),
               json_object_get(r, "third_country"));
    e = json_object_get(c->countries, k);

    if (e == NULL) {
        e = zr_row(c->countries, k,
                   json_pack("{s:o, s:o, s:i}",
                             "country", zr_field(r, "country"),
                             "third_country", zr_field(r, "third_country"),
                             "transfers", 0));
    }

    zr_add(e, "transfers", 1);

    k = zr_key(c, 4, json_object_get(lb, "id"),
               json_object_get(lb, "article"),
               json_object_get(lb, "instrument"),
               json_object_get(lb, "module"));
    e = json_object_get(c->bases, k);

    if (e == NULL) {
        e = zr_row(c->bases, k,
                   json_pack("{s:o, s:o, s:o, s:o, s:i}",
                             "id", zr_field(lb, "id"),
                             "article", zr_field(lb, "article"),
                             "instrument", zr_field(lb, "instrument"),
                             "module", zr_field(lb, "module"),
                             "transfers", 0));
    }

    zr_add(e, "transfers", 1);

    /* one row of the Art. 30 view: who, to whom, where, on which basis */
    k = zr_key(c, 10, json_object_get(r, "tenant"),
               json_object_get(sp, "id"), json_object_get(sp, "legal_name"),
               json_object_get(r, "endpoint"), json_object_get(r, "country"),
               json_object_get(r, "third_country"),
               json_object_get(lb, "id"), json_object_get(lb, "article"),
               json_object_get(lb, "instrument"),
               json_object_get(lb, "module"));
    flow = json_object_get(c->flows, k);

    if (flow == NULL) {
        flow = zr_row(c->flows, k, zr_flow(r, sp, lb));
    }

    zr_add(flow, "transfers", 1);
    zr_add(flow, "redactions", redacted);

    if (cats) {
        zr_merge(flow, "data_categories", cats);
        zr_count_categories(c->categories, cats, "found");
    }

    zr_merge(flow, "sent_in_clear", clear);
    zr_count_categories(c->categories, clear, "sent_in_clear");
    zr_count_categories(c->categories, red, "redacted");

    json_array_foreach(json_object_get(r, "supplementary_measures"), i, m) {
        name = json_string_value(m);

        if (name) {
            zr_add(json_object_get(flow, "supplementary_measures"), name, 1);
            e = json_object_get(c->measures, name);

            if (e == NULL) {
                e = zr_row(c->measures, name,
                           json_pack("{s:s, s:i}", "measure", name,
                                     "requests", 0));
            }

            zr_add(e, "requests", 1);
        }
    }

    day = zr_day(c, date);
    zr_add(day, "transfers", 1);
    zr_add(day, "redactions", redacted);
    zr_add(json_object_get(day, "countries"),
           zr_label_or(zr_str(r, "country"), "(unknown)"), 1);
    zr_add(json_object_get(day, "legal_bases"),
           zr_label_or(zr_str(lb, "id"), "(none)"), 1);

    json_decref(clear);
    json_decref(red);
}


static void
zr_refused(zr_ctx_t *c, const json_t *r, const char *date)
{
    json_t      *sp, *e, *reasons, *cats;
    const char  *reason, *k;

    sp = json_object_get(r, "subprocessor");

    zr_add(c->totals, "refusals", 1);
    zr_add(zr_tenant(c, r), "refusals", 1);

    zr_add(zr_subprocessor(c, sp), "refusals", 1);

    k = zr_key(c, 2, json_object_get(r, "status"), json_object_get(r, "code"));
    e = json_object_get(c->refusals, k);

    if (e == NULL) {
        e = zr_row(c->refusals, k,
                   json_pack("{s:o, s:o, s:i, s:{}, s:i}",
                             "status", zr_field(r, "status"),
                             "code", zr_field(r, "code"), "refusals", 0,
                             "reasons", "other_reasons", 0));
    }

    zr_add(e, "refusals", 1);

    /* reasons quote client input (a Content-Type, a byte offset), so
     * their variety is bounded: the rest is counted, not listed */
    reason = zr_label_or(zr_str(r, "reason"), "(none given)");
    reasons = json_object_get(e, "reasons");

    if (json_object_get(reasons, reason)
        || json_object_size(reasons) < ZR_REASONS_MAX)
    {
        zr_add(reasons, reason, 1);

    } else {
        zr_add(e, "other_reasons", 1);
    }

    /* found, but nothing was sent (e.g. a category the profile blocks) */
    cats = json_object_get(r, "data_categories");
    if (json_is_object(cats)) {
        zr_count_categories(c->categories, cats, "found_in_refused");
    }

    zr_add(zr_day(c, date), "refusals", 1);
}


static void
zr_outcome(zr_ctx_t *c, const json_t *r)
{
    char     status[32];
    json_t  *up, *st;

    st = json_object_get(r, "status");
    up = json_object_get(r, "upstream_status");

    zr_add(c->outcomes, "records", 1);

    if (json_is_integer(st)) {
        snprintf(status, sizeof(status), "%lld",
                 (long long) json_integer_value(st));
        zr_add(json_object_get(c->outcomes, "by_status"), status, 1);
    }

    if (!json_is_integer(up)) {
        zr_add(c->outcomes, "no_upstream_response", 1);

    } else if (json_integer_value(up) >= 500) {
        zr_add(c->outcomes, "upstream_errors", 1);
    }

    zr_add(c->outcomes, "request_bytes", zr_int(r, "request_bytes"));
    zr_add(c->outcomes, "response_bytes", zr_int(r, "response_bytes"));
}


/* reading */

static void
zr_bad(zr_ctx_t *c, const char *file, size_t line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
zr_bad(zr_ctx_t *c, const char *file, size_t line, const char *fmt, ...)
{
    va_list  ap;

    if (c->bad++ >= ZR_BAD_SHOWN) {
        return;
    }

    fprintf(stderr, "zollctl report: %s:%zu: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}


static int
zr_known_event(const char *event)
{
    return strcmp(event, "decision") == 0 || strcmp(event, "outcome") == 0;
}


static void
zr_record(zr_ctx_t *c, const json_t *r, const char *file, size_t line)
{
    char         date[11];
    int          timed;
    json_t      *v;
    int64_t      ms;
    const char  *event, *decision;

    event = zr_str(r, "event");
    v = json_object_get(r, "v");

    if (!json_is_object(r) || event == NULL) {
        zr_bad(c, file, line, "not a transfer record (no \"event\")");
        return;
    }

    /* a new version means changed meanings, not just new fields */
    if (v && (!json_is_integer(v) || json_integer_value(v) != 1)) {
        if (json_is_integer(v)) {
            zr_bad(c, file, line, "record version %lld is not known to "
                   "this zollctl", (long long) json_integer_value(v));

        } else {
            zr_bad(c, file, line, "record version is not a number");
        }

        return;
    }

    if (c->tenant && (zr_str(r, "tenant") == NULL
                      || strcmp(zr_str(r, "tenant"), c->tenant) != 0))
    {
        return;
    }

    timed = zr_parse_time(zr_str(r, "time"), &ms) == 0;

    if (!timed && zr_known_event(event)) {
        zr_bad(c, file, line, "%s record without a valid \"time\"", event);
        return;
    }

    zr_add(c->read, event, 1);

    /* an unknown event without a time cannot be placed in a period */
    if ((c->since != ZR_TIME_NONE || c->until != ZR_TIME_NONE) && !timed) {
        return;
    }

    if (timed && ((c->since != ZR_TIME_NONE && ms < c->since)
                  || (c->until != ZR_TIME_NONE && ms >= c->until)))
    {
        return;
    }

    zr_add(c->kept, event, 1);

    if (timed) {
        if (c->first == ZR_TIME_NONE || ms < c->first) {
            c->first = ms;
        }

        if (c->last == ZR_TIME_NONE || ms > c->last) {
            c->last = ms;
        }
    }

    if (strcmp(event, "outcome") == 0) {
        zr_outcome(c, r);
        return;
    }

    if (strcmp(event, "decision") != 0) {
        return;     /* checkpoints and later events: counted only */
    }

    zr_date(zr_floor_div(ms, 86400000), date);
    decision = zr_label_or(zr_str(r, "decision"), "");
    zr_add(c->totals, "decisions", 1);

    if (strcmp(decision, "forwarded") == 0) {
        zr_forwarded(c, r, date);

    } else if (strcmp(decision, "refused") == 0) {
        zr_refused(c, r, date);

    } else {
        zr_add(c->totals, "other_decisions", 1);
    }
}


static int
zr_read(zr_ctx_t *c, const char *path)
{
    int            complete, rc;
    FILE          *f;
    char          *buf;
    size_t         cap, line;
    json_t        *r;
    ssize_t        n;
    json_error_t   err;

    f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "zollctl report: %s: %s\n", path, strerror(errno));
        return -1;
    }

    buf = NULL;
    cap = 0;
    line = 0;

    while ((n = getline(&buf, &cap, f)) != -1) {
        line++;
        complete = n > 0 && buf[n - 1] == '\n';

        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) {
            n--;
        }

        /* duplicate keys are refused: two "tenant" fields could make one
         * reader count a record for another tenant than the next does */
        r = json_loadb(buf, (size_t) n, JSON_REJECT_DUPLICATES, &err);

        if (r == NULL) {
            zr_bad(c, path, line, "not valid JSON: %s (column %d)%s",
                   err.text, err.column,
                   complete ? ""
                            : "; the last line has no newline: was the "
                              "file still being written?");
            continue;
        }

        zr_record(c, r, path, line);
        json_decref(r);
    }

    rc = 0;

    if (ferror(f)) {
        fprintf(stderr, "zollctl report: %s: read error after line %zu\n",
                path, line);
        rc = -1;
    }

    free(buf);

    if (f != stdin) {
        fclose(f);
    }

    return rc;
}


/* the model */

typedef struct {
    json_int_t   n;
    const char  *name;
    json_t      *o;
} zr_sort_t;


static int
zr_cmp(const void *a, const void *b)
{
    const zr_sort_t  *x = a, *y = b;

    if (x->n != y->n) {
        return x->n > y->n ? -1 : 1;
    }

    /* null (no tenant, no basis) sorts last */
    if (x->name == NULL || y->name == NULL) {
        return (x->name == NULL) - (y->name == NULL);
    }

    return strcmp(x->name, y->name);
}


/* the rows of a map as an array: largest count first, then by name
 * (count NULL: by name only) */

static json_t *
zr_sorted(json_t *map, const char *count, const char *name)
{
    size_t       n, i;
    json_t      *out, *v;
    zr_sort_t   *s;
    const char  *key;

    n = json_object_size(map);
    s = zr_alloc(n * sizeof(zr_sort_t));
    i = 0;

    json_object_foreach(map, key, v) {
        s[i].n = count ? zr_int(v, count) : 0;
        s[i].name = zr_str(v, name);
        s[i].o = v;
        i++;
    }

    qsort(s, n, sizeof(zr_sort_t), zr_cmp);
    out = json_array();

    for (i = 0; i < n; i++) {
        json_array_append(out, s[i].o);
    }

    free(s);
    return out;
}


/* a small name -> count map with its keys in order, for stable output */

static json_t *
zr_ordered(const json_t *map)
{
    json_t      *out, *v, *tmp, *a;
    size_t       i;
    const char  *key;

    tmp = json_object();

    json_object_foreach((json_t *) map, key, v) {
        json_object_set_new(tmp, key, json_pack("{s:s, s:O}", "k", key,
                                                "n", v));
    }

    a = zr_sorted(tmp, NULL, "k");
    out = json_object();

    json_array_foreach(a, i, v) {
        json_object_set(out, zr_str(v, "k"), json_object_get(v, "n"));
    }

    json_decref(a);
    json_decref(tmp);
    return out;
}


static void
zr_order_fields(json_t *list, const char **fields)
{
    size_t   i, f;
    json_t  *e;

    json_array_foreach(list, i, e) {
        for (f = 0; fields[f]; f++) {
            json_object_set_new(e, fields[f],
                                zr_ordered(json_object_get(e, fields[f])));
        }
    }
}


static json_t *
zr_reasons(json_t *refusals)
{
    size_t       i;
    json_t      *list, *e, *tmp, *v;
    const char  *key;

    list = zr_sorted(refusals, "refusals", NULL);

    json_array_foreach(list, i, e) {
        tmp = json_object();

        json_object_foreach(json_object_get(e, "reasons"), key, v) {
            json_object_set_new(tmp, key, json_pack("{s:s, s:O}", "reason",
                                                    key, "refusals", v));
        }

        json_object_set_new(e, "reasons",
                            zr_sorted(tmp, "refusals", "reason"));
        json_decref(tmp);
    }

    return list;
}


static json_t *
zr_time_or_null(int64_t ms, int frac)
{
    char  buf[40];

    if (ms == ZR_TIME_NONE) {
        return json_null();
    }

    zr_iso(ms, frac, buf, sizeof(buf));
    return json_string(buf);
}


static json_t *
zr_model(zr_ctx_t *c, char **files, size_t nfiles)
{
    size_t       i;
    json_t      *doc, *list, *e;
    const char  *day_maps[] = { "countries", "legal_bases", NULL };
    const char  *flow_maps[] = { "data_categories", "supplementary_measures",
                                 "sent_in_clear", NULL };

    list = json_array();

    for (i = 0; i < nfiles; i++) {
        json_array_append_new(list, json_string(files[i]));
    }

    doc = json_pack("{s:i, s:o, s:b, s:{s:o, s:o, s:o, s:o, s:o, s:o,"
                    " s:o, s:o}}",
                    "zoll_report", 1,
                    "generated_at", zr_time_or_null(time(NULL) * 1000LL, 0),
                    "integrity_verified", 0,
                    "scope",
                    "files", list,
                    "since", zr_time_or_null(c->since, 0),
                    "until", zr_time_or_null(c->until, 0),
                    "tenant", c->tenant ? json_string(c->tenant)
                                        : json_null(),
                    "records_read", zr_ordered(c->read),
                    "records_in_report", zr_ordered(c->kept),
                    "first_record", zr_time_or_null(c->first, 1),
                    "last_record", zr_time_or_null(c->last, 1));

    json_object_set(doc, "totals", c->totals);
    json_object_set_new(doc, "tenants", zr_sorted(c->tenants, NULL,
                                                  "tenant"));

    list = zr_sorted(c->flows, NULL, "sort");
    zr_order_fields(list, flow_maps);

    json_array_foreach(list, i, e) {
        json_object_del(e, "sort");
    }

    json_object_set_new(doc, "flows", list);

    json_object_set_new(doc, "subprocessors",
                        zr_sorted(c->sps, "transfers", "id"));
    json_object_set_new(doc, "countries",
                        zr_sorted(c->countries, "transfers", "country"));
    json_object_set_new(doc, "legal_bases",
                        zr_sorted(c->bases, "transfers", "id"));
    json_object_set_new(doc, "data_categories",
                        zr_sorted(c->categories, "found", "category"));
    json_object_set_new(doc, "supplementary_measures",
                        zr_sorted(c->measures, "requests", "measure"));
    json_object_set_new(doc, "refusals", zr_reasons(c->refusals));

    list = zr_sorted(c->days, NULL, "date");
    zr_order_fields(list, day_maps);
    json_object_set_new(doc, "days", list);

    json_object_set_new(c->outcomes, "by_status",
                        zr_ordered(json_object_get(c->outcomes,
                                                   "by_status")));
    json_object_set(doc, "outcomes", c->outcomes);

    return doc;
}


/* the command */

static int
zr_usage(FILE *out, int rc)
{
    fprintf(out,
        "usage: zollctl report [--since DATE] [--until DATE] [--tenant ID]\n"
        "                      [--format text|json|html] FILE...\n"
        "\n"
        "Summarises transfer logs (FILE \"-\" is standard input): transfers\n"
        "per tenant, subprocessor, destination country and legal basis,\n"
        "personal data categories, supplementary measures, refusals.\n"
        "\n"
        "  --since DATE   records at or after DATE (inclusive)\n"
        "  --until DATE   records before DATE (exclusive)\n"
        "                 DATE is YYYY-MM-DD (midnight) or\n"
        "                 YYYY-MM-DDTHH:MM:SSZ, always UTC\n"
        "  --tenant ID    only this tenant's records; nothing of other\n"
        "                 tenants appears in the report\n"
        "  --format F     text (default), json or html (one self-contained\n"
        "                 file with charts)\n"
        "\n"
        "Exit 1 if a file cannot be read or a line is not a valid record\n"
        "(each is named as FILE:LINE on stderr; no report is written).\n"
        "The report does not check the log's integrity: zollctl verify "
        "does.\n");
    return rc;
}


static int
zr_time_arg(const char *opt, const char *arg, int64_t *ms)
{
    /* records carry milliseconds; a bound is given to the second */
    if (strlen(arg) == 10 || (strlen(arg) == 20 && arg[19] == 'Z')) {
        if (zr_parse_time(arg, ms) == 0) {
            return 0;
        }
    }

    fprintf(stderr, "zollctl report: %s \"%s\": expected YYYY-MM-DD or "
            "YYYY-MM-DDTHH:MM:SSZ (UTC)\n", opt, arg);
    return -1;
}


static void
zr_ctx_init(zr_ctx_t *c)
{
    memset(c, 0, sizeof(zr_ctx_t));

    c->since = ZR_TIME_NONE;
    c->until = ZR_TIME_NONE;
    c->first = ZR_TIME_NONE;
    c->last = ZR_TIME_NONE;

    c->read = json_object();
    c->kept = json_object();
    c->totals = json_pack("{s:i, s:i, s:i, s:i, s:i, s:i, s:i}",
                          "decisions", 0, "transfers", 0,
                          "third_country_transfers", 0, "refusals", 0,
                          "other_decisions", 0, "personal_data_found", 0,
                          "redactions", 0);
    c->tenants = json_object();
    c->flows = json_object();
    c->sps = json_object();
    c->countries = json_object();
    c->bases = json_object();
    c->categories = json_object();
    c->measures = json_object();
    c->refusals = json_object();
    c->days = json_object();
    c->outcomes = json_pack("{s:i, s:{}, s:i, s:i, s:i, s:i}",
                            "records", 0, "by_status",
                            "upstream_errors", 0, "no_upstream_response", 0,
                            "request_bytes", 0, "response_bytes", 0);
}


static void
zr_ctx_free(zr_ctx_t *c)
{
    json_t  **maps[] = { &c->read, &c->kept, &c->totals, &c->tenants,
                         &c->flows, &c->sps, &c->countries, &c->bases,
                         &c->categories, &c->measures, &c->refusals,
                         &c->days, &c->outcomes };
    size_t    i;

    for (i = 0; i < sizeof(maps) / sizeof(maps[0]); i++) {
        json_decref(*maps[i]);
    }
}


static int
zr_options(zr_ctx_t *c, int argc, char **argv, const char **format,
    char **files, size_t *nfiles)
{
    int  i, only_files;

    only_files = 0;

    for (i = 0; i < argc; i++) {
        if (only_files || argv[i][0] != '-' || strcmp(argv[i], "-") == 0) {
            files[(*nfiles)++] = argv[i];

        } else if (strcmp(argv[i], "--") == 0) {
            only_files = 1;

        } else if (strcmp(argv[i], "--help") == 0
                   || strcmp(argv[i], "-h") == 0)
        {
            return zr_usage(stdout, 0) - 1;

        } else if (i + 1 >= argc) {
            return zr_usage(stderr, 2);

        } else if (strcmp(argv[i], "--since") == 0) {
            if (zr_time_arg("--since", argv[++i], &c->since) != 0) {
                return 2;
            }

        } else if (strcmp(argv[i], "--until") == 0) {
            if (zr_time_arg("--until", argv[++i], &c->until) != 0) {
                return 2;
            }

        } else if (strcmp(argv[i], "--tenant") == 0) {
            c->tenant = argv[++i];

        } else if (strcmp(argv[i], "--format") == 0) {
            *format = argv[++i];

        } else {
            return zr_usage(stderr, 2);
        }
    }

    if (*nfiles == 0) {
        return zr_usage(stderr, 2);
    }

    if (strcmp(*format, "text") != 0 && strcmp(*format, "json") != 0
        && strcmp(*format, "html") != 0)
    {
        fprintf(stderr, "zollctl report: --format must be text, json or "
                "html\n");
        return 2;
    }

    if (c->since != ZR_TIME_NONE && c->until != ZR_TIME_NONE
        && c->since >= c->until)
    {
        fprintf(stderr, "zollctl report: --since must be before --until\n");
        return 2;
    }

    return 0;
}


int
zollctl_report(int argc, char **argv)
{
    int          rc;
    char       **files;
    size_t       nfiles, i;
    json_t      *doc;
    zr_ctx_t     c;
    const char  *format;

    /* an allocation failure inside jansson must not drop a count */
    json_set_alloc_funcs(zr_alloc, free);

    zr_ctx_init(&c);
    files = zr_alloc((size_t) (argc + 1) * sizeof(char *));
    nfiles = 0;
    format = "text";

    rc = zr_options(&c, argc, argv, &format, files, &nfiles);
    if (rc != 0) {
        rc = rc < 0 ? 0 : rc;      /* --help */
        goto done;
    }

    for (i = 0; i < nfiles; i++) {
        if (zr_read(&c, files[i]) != 0) {
            rc = 1;
        }
    }

    if (c.bad > ZR_BAD_SHOWN) {
        fprintf(stderr, "zollctl report: %zu more unreadable lines not "
                "shown\n", c.bad - ZR_BAD_SHOWN);
    }

    /* a report that silently left out records would mislead its reader */
    if (c.bad || rc) {
        if (c.bad) {
            fprintf(stderr, "zollctl report: %zu unreadable line%s\n", c.bad,
                    c.bad == 1 ? "" : "s");
        }

        fprintf(stderr, "zollctl report: no report written\n");
        rc = 1;
        goto done;
    }

    doc = zr_model(&c, files, nfiles);

    if (strcmp(format, "json") == 0) {
        json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        fputc('\n', stdout);

    } else if (strcmp(format, "html") == 0) {
        zr_render_html(doc, stdout);

    } else {
        zr_render_text(doc, stdout);
    }

    json_decref(doc);

    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "zollctl report: writing the report failed\n");
        rc = 1;
    }

done:

    free(files);
    free(c.key);
    zr_ctx_free(&c);
    return rc;
}
