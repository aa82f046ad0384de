/*
 * The compiled-rules cache (zoll_hs_cache.c): a database read back from
 * the cache finds exactly what a freshly compiled one finds; a damaged,
 * foreign or mismatched file is never used (the database is compiled
 * again and the note says why); and different input never shares a file.
 */

#include "zt.h"

#include "zoll_internal.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>


static const char *const  zt_cache_texts[] = {
    "Mail anna@example.de bitte, IBAN DE89 3704 0044 0532 0130 00",
    "mit Anna Schmidt und Jonas M\xc3\xbcller reden; B-AB 1234 Kennzeichen",
    "DE89370400440532013000anna@example.de und GB82 WEST 1234 5698 7654 32",
    "user@localhost a.@b.de, nichts hier",
};

#define ZT_NCACHE_TEXTS  (sizeof(zt_cache_texts) / sizeof(zt_cache_texts[0]))


/* A fresh, empty cache directory of its own. */

static char *
zt_cache_dir(void)
{
    static char  dir[64];

    snprintf(dir, sizeof(dir), "/tmp/zt-hscache-XXXXXX");
    assert_non_null(mkdtemp(dir));
    assert_int_equal(chmod(dir, 0755), 0);
    return dir;
}


static void
zt_cache_rm(const char *dir)
{
    DIR            *d;
    char            path[ZT_PATH_LEN];
    struct dirent  *de;

    d = opendir(dir);
    assert_non_null(d);

    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] != '.') {
            snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
            unlink(path);
        }
    }

    closedir(d);
    rmdir(dir);
}


/* The one "*.hsdb" file in dir (the test makes one database at a time);
 * returns how many there are. */

static size_t
zt_cache_files(const char *dir, char *path, size_t cap)
{
    DIR            *d;
    size_t          n, len;
    struct dirent  *de;

    d = opendir(dir);
    assert_non_null(d);
    n = 0;

    while ((de = readdir(d)) != NULL) {
        len = strlen(de->d_name);

        if (len > 5 && strcmp(de->d_name + len - 5, ".hsdb") == 0) {
            if (path) {
                snprintf(path, cap, "%s/%s", dir, de->d_name);
            }
            n++;
        }
    }

    closedir(d);
    return n;
}


static zoll_rules_t *
zt_cache_load(const char *dir, unsigned *hits)
{
    char           err[ZOLL_ERR_LEN];
    zoll_rules_t  *rs;

    rs = zoll_rules_load(zt_data("rules"), dir, err, sizeof(err));
    if (rs == NULL) {
        fail_msg("%s: %s", zt_data("rules"), err);
    }

    (void) zoll_rules_cache_note(rs, hits);
    return rs;
}


/* Every text gives the same spans with both rule sets. */

static void
zt_same_spans(const zoll_rules_t *a, const zoll_rules_t *b)
{
    size_t              i, k, na, nb, total;
    zoll_scanner_t     *sa, *sb;
    const zoll_span_t  *pa, *pb;

    sa = zoll_scanner_new(a, 0);
    sb = zoll_scanner_new(b, 0);
    assert_non_null(sa);
    assert_non_null(sb);
    total = 0;

    for (i = 0; i < ZT_NCACHE_TEXTS; i++) {
        assert_int_equal(zoll_scan(sa, (const unsigned char *)
                                   zt_cache_texts[i],
                                   strlen(zt_cache_texts[i]), &pa, &na), 0);
        assert_int_equal(zoll_scan(sb, (const unsigned char *)
                                   zt_cache_texts[i],
                                   strlen(zt_cache_texts[i]), &pb, &nb), 0);
        assert_int_equal(na, nb);

        for (k = 0; k < na; k++) {
            assert_int_equal(pa[k].start, pb[k].start);
            assert_int_equal(pa[k].end, pb[k].end);
            assert_int_equal(pa[k].rule, pb[k].rule);
        }

        total += na;
    }

    /* not an agreement on nothing */
    assert_int_equal(total, 7);

    zoll_scanner_free(sa);
    zoll_scanner_free(sb);
}


static void
test_cache_hit_same_spans(void **state)
{
    char           *dir;
    unsigned        hits;
    zoll_rules_t   *fresh, *first, *cached;

    (void) state;

    dir = zt_cache_dir();
    fresh = zt_cache_load(NULL, &hits);
    assert_int_equal(hits, 0);

    first = zt_cache_load(dir, &hits);
    assert_int_equal(hits, 0);
    assert_string_equal(zoll_rules_cache_note(first, NULL), "");
    assert_int_equal(zt_cache_files(dir, NULL, 0), 1);

    cached = zt_cache_load(dir, &hits);
    assert_int_equal(hits, 1);
    assert_string_equal(zoll_rules_cache_note(cached, NULL), "");
    assert_int_equal(zt_cache_files(dir, NULL, 0), 1);

    zt_same_spans(fresh, cached);
    zt_same_spans(first, cached);

    zoll_rules_free(fresh);
    zoll_rules_free(first);
    zoll_rules_free(cached);
    zt_cache_rm(dir);
}


/* How a cache file is damaged before the next load. */

typedef enum {
    ZT_FLIP_PAYLOAD = 0,    /* a bit of the database */
    ZT_TRUNCATE,
    ZT_GARBAGE,
    ZT_EMPTY,
    ZT_WORLD_WRITABLE,      /* anyone could have put it there */
    ZT_DAMAGE_N
} zt_damage_e;


static const char *const  zt_damage_notes[ZT_DAMAGE_N] = {
    "is corrupt (checksum mismatch)",
    "is truncated",
    "is not a Zoll rules cache file",
    "has an impossible size",
    "is writable by group or others",
};


static void
zt_damage(const char *file, zt_damage_e how)
{
    int           ch;
    FILE         *f;
    struct stat   st;

    assert_int_equal(stat(file, &st), 0);

    switch (how) {
    case ZT_FLIP_PAYLOAD:
        f = fopen(file, "r+b");
        assert_non_null(f);
        fseek(f, st.st_size / 2, SEEK_SET);
        ch = fgetc(f);
        fseek(f, st.st_size / 2, SEEK_SET);
        fputc(ch ^ 0x10, f);
        assert_int_equal(fclose(f), 0);
        break;

    case ZT_TRUNCATE:
        assert_int_equal(truncate(file, st.st_size - 100), 0);
        break;

    case ZT_GARBAGE:
        f = fopen(file, "r+b");
        assert_non_null(f);
        fputs("not a database", f);
        fclose(f);
        break;

    case ZT_EMPTY:
        assert_int_equal(truncate(file, 0), 0);
        break;

    default:
        assert_int_equal(chmod(file, 0666), 0);
    }
}


static void
test_cache_damaged_ignored(void **state)
{
    char           *dir, file[ZT_PATH_LEN];
    unsigned        hits, how;
    zoll_rules_t   *fresh, *rs;

    (void) state;

    dir = zt_cache_dir();
    fresh = zt_cache_load(NULL, &hits);

    for (how = 0; how < ZT_DAMAGE_N; how++) {
        zoll_rules_free(zt_cache_load(dir, &hits));
        assert_int_equal(zt_cache_files(dir, file, sizeof(file)), 1);

        zt_damage(file, how);

        /* compiled again, the same spans, and the note says why */
        rs = zt_cache_load(dir, &hits);
        assert_int_equal(hits, 0);
        zt_assert_contains(zoll_rules_cache_note(rs, NULL),
                           zt_damage_notes[how]);
        zt_assert_contains(zoll_rules_cache_note(rs, NULL), "compiled "
                           "instead");
        zt_same_spans(fresh, rs);
        zoll_rules_free(rs);

        if (how == ZT_WORLD_WRITABLE) {
            /* not replaced: remove it, and a sound file is written */
            assert_int_equal(unlink(file), 0);
            zoll_rules_free(zt_cache_load(dir, &hits));
        }

        /* the damaged file was replaced by a sound one */
        rs = zt_cache_load(dir, &hits);
        assert_int_equal(hits, 1);
        zt_same_spans(fresh, rs);
        zoll_rules_free(rs);
    }

    zoll_rules_free(fresh);
    zt_cache_rm(dir);
}


/* A directory others may write to is not used, and one that cannot be
 * made only costs the compile. */

static void
test_cache_unusable_dir(void **state)
{
    char           *dir, sub[ZT_PATH_LEN];
    unsigned        hits;
    zoll_rules_t   *rs;

    (void) state;

    dir = zt_cache_dir();
    assert_int_equal(chmod(dir, 0777), 0);

    rs = zt_cache_load(dir, &hits);
    zt_assert_contains(zoll_rules_cache_note(rs, NULL),
                       "is writable by group or others: not used");
    assert_int_equal(zt_cache_files(dir, NULL, 0), 0);
    zoll_rules_free(rs);

    snprintf(sub, sizeof(sub), "%s/no/such/dir", dir);
    rs = zt_cache_load(sub, &hits);
    assert_int_equal(hits, 0);
    zt_assert_contains(zoll_rules_cache_note(rs, NULL),
                       "No such file or directory");
    zoll_rules_free(rs);

    /* made when only the last level is missing */
    snprintf(sub, sizeof(sub), "%s/made", dir);
    assert_int_equal(chmod(dir, 0755), 0);
    zoll_rules_free(zt_cache_load(sub, &hits));
    rs = zt_cache_load(sub, &hits);
    assert_int_equal(hits, 1);
    zoll_rules_free(rs);

    zt_cache_rm(sub);
    zt_cache_rm(dir);
}


/* The key covers every input: each change below gets its own file, and a
 * sound file of other input under this input's name is refused. */

static void
zt_compile(zoll_hs_cache_t *c, const char *const *exprs,
    const unsigned *flags, const unsigned *ids, unsigned n)
{
    hs_database_t       *db;
    hs_compile_error_t  *cerr;

    assert_int_equal(zoll_hs_compile_cached(c, exprs, flags, ids, n,
                                            HS_MODE_BLOCK, &db, &cerr),
                     HS_SUCCESS);
    hs_free_database(db);
}


static void
zt_copy(const char *from, const char *to)
{
    int    ch;
    FILE  *in, *out;

    in = fopen(from, "rb");
    out = fopen(to, "wb");
    assert_non_null(in);
    assert_non_null(out);

    while ((ch = fgetc(in)) != EOF) {
        fputc(ch, out);
    }

    fclose(in);
    assert_int_equal(fclose(out), 0);
}


static void
test_cache_key_covers_input(void **state)
{
    char              dir[64], other[64], fa[ZT_PATH_LEN], fb[ZT_PATH_LEN];
    zoll_hs_cache_t   c;

    static const char *const  a[] = { "foo[0-9]+", "bar" };
    static const char *const  b[] = { "foo[0-9]+", "baz" };
    static const char *const  ab[] = { "foo[0-9]+bar" };
    static const unsigned     f0[] = { 0, 0 };
    static const unsigned     f1[] = { HS_FLAG_CASELESS, 0 };
    static const unsigned     i0[] = { 0, 1 };
    static const unsigned     i1[] = { 1, 0 };

    (void) state;

    snprintf(dir, sizeof(dir), "%s", zt_cache_dir());
    snprintf(other, sizeof(other), "%s", zt_cache_dir());
    memset(&c, 0, sizeof(c));
    c.dir = dir;

    zt_compile(&c, a, f0, i0, 2);
    assert_int_equal(zt_cache_files(dir, fa, sizeof(fa)), 1);
    zt_compile(&c, b, f0, i0, 2);
    zt_compile(&c, a, f1, i0, 2);
    zt_compile(&c, a, f0, i1, 2);
    zt_compile(&c, ab, f0, i0, 1);
    assert_int_equal(c.stores, 5);
    assert_int_equal(c.hits, 0);
    assert_int_equal(zt_cache_files(dir, NULL, 0), 5);

    zt_compile(&c, b, f0, i0, 2);
    zt_compile(&c, a, f0, i0, 2);
    assert_int_equal(c.hits, 2);
    assert_string_equal(c.note, "");

    /* b's database, sound and checksummed, in a's file */
    c.dir = other;
    zt_compile(&c, b, f0, i0, 2);
    assert_int_equal(zt_cache_files(other, fb, sizeof(fb)), 1);
    zt_copy(fb, fa);

    c.dir = dir;
    zt_compile(&c, a, f0, i0, 2);
    assert_int_equal(c.hits, 2);
    zt_assert_contains(c.note, "was made for other input");

    zt_cache_rm(other);
    zt_cache_rm(dir);
}


int
zt_hs_cache_tests(void)
{
    static const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_cache_hit_same_spans),
        cmocka_unit_test(test_cache_damaged_ignored),
        cmocka_unit_test(test_cache_unusable_dir),
        cmocka_unit_test(test_cache_key_covers_input),
    };

    return cmocka_run_group_tests_name("hs_cache", tests, NULL, NULL);
}
