/*
 * zollctl verify and prune: the transfer log's files as a whole.
 *
 *   zollctl verify [--key PEM]... [--policy FILE] [--open] FILE...
 *   zollctl prune (--older-than Nd | --policy FILE) [--dry-run] FILE...
 *
 * Both take the files of one log in any order (the live file and its
 * rotated ones) and order them by their first record's seq.
 */

#define _GNU_SOURCE                     /* getline */

#include "zoll.h"
#include "zoll_logfiles.h"

#include <jansson.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>


typedef struct {
    const char  *path;
    long long    first_seq;    /* -1: no record */
    char         first_event[16];
    char         last_time[32];
} zoll_lf_t;


/* the first complete record of a file, and with last (prune) the time of
 * its last one: verify reads each file once more anyway */

static int
zoll_lf_scan(zoll_lf_t *f, int last)
{
    char     *line = NULL;
    size_t    cap = 0;
    ssize_t   n;
    json_t   *j;
    FILE     *fp;

    f->first_seq = -1;
    f->first_event[0] = '\0';
    f->last_time[0] = '\0';

    fp = fopen(f->path, "r");
    if (fp == NULL) {
        perror(f->path);
        return -1;
    }

    while ((n = getline(&line, &cap, fp)) > 0) {
        if (line[n - 1] != '\n') {
            break;
        }

        j = json_loadb(line, n - 1, 0, NULL);

        if (json_is_object(j)) {
            if (f->first_seq < 0) {
                f->first_seq = json_integer_value(json_object_get(j, "seq"));
                snprintf(f->first_event, sizeof(f->first_event), "%s",
                         json_string_value(json_object_get(j, "event"))
                         ? json_string_value(json_object_get(j, "event"))
                         : "");
            }

            if (json_string_value(json_object_get(j, "time"))) {
                snprintf(f->last_time, sizeof(f->last_time), "%s",
                         json_string_value(json_object_get(j, "time")));
            }
        }

        json_decref(j);

        if (!last && f->first_seq >= 0) {
            break;
        }
    }

    free(line);
    fclose(fp);
    return 0;
}


static int
zoll_lf_cmp(const void *a, const void *b)
{
    const zoll_lf_t  *x = a, *y = b;

    return (x->first_seq > y->first_seq) - (x->first_seq < y->first_seq);
}


static zoll_lf_t *
zoll_lf_load(char **paths, int n, int last)
{
    int         i;
    zoll_lf_t  *f;

    f = calloc(n, sizeof(zoll_lf_t));
    if (f == NULL) {
        return NULL;
    }

    for (i = 0; i < n; i++) {
        f[i].path = paths[i];

        if (zoll_lf_scan(&f[i], last) != 0) {
            free(f);
            return NULL;
        }
    }

    qsort(f, n, sizeof(zoll_lf_t), zoll_lf_cmp);
    return f;
}


/* The signing key named by a policy, relative to the policy's directory. */

static int
zoll_lf_policy_key(const char *policy, char *out, size_t cap)
{
    char         *dir;
    json_t       *root;
    const char   *key;
    json_error_t  jerr;

    root = json_load_file(policy, 0, &jerr);
    key = json_string_value(json_object_get(json_object_get(root, "logging"),
                                            "signing_key_file"));
    if (key == NULL) {
        fprintf(stderr, "%s: no logging.signing_key_file\n", policy);
        json_decref(root);
        return -1;
    }

    dir = strdup(policy);
    if (dir == NULL) {
        json_decref(root);
        return -1;
    }

    snprintf(out, cap, "%s%s%s", key[0] == '/' ? "" : dirname(dir),
             key[0] == '/' ? "" : "/", key);

    free(dir);
    json_decref(root);
    return 0;
}


static int
zoll_lf_verify_file(zoll_verify_t *v, const char *path)
{
    int        rc = 0;
    char      *line = NULL;
    size_t     cap = 0;
    ssize_t    n;
    uint64_t   lineno = 0;
    FILE      *fp;

    fp = fopen(path, "r");
    if (fp == NULL) {
        perror(path);
        return -1;
    }

    while (rc == 0 && (n = getline(&line, &cap, fp)) > 0) {
        lineno++;

        if (line[n - 1] == '\n') {
            rc = zoll_verify_line(v, path, lineno, line, n - 1, 1);

        } else {
            rc = zoll_verify_line(v, path, lineno, line, n, 0);
        }
    }

    free(line);
    fclose(fp);
    return rc;
}


int
zollctl_verify(int argc, char **argv)
{
    int                         i, nfiles = 0, open = 0, rc = 0, nkeys = 0;
    char                        err[ZOLL_ERR_LEN], key[4096];
    char                      **files;
    zoll_lf_t                  *lf;
    zoll_verify_t              *v;
    const zoll_verify_stats_t  *st;

    v = zoll_verify_new();
    files = calloc(argc + 1, sizeof(char *));

    if (v == NULL || files == NULL) {
        return 2;
    }

    for (i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--open") == 0) {
            open = 1;

        } else if (i + 1 < argc && (strcmp(argv[i], "--key") == 0
                                    || strcmp(argv[i], "--policy") == 0))
        {
            if (strcmp(argv[i], "--policy") == 0) {
                if (zoll_lf_policy_key(argv[++i], key, sizeof(key)) != 0) {
                    return 2;
                }

            } else {
                snprintf(key, sizeof(key), "%s", argv[++i]);
            }

            if (zoll_verify_add_key(v, key, err, sizeof(err)) != 0) {
                fprintf(stderr, "%s\n", err);
                return 2;
            }

            nkeys++;

        } else if (argv[i][0] == '-') {
            return zollctl_usage();

        } else {
            files[nfiles++] = argv[i];
        }
    }

    if (nfiles == 0 || nkeys == 0) {
        fprintf(stderr, "zollctl verify: give the log's files and the "
                "public key (--key PEM, or --policy FILE)\n");
        return 2;
    }

    lf = zoll_lf_load(files, nfiles, 0);
    if (lf == NULL) {
        return 2;
    }

    for (i = 0; rc == 0 && i < nfiles; i++) {
        if (lf[i].first_seq >= 0 || i == nfiles - 1) {
            rc = zoll_lf_verify_file(v, lf[i].path);
        }
    }

    if (rc == 0) {
        rc = zoll_verify_end(v, open);
    }

    st = zoll_verify_stats(v);

    if (rc != 0) {
        printf("FAILED: %s\n", zoll_verify_error(v));

    } else {
        printf("OK: %llu records, seq %llu to %llu, in %d file(s)%s\n"
               "  %llu signed checkpoint(s), the last at seq %llu%s\n",
               (unsigned long long) st->records,
               (unsigned long long) st->first_seq,
               (unsigned long long) st->last_seq, nfiles,
               st->anchored ? " (starting at a signed checkpoint: older "
                              "files were pruned)" : "",
               (unsigned long long) st->checkpoints,
               (unsigned long long) st->signed_seq,
               st->closed ? "; the log ends with a shutdown checkpoint" : "");

        if (!st->closed) {
            printf("  open: %llu record(s) after the last checkpoint are "
                   "chained but not yet signed\n",
                   (unsigned long long) (st->last_seq - st->signed_seq));
        }

        if (st->restarts || st->torn) {
            printf("  %llu restart(s) after an unclean end; %llu torn "
                   "write(s) reported by the gateway\n",
                   (unsigned long long) st->restarts,
                   (unsigned long long) st->torn);
        }
    }

    zoll_verify_free(v);
    free(lf);
    free(files);
    return rc == 0 ? 0 : 1;
}


static int
zoll_lf_days(const char *s, unsigned *days)
{
    char           *end;
    unsigned long   n;

    n = strtoul(s, &end, 10);

    if (end == s || strcmp(end, "d") != 0 || n > 36500) {
        fprintf(stderr, "zollctl prune: --older-than wants days, "
                "e.g. 180d\n");
        return -1;
    }

    *days = (unsigned) n;
    return 0;
}


int
zollctl_prune(int argc, char **argv)
{
    int             i, n = 0, dry = 0, removed = 0, have = 0;
    char          **files, cutoff[32];
    time_t          t;
    unsigned        days = 0;
    struct tm       tm;
    zoll_lf_t      *lf;
    zoll_policy_t  *p;
    char            err[ZOLL_ERR_LEN];

    files = calloc(argc + 1, sizeof(char *));
    if (files == NULL) {
        return 2;
    }

    for (i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--dry-run") == 0) {
            dry = 1;

        } else if (i + 1 < argc && strcmp(argv[i], "--older-than") == 0) {
            if (zoll_lf_days(argv[++i], &days) != 0) {
                return 2;
            }

            have = 1;

        } else if (i + 1 < argc && strcmp(argv[i], "--policy") == 0) {
            p = zoll_policy_load(argv[++i], err, sizeof(err));
            if (p == NULL) {
                fprintf(stderr, "%s: %s\n", argv[i], err);
                return 2;
            }

            days = zoll_policy_log(p)->retention_days;
            zoll_policy_free(p);
            have = 1;

            if (days == 0) {
                printf("the policy keeps transfer logs for ever "
                       "(logging.retention_days is 0): nothing to do\n");
                return 0;
            }

        } else if (argv[i][0] == '-') {
            return zollctl_usage();

        } else {
            files[n++] = argv[i];
        }
    }

    if (n == 0 || !have) {
        fprintf(stderr, "zollctl prune: give --older-than Nd or --policy, "
                "and the log's files\n");
        return 2;
    }

    t = time(NULL) - (time_t) days * 86400;
    gmtime_r(&t, &tm);
    strftime(cutoff, sizeof(cutoff), "%Y-%m-%dT%H:%M:%S", &tm);

    lf = zoll_lf_load(files, n, 1);
    if (lf == NULL) {
        return 2;
    }

    /* Oldest first, never the newest (it is being written), and only
     * while every record of the file is older than the cutoff: removing
     * from the middle would leave a gap verify reports.  What stays must
     * begin with a signed checkpoint, or it could not be verified alone. */
    for (i = 0; i < n - 1; i++) {
        if (lf[i].first_seq < 0 || lf[i].last_time[0] == '\0'
            || strcmp(lf[i].last_time, cutoff) >= 0)
        {
            break;
        }

        if (strcmp(lf[i + 1].first_event, "checkpoint") != 0) {
            printf("kept %s: the next file, %s, does not begin with a "
                   "signed checkpoint\n", lf[i].path, lf[i + 1].path);
            break;
        }

        if (!dry && remove(lf[i].path) != 0) {
            perror(lf[i].path);
            free(lf);
            return 1;
        }

        printf("%s %s (last record %s)\n", dry ? "would remove" : "removed",
               lf[i].path, lf[i].last_time);
        removed++;
    }

    if (removed == 0) {
        printf("nothing older than %u days\n", days);
    }

    free(lf);
    free(files);
    return 0;
}
