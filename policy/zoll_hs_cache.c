/*
 * A disk cache of compiled Vectorscan databases.
 *
 * hs_compile_multi() over the rule packs takes seconds, and the rules are
 * loaded on every "nginx -t", reload, reopen and zollctl call.  Its result
 * is a pure function of its inputs (the expressions, flags, ids and mode,
 * the library's version and the CPU it compiles for), so the database is
 * serialised into a file named by a SHA-256 over exactly those inputs and
 * deserialised the next time they are the same.  The cache does not know
 * what the patterns mean: any caller with hs_compile_multi() arguments can
 * use it, for one database or several.
 *
 * Fail safe: a missing, truncated, corrupt, foreign (another owner, group-
 * or world-writable) or mismatched file, and a directory that cannot be
 * written, only mean that the database is compiled as without the cache;
 * cache->note says why.  A file is written to a temporary name and renamed,
 * so a reader never sees half of it.  The SHA-256 of the serialised bytes
 * in the header catches corruption; the ownership checks keep a file that
 * someone else could have written from being trusted.
 */

#include "zoll_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>


#define ZOLL_HS_MAGIC     "ZOLLHS01"
#define ZOLL_HS_MAGIC_LEN 8
#define ZOLL_HS_HDR_LEN   (ZOLL_HS_MAGIC_LEN + 2 * ZOLL_SHA256_LEN + 8)
#define ZOLL_HS_FILE_MAX  (512 * 1024 * 1024)


static void
zoll_hs_note(zoll_hs_cache_t *cache, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
zoll_hs_note(zoll_hs_cache_t *cache, const char *fmt, ...)
{
    va_list  ap;

    va_start(ap, fmt);
    vsnprintf(cache->note, sizeof(cache->note), fmt, ap);
    va_end(ap);
}


static void
zoll_hs_u64(EVP_MD_CTX *md, uint64_t v)
{
    int            i;
    unsigned char  b[8];

    for (i = 0; i < 8; i++) {
        b[i] = (unsigned char) (v >> (8 * i));
    }

    EVP_DigestUpdate(md, b, 8);
}


/* The key: everything hs_compile_multi() reads, with lengths, so that no
 * two different inputs give the same byte stream. */

static int
zoll_hs_key(const char *const *exprs, const unsigned *flags,
    const unsigned *ids, unsigned n, unsigned mode,
    unsigned char key[ZOLL_SHA256_LEN])
{
    int                ok;
    size_t             len;
    unsigned           i;
    EVP_MD_CTX        *md;
    const char        *version;
    hs_platform_info_t plat;

    if (hs_populate_platform(&plat) != HS_SUCCESS) {
        return -1;
    }

    md = EVP_MD_CTX_new();
    if (md == NULL) {
        return -1;
    }

    version = hs_version();
    ok = EVP_DigestInit_ex(md, EVP_sha256(), NULL);

    EVP_DigestUpdate(md, ZOLL_HS_MAGIC, ZOLL_HS_MAGIC_LEN);
    zoll_hs_u64(md, strlen(version));
    EVP_DigestUpdate(md, version, strlen(version));
    zoll_hs_u64(md, plat.tune);
    zoll_hs_u64(md, plat.cpu_features);
    zoll_hs_u64(md, sizeof(void *));
    zoll_hs_u64(md, mode);
    zoll_hs_u64(md, n);

    for (i = 0; i < n; i++) {
        len = strlen(exprs[i]);
        zoll_hs_u64(md, len);
        EVP_DigestUpdate(md, exprs[i], len);
        zoll_hs_u64(md, flags ? flags[i] : 0);
        zoll_hs_u64(md, ids ? ids[i] : 0);
    }

    ok = ok && EVP_DigestFinal_ex(md, key, NULL);
    EVP_MD_CTX_free(md);

    return ok ? 0 : -1;
}


/* A directory or file only we (or root) could have written. */

static const char *
zoll_hs_untrusted(const struct stat *st)
{
    if (st->st_uid != geteuid() && st->st_uid != 0) {
        return "is owned by another user";
    }

    if (st->st_mode & (S_IWGRP | S_IWOTH)) {
        return "is writable by group or others";
    }

    return NULL;
}


/* The cache directory, made if it is missing (one level, like
 * /var/cache/zoll); -1 with a note if it must not be used. */

static int
zoll_hs_dir(zoll_hs_cache_t *cache)
{
    struct stat   st;
    const char   *why;

    if (stat(cache->dir, &st) != 0) {
        if (errno != ENOENT || mkdir(cache->dir, 0755) != 0
            || stat(cache->dir, &st) != 0)
        {
            zoll_hs_note(cache, "rules cache \"%s\": %s", cache->dir,
                         strerror(errno));
            return -1;
        }
    }

    if (!S_ISDIR(st.st_mode)) {
        zoll_hs_note(cache, "rules cache \"%s\" is not a directory",
                     cache->dir);
        return -1;
    }

    why = zoll_hs_untrusted(&st);
    if (why != NULL) {
        zoll_hs_note(cache, "rules cache \"%s\" %s: not used", cache->dir,
                     why);
        return -1;
    }

    return 0;
}


/* The database of this key from its file, or NULL (a missing file is the
 * normal miss and gives no note). */

static hs_database_t *
zoll_hs_read(zoll_hs_cache_t *cache, const char *file,
    const unsigned char key[ZOLL_SHA256_LEN], unsigned mode)
{
    int             fd;
    char           *buf, *info;
    size_t          len, got;
    ssize_t         r;
    uint64_t        plen;
    unsigned        i;
    const char     *why, *want, *version;
    struct stat     st;
    unsigned char   sum[ZOLL_SHA256_LEN];
    hs_database_t  *db;

    fd = open(file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno != ENOENT) {
            zoll_hs_note(cache, "rules cache \"%s\": %s: compiled instead",
                         file, strerror(errno));
        }
        return NULL;
    }

    why = NULL;
    buf = NULL;
    db = NULL;

    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        why = "is not a regular file";

    } else if ((why = zoll_hs_untrusted(&st)) != NULL) {
        /* why is set */

    } else if (st.st_size < ZOLL_HS_HDR_LEN || st.st_size > ZOLL_HS_FILE_MAX)
    {
        why = "has an impossible size";

    } else if ((buf = malloc((size_t) st.st_size)) == NULL) {
        why = "cannot be read: out of memory";
    }

    len = (size_t) st.st_size;

    for (got = 0; why == NULL && got < len; got += (size_t) r) {
        r = read(fd, buf + got, len - got);

        if (r <= 0) {
            why = "cannot be read whole";
            break;
        }
    }

    close(fd);

    if (why == NULL) {
        for (plen = 0, i = 0; i < 8; i++) {
            plen |= (uint64_t) (unsigned char)
                    buf[ZOLL_HS_MAGIC_LEN + 2 * ZOLL_SHA256_LEN + i] << (8 * i);
        }

        zoll_sha256(buf + ZOLL_HS_HDR_LEN, len - ZOLL_HS_HDR_LEN, sum);

        if (memcmp(buf, ZOLL_HS_MAGIC, ZOLL_HS_MAGIC_LEN) != 0) {
            why = "is not a Zoll rules cache file";

        } else if (memcmp(buf + ZOLL_HS_MAGIC_LEN, key, ZOLL_SHA256_LEN)
                   != 0)
        {
            why = "was made for other input";

        } else if (plen != len - ZOLL_HS_HDR_LEN) {
            why = "is truncated";

        } else if (memcmp(buf + ZOLL_HS_MAGIC_LEN + ZOLL_SHA256_LEN, sum,
                          ZOLL_SHA256_LEN) != 0)
        {
            why = "is corrupt (checksum mismatch)";

        } else if (hs_deserialize_database(buf + ZOLL_HS_HDR_LEN, plen, &db)
                   != HS_SUCCESS)
        {
            why = "is refused by Vectorscan";
            db = NULL;
        }
    }

    free(buf);

    /* the database as loaded must say it is for this library and mode */
    if (db != NULL) {
        want = (mode & HS_MODE_STREAM) ? "Mode: STREAM"
               : (mode & HS_MODE_VECTORED) ? "Mode: VECTORED"
               : "Mode: BLOCK";
        version = hs_version();
        info = NULL;

        if (hs_database_info(db, &info) != HS_SUCCESS || info == NULL
            || strncmp(info, "Version: ", 9) != 0
            || strncmp(info + 9, version, strcspn(version, " ")) != 0
            || strstr(info, want) == NULL)
        {
            why = "does not describe this Vectorscan and mode";
            hs_free_database(db);
            db = NULL;
        }

        free(info);
    }

    if (why != NULL) {
        zoll_hs_note(cache, "rules cache \"%s\" %s: compiled instead", file,
                     why);
    }

    return db;
}


static void
zoll_hs_write(zoll_hs_cache_t *cache, const char *file,
    const unsigned char key[ZOLL_SHA256_LEN], const hs_database_t *db)
{
    int             fd, i;
    char           *bytes, tmp[ZOLL_HS_PATH_LEN + 16];
    size_t          len, off;
    ssize_t         w;
    unsigned char   hdr[ZOLL_HS_HDR_LEN];
    const char     *why;

    if (hs_serialize_database(db, &bytes, &len) != HS_SUCCESS) {
        zoll_hs_note(cache, "rules cache: cannot serialise the database");
        return;
    }

    memcpy(hdr, ZOLL_HS_MAGIC, ZOLL_HS_MAGIC_LEN);
    memcpy(hdr + ZOLL_HS_MAGIC_LEN, key, ZOLL_SHA256_LEN);
    zoll_sha256(bytes, len, hdr + ZOLL_HS_MAGIC_LEN + ZOLL_SHA256_LEN);

    for (i = 0; i < 8; i++) {
        hdr[ZOLL_HS_MAGIC_LEN + 2 * ZOLL_SHA256_LEN + i] =
            (unsigned char) ((uint64_t) len >> (8 * i));
    }

    snprintf(tmp, sizeof(tmp), "%s.XXXXXX", file);

    why = NULL;
    fd = mkstemp(tmp);

    if (fd < 0) {
        why = strerror(errno);

    } else {
        for (off = 0; why == NULL && off < ZOLL_HS_HDR_LEN + len;
             off += (size_t) w)
        {
            w = off < ZOLL_HS_HDR_LEN
                ? write(fd, hdr + off, ZOLL_HS_HDR_LEN - off)
                : write(fd, bytes + off - ZOLL_HS_HDR_LEN,
                        ZOLL_HS_HDR_LEN + len - off);
            if (w <= 0) {
                why = w < 0 ? strerror(errno) : "short write";
            }
        }

        /* readable by zollctl run as another user; written only by us */
        if (why == NULL && fchmod(fd, 0644) != 0) {
            why = strerror(errno);
        }

        if (close(fd) != 0 && why == NULL) {
            why = strerror(errno);
        }

        if (why == NULL && rename(tmp, file) != 0) {
            why = strerror(errno);
        }

        if (why != NULL) {
            (void) unlink(tmp);
        }
    }

    free(bytes);

    if (why != NULL) {
        zoll_hs_note(cache, "rules cache \"%s\" cannot be written: %s",
                     file, why);
        return;
    }

    cache->stores++;
}


hs_error_t
zoll_hs_compile_cached(zoll_hs_cache_t *cache, const char *const *exprs,
    const unsigned *flags, const unsigned *ids, unsigned n, unsigned mode,
    hs_database_t **db, hs_compile_error_t **cerr)
{
    int            usable;
    char           hex[ZOLL_SHA256_HEX_LEN + 1], file[ZOLL_HS_PATH_LEN];
    hs_error_t     rc;
    unsigned char  key[ZOLL_SHA256_LEN];

    usable = cache != NULL && cache->dir != NULL
             && strlen(cache->dir) + sizeof(hex) + 16 < sizeof(file);

    if (usable && zoll_hs_key(exprs, flags, ids, n, mode, key) != 0) {
        zoll_hs_note(cache, "rules cache: cannot compute the key");
        usable = 0;
    }

    if (usable && zoll_hs_dir(cache) != 0) {
        usable = 0;
    }

    if (usable) {
        zoll_hex(key, ZOLL_SHA256_LEN, hex);
        snprintf(file, sizeof(file), "%s/%s.hsdb", cache->dir, hex);

        *db = zoll_hs_read(cache, file, key, mode);

        if (*db != NULL) {
            *cerr = NULL;
            cache->hits++;
            return HS_SUCCESS;
        }
    }

    rc = hs_compile_multi(exprs, flags, ids, n, mode, NULL, db, cerr);

    if (rc == HS_SUCCESS && usable) {
        zoll_hs_write(cache, file, key, *db);
    }

    return rc;
}
