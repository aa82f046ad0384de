/*
 * The report's tables, built from the report model, and the text format.
 *
 * Both the text and the HTML format show these tables, so the numbers a
 * reviewer reads in a terminal and in a browser are the same by
 * construction.  Every string that comes from a log is data: the text
 * renderer replaces control characters (a reason can quote a client's
 * header, which must not move a terminal's cursor), the HTML renderer
 * escapes.
 */

#include "zoll_report.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>


#define ZR_TEXT_WIDTH    110     /* wider tables are listed row by row */
#define ZR_REASONS_SHOWN 10


void
zr_table_init(zr_table_t *t, const char *id, const char *title,
    const char *note, const char *empty)
{
    memset(t, 0, sizeof(zr_table_t));
    t->id = id;
    t->title = title;
    t->note = note;
    t->empty = empty;
}


void
zr_table_col(zr_table_t *t, const char *name, int numeric)
{
    if (t->ncols < ZR_COLS_MAX) {
        t->numeric |= (unsigned) (numeric != 0) << t->ncols;
        t->cols[t->ncols++] = name;
    }
}


char **
zr_table_add(zr_table_t *t)
{
    char  **cells;

    if (t->nrows == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 16;
        cells = zr_alloc(t->cap * t->ncols * sizeof(char *));

        if (t->nrows) {
            memcpy(cells, t->cells, t->nrows * t->ncols * sizeof(char *));
        }

        free(t->cells);
        t->cells = cells;
    }

    return t->cells + t->nrows++ * t->ncols;
}


void
zr_table_row(zr_table_t *t, ...)
{
    size_t    i;
    char    **cells;
    va_list   ap;

    cells = zr_table_add(t);
    va_start(ap, t);

    for (i = 0; i < t->ncols; i++) {
        cells[i] = va_arg(ap, char *);
    }

    va_end(ap);
}


void
zr_table_free(zr_table_t *t)
{
    size_t  i;

    for (i = 0; i < t->nrows * t->ncols; i++) {
        free(t->cells[i]);
    }

    free(t->cells);
}


static char *
zr_n(json_int_t v)
{
    char  buf[40];

    zr_num(v, buf, sizeof(buf));
    return zr_printf("%s", buf);
}


static char *
zr_s(const char *s, const char *none)
{
    return zr_printf("%s", s ? s : none);
}


static const char *
zr_tenant_name(const json_t *o)
{
    return zr_label_or(zr_str(o, "tenant"),
                       "(none: key missing or not recognised)");
}


const char *
zr_label_or(const char *s, const char *none)
{
    return s ? s : none;
}


static char *
zr_destination(const json_t *o)
{
    const json_t  *third;

    third = json_object_get(o, "third_country");

    return zr_printf("%s (%s)", zr_label_or(zr_str(o, "country"), "unknown"),
                     json_is_true(third) ? "third country"
                     : json_is_false(third) ? "EEA" : "not recorded");
}


static char *
zr_basis_short(const json_t *lb, const json_t *flow)
{
    const char  *module;

    if (!json_is_object(lb)) {
        return zr_s(json_is_false(json_object_get(flow, "third_country"))
                    ? "none needed (within the EEA)" : NULL,
                    "none recorded");
    }

    module = zr_str(lb, "module");

    return zr_printf("%s%s%s [%s]",
                     zr_label_or(zr_str(lb, "article"), "(no article)"),
                     module ? ", " : "", module ? module : "",
                     zr_label_or(zr_str(lb, "id"), "no id"));
}


/* "EMAIL 2, PERSON 1" from a name -> count map */

static char *
zr_counts(const json_t *map, const char *unit, const char *none)
{
    char        *s, *next, num[40];
    json_t      *v;
    const char  *key;

    s = NULL;

    json_object_foreach((json_t *) map, key, v) {
        zr_num(json_integer_value(v), num, sizeof(num));

        if (unit) {
            next = zr_printf("%s%s%s (%s %s%s)", s ? s : "", s ? ", " : "",
                             key, num, unit,
                             json_integer_value(v) == 1 ? "" : "s");

        } else {
            next = zr_printf("%s%s%s %s", s ? s : "", s ? ", " : "", key,
                             num);
        }

        free(s);
        s = next;
    }

    return s ? s : zr_s(none, "");
}


/* "103 (decision 52, outcome 51)" */

static char *
zr_records(const json_t *map)
{
    char        *list, *s, num[40];
    json_t      *v;
    json_int_t   n;
    const char  *key;

    n = 0;

    json_object_foreach((json_t *) map, key, v) {
        n += json_integer_value(v);
    }

    if (n == 0) {
        return zr_s("none", NULL);
    }

    list = zr_counts(map, NULL, "");
    zr_num(n, num, sizeof(num));
    s = zr_printf("%s (%s)", num, list);
    free(list);

    return s;
}


/* the tables */

static void
zr_t_scope(const json_t *doc, zr_table_t *t)
{
    size_t        i;
    char          a[48], b[48], *files, *next;
    json_t       *v;
    const json_t *sc = json_object_get(doc, "scope");
    const char   *since, *until, *tenant;

    zr_table_init(t, "table-scope", "What this report covers", NULL, NULL);
    zr_table_col(t, "Item", 0);
    zr_table_col(t, "Value", 0);

    files = NULL;

    json_array_foreach(json_object_get(sc, "files"), i, v) {
        next = zr_printf("%s%s%s", files ? files : "", files ? ", " : "",
                         strcmp(json_string_value(v), "-") == 0
                         ? "(standard input)" : json_string_value(v));
        free(files);
        files = next;
    }

    zr_table_row(t, zr_s("Files read", NULL), files);

    since = zr_str(sc, "since");
    until = zr_str(sc, "until");
    zr_when(since, a, sizeof(a));
    zr_when(until, b, sizeof(b));

    zr_table_row(t, zr_s("Period", NULL),
                 since && until
                 ? zr_printf("from %s (inclusive) until %s (exclusive)", a, b)
                 : since ? zr_printf("from %s (inclusive), no end", a)
                 : until ? zr_printf("everything before %s (exclusive)", b)
                 : zr_s("every record in the files (no --since, --until)",
                        NULL));

    tenant = zr_str(sc, "tenant");
    zr_table_row(t, zr_s("Tenant", NULL),
                 tenant ? zr_printf("%s only: records of other tenants and "
                                    "records without a tenant are left out "
                                    "and not counted", tenant)
                        : zr_s("all tenants", NULL));

    zr_table_row(t, zr_s(tenant ? "Records of this tenant read"
                                : "Records read", NULL),
                 zr_records(json_object_get(sc, "records_read")));
    zr_table_row(t, zr_s("Records in this report", NULL),
                 zr_records(json_object_get(sc, "records_in_report")));

    zr_when(zr_str(sc, "first_record"), a, sizeof(a));
    zr_when(zr_str(sc, "last_record"), b, sizeof(b));
    zr_table_row(t, zr_s("First record", NULL),
                 zr_s(zr_str(sc, "first_record") ? a : NULL, "none"));
    zr_table_row(t, zr_s("Last record", NULL),
                 zr_s(zr_str(sc, "last_record") ? b : NULL, "none"));

    zr_table_row(t, zr_s("Integrity", NULL),
                 zr_s("not checked by this report: it counts what the files "
                      "contain. \"zollctl verify\" checks that the log is "
                      "complete and unaltered.", NULL));

    zr_when(zr_str(doc, "generated_at"), a, sizeof(a));
    zr_table_row(t, zr_s("Report made", NULL),
                 zr_printf("%s; all dates and times are UTC; countries are "
                           "ISO 3166 codes", a));
}


static void
zr_t_summary(const json_t *doc, zr_table_t *t)
{
    const json_t  *tot = json_object_get(doc, "totals");

    zr_table_init(t, "table-summary", "Summary", NULL, NULL);
    zr_table_col(t, "What", 0);
    zr_table_col(t, "Number", 1);

    zr_table_row(t, zr_s("Requests decided by the gateway", NULL),
                 zr_n(zr_int(tot, "decisions")));
    zr_table_row(t, zr_s("Forwarded to a subprocessor (transfers)", NULL),
                 zr_n(zr_int(tot, "transfers")));
    zr_table_row(t, zr_s("... of which to a third country (outside the "
                         "EEA)", NULL),
                 zr_n(zr_int(tot, "third_country_transfers")));
    zr_table_row(t, zr_s("Refused (nothing was sent)", NULL),
                 zr_n(zr_int(tot, "refusals")));
    zr_table_row(t, zr_s("Personal data found in forwarded requests "
                         "(values)", NULL),
                 zr_n(zr_int(tot, "personal_data_found")));
    zr_table_row(t, zr_s("... of which redacted before sending", NULL),
                 zr_n(zr_int(tot, "redactions")));

    if (zr_int(tot, "other_decisions")) {
        zr_table_row(t, zr_s("Decisions of a kind this zollctl does not "
                             "know", NULL),
                     zr_n(zr_int(tot, "other_decisions")));
    }
}


static void
zr_t_tenants(const json_t *doc, zr_table_t *t)
{
    size_t   i;
    json_t  *e;

    zr_table_init(t, "table-tenants", "Per tenant", NULL,
                  "No requests in this period.");
    zr_table_col(t, "Tenant", 0);
    zr_table_col(t, "Forwarded", 1);
    zr_table_col(t, "To a third country", 1);
    zr_table_col(t, "Refused", 1);
    zr_table_col(t, "Personal data found", 1);
    zr_table_col(t, "Redacted", 1);

    json_array_foreach(json_object_get(doc, "tenants"), i, e) {
        zr_table_row(t, zr_s(zr_tenant_name(e), NULL),
                     zr_n(zr_int(e, "transfers")),
                     zr_n(zr_int(e, "third_country_transfers")),
                     zr_n(zr_int(e, "refusals")),
                     zr_n(zr_int(e, "personal_data_found")),
                     zr_n(zr_int(e, "redactions")));
    }
}


static void
zr_t_flows(const json_t *doc, zr_table_t *t)
{
    size_t   i;
    json_t  *e, *sp;

    zr_table_init(t, "table-flows", "Transfers by recipient, destination "
                  "and legal basis",
                  "One row per tenant, subprocessor, endpoint, destination "
                  "country and legal basis: the facts a record of "
                  "processing (GDPR Art. 30) and a transfer impact "
                  "assessment need. Personal data counts are values found "
                  "in the requests; measures count requests.",
                  "Nothing was forwarded in this period.");
    zr_table_col(t, "Tenant", 0);
    zr_table_col(t, "Subprocessor", 0);
    zr_table_col(t, "Endpoint", 0);
    zr_table_col(t, "Destination", 0);
    zr_table_col(t, "Legal basis", 0);
    zr_table_col(t, "Transfers", 1);
    zr_table_col(t, "Personal data found", 0);
    zr_table_col(t, "Supplementary measures", 0);
    zr_table_col(t, "Sent in clear", 0);

    json_array_foreach(json_object_get(doc, "flows"), i, e) {
        sp = json_object_get(e, "subprocessor");

        zr_table_row(t, zr_s(zr_tenant_name(e), NULL),
                     zr_printf("%s (%s)",
                               zr_label_or(zr_str(sp, "legal_name"),
                                           "legal name not recorded"),
                               zr_label_or(zr_str(sp, "id"), "no id")),
                     zr_s(zr_str(e, "endpoint"), "not recorded"),
                     zr_destination(e),
                     zr_basis_short(json_object_get(e, "legal_basis"), e),
                     zr_n(zr_int(e, "transfers")),
                     zr_counts(json_object_get(e, "data_categories"), NULL,
                               "none found"),
                     zr_counts(json_object_get(e, "supplementary_measures"),
                               "request", "none"),
                     zr_counts(json_object_get(e, "sent_in_clear"), NULL,
                               "none"));
    }
}


static void
zr_t_subprocessors(const json_t *doc, zr_table_t *t)
{
    size_t   i;
    json_t  *e;

    zr_table_init(t, "table-subprocessors", "Per subprocessor", NULL,
                  "No requests in this period.");
    zr_table_col(t, "Subprocessor (legal entity)", 0);
    zr_table_col(t, "Id", 0);
    zr_table_col(t, "Transfers", 1);
    zr_table_col(t, "Refused", 1);

    json_array_foreach(json_object_get(doc, "subprocessors"), i, e) {
        zr_table_row(t, zr_s(zr_str(e, "legal_name"), "not recorded"),
                     zr_s(zr_str(e, "id"), "not recorded"),
                     zr_n(zr_int(e, "transfers")),
                     zr_n(zr_int(e, "refusals")));
    }
}


static void
zr_t_countries(const json_t *doc, zr_table_t *t)
{
    size_t   i;
    json_t  *e, *third;

    zr_table_init(t, "table-countries", "Per destination country", NULL,
                  "Nothing was forwarded in this period.");
    zr_table_col(t, "Country", 0);
    zr_table_col(t, "Third country (outside the EEA)", 0);
    zr_table_col(t, "Transfers", 1);

    json_array_foreach(json_object_get(doc, "countries"), i, e) {
        third = json_object_get(e, "third_country");

        zr_table_row(t, zr_s(zr_str(e, "country"), "not recorded"),
                     zr_s(json_is_true(third) ? "yes"
                          : json_is_false(third) ? "no (EEA)" : NULL,
                          "not recorded"),
                     zr_n(zr_int(e, "transfers")));
    }
}


static void
zr_t_bases(const json_t *doc, zr_table_t *t)
{
    size_t   i;
    json_t  *e;

    zr_table_init(t, "table-legal-bases", "Per legal basis", NULL,
                  "Nothing was forwarded in this period.");
    zr_table_col(t, "Legal basis", 0);
    zr_table_col(t, "Transfers", 1);
    zr_table_col(t, "Article", 0);
    zr_table_col(t, "Module", 0);
    zr_table_col(t, "Instrument", 0);

    json_array_foreach(json_object_get(doc, "legal_bases"), i, e) {
        zr_table_row(t, zr_s(zr_str(e, "id"), "none recorded"),
                     zr_n(zr_int(e, "transfers")),
                     zr_s(zr_str(e, "article"), "-"),
                     zr_s(zr_str(e, "module"), "-"),
                     zr_s(zr_str(e, "instrument"), "-"));
    }
}


static void
zr_t_categories(const json_t *doc, zr_table_t *t)
{
    size_t   i;
    json_t  *e;

    zr_table_init(t, "table-categories", "Personal data categories",
                  "Values found by the gateway's rules. Redacted values left "
                  "as a mask, pseudonym or token; values sent in clear left "
                  "unchanged because the tenant's profile keeps them. "
                  "Nothing of a refused request was sent.",
                  "No personal data found in this period.");
    zr_table_col(t, "Category", 0);
    zr_table_col(t, "Forwarded requests with it", 1);
    zr_table_col(t, "Values found", 1);
    zr_table_col(t, "Redacted", 1);
    zr_table_col(t, "Sent in clear", 1);
    zr_table_col(t, "Found in refused requests", 1);

    json_array_foreach(json_object_get(doc, "data_categories"), i, e) {
        zr_table_row(t, zr_s(zr_str(e, "category"), "?"),
                     zr_n(zr_int(e, "requests")), zr_n(zr_int(e, "found")),
                     zr_n(zr_int(e, "redacted")),
                     zr_n(zr_int(e, "sent_in_clear")),
                     zr_n(zr_int(e, "found_in_refused")));
    }
}


static void
zr_t_measures(const json_t *doc, zr_table_t *t)
{
    size_t   i;
    json_t  *e;

    zr_table_init(t, "table-measures", "Supplementary measures",
                  "Measures applied to forwarded requests (EDPB "
                  "Recommendations 01/2020), counted per request.",
                  "No supplementary measures were applied in this period.");
    zr_table_col(t, "Measure", 0);
    zr_table_col(t, "Requests", 1);

    json_array_foreach(json_object_get(doc, "supplementary_measures"), i, e)
    {
        zr_table_row(t, zr_s(zr_str(e, "measure"), "?"),
                     zr_n(zr_int(e, "requests")));
    }
}


/* Zoll's own refusal codes in plain words (README, "Errors Zoll returns") */

static const char *
zr_code_meaning(const char *code)
{
    static const char  *meanings[][2] = {
        { "invalid_api_key", "no key, or a key the gateway does not know" },
        { "subprocessor_not_enabled",
          "the tenant has not enabled this subprocessor" },
        { "subprocessor_objected",
          "the tenant objected to this subprocessor" },
        { "tls_required", "the client did not use TLS 1.2 or newer" },
        { "no_lawful_route", "no destination the tenant allows has a valid "
                             "legal basis" },
        { "bad_request", "the request body is not valid JSON, or nests "
                         "too deeply" },
        { "body_too_large", "the request body is larger than the limit" },
        { "body_not_inspectable", "the request body cannot be inspected "
                                  "(compressed, or not JSON)" },
        { "pii_blocked", "the tenant's profile does not allow sending this "
                         "kind of personal data" },
        { "redaction_key_collision", "redacting personal data in object "
                                     "keys would have made two keys equal" },
        { "unprotected_location", "the request was redirected to a route "
                                  "without Zoll's checks" },
        { "transfer_log_unwritable", "the transfer record could not be "
                                     "written" },
    };
    size_t  i;

    for (i = 0; code && i < sizeof(meanings) / sizeof(meanings[0]); i++) {
        if (strcmp(code, meanings[i][0]) == 0) {
            return meanings[i][1];
        }
    }

    return "";
}


static char *
zr_status(const json_t *e)
{
    const json_t  *s = json_object_get(e, "status");

    return json_is_integer(s) ? zr_printf("%lld", (long long)
                                          json_integer_value(s))
                              : zr_s("-", NULL);
}


static void
zr_t_refusals(const json_t *doc, zr_table_t *t)
{
    size_t   i;
    json_t  *e;

    zr_table_init(t, "table-refusals", "Refusals",
                  "Requests the gateway refused; nothing of them was sent "
                  "to a subprocessor.",
                  "No request was refused in this period.");
    zr_table_col(t, "HTTP status", 1);
    zr_table_col(t, "Code", 0);
    zr_table_col(t, "Refused", 1);
    zr_table_col(t, "What it means", 0);

    json_array_foreach(json_object_get(doc, "refusals"), i, e) {
        zr_table_row(t, zr_status(e), zr_s(zr_str(e, "code"), "-"),
                     zr_n(zr_int(e, "refusals")),
                     zr_s(zr_code_meaning(zr_str(e, "code")), NULL));
    }
}


static void
zr_t_reasons(const json_t *doc, zr_table_t *t)
{
    size_t       i, j;
    json_t      *e, *r, *reasons;
    json_int_t   rest;

    zr_table_init(t, "table-reasons", "Refusal reasons",
                  "The reasons the gateway recorded, most frequent first "
                  "(at most ten per code here; the JSON format has more).",
                  "No request was refused in this period.");
    zr_table_col(t, "HTTP status", 1);
    zr_table_col(t, "Code", 0);
    zr_table_col(t, "Refused", 1);
    zr_table_col(t, "Reason", 0);

    json_array_foreach(json_object_get(doc, "refusals"), i, e) {
        reasons = json_object_get(e, "reasons");
        rest = zr_int(e, "other_reasons");

        json_array_foreach(reasons, j, r) {
            if (j >= ZR_REASONS_SHOWN) {
                rest += zr_int(r, "refusals");
                continue;
            }

            zr_table_row(t, zr_status(e), zr_s(zr_str(e, "code"), "-"),
                         zr_n(zr_int(r, "refusals")),
                         zr_s(zr_str(r, "reason"), "-"));
        }

        if (rest) {
            zr_table_row(t, zr_status(e), zr_s(zr_str(e, "code"), "-"),
                         zr_n(rest), zr_s("(other reasons)", NULL));
        }
    }
}


/* The largest series of a list of totals; the per-day maps use the same
 * labels for a missing country or basis as the model does. */

void
zr_series(const json_t *list, const char *key, zr_series_t *s)
{
    size_t       i, j;
    json_t      *e;
    const char  *name, *none;

    memset(s, 0, sizeof(zr_series_t));
    none = strcmp(key, "country") == 0 ? "(unknown)" : "(none)";

    json_array_foreach(list, i, e) {
        name = zr_label_or(zr_str(e, key), none);

        for (j = 0; j < s->n; j++) {
            if (strcmp(s->names[j], name) == 0) {
                break;
            }
        }

        if (j < s->n || zr_int(e, "transfers") == 0) {
            continue;
        }

        if (s->n == ZR_SERIES_MAX) {
            s->other = 1;
            continue;
        }

        s->names[s->n++] = name;
    }
}


json_int_t
zr_series_value(const zr_series_t *s, size_t i, const json_t *by)
{
    size_t       j;
    json_t      *v;
    json_int_t   n;
    const char  *key;

    if (i < s->n) {
        return json_integer_value(json_object_get(by, s->names[i]));
    }

    n = 0;

    json_object_foreach((json_t *) by, key, v) {
        for (j = 0; j < s->n; j++) {
            if (strcmp(s->names[j], key) == 0) {
                break;
            }
        }

        if (j == s->n) {
            n += json_integer_value(v);
        }
    }

    return n;
}


static void
zr_t_days(const json_t *doc, zr_table_t *t, int by_country)
{
    size_t        i, k, nc;
    char         *cells[ZR_COLS_MAX];
    json_t       *e, *by;
    zr_series_t   s;

    if (by_country) {
        zr_table_init(t, "table-days-country", "Transfers per day by "
                      "destination country", NULL,
                      "Nothing was forwarded or refused in this period.");
        zr_series(json_object_get(doc, "countries"), "country", &s);

    } else {
        zr_table_init(t, "table-days-basis", "Transfers per day by legal "
                      "basis", NULL,
                      "Nothing was forwarded or refused in this period.");
        zr_series(json_object_get(doc, "legal_bases"), "id", &s);
    }

    zr_table_col(t, "Date (UTC)", 0);
    zr_table_col(t, "Transfers", 1);

    for (k = 0; k < s.n; k++) {
        zr_table_col(t, s.names[k], 1);
    }

    if (s.other) {
        zr_table_col(t, by_country ? "other countries" : "other bases", 1);
    }

    if (by_country) {
        zr_table_col(t, "Refused", 1);
    }

    nc = s.n + (size_t) s.other;

    json_array_foreach(json_object_get(doc, "days"), i, e) {
        by = json_object_get(e, by_country ? "countries" : "legal_bases");
        cells[0] = zr_s(zr_str(e, "date"), "?");
        cells[1] = zr_n(zr_int(e, "transfers"));

        for (k = 0; k < nc; k++) {
            cells[2 + k] = zr_n(zr_series_value(&s, k, by));
        }

        if (by_country) {
            cells[2 + nc] = zr_n(zr_int(e, "refusals"));
        }

        memcpy(zr_table_add(t), cells, t->ncols * sizeof(char *));
    }
}


static void
zr_t_outcomes(const json_t *doc, zr_table_t *t)
{
    json_t        *v;
    const char    *key;
    const json_t  *o = json_object_get(doc, "outcomes");

    zr_table_init(t, "table-outcomes", "How forwarded requests ended",
                  "From the outcome record the gateway writes when a "
                  "forwarded request ends.", NULL);
    zr_table_col(t, "What", 0);
    zr_table_col(t, "Number", 1);

    zr_table_row(t, zr_s("Outcome records", NULL),
                 zr_n(zr_int(o, "records")));
    json_object_foreach(json_object_get(o, "by_status"), key, v) {
        zr_table_row(t, zr_printf("Answered to the client with HTTP %s",
                                  key),
                     zr_n(json_integer_value(v)));
    }

    zr_table_row(t, zr_s("Subprocessor answered with an error (5xx)", NULL),
                 zr_n(zr_int(o, "upstream_errors")));
    zr_table_row(t, zr_s("No answer from the subprocessor", NULL),
                 zr_n(zr_int(o, "no_upstream_response")));
    zr_table_row(t, zr_s("Bytes received from clients", NULL),
                 zr_n(zr_int(o, "request_bytes")));
    zr_table_row(t, zr_s("Bytes sent to clients", NULL),
                 zr_n(zr_int(o, "response_bytes")));
}


void
zr_table_build(const json_t *doc, zr_table_e which, zr_table_t *t)
{
    switch (which) {
    case ZR_T_SCOPE:         zr_t_scope(doc, t); break;
    case ZR_T_SUMMARY:       zr_t_summary(doc, t); break;
    case ZR_T_TENANTS:       zr_t_tenants(doc, t); break;
    case ZR_T_FLOWS:         zr_t_flows(doc, t); break;
    case ZR_T_SUBPROCESSORS: zr_t_subprocessors(doc, t); break;
    case ZR_T_COUNTRIES:     zr_t_countries(doc, t); break;
    case ZR_T_LEGAL_BASES:   zr_t_bases(doc, t); break;
    case ZR_T_CATEGORIES:    zr_t_categories(doc, t); break;
    case ZR_T_MEASURES:      zr_t_measures(doc, t); break;
    case ZR_T_REFUSALS:      zr_t_refusals(doc, t); break;
    case ZR_T_REASONS:       zr_t_reasons(doc, t); break;
    case ZR_T_DAYS_COUNTRY:  zr_t_days(doc, t, 1); break;
    case ZR_T_DAYS_BASIS:    zr_t_days(doc, t, 0); break;
    default:                 zr_t_outcomes(doc, t); break;
    }
}


/* text */

/* display width: code points, not bytes */

static size_t
zr_width(const char *s)
{
    size_t  n;

    for (n = 0; *s; s++) {
        n += ((unsigned char) *s & 0xc0) != 0x80;
    }

    return n;
}


static void
zr_put(FILE *out, const char *s)
{
    for ( /* void */ ; *s; s++) {
        fputc((unsigned char) *s < 0x20 || *s == 0x7f ? '?' : *s, out);
    }
}


static void
zr_pad(FILE *out, size_t n)
{
    while (n--) {
        fputc(' ', out);
    }
}


/* the note, wrapped at 76 columns */

static void
zr_wrap(FILE *out, const char *s, size_t indent)
{
    size_t       col, w;
    const char  *p, *e;

    col = 0;

    for (p = s; *p; p = e) {
        while (*p == ' ') {
            p++;
        }

        e = strchr(p, ' ');
        if (e == NULL) {
            e = p + strlen(p);
        }

        w = (size_t) (e - p);

        if (col && col + 1 + w > 76) {
            fputc('\n', out);
            col = 0;
        }

        if (col == 0) {
            zr_pad(out, indent);
            col = indent;

        } else {
            fputc(' ', out);
            col++;
        }

        fwrite(p, 1, w, out);
        col += w;
    }

    if (col) {
        fputc('\n', out);
    }
}


static void
zr_text_table(const zr_table_t *t, FILE *out)
{
    size_t       r, c, w[ZR_COLS_MAX], total, n;
    const char  *cell;

    fprintf(out, "%s\n", t->title);

    for (n = zr_width(t->title); n; n--) {
        fputc('-', out);
    }

    fputc('\n', out);

    if (t->note) {
        zr_wrap(out, t->note, 0);
    }

    if (t->nrows == 0) {
        fprintf(out, "%s\n\n", t->empty ? t->empty : "none");
        return;
    }

    /* the last column may run long: it is the one free text column */
    total = 0;

    for (c = 0; c < t->ncols; c++) {
        w[c] = zr_width(t->cols[c]);

        for (r = 0; r < t->nrows; r++) {
            n = zr_width(t->cells[r * t->ncols + c]);
            w[c] = n > w[c] ? n : w[c];
        }

        total += c + 1 < t->ncols ? w[c] + 2 : 0;
    }

    if (total > ZR_TEXT_WIDTH && t->ncols > 2) {
        /* too wide for a terminal: one block per row */
        for (r = 0; r < t->nrows; r++) {
            for (c = 0; c < t->ncols; c++) {
                fputs(c ? "  " : "* ", out);
                zr_put(out, t->cols[c]);
                fputs(": ", out);
                zr_put(out, t->cells[r * t->ncols + c]);
                fputc('\n', out);
            }
        }

        fputc('\n', out);
        return;
    }

    for (r = 0; r <= t->nrows; r++) {
        for (c = 0; c < t->ncols; c++) {
            cell = r ? t->cells[(r - 1) * t->ncols + c] : t->cols[c];
            n = w[c] - zr_width(cell);

            if (t->numeric & (1u << c)) {
                zr_pad(out, n);
            }

            zr_put(out, cell);

            if (c + 1 < t->ncols) {
                zr_pad(out, (t->numeric & (1u << c)) ? 2 : n + 2);
            }
        }

        fputc('\n', out);
    }

    fputc('\n', out);
}


void
zr_render_text(const json_t *doc, FILE *out)
{
    int          i;
    zr_table_t   t;
    const char  *tenant;

    tenant = zr_str(json_object_get(doc, "scope"), "tenant");

    fprintf(out, "Transfers of personal data to subprocessors\n"
                 "===========================================\n");

    if (tenant) {
        fputs("Tenant ", out);
        zr_put(out, tenant);
        fputc('\n', out);
    }

    fprintf(out, "(zollctl report on the Zoll transfer log)\n\n");

    for (i = 0; i < ZR_T_N; i++) {
        zr_table_build(doc, (zr_table_e) i, &t);
        zr_text_table(&t, out);
        zr_table_free(&t);
    }
}
