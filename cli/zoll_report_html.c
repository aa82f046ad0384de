/*
 * The HTML format: one self-contained file a reviewer can open, mail or
 * archive.  Inline CSS and inline SVG only: no script, no external URL, no
 * web font, so the file shows the same in ten years and cannot call out.
 *
 * Every chart has a title, axis labels and a legend, and its numbers are
 * also in a table next to it.  Every string from a log is escaped: a
 * reason can quote a client's Content-Type header.
 */

#include "zoll_report.h"

#include <stdlib.h>
#include <string.h>


#define ZR_W             960     /* chart width in SVG units */
#define ZR_LEFT          64
#define ZR_RIGHT         24
#define ZR_TOP           16
#define ZR_X_LABELS      12      /* at most, so that dates do not overlap */
#define ZR_DAYS_MAX      92      /* longer periods are shown per month */
#define ZR_BAR_MAX       64


/* colour-blind-safe (Okabe-Ito, yellow replaced); grey is "other" */

static const char  *zr_colours[ZR_SERIES_MAX + 1] = {
    "#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00",
    "#a6761d", "#7f3c8d", "#8c8c8c"
};


typedef struct {
    const char   *id;
    const char   *title;
    const char   *desc;
    const char   *xlabel;
    const char   *ylabel;
    const char   *unit;          /* "transfers", in the bars' tooltips */
    size_t        nb;            /* bars */
    size_t        ns;            /* series stacked in each bar */
    char        **labels;        /* nb, owned */
    const char   *names[ZR_SERIES_MAX + 1];    /* ns */
    json_int_t   *v;             /* nb * ns */
} zr_chart_t;


static void
zr_esc(FILE *out, const char *s)
{
    for ( /* void */ ; *s; s++) {
        switch (*s) {
        case '&':  fputs("&amp;", out); break;
        case '<':  fputs("&lt;", out); break;
        case '>':  fputs("&gt;", out); break;
        case '"':  fputs("&quot;", out); break;
        case '\'': fputs("&#39;", out); break;

        default:
            if ((unsigned char) *s < 0x20 || *s == 0x7f) {
                fputs("&#xfffd;", out);

            } else {
                fputc(*s, out);
            }
        }
    }
}


static const char  zr_css[] =
    "*{box-sizing:border-box}"
    "body{margin:0;background:#eef0f3;color:#1b1f24;line-height:1.45;"
    "font-family:system-ui,-apple-system,'Segoe UI',Roboto,Helvetica,"
    "Arial,sans-serif}"
    "main{max-width:1120px;margin:0 auto;padding:28px 36px 48px;"
    "background:#fff}"
    "h1{font-size:1.75rem;margin:0 0 .25rem}"
    "h2{font-size:1.25rem;margin:2.2rem 0 .5rem;padding-bottom:.2rem;"
    "border-bottom:2px solid #d5dae0}"
    "p{margin:.3rem 0 .8rem}"
    ".lead{color:#3f4a55;font-size:1.05rem}"
    ".note{color:#3f4a55;font-size:.93rem}"
    ".warn{border-left:4px solid #c2410c;background:#fff7ed;"
    "padding:.5rem .8rem}"
    ".scroll{overflow-x:auto}"
    "table{border-collapse:collapse;width:100%;margin:.4rem 0 1rem;"
    "font-size:.92rem}"
    "th,td{border:1px solid #d5dae0;padding:.35rem .55rem;text-align:left;"
    "vertical-align:top;overflow-wrap:break-word}"
    "thead th{background:#e8ecf0}"
    "tbody th{font-weight:600;background:#f7f8fa}"
    ".n{text-align:right;white-space:nowrap;"
    "font-variant-numeric:tabular-nums}"
    ".cards{display:flex;flex-wrap:wrap;gap:12px;margin:.6rem 0 1rem}"
    ".card{flex:1 1 180px;border:1px solid #d5dae0;border-radius:6px;"
    "padding:.6rem .9rem}"
    ".card b{display:block;font-size:1.7rem}"
    "figure{margin:1rem 0 .4rem}"
    "figcaption{color:#3f4a55;font-size:.93rem}"
    "svg{display:block;width:100%;height:auto}"
    "svg text{font-family:inherit;fill:#1b1f24}"
    "footer{margin-top:2rem;color:#5b6670;font-size:.85rem}"
    "@media print{body{background:#fff}main{padding:0}"
    "figure,tr{break-inside:avoid}h2{break-after:avoid}}";


static void
zr_html_heading(const zr_table_t *t, FILE *out)
{
    fprintf(out, "<h2 id=\"h-%s\">", t->id);
    zr_esc(out, t->title);
    fputs("</h2>\n", out);

    if (t->note) {
        fputs("<p class=\"note\">", out);
        zr_esc(out, t->note);
        fputs("</p>\n", out);
    }
}


static void
zr_html_table(const zr_table_t *t, FILE *out)
{
    size_t       r, c;
    const char  *num;

    if (t->nrows == 0) {
        fprintf(out, "<p id=\"%s\" class=\"note\">", t->id);
        zr_esc(out, t->empty ? t->empty : "None.");
        fputs("</p>\n", out);
        return;
    }

    /* a wide table scrolls on its own instead of widening the page */
    fprintf(out, "<div class=\"scroll\"><table id=\"%s\" "
            "aria-labelledby=\"h-%s\">\n<thead><tr>", t->id, t->id);

    for (c = 0; c < t->ncols; c++) {
        num = (t->numeric & (1u << c)) ? " class=\"n\"" : "";
        fprintf(out, "<th scope=\"col\"%s>", num);
        zr_esc(out, t->cols[c]);
        fputs("</th>", out);
    }

    fputs("</tr></thead>\n<tbody>\n", out);

    for (r = 0; r < t->nrows; r++) {
        fputs("<tr>", out);

        /* the first cell names the row, for screen readers */
        for (c = 0; c < t->ncols; c++) {
            num = (t->numeric & (1u << c)) ? " class=\"n\"" : "";
            fprintf(out, c ? "<td%s>" : "<th scope=\"row\"%s>", num);
            zr_esc(out, t->cells[r * t->ncols + c]);
            fputs(c ? "</td>" : "</th>", out);
        }

        fputs("</tr>\n", out);
    }

    fputs("</tbody></table></div>\n", out);
}


/* a table under its heading, with a chart of its numbers between them */

typedef void (*zr_chart_pt)(const json_t *doc, FILE *out, int which);

static void
zr_table_out(const json_t *doc, zr_table_e which, FILE *out,
    zr_chart_pt chart)
{
    zr_table_t  t;

    zr_table_build(doc, which, &t);
    zr_html_heading(&t, out);

    if (chart) {
        chart(doc, out, which);
    }

    zr_html_table(&t, out);
    zr_table_free(&t);
}


/* an axis step of 1, 2 or 5 times a power of ten, about five ticks */

static json_int_t
zr_step(json_int_t max)
{
    json_int_t  p;

    for (p = 1; ; p *= 10) {
        if (max <= p * 5) {
            return p;
        }

        if (max <= p * 10) {
            return p * 2;
        }

        if (max <= p * 25) {
            return p * 5;
        }
    }
}


/* chart data */

static void
zr_chart_free(zr_chart_t *ch)
{
    size_t  i;

    for (i = 0; i < ch->nb; i++) {
        free(ch->labels[i]);
    }

    free(ch->labels);
    free(ch->v);
}


/*
 * Bars per day from the first to the last day with records, gaps
 * included, so the time axis is true; a longer period gets one bar per
 * month, or the bars would be thinner than a pixel.
 */

static void
zr_chart_days(const json_t *doc, const char *list, const char *key,
    const char *by, zr_chart_t *ch)
{
    int           months, any;
    char          date[11];
    size_t        i, k, b;
    json_t       *days, *e;
    int64_t       first, last, day, ms;
    zr_series_t   s;

    days = json_object_get(doc, "days");
    zr_series(json_object_get(doc, list), key, &s);

    ch->ns = s.n + (size_t) s.other;

    for (k = 0; k < s.n; k++) {
        ch->names[k] = s.names[k];
    }

    if (s.other) {
        ch->names[s.n] = strcmp(key, "country") == 0 ? "other countries"
                                                     : "other bases";
    }

    first = last = 0;
    any = 0;

    json_array_foreach(days, i, e) {
        if (zr_parse_time(zr_str(e, "date"), &ms) == 0) {
            day = ms / 86400000;
            first = (!any || day < first) ? day : first;
            last = (!any || day > last) ? day : last;
            any = 1;
        }
    }

    if (!any || ch->ns == 0) {
        return;
    }

    months = last - first + 1 > ZR_DAYS_MAX;
    ch->labels = zr_alloc((size_t) (last - first + 1) * sizeof(char *));

    for (day = first; day <= last; day++) {
        zr_date(day, date);

        if (months) {
            date[7] = '\0';

            if (ch->nb && strcmp(ch->labels[ch->nb - 1], date) == 0) {
                continue;
            }
        }

        ch->labels[ch->nb++] = zr_printf("%s", date);
    }

    ch->v = zr_alloc(ch->nb * ch->ns * sizeof(json_int_t));
    memset(ch->v, 0, ch->nb * ch->ns * sizeof(json_int_t));

    /* a bar's label is the date or the month the day starts with */
    json_array_foreach(days, i, e) {
        for (b = 0; b < ch->nb; b++) {
            if (strncmp(ch->labels[b], zr_label_or(zr_str(e, "date"), ""),
                        strlen(ch->labels[b])) == 0)
            {
                break;
            }
        }

        for (k = 0; b < ch->nb && k < ch->ns; k++) {
            ch->v[b * ch->ns + k] += zr_series_value(&s, k,
                                                     json_object_get(e, by));
        }
    }
}


/* svg */

static void
zr_svg_open(FILE *out, const zr_chart_t *ch, int height)
{
    fprintf(out, "<figure>\n<svg id=\"%s\" class=\"chart\" role=\"img\" "
            "viewBox=\"0 0 %d %d\" aria-labelledby=\"%s-title %s-desc\">\n"
            "<title id=\"%s-title\">", ch->id, ZR_W, height, ch->id, ch->id,
            ch->id);
    zr_esc(out, ch->title);
    fprintf(out, "</title>\n<desc id=\"%s-desc\">", ch->id);
    zr_esc(out, ch->desc);
    fputs("</desc>\n", out);
}


static void
zr_svg_close(FILE *out, const zr_chart_t *ch, const char *caption)
{
    fputs("</svg>\n<figcaption>", out);
    zr_esc(out, ch->title);
    fputs(". ", out);
    zr_esc(out, caption);
    fputs("</figcaption>\n</figure>\n", out);
}


static void
zr_svg_empty(FILE *out, const zr_chart_t *ch, const char *why)
{
    zr_svg_open(out, ch, 80);
    fprintf(out, "<text x=\"%d\" y=\"45\" text-anchor=\"middle\" "
            "font-size=\"15\">", ZR_W / 2);
    zr_esc(out, why);
    fputs("</text>\n", out);
    zr_svg_close(out, ch, why);
}


/* the legend under the plot; returns its height */

static int
zr_legend(FILE *out, const zr_chart_t *ch, int y, int draw)
{
    int     x, w, rows;
    size_t  k;

    x = ZR_LEFT;
    rows = 1;

    for (k = 0; k < ch->ns; k++) {
        /* about 7.5 units per character at font size 13 */
        w = 26 + (int) strlen(ch->names[k]) * 15 / 2 + 22;

        if (x + w > ZR_W - ZR_RIGHT && x > ZR_LEFT) {
            x = ZR_LEFT;
            rows++;
        }

        if (draw) {
            fprintf(out, "<rect x=\"%d\" y=\"%d\" width=\"16\" "
                    "height=\"16\" fill=\"%s\"/>"
                    "<text x=\"%d\" y=\"%d\" font-size=\"13\">",
                    x, y + (rows - 1) * 24, zr_colours[k], x + 22,
                    y + (rows - 1) * 24 + 13);
            zr_esc(out, ch->names[k]);
            fputs("</text>\n", out);
        }

        x += w;
    }

    return rows * 24;
}


static void
zr_y_axis(FILE *out, json_int_t max, int top, int bottom, int left,
    int right, json_int_t *ymax)
{
    char        num[40];
    double      y;
    json_int_t  step, v;

    step = zr_step(max > 0 ? max : 1);
    *ymax = (max + step - 1) / step * step;
    *ymax = *ymax ? *ymax : step;

    for (v = 0; v <= *ymax; v += step) {
        y = bottom - (double) v / (double) *ymax * (bottom - top);
        zr_num(v, num, sizeof(num));
        fprintf(out, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" "
                "stroke=\"%s\"/><text x=\"%d\" y=\"%.1f\" "
                "text-anchor=\"end\" font-size=\"12\">%s</text>\n",
                left, right, y, y, v ? "#e1e5ea" : "#5b6670", left - 6,
                y + 4, num);
    }
}


static void
zr_bars(FILE *out, const zr_chart_t *ch, const char *caption)
{
    int          height, legend_y, top, bottom, every;
    char         num[40];
    size_t       b, k;
    double       slot, w, x, y, h;
    json_int_t   max, sum, ymax;

    max = 0;

    for (b = 0; b < ch->nb; b++) {
        for (sum = 0, k = 0; k < ch->ns; k++) {
            sum += ch->v[b * ch->ns + k];
        }

        max = sum > max ? sum : max;
    }

    if (max == 0) {
        zr_svg_empty(out, ch, "Nothing was forwarded in this period.");
        return;
    }

    top = ZR_TOP;
    bottom = 300;
    legend_y = bottom + 62;
    height = legend_y + zr_legend(out, ch, 0, 0) + 8;

    zr_svg_open(out, ch, height);
    zr_y_axis(out, max, top, bottom, ZR_LEFT, ZR_W - ZR_RIGHT, &ymax);

    /* a single day must not become one wall of colour */
    slot = (double) (ZR_W - ZR_RIGHT - ZR_LEFT) / (double) ch->nb;
    w = slot * 0.7 > 1 ? slot * 0.7 : 1;
    w = w < ZR_BAR_MAX ? w : ZR_BAR_MAX;
    every = (int) ((ch->nb + ZR_X_LABELS - 1) / ZR_X_LABELS);

    for (b = 0; b < ch->nb; b++) {
        x = ZR_LEFT + slot * (double) b + (slot - w) / 2;
        y = bottom;

        for (k = 0; k < ch->ns; k++) {
            if (ch->v[b * ch->ns + k] == 0) {
                continue;
            }

            h = (double) ch->v[b * ch->ns + k] / (double) ymax
                * (bottom - top);
            y -= h;
            zr_num(ch->v[b * ch->ns + k], num, sizeof(num));

            fprintf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                    "height=\"%.1f\" fill=\"%s\"><title>", x, y, w, h,
                    zr_colours[k]);
            zr_esc(out, ch->labels[b]);
            fputs(", ", out);
            zr_esc(out, ch->names[k]);
            fprintf(out, ": %s %s</title></rect>\n", num, ch->unit);
        }

        if (b % (size_t) every == 0) {
            fprintf(out, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" "
                    "font-size=\"12\">", x + w / 2, bottom + 18);
            zr_esc(out, ch->labels[b]);
            fputs("</text>\n", out);
        }
    }

    /* axis titles */
    fprintf(out, "<text x=\"16\" y=\"%d\" text-anchor=\"middle\" "
            "font-size=\"13\" transform=\"rotate(-90 16 %d)\">",
            (top + bottom) / 2, (top + bottom) / 2);
    zr_esc(out, ch->ylabel);
    fprintf(out, "</text>\n<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" "
            "font-size=\"13\">", (ZR_LEFT + ZR_W - ZR_RIGHT) / 2,
            bottom + 42);
    zr_esc(out, ch->xlabel);
    fputs("</text>\n", out);

    zr_legend(out, ch, legend_y, 1);
    zr_svg_close(out, ch, caption);
}


/* transfers per day by one breakdown of the model's "days" */

static void
zr_chart_per_day(const json_t *doc, FILE *out, const char *id,
    const char *title, const char *list, const char *key, const char *by,
    const char *caption)
{
    zr_chart_t  ch;

    memset(&ch, 0, sizeof(zr_chart_t));
    ch.id = id;
    ch.title = title;
    ch.unit = "transfers";
    ch.ylabel = "Transfers";
    zr_chart_days(doc, list, key, by, &ch);

    ch.xlabel = ch.nb && strlen(ch.labels[0]) == 7 ? "Month (UTC)"
                                                    : "Date (UTC)";
    ch.desc = "Stacked bars; the same numbers are in the table below.";

    zr_bars(out, &ch, caption);
    zr_chart_free(&ch);
}


/* redactions by category: one horizontal bar per category */

static void
zr_chart_redactions(const json_t *doc, FILE *out)
{
    int          row, height, top, left, right, bottom;
    char         num[40];
    size_t       i, n, j;
    json_t      *e, *list;
    double       w, y, x;
    zr_chart_t   ch;
    json_int_t   max, v, ymax, step;
    const json_t *cats[256];

    memset(&ch, 0, sizeof(zr_chart_t));
    ch.id = "chart-redactions";
    ch.title = "Personal data redacted before sending, by category";
    ch.desc = "Horizontal bars, largest first; the same numbers are in "
              "the table below.";

    list = json_object_get(doc, "data_categories");
    n = 0;
    max = 0;

    /* largest first: the model orders by values found */
    json_array_foreach(list, i, e) {
        v = zr_int(e, "redacted");

        if (v <= 0 || n == sizeof(cats) / sizeof(cats[0])) {
            continue;
        }

        for (j = n; j > 0 && zr_int(cats[j - 1], "redacted") < v; j--) {
            cats[j] = cats[j - 1];
        }

        cats[j] = e;
        n++;
        max = v > max ? v : max;
    }

    if (n == 0) {
        zr_svg_empty(out, &ch, "No personal data was redacted in this "
                     "period.");
        return;
    }

    row = 28;
    top = ZR_TOP + 8;
    left = 200;
    right = ZR_W - 90;
    bottom = top + (int) n * row;
    height = bottom + 82;

    zr_svg_open(out, &ch, height);

    step = zr_step(max);
    ymax = (max + step - 1) / step * step;

    for (v = 0; v <= ymax; v += step) {
        x = left + (double) v / (double) ymax * (right - left);
        zr_num(v, num, sizeof(num));
        fprintf(out, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" "
                "stroke=\"%s\"/><text x=\"%.1f\" y=\"%d\" "
                "text-anchor=\"middle\" font-size=\"12\">%s</text>\n",
                x, x, top - 4, bottom, v ? "#e1e5ea" : "#5b6670", x,
                bottom + 16, num);
    }

    for (i = 0; i < n; i++) {
        v = zr_int(cats[i], "redacted");
        y = top + (double) i * row + 4;
        w = (double) v / (double) ymax * (right - left);
        zr_num(v, num, sizeof(num));

        fprintf(out, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\" "
                "font-size=\"13\">", left - 8, y + 15);
        zr_esc(out, zr_label_or(zr_str(cats[i], "category"), "?"));
        fprintf(out, "</text>\n<rect x=\"%d\" y=\"%.1f\" width=\"%.1f\" "
                "height=\"20\" fill=\"%s\"><title>", left, y,
                w > 1 ? w : 1, zr_colours[0]);
        zr_esc(out, zr_label_or(zr_str(cats[i], "category"), "?"));
        fprintf(out, ": %s values redacted</title></rect>\n"
                "<text x=\"%.1f\" y=\"%.1f\" font-size=\"13\">%s</text>\n",
                num, left + w + 6, y + 15, num);
    }

    fprintf(out, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" "
            "font-size=\"13\">Values redacted</text>\n"
            "<text x=\"%d\" y=\"%d\" text-anchor=\"end\" font-size=\"13\" "
            "font-weight=\"600\">Category</text>\n",
            (left + right) / 2, bottom + 38, left - 8, top - 6 > 12
            ? top - 6 : 12);

    /* one series, but a reader of a printout still needs the key */
    fprintf(out, "<rect x=\"%d\" y=\"%d\" width=\"16\" height=\"16\" "
            "fill=\"%s\"/><text x=\"%d\" y=\"%d\" font-size=\"13\">"
            "values masked, pseudonymised or tokenised</text>\n",
            ZR_LEFT, bottom + 56, zr_colours[0], ZR_LEFT + 22, bottom + 69);

    zr_svg_close(out, &ch, "Masked, pseudonymised or tokenised values in "
                 "forwarded requests.");
}


static void
zr_cards(const json_t *doc, FILE *out)
{
    size_t          i;
    char            num[40];
    const json_t   *tot = json_object_get(doc, "totals");
    static const char  *cards[][2] = {
        { "transfers", "requests forwarded to a subprocessor" },
        { "third_country_transfers", "of them to a third country" },
        { "refusals", "requests refused, nothing sent" },
        { "redactions", "personal data values redacted" },
    };

    fputs("<div class=\"cards\" id=\"key-figures\">\n", out);

    for (i = 0; i < sizeof(cards) / sizeof(cards[0]); i++) {
        zr_num(zr_int(tot, cards[i][0]), num, sizeof(num));
        fprintf(out, "<div class=\"card\"><b>%s</b>%s</div>\n", num,
                cards[i][1]);
    }

    fputs("</div>\n", out);
}


static void
zr_head(const json_t *doc, FILE *out)
{
    char          a[48], b[48];
    const json_t *sc = json_object_get(doc, "scope");
    const char   *tenant = zr_str(sc, "tenant");

    zr_when(zr_str(sc, "first_record"), a, sizeof(a));
    zr_when(zr_str(sc, "last_record"), b, sizeof(b));

    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
          "<meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, "
          "initial-scale=1\">\n<title>Transfer report", out);

    if (tenant) {
        fputs(", tenant ", out);
        zr_esc(out, tenant);
    }

    fputs("</title>\n<style>", out);
    fputs(zr_css, out);
    fputs("</style>\n</head>\n<body>\n<main>\n"
          "<h1>Transfers of personal data to subprocessors</h1>\n"
          "<p class=\"lead\">", out);

    if (tenant) {
        fputs("Tenant <strong>", out);
        zr_esc(out, tenant);
        fputs("</strong>. ", out);
    }

    if (zr_str(sc, "first_record")) {
        fputs("Records from ", out);
        zr_esc(out, a);
        fputs(" to ", out);
        zr_esc(out, b);
        fputs(".", out);

    } else {
        fputs("No records in this period.", out);
    }

    fputs("</p>\n<p>Every request an application sends through the Zoll "
          "gateway to an AI provider (a <em>subprocessor</em>) is either "
          "forwarded, which is a transfer of the personal data in it, or "
          "refused, in which case nothing is sent. Before forwarding, the "
          "gateway records where the request goes, under which legal "
          "basis, which kinds of personal data it found and how it "
          "protected them. This report counts those records.</p>\n", out);
}


static void
zr_chart(const json_t *doc, FILE *out, int which)
{
    switch (which) {

    case ZR_T_DAYS_COUNTRY:
        zr_chart_per_day(doc, out, "chart-by-country",
                         "Transfers per day by destination country",
                         "countries", "country", "countries",
                         "Each bar is one day (UTC), split by the country "
                         "the requests went to.");
        break;

    case ZR_T_DAYS_BASIS:
        zr_chart_per_day(doc, out, "chart-by-legal-basis",
                         "Transfers per day by legal basis",
                         "legal_bases", "id", "legal_bases",
                         "Each bar is one day (UTC), split by the legal "
                         "basis of the transfers; the bases are listed "
                         "under \"Per legal basis\".");
        break;

    default:
        zr_chart_redactions(doc, out);
    }
}


void
zr_render_html(const json_t *doc, FILE *out)
{
    zr_head(doc, out);

    zr_table_out(doc, ZR_T_SCOPE, out, NULL);
    fputs("<p class=\"warn\">This report does not check that the log is "
          "complete and unaltered; <code>zollctl verify</code> does.</p>\n",
          out);

    fputs("<h2 id=\"h-key-figures\">Key figures</h2>\n", out);
    zr_cards(doc, out);
    zr_table_out(doc, ZR_T_SUMMARY, out, NULL);

    /* the overview first, the details after it */
    zr_table_out(doc, ZR_T_DAYS_COUNTRY, out, zr_chart);
    zr_table_out(doc, ZR_T_DAYS_BASIS, out, zr_chart);
    zr_table_out(doc, ZR_T_CATEGORIES, out, zr_chart);
    zr_table_out(doc, ZR_T_TENANTS, out, NULL);
    zr_table_out(doc, ZR_T_FLOWS, out, NULL);
    zr_table_out(doc, ZR_T_SUBPROCESSORS, out, NULL);
    zr_table_out(doc, ZR_T_COUNTRIES, out, NULL);
    zr_table_out(doc, ZR_T_LEGAL_BASES, out, NULL);
    zr_table_out(doc, ZR_T_MEASURES, out, NULL);
    zr_table_out(doc, ZR_T_REFUSALS, out, NULL);
    zr_table_out(doc, ZR_T_REASONS, out, NULL);
    zr_table_out(doc, ZR_T_OUTCOMES, out, NULL);

    fputs("<footer>Made by <code>zollctl report</code> from the Zoll "
          "transfer log. All dates and times are UTC. The same numbers "
          "are available with <code>--format json</code>.</footer>\n"
          "</main>\n</body>\n</html>\n", out);
}
