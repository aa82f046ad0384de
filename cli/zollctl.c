/*
 * zollctl: the operator's and reviewer's command line to the Zoll engine.
 *
 *   zollctl check FILE
 *   zollctl explain --policy FILE --tenant ID --subprocessor ID
 *                   [--country CC] [--json]
 *   zollctl key new
 *   zollctl key hash            (reads a key on stdin)
 *   zollctl scan [--rules DIR] [--json] [--lines] [--pcre-only]
 *   zollctl redact --policy FILE --tenant ID [--api API] [--pcre-only]
 *   zollctl verify [--key PEM]... [--policy FILE] [--open] FILE...
 *   zollctl prune (--older-than Nd | --policy FILE) [--dry-run] FILE...
 *   zollctl report [--since DATE] [--until DATE] [--tenant ID]
 *                  [--format text|json|html] FILE...
 *
 * It uses exactly the engine the nginx module uses, so "explain" shows the
 * decision the gateway will take.
 */

#include "zoll.h"
#include "zoll_logfiles.h"
#include "zoll_report.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


int
zollctl_usage(void)
{
    fprintf(stderr,
        "usage: zollctl check FILE\n"
        "       zollctl explain --policy FILE --tenant ID "
        "--subprocessor ID [--country CC] [--json]\n"
        "       zollctl key new\n"
        "       zollctl key hash < keyfile\n"
        "       zollctl scan [--rules DIR] [--json] [--lines] "
        "[--pcre-only] < text\n"
        "       zollctl redact --policy FILE --tenant ID "
        "[--api openai|anthropic|gemini] [--pcre-only] < body\n"
        "       zollctl verify [--key PEM]... [--policy FILE] [--open] "
        "FILE...\n"
        "       zollctl prune (--older-than Nd | --policy FILE) [--dry-run] "
        "FILE...\n"
        "       zollctl report [--since DATE] [--until DATE] [--tenant ID] "
        "[--format text|json|html] FILE...\n");
    return 2;
}


static zoll_policy_t *
load(const char *path)
{
    char            err[ZOLL_ERR_LEN];
    zoll_policy_t  *p;

    const char     *note;

    p = zoll_policy_load(path, err, sizeof(err));
    if (p == NULL) {
        fprintf(stderr, "%s: %s\n", path, err);
        return NULL;
    }

    note = zoll_rules_cache_note(zoll_policy_rules(p), NULL);
    if (note[0]) {
        fprintf(stderr, "%s: warning: %s\n", path, note);
    }

    return p;
}


static int
cmd_check(int argc, char **argv)
{
    zoll_policy_t  *p;

    if (argc != 1) {
        return zollctl_usage();
    }

    p = load(argv[0]);
    if (p == NULL) {
        return 1;
    }

    printf("%s: ok (%s)\n", argv[0], zoll_policy_digest(p));
    zoll_policy_free(p);
    return 0;
}


static json_t *
basis_json(const zoll_legal_basis_t *b)
{
    if (b == NULL) {
        return json_null();
    }

    return json_pack("{s:s, s:s, s:s, s:s?, s:b}", "id", b->id,
                     "article", b->article, "instrument", b->instrument,
                     "module", b->module, "suspended", b->suspended);
}


/* only with --country: where the subject is and the residency that
 * applied to it */

static json_t *
subject_json(const zoll_decision_t *d)
{
    if (!d->has_subject) {
        return json_null();
    }

    return json_pack("{s:s, s:s, s:s}", "country", d->subject.country,
                     "area", zoll_area_name(d->subject.area),
                     "residency", zoll_residency_name(d->residency));
}


static void
explain_json(const zoll_decision_t *d)
{
    json_t                *o;
    const zoll_region_t   *r = d->region;

    o = json_pack("{s:b, s:i, s:s?, s:s, s:s, s:o, s:s, s:s?, s:s?, s:s?,"
                  " s:s?, s:o, s:o, s:s}",
                  "allowed", d->status == ZOLL_OK,
                  "status", zoll_status_http(d->status),
                  "code", d->status == ZOLL_OK ? NULL
                                               : zoll_status_code(d->status),
                  "tenant", d->tenant->id,
                  "residency", zoll_residency_name(d->tenant->residency),
                  "subject", subject_json(d),
                  "subprocessor", d->sp->id,
                  "region", r ? r->id : NULL,
                  "country", r ? r->country : NULL,
                  "endpoint", r ? r->host : NULL,
                  "upstream", r ? r->upstream : NULL,
                  "third_country", r ? json_boolean(d->third_country)
                                     : json_null(),
                  "legal_basis", basis_json(d->basis),
                  "reason", d->reason);

    json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    printf("\n");
    json_decref(o);
}


static void
explain_text(const zoll_decision_t *d)
{
    const zoll_region_t        *r = d->region;
    const zoll_legal_basis_t   *b = d->basis;

    printf("tenant:        %s (residency %s)\n", d->tenant->id,
           zoll_residency_name(d->tenant->residency));
    printf("subprocessor:  %s (%s)\n", d->sp->id, d->sp->legal_name);

    if (d->has_subject) {
        printf("subject:       in %s (%s), residency %s\n",
               d->subject.country, zoll_area_name(d->subject.area),
               zoll_residency_name(d->residency));
    }

    if (d->status != ZOLL_OK) {
        printf("decision:      refused, HTTP %d %s\n",
               zoll_status_http(d->status), zoll_status_code(d->status));
        printf("reason:        %s\n", d->reason);
        return;
    }

    printf("decision:      allowed\n");
    printf("region:        %s, endpoint %s:%u (upstream %s)\n", r->id,
           r->host, r->port, r->upstream);
    printf("country:       %s (%s)\n", r->country,
           d->third_country ? "third country" : "EEA");

    if (b) {
        printf("legal basis:   %s: %s, %s%s%s\n", b->id, b->article,
               b->instrument, b->module ? ", " : "",
               b->module ? b->module : "");

    } else {
        printf("legal basis:   none needed (no transfer outside the EEA)\n");
    }

    printf("reason:        %s\n", d->reason);
}


static int
cmd_explain(int argc, char **argv)
{
    int                         i, as_json = 0, rc;
    const char                 *policy = NULL, *tenant = NULL, *spid = NULL;
    const char                 *country = NULL;
    zoll_policy_t              *p;
    zoll_subject_t              subject;
    zoll_decision_t             d;
    const zoll_tenant_t        *t;
    const zoll_subprocessor_t  *sp;

    for (i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            as_json = 1;

        } else if (i + 1 < argc && strcmp(argv[i], "--policy") == 0) {
            policy = argv[++i];

        } else if (i + 1 < argc && strcmp(argv[i], "--tenant") == 0) {
            tenant = argv[++i];

        } else if (i + 1 < argc && strcmp(argv[i], "--subprocessor") == 0) {
            spid = argv[++i];

        } else if (i + 1 < argc && strcmp(argv[i], "--country") == 0) {
            country = argv[++i];

        } else {
            return zollctl_usage();
        }
    }

    if (policy == NULL || tenant == NULL || spid == NULL) {
        return zollctl_usage();
    }

    p = load(policy);
    if (p == NULL) {
        return 1;
    }

    t = zoll_policy_tenant_by_id(p, tenant);
    sp = zoll_policy_subprocessor(p, spid);

    if (t == NULL || sp == NULL) {
        fprintf(stderr, "%s: no %s \"%s\"\n", policy,
                t == NULL ? "tenant" : "subprocessor",
                t == NULL ? tenant : spid);
        zoll_policy_free(p);
        return 1;
    }

    if (country && zoll_subject_in(p, &subject, country) != 0) {
        fprintf(stderr, "--country \"%s\": not an ISO 3166-1 alpha-2 "
                "code\n", country);
        zoll_policy_free(p);
        return 1;
    }

    zoll_route(p, t, sp, country ? &subject : NULL, &d);

    if (as_json) {
        explain_json(&d);

    } else {
        explain_text(&d);
    }

    /* the exit code tells scripts whether the transfer would happen */
    rc = d.status == ZOLL_OK ? 0 : 3;
    zoll_policy_free(p);
    return rc;
}


static int
cmd_key(int argc, char **argv)
{
    char           key[ZOLL_KEY_LEN + 1], hex[ZOLL_SHA256_HEX_LEN + 1];
    char           line[4096];
    size_t         n;
    unsigned char  md[ZOLL_SHA256_LEN];

    if (argc == 1 && strcmp(argv[0], "new") == 0) {
        if (zoll_key_new(key) != 0) {
            fprintf(stderr, "zollctl: no randomness available\n");
            return 1;
        }

        zoll_sha256(key, ZOLL_KEY_LEN, md);
        zoll_hex(md, ZOLL_SHA256_LEN, hex);
        printf("key:  %s\nhash: sha256:%s\n", key, hex);
        printf("Give the key to the tenant; put only the hash in the "
               "policy's \"keys\".\n");
        return 0;
    }

    if (argc == 1 && strcmp(argv[0], "hash") == 0) {
        if (fgets(line, sizeof(line), stdin) == NULL) {
            return zollctl_usage();
        }

        n = strcspn(line, "\r\n");
        zoll_sha256(line, n, md);
        zoll_hex(md, ZOLL_SHA256_LEN, hex);
        printf("sha256:%s\n", hex);
        return 0;
    }

    return zollctl_usage();
}


#define ZOLLCTL_INPUT_MAX  (256 * 1024 * 1024)

/* All of stdin; NUL-terminated for convenience, *n excludes the NUL. */

static unsigned char *
read_all(FILE *f, size_t *n)
{
    size_t          cap, got;
    unsigned char  *buf, *nb;

    cap = 65536;
    *n = 0;

    buf = malloc(cap);
    if (buf == NULL) {
        return NULL;
    }

    for ( ;; ) {
        got = fread(buf + *n, 1, cap - *n - 1, f);
        *n += got;

        if (got == 0) {
            break;
        }

        if (*n + 1 == cap) {
            if (cap >= ZOLLCTL_INPUT_MAX) {
                free(buf);
                return NULL;
            }

            cap *= 2;
            nb = realloc(buf, cap);
            if (nb == NULL) {
                free(buf);
                return NULL;
            }
            buf = nb;
        }
    }

    buf[*n] = '\0';
    return buf;
}


static void
scan_print(const zoll_rules_t *rs, const unsigned char *text,
    const zoll_span_t *spans, size_t n, int json, int lines)
{
    size_t  i;

    if (lines) {
        putchar('[');
    }

    for (i = 0; i < n; i++) {
        if (json || lines) {
            printf("%s{\"start\":%zu,\"end\":%zu,\"entity\":\"%s\","
                   "\"rule\":\"%s\"}%s", (lines && i) ? "," : "",
                   spans[i].start, spans[i].end,
                   zoll_rule_entity(rs, spans[i].rule),
                   zoll_rule_id(rs, spans[i].rule), lines ? "" : "\n");

        } else {
            printf("%zu-%zu %s (%s): %.*s\n", spans[i].start, spans[i].end,
                   zoll_rule_entity(rs, spans[i].rule),
                   zoll_rule_id(rs, spans[i].rule),
                   (int) (spans[i].end - spans[i].start),
                   text + spans[i].start);
        }
    }

    if (lines) {
        puts("]");
    }
}


/* --lines: every input line is one JSON string, decoded and scanned on its
 * own (this is how tests/eval feeds a corpus through one process). */

static int
scan_lines(const zoll_rules_t *rs, zoll_scanner_t *sc, char *in)
{
    char               *line, *next;
    size_t              n;
    json_t             *s;
    json_error_t        jerr;
    const zoll_span_t  *spans;

    for (line = in; *line; line = next) {
        next = strchr(line, '\n');
        if (next) {
            *next++ = '\0';
        } else {
            next = line + strlen(line);
        }

        s = json_loads(line, JSON_DECODE_ANY, &jerr);

        if (!json_is_string(s)) {
            fprintf(stderr, "zollctl: a line is not a JSON string\n");
            json_decref(s);
            return 1;
        }

        if (zoll_scan(sc, (const unsigned char *) json_string_value(s),
                      json_string_length(s), &spans, &n) != 0)
        {
            fprintf(stderr, "zollctl: the scan failed\n");
            json_decref(s);
            return 1;
        }

        scan_print(rs, (const unsigned char *) json_string_value(s), spans,
                   n, 1, 1);
        json_decref(s);
    }

    return 0;
}


static int
cmd_scan(int argc, char **argv)
{
    int                 i, json, lines, rc;
    char                err[ZOLL_ERR_LEN];
    size_t              len, n;
    unsigned            mode;
    const char         *dir;
    unsigned char      *in;
    zoll_rules_t       *rs;
    zoll_scanner_t     *sc;
    const zoll_span_t  *spans;

    dir = "rules";
    json = 0;
    lines = 0;
    mode = 0;

    for (i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            json = 1;

        } else if (strcmp(argv[i], "--lines") == 0) {
            lines = 1;

        } else if (strcmp(argv[i], "--pcre-only") == 0) {
            mode = ZOLL_SCAN_PCRE_ONLY;

        } else if (i + 1 < argc && strcmp(argv[i], "--rules") == 0) {
            dir = argv[++i];

        } else {
            return zollctl_usage();
        }
    }

    rs = zoll_rules_load(dir, ZOLL_RULES_CACHE_DIR, err, sizeof(err));
    if (rs == NULL) {
        fprintf(stderr, "%s: %s\n", dir, err);
        return 1;
    }

    if (zoll_rules_cache_note(rs, NULL)[0]) {
        fprintf(stderr, "%s: warning: %s\n", dir,
                zoll_rules_cache_note(rs, NULL));
    }

    sc = zoll_scanner_new(rs, mode);
    in = read_all(stdin, &len);

    if (sc == NULL || in == NULL) {
        fprintf(stderr, "zollctl: out of memory or input too large\n");
        rc = 1;

    } else if (lines) {
        rc = scan_lines(rs, sc, (char *) in);

    } else if (zoll_scan(sc, in, len, &spans, &n) != 0) {
        fprintf(stderr, "zollctl: the scan failed\n");
        rc = 1;

    } else {
        scan_print(rs, in, spans, n, json, 0);
        rc = 0;
    }

    free(in);
    zoll_scanner_free(sc);
    zoll_rules_free(rs);
    return rc;
}


static int
cmd_redact(int argc, char **argv)
{
    int                   i, rc;
    size_t                len, e;
    unsigned              mode;
    zoll_api_e            api;
    const char           *policy, *tenant;
    unsigned char        *in;
    zoll_policy_t        *p;
    zoll_redactor_t      *rd;
    zoll_redaction_t      res;
    const zoll_tenant_t  *t;
    const zoll_rules_t   *rs;

    policy = NULL;
    tenant = NULL;
    mode = 0;
    api = ZOLL_API_OPENAI;

    for (i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--pcre-only") == 0) {
            mode = ZOLL_SCAN_PCRE_ONLY;

        } else if (i + 1 < argc && strcmp(argv[i], "--api") == 0) {
            i++;

            for (api = ZOLL_API_OPENAI; api <= ZOLL_API_GEMINI; api++) {
                if (strcmp(argv[i], zoll_api_name(api)) == 0) {
                    break;
                }
            }

            if (api > ZOLL_API_GEMINI) {
                return zollctl_usage();
            }

        } else if (i + 1 < argc && strcmp(argv[i], "--policy") == 0) {
            policy = argv[++i];

        } else if (i + 1 < argc && strcmp(argv[i], "--tenant") == 0) {
            tenant = argv[++i];

        } else {
            return zollctl_usage();
        }
    }

    if (policy == NULL || tenant == NULL) {
        return zollctl_usage();
    }

    p = load(policy);
    if (p == NULL) {
        return 1;
    }

    t = zoll_policy_tenant_by_id(p, tenant);
    if (t == NULL) {
        fprintf(stderr, "zollctl: no tenant \"%s\"\n", tenant);
        zoll_policy_free(p);
        return 1;
    }

    rd = zoll_redactor_new(p, mode);
    in = read_all(stdin, &len);

    if (rd == NULL || in == NULL) {
        fprintf(stderr, "zollctl: out of memory or input too large\n");
        rc = 1;
        goto done;
    }

    if (zoll_redact(rd, t, api, in, len, &res) != ZOLL_OK) {
        fprintf(stderr, "zollctl: refused: %d %s: %s\n",
                zoll_status_http(res.status), zoll_status_code(res.status),
                res.reason);
        rc = 3;
        goto done;
    }

    fwrite(res.body, 1, res.len, stdout);

    rs = zoll_policy_rules(p);
    fprintf(stderr, "profile %s: %zu replaced", t->profile->id,
            res.redacted);

    for (e = 0; e < zoll_rules_entities(rs); e++) {
        if (zoll_redaction_found(rd, (unsigned) e)) {
            fprintf(stderr, ", %s %zu", zoll_rules_entity(rs, (unsigned) e),
                    zoll_redaction_found(rd, (unsigned) e));
        }
    }

    fputc('\n', stderr);
    rc = 0;

done:

    free(in);
    zoll_redactor_free(rd);
    zoll_policy_free(p);
    return rc;
}


int
main(int argc, char **argv)
{
    if (argc < 2) {
        return zollctl_usage();
    }

    if (strcmp(argv[1], "check") == 0) {
        return cmd_check(argc - 2, argv + 2);
    }

    if (strcmp(argv[1], "explain") == 0) {
        return cmd_explain(argc - 2, argv + 2);
    }

    if (strcmp(argv[1], "key") == 0) {
        return cmd_key(argc - 2, argv + 2);
    }

    if (strcmp(argv[1], "scan") == 0) {
        return cmd_scan(argc - 2, argv + 2);
    }

    if (strcmp(argv[1], "verify") == 0) {
        return zollctl_verify(argc - 2, argv + 2);
    }

    if (strcmp(argv[1], "prune") == 0) {
        return zollctl_prune(argc - 2, argv + 2);
    }

    if (strcmp(argv[1], "redact") == 0) {
        return cmd_redact(argc - 2, argv + 2);
    }

    if (strcmp(argv[1], "report") == 0) {
        return zollctl_report(argc - 2, argv + 2);
    }

    return zollctl_usage();
}
