/*
 * zollctl report: summaries of transfer logs for privacy reviewers.
 *
 * zoll_report.c reads the logs and builds one JSON document, the report
 * model (its keys are documented in cli/README.md); the text and HTML
 * renderers only read that document, so every format shows the same
 * numbers.
 */

#ifndef ZOLL_REPORT_H
#define ZOLL_REPORT_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>


int zollctl_report(int argc, char **argv);


/* the model's helpers, for the renderers */

const char *zr_str(const json_t *o, const char *key);    /* NULL if absent */
const char *zr_label_or(const char *s, const char *none);
json_int_t zr_int(const json_t *o, const char *key);      /* 0 if absent */
void *zr_alloc(size_t n);                                 /* exits on OOM */
char *zr_printf(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
void zr_num(json_int_t v, char *buf, size_t len);         /* 12,345 */
int zr_parse_time(const char *s, int64_t *ms);            /* ISO 8601 UTC */
int64_t zr_days_from_civil(int y, int m, int d);
void zr_date(int64_t days, char buf[11]);                 /* YYYY-MM-DD */
void zr_when(const char *iso, char *buf, size_t len);     /* readable UTC */


/*
 * A table as both renderers show it: the text renderer aligns it (or lists
 * it row by row when it is too wide for a terminal), the HTML renderer
 * writes a <table>.  Cells are plain text; each renderer escapes them.
 */

#define ZR_COLS_MAX  12

typedef struct {
    const char   *id;                 /* HTML id, e.g. "table-flows" */
    const char   *title;
    const char   *note;               /* one explanatory sentence, or NULL */
    const char   *empty;              /* shown when there are no rows */
    size_t        ncols;
    const char   *cols[ZR_COLS_MAX];
    unsigned      numeric;            /* bit per column: right-aligned */
    size_t        nrows;
    size_t        cap;
    char        **cells;              /* nrows * ncols, owned */
} zr_table_t;

void zr_table_init(zr_table_t *t, const char *id, const char *title,
    const char *note, const char *empty);
void zr_table_col(zr_table_t *t, const char *name, int numeric);
void zr_table_row(zr_table_t *t, ...);    /* ncols owned char *, no NULL */
char **zr_table_add(zr_table_t *t);       /* a new row's ncols cells */
void zr_table_free(zr_table_t *t);


/* the tables of a report, in the order both renderers show them */

typedef enum {
    ZR_T_SCOPE = 0,
    ZR_T_SUMMARY,
    ZR_T_TENANTS,
    ZR_T_FLOWS,
    ZR_T_SUBPROCESSORS,
    ZR_T_COUNTRIES,
    ZR_T_LEGAL_BASES,
    ZR_T_CATEGORIES,
    ZR_T_MEASURES,
    ZR_T_REFUSALS,
    ZR_T_REASONS,
    ZR_T_DAYS_COUNTRY,
    ZR_T_DAYS_BASIS,
    ZR_T_OUTCOMES,
    ZR_T_N
} zr_table_e;

void zr_table_build(const json_t *doc, zr_table_e which, zr_table_t *t);


/*
 * The top series of a per-day breakdown (the rest summed as "other"), as
 * the per-day tables and the charts show them.
 */

#define ZR_SERIES_MAX  8

typedef struct {
    size_t        n;                     /* named series, <= SERIES_MAX */
    int           other;                 /* one more: the rest summed */
    const char   *names[ZR_SERIES_MAX];  /* points into the document */
} zr_series_t;

void zr_series(const json_t *list, const char *key, zr_series_t *s);
json_int_t zr_series_value(const zr_series_t *s, size_t i,
    const json_t *by);


void zr_render_text(const json_t *doc, FILE *out);
void zr_render_html(const json_t *doc, FILE *out);

#endif /* ZOLL_REPORT_H */
