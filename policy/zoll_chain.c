/*
 * The transfer log's hash chain, its signed checkpoints, reading the end of
 * a log before writing on, and verification.
 *
 * The hash covers a record's bytes exactly as written (up to ',"hash":…',
 * then "}"), not a re-serialisation: a verifier needs no canonical JSON,
 * only the bytes of the line, so a third party can check a log with
 * sha256sum and openssl as well as with zollctl.
 */

#define _GNU_SOURCE                     /* memrchr */

#include "zoll_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>


#define ZOLL_HASH_MEMBER   ",\"hash\":\""               /* + 64 hex + "} */
#define ZOLL_HASH_SUFFIX   (sizeof(ZOLL_HASH_MEMBER) - 1 + 64 + 2)
#define ZOLL_SIG_MEMBER    ",\"sig\":\""                /* + 128 hex + " */
#define ZOLL_SIG_SUFFIX    (sizeof(ZOLL_SIG_MEMBER) - 1 + 128 + 1)
#define ZOLL_SIG_LEN       64
#define ZOLL_TAIL_MAX      (1024 * 1024)   /* longest record we look back */


/* SHA-256 over rec[0..len) followed by "}": the record as it would read
 * without the members after len. */

static int
zoll_chain_hash(const char *rec, size_t len, unsigned char out[32])
{
    int          ok;
    EVP_MD_CTX  *ctx;

    ctx = EVP_MD_CTX_new();
    if (ctx == NULL) {
        return -1;
    }

    ok = EVP_DigestInit_ex(ctx, zoll_sha256_md(), NULL) == 1
         && EVP_DigestUpdate(ctx, rec, len) == 1
         && EVP_DigestUpdate(ctx, "}", 1) == 1
         && EVP_DigestFinal_ex(ctx, out, NULL) == 1;

    EVP_MD_CTX_free(ctx);
    return ok ? 0 : -1;
}


static int
zoll_unhex(const char *s, size_t n, unsigned char *out)
{
    size_t    i;
    unsigned  hi, lo;

    for (i = 0; i < n; i++) {
        hi = (unsigned char) s[2 * i];
        lo = (unsigned char) s[2 * i + 1];

        /* lower case only: one spelling per hash */
        hi = hi >= '0' && hi <= '9' ? hi - '0'
             : hi >= 'a' && hi <= 'f' ? hi - 'a' + 10 : 16;
        lo = lo >= '0' && lo <= '9' ? lo - '0'
             : lo >= 'a' && lo <= 'f' ? lo - 'a' + 10 : 16;

        if (hi > 15 || lo > 15) {
            return -1;
        }

        out[i] = (unsigned char) (hi << 4 | lo);
    }

    return 0;
}


/* ',"seq":…,"prev":"…"': the members that link a record after c */

static void
zoll_chain_link(zoll_buf_t *b, const zoll_chain_t *c)
{
    char  hex[ZOLL_SHA256_HEX_LEN + 1];

    /* twice per request: no printf */
    zoll_hex(c->hash, ZOLL_SHA256_LEN, hex);
    zoll_buf_cstr(b, ",\"seq\":");
    zoll_buf_uint(b, c->seq + 1);
    zoll_buf_cstr(b, ",\"prev\":\"");
    zoll_buf_raw(b, hex, ZOLL_SHA256_HEX_LEN);
    zoll_buf_raw(b, "\"", 1);
}


/* The record rec[0..len) is complete but for its hash: hashes it as the
 * record after c and appends ',"hash":"…"}\n' at b. */

static int
zoll_chain_close(const char *rec, size_t len, zoll_buf_t *b,
    const zoll_chain_t *c, zoll_chain_t *next)
{
    char  hex[ZOLL_SHA256_HEX_LEN + 1];

    next->seq = c->seq + 1;

    if (zoll_chain_hash(rec, len, next->hash) != 0) {
        return -1;
    }

    zoll_hex(next->hash, ZOLL_SHA256_LEN, hex);
    zoll_buf_cstr(b, ZOLL_HASH_MEMBER);
    zoll_buf_raw(b, hex, ZOLL_SHA256_HEX_LEN);
    zoll_buf_raw(b, "\"}\n", 3);

    return 0;
}


/* Links and hashes the record that ends at buf + pos. */

static size_t
zoll_chain_finish(const zoll_chain_t *c, char *buf, size_t pos, size_t cap,
    zoll_chain_t *next)
{
    size_t      len;
    zoll_buf_t  b;

    zoll_buf_init(&b, buf + pos, cap > pos ? cap - pos : 0);
    zoll_chain_link(&b, c);

    len = pos + b.len;

    if (len + ZOLL_HASH_SUFFIX + 1 >= cap) {
        return len + ZOLL_HASH_SUFFIX + 1;
    }

    if (zoll_chain_close(buf, len, &b, c, next) != 0) {
        return 0;
    }

    return pos + zoll_buf_finish(&b);
}


size_t
zoll_chain_seal(const zoll_chain_t *c, char *buf, size_t len, size_t cap,
    zoll_chain_t *next)
{
    /* the writers end every record with "}\n" */
    if (len < 3 || buf[len - 2] != '}' || buf[len - 1] != '\n') {
        return 0;
    }

    return zoll_chain_finish(c, buf, len - 2, cap, next);
}


static int
zoll_sign(EVP_PKEY *key, const char *msg, size_t len,
    unsigned char sig[ZOLL_SIG_LEN])
{
    int          ok;
    size_t       siglen = ZOLL_SIG_LEN;
    EVP_MD_CTX  *ctx;

    ctx = EVP_MD_CTX_new();
    if (ctx == NULL) {
        return -1;
    }

    /* Ed25519 signs the message itself (no pre-hash): no digest named */
    ok = EVP_DigestSignInit(ctx, NULL, NULL, NULL, key) == 1
         && EVP_DigestSign(ctx, sig, &siglen, (const unsigned char *) msg,
                           len) == 1
         && siglen == ZOLL_SIG_LEN;

    EVP_MD_CTX_free(ctx);
    return ok ? 0 : -1;
}


size_t
zoll_chain_checkpoint(const zoll_policy_t *p, const zoll_chain_t *c,
    int64_t time_ms, const char *reason, const char *extra, char *buf,
    size_t cap, zoll_chain_t *next)
{
    char           hex[2 * ZOLL_SIG_LEN + 1], save;
    size_t         len;
    zoll_buf_t     b;
    unsigned char  sig[ZOLL_SIG_LEN];

    if (p->log_key == NULL) {
        return 0;
    }

    zoll_buf_init(&b, buf, cap);
    zoll_buf_cstr(&b, "{\"v\":1,\"event\":\"checkpoint\",\"time\":");
    zoll_buf_time(&b, time_ms);
    zoll_buf_cstr(&b, ",\"reason\":");
    zoll_buf_json_cstr(&b, reason);
    zoll_buf_cstr(&b, ",\"key\":");
    zoll_buf_json_cstr(&b, p->log_key_id);
    zoll_buf_cstr(&b, ",\"policy\":");
    zoll_buf_json_cstr(&b, p->digest);

    if (extra) {
        zoll_buf_cstr(&b, extra);
    }

    zoll_chain_link(&b, c);

    len = b.len;

    if (len + ZOLL_SIG_SUFFIX + ZOLL_HASH_SUFFIX + 1 >= cap) {
        return len + ZOLL_SIG_SUFFIX + ZOLL_HASH_SUFFIX + 1;
    }

    /* the signed message is the record so far, closed with "}" */
    save = buf[len];
    buf[len] = '}';

    if (zoll_sign(p->log_key, buf, len + 1, sig) != 0) {
        ERR_clear_error();
        return 0;
    }

    buf[len] = save;
    zoll_hex(sig, ZOLL_SIG_LEN, hex);
    zoll_buf_printf(&b, ZOLL_SIG_MEMBER "%s\"", hex);

    /* the chain members are already in: only the hash follows */
    if (zoll_chain_close(buf, b.len, &b, c, next) != 0) {
        return 0;
    }

    return zoll_buf_finish(&b);
}


/* A sealed line, taken apart and checked against its own hash. */

typedef struct {
    json_t         *json;
    uint64_t        seq;
    unsigned char   prev[ZOLL_SHA256_LEN];
    unsigned char   hash[ZOLL_SHA256_LEN];
    int             hash_ok;          /* the content matches the hash */
    const char     *event;
    const char     *reason;           /* checkpoints */
    size_t          sig_at;           /* checkpoints: where ,"sig" starts */
    unsigned char   sig[ZOLL_SIG_LEN];
} zoll_sealed_t;


static void
zoll_sealed_free(zoll_sealed_t *s)
{
    json_decref(s->json);
    s->json = NULL;
}


/* Returns NULL, or why the line is not a sealed record at all. */

static const char *
zoll_sealed_parse(const char *line, size_t len, zoll_sealed_t *s)
{
    size_t         at;
    json_t        *v;
    json_int_t     seq;
    unsigned char  h[ZOLL_SHA256_LEN];

    memset(s, 0, sizeof(*s));

    if (len < ZOLL_HASH_SUFFIX + 2) {
        return "is not a record (too short)";
    }

    at = len - ZOLL_HASH_SUFFIX;

    if (memcmp(line + at, ZOLL_HASH_MEMBER, sizeof(ZOLL_HASH_MEMBER) - 1)
        != 0
        || line[len - 2] != '"' || line[len - 1] != '}'
        || zoll_unhex(line + at + sizeof(ZOLL_HASH_MEMBER) - 1, 32, s->hash)
           != 0)
    {
        return "is not a sealed record (it does not end with its hash)";
    }

    s->json = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL);

    if (!json_is_object(s->json)) {
        zoll_sealed_free(s);
        return "is not a JSON object";
    }

    v = json_object_get(s->json, "seq");
    seq = json_is_integer(v) ? json_integer_value(v) : 0;
    v = json_object_get(s->json, "prev");

    if (seq < 1 || !json_is_string(v) || json_string_length(v) != 64
        || zoll_unhex(json_string_value(v), 32, s->prev) != 0)
    {
        zoll_sealed_free(s);
        return "has no valid \"seq\" and \"prev\"";
    }

    s->seq = (uint64_t) seq;
    s->event = json_string_value(json_object_get(s->json, "event"));
    s->reason = json_string_value(json_object_get(s->json, "reason"));

    if (s->event == NULL) {
        zoll_sealed_free(s);
        return "has no \"event\"";
    }

    s->hash_ok = zoll_chain_hash(line, at, h) == 0
                 && memcmp(h, s->hash, sizeof(h)) == 0;

    if (strcmp(s->event, "checkpoint") != 0) {
        return NULL;
    }

    if (at < ZOLL_SIG_SUFFIX
        || memcmp(line + at - ZOLL_SIG_SUFFIX, ZOLL_SIG_MEMBER,
                  sizeof(ZOLL_SIG_MEMBER) - 1) != 0
        || line[at - 1] != '"'
        || zoll_unhex(line + at - ZOLL_SIG_SUFFIX + sizeof(ZOLL_SIG_MEMBER)
                      - 1, ZOLL_SIG_LEN, s->sig) != 0)
    {
        zoll_sealed_free(s);
        return "is a checkpoint without a signature before its hash";
    }

    s->sig_at = at - ZOLL_SIG_SUFFIX;
    return NULL;
}


static int
zoll_chain_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
zoll_chain_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list  ap;

    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);

    return -1;
}


int
zoll_log_tail(int fd, zoll_log_tail_t *t, char *err, size_t errlen)
{
    int            rc = -1;
    char          *buf, *end, *nl;
    off_t          start;
    size_t         n;
    ssize_t        got;
    struct stat    st;
    const char    *why;
    zoll_sealed_t  s;

    memset(t, 0, sizeof(*t));

    if (fstat(fd, &st) != 0) {
        return zoll_chain_err(err, errlen, "fstat: %s", strerror(errno));
    }

    if (!S_ISREG(st.st_mode)) {
        return zoll_chain_err(err, errlen, "is not a regular file");
    }

    if (st.st_size == 0) {
        return 0;
    }

    start = st.st_size > ZOLL_TAIL_MAX ? st.st_size - ZOLL_TAIL_MAX : 0;
    n = (size_t) (st.st_size - start);

    buf = malloc(n);
    if (buf == NULL) {
        return zoll_chain_err(err, errlen, "out of memory");
    }

    got = pread(fd, buf, n, start);
    if (got != (ssize_t) n) {
        zoll_chain_err(err, errlen, "read: %s",
                       got < 0 ? strerror(errno) : "short read");
        goto done;
    }

    end = buf + n;

    /* a last line without its newline was cut off while being written */
    if (end[-1] != '\n') {
        nl = memrchr(buf, '\n', n);

        if (nl == NULL && start > 0) {
            zoll_chain_err(err, errlen, "the last line is longer than "
                           "%d bytes", ZOLL_TAIL_MAX);
            goto done;
        }

        nl = nl ? nl + 1 : buf;
        t->torn_offset = (uint64_t) (start + (nl - buf));
        t->torn_bytes = (uint64_t) (end - nl);
        zoll_sha256(nl, end - nl, t->torn_hash);
        end = nl;
    }

    if (end == buf) {
        rc = 0;         /* nothing but a torn line */
        goto done;
    }

    nl = memrchr(buf, '\n', end - 1 - buf);

    if (nl == NULL && start > 0) {
        zoll_chain_err(err, errlen, "the last record is longer than %d "
                       "bytes", ZOLL_TAIL_MAX);
        goto done;
    }

    nl = nl ? nl + 1 : buf;
    why = zoll_sealed_parse(nl, end - 1 - nl, &s);

    if (why != NULL || !s.hash_ok) {
        zoll_chain_err(err, errlen, "the last record (at byte %lld) %s",
                       (long long) (start + (nl - buf)),
                       why ? why : "does not match its hash");
        zoll_sealed_free(&s);
        goto done;
    }

    t->found = 1;
    t->head.seq = s.seq;
    memcpy(t->head.hash, s.hash, ZOLL_SHA256_LEN);
    t->clean = strcmp(s.event, "checkpoint") == 0 && s.reason
               && strcmp(s.reason, "shutdown") == 0;

    zoll_sealed_free(&s);
    rc = 0;

done:

    free(buf);
    return rc;
}


size_t
zoll_log_tail_json(const zoll_log_tail_t *t, char *buf, size_t cap)
{
    char        hex[ZOLL_SHA256_HEX_LEN + 1];
    zoll_buf_t  b;

    zoll_buf_init(&b, buf, cap);

    if (!t->found && t->torn_bytes == 0) {
        zoll_buf_cstr(&b, ",\"previous\":null");      /* a new log */
        return zoll_buf_finish(&b);
    }

    zoll_buf_printf(&b, ",\"previous\":{\"seq\":%llu,\"clean\":%s,"
                    "\"torn\":", (unsigned long long) t->head.seq,
                    t->clean ? "true" : "false");

    if (t->torn_bytes) {
        zoll_hex(t->torn_hash, ZOLL_SHA256_LEN, hex);
        zoll_buf_printf(&b, "{\"offset\":%llu,\"bytes\":%llu,"
                        "\"sha256\":\"%s\"}",
                        (unsigned long long) t->torn_offset,
                        (unsigned long long) t->torn_bytes, hex);

    } else {
        zoll_buf_cstr(&b, "null");
    }

    zoll_buf_cstr(&b, "}");
    return zoll_buf_finish(&b);
}


/* Verification */

typedef struct {
    char       id[8 + 16 + 1];
    EVP_PKEY  *key;
} zoll_vkey_t;


struct zoll_verify_s {
    zoll_vkey_t          *keys;
    size_t                nkeys;

    int                   have;            /* a record was read */
    zoll_chain_t          head;
    int                   clean;           /* head is a shutdown */
    char                 *file;            /* of the head */

    int                   torn;            /* a bad line waits */
    char                 *torn_where;
    const char           *torn_why;
    uint64_t              torn_bytes;
    unsigned char         torn_hash[ZOLL_SHA256_LEN];

    int                   failed;
    char                  err[ZOLL_ERR_LEN];
    zoll_verify_stats_t   st;
};


zoll_verify_t *
zoll_verify_new(void)
{
    return calloc(1, sizeof(zoll_verify_t));
}


void
zoll_verify_free(zoll_verify_t *v)
{
    size_t  i;

    if (v == NULL) {
        return;
    }

    for (i = 0; i < v->nkeys; i++) {
        EVP_PKEY_free(v->keys[i].key);
    }

    free(v->keys);
    free(v->file);
    free(v->torn_where);
    free(v);
}


/* A public key, or the private key itself (whose public half is used). */

int
zoll_verify_add_key(zoll_verify_t *v, const char *path, char *err,
    size_t errlen)
{
    FILE           *f;
    EVP_PKEY       *k;
    zoll_vkey_t    *keys;
    unsigned char   raw[32], h[ZOLL_SHA256_LEN];
    size_t          rawlen = sizeof(raw);

    f = fopen(path, "rb");
    if (f == NULL) {
        return zoll_chain_err(err, errlen, "%s: %s", path, strerror(errno));
    }

    k = PEM_read_PUBKEY(f, NULL, NULL, NULL);

    if (k == NULL) {
        rewind(f);
        k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    }

    fclose(f);
    ERR_clear_error();

    if (k == NULL || EVP_PKEY_id(k) != EVP_PKEY_ED25519
        || EVP_PKEY_get_raw_public_key(k, raw, &rawlen) != 1)
    {
        EVP_PKEY_free(k);
        return zoll_chain_err(err, errlen, "%s: not an Ed25519 key in PEM",
                              path);
    }

    keys = realloc(v->keys, (v->nkeys + 1) * sizeof(zoll_vkey_t));
    if (keys == NULL) {
        EVP_PKEY_free(k);
        return zoll_chain_err(err, errlen, "out of memory");
    }

    v->keys = keys;
    zoll_sha256(raw, rawlen, h);
    memcpy(keys[v->nkeys].id, "ed25519:", 8);
    zoll_hex(h, 8, keys[v->nkeys].id + 8);
    keys[v->nkeys].key = k;
    v->nkeys++;

    return 0;
}


static int
zoll_verify_fail(zoll_verify_t *v, const char *file, uint64_t lineno,
    uint64_t seq, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int
zoll_verify_fail(zoll_verify_t *v, const char *file, uint64_t lineno,
    uint64_t seq, const char *fmt, ...)
{
    int      n;
    va_list  ap;

    if (seq) {
        n = snprintf(v->err, sizeof(v->err), "%s:%llu: seq %llu: ", file,
                     (unsigned long long) lineno, (unsigned long long) seq);

    } else {
        n = snprintf(v->err, sizeof(v->err), "%s:%llu: ", file,
                     (unsigned long long) lineno);
    }

    if (n >= 0 && (size_t) n < sizeof(v->err)) {
        va_start(ap, fmt);
        vsnprintf(v->err + n, sizeof(v->err) - n, fmt, ap);
        va_end(ap);
    }

    v->failed = 1;
    return -1;
}


static int
zoll_verify_sig(zoll_verify_t *v, const char *line, zoll_sealed_t *s,
    const char *file, uint64_t lineno)
{
    int          ok;
    char        *msg;
    size_t       i;
    const char  *id;
    EVP_MD_CTX  *ctx;

    id = json_string_value(json_object_get(s->json, "key"));

    for (i = 0; id && i < v->nkeys; i++) {
        if (strcmp(v->keys[i].id, id) == 0) {
            break;
        }
    }

    if (id == NULL || i == v->nkeys) {
        return zoll_verify_fail(v, file, lineno, s->seq, "checkpoint signed "
                                "with key %s, which is not among the public "
                                "keys given", id ? id : "(none)");
    }

    msg = malloc(s->sig_at + 1);
    ctx = EVP_MD_CTX_new();
    ok = 0;

    if (msg && ctx) {
        memcpy(msg, line, s->sig_at);
        msg[s->sig_at] = '}';
        ok = EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, v->keys[i].key) == 1
             && EVP_DigestVerify(ctx, s->sig, ZOLL_SIG_LEN,
                                 (unsigned char *) msg, s->sig_at + 1) == 1;
    }

    ERR_clear_error();
    EVP_MD_CTX_free(ctx);
    free(msg);

    if (!ok) {
        return zoll_verify_fail(v, file, lineno, s->seq, "the checkpoint's "
                                "signature does not verify: it, or a record "
                                "after the checkpoint at seq %llu, was "
                                "changed, inserted or deleted and the chain "
                                "recomputed",
                                (unsigned long long) v->st.signed_seq);
    }

    v->st.checkpoints++;
    v->st.signed_seq = s->seq;
    return 0;
}


/* The bad line waiting for its acknowledgement did not get it. */

static int
zoll_verify_torn_fail(zoll_verify_t *v)
{
    snprintf(v->err, sizeof(v->err), "%s: %s", v->torn_where, v->torn_why);
    v->failed = 1;
    return -1;
}


/* A line that is not a record is forgiven only when the next record is a
 * signed "start" checkpoint that names exactly its bytes: a write the
 * gateway saw cut off by a crash and reported when it started again. */

static int
zoll_verify_torn_ack(zoll_verify_t *v, zoll_sealed_t *s)
{
    json_t         *t;
    const char     *h;
    unsigned char   hash[ZOLL_SHA256_LEN];

    t = json_object_get(json_object_get(s->json, "previous"), "torn");
    h = json_string_value(json_object_get(t, "sha256"));

    return strcmp(s->event, "checkpoint") == 0 && s->reason
           && strcmp(s->reason, "start") == 0
           && h && strlen(h) == 64 && zoll_unhex(h, 32, hash) == 0
           && memcmp(hash, v->torn_hash, sizeof(hash)) == 0
           && json_integer_value(json_object_get(t, "bytes"))
              == (json_int_t) v->torn_bytes;
}


static int
zoll_verify_link(zoll_verify_t *v, zoll_sealed_t *s, const char *file,
    uint64_t lineno)
{
    const char          *where;
    unsigned long long   last = v->head.seq;
    static const unsigned char  zero[ZOLL_SHA256_LEN];

    if (!v->have) {
        v->st.first_seq = s->seq;

        if (s->seq == 1) {
            return memcmp(s->prev, zero, sizeof(zero)) == 0 ? 0
                   : zoll_verify_fail(v, file, lineno, s->seq, "the first "
                                      "record of a chain must have a zero "
                                      "\"prev\"");
        }

        if (strcmp(s->event, "checkpoint") != 0) {
            return zoll_verify_fail(v, file, lineno, s->seq, "the log "
                                    "starts at seq %llu with a record that "
                                    "is not a checkpoint: the files before "
                                    "it are missing",
                                    (unsigned long long) s->seq);
        }

        /* earlier files were pruned: the signature anchors the chain */
        v->st.anchored = 1;
        return 0;
    }

    where = strcmp(file, v->file) == 0 ? "" : " (the first record of a "
                                              "new file)";

    if (s->seq <= last) {
        return zoll_verify_fail(v, file, lineno, s->seq, "follows seq %llu%s:"
                                " a record was inserted, repeated or moved "
                                "here", last, where);
    }

    if (s->seq > last + 1) {
        return zoll_verify_fail(v, file, lineno, s->seq, "follows seq %llu%s:"
                                " %llu record(s) before it are missing "
                                "(deleted)", last, where,
                                (unsigned long long) s->seq - last - 1);
    }

    if (memcmp(s->prev, v->head.hash, ZOLL_SHA256_LEN) != 0) {
        return zoll_verify_fail(v, file, lineno, s->seq, "\"prev\" is not "
                                "the hash of seq %llu%s: the record before "
                                "it was replaced", last, where);
    }

    return 0;
}


int
zoll_verify_line(zoll_verify_t *v, const char *file, uint64_t lineno,
    const char *line, size_t len, int complete)
{
    int            rc;
    char           where[ZOLL_ERR_LEN];
    const char    *why;
    zoll_sealed_t  s;

    if (v->failed) {
        return -1;
    }

    if (!complete) {
        return zoll_verify_fail(v, file, lineno, 0, "the last line has no "
                                "newline: the log was cut off (truncated, "
                                "or a write did not finish)");
    }

    why = zoll_sealed_parse(line, len, &s);

    if (why != NULL && v->torn) {
        /* two bad lines in a row: the first is the first problem */
        return zoll_verify_torn_fail(v);
    }

    if (why != NULL) {
        /* decided at the next line: a reported torn write, or tampering */
        snprintf(where, sizeof(where), "%s:%llu", file,
                 (unsigned long long) lineno);
        free(v->torn_where);
        v->torn_where = strdup(where);
        v->torn_why = why;
        v->torn = 1;
        v->torn_bytes = len;
        zoll_sha256(line, len, v->torn_hash);
        return v->torn_where ? 0 : -1;
    }

    if (!s.hash_ok) {
        zoll_sealed_free(&s);
        return zoll_verify_fail(v, file, lineno, s.seq, "the record does not "
                                "match its hash: it was changed after it "
                                "was written");
    }

    if (v->torn) {
        if (!zoll_verify_torn_ack(v, &s)) {
            zoll_sealed_free(&s);
            return zoll_verify_torn_fail(v);
        }

        v->torn = 0;
        v->st.torn++;
    }

    rc = zoll_verify_link(v, &s, file, lineno);

    if (rc == 0 && strcmp(s.event, "checkpoint") == 0) {
        rc = zoll_verify_sig(v, line, &s, file, lineno);

        if (rc == 0 && v->have && !v->clean && s.reason
            && strcmp(s.reason, "start") == 0)
        {
            v->st.restarts++;
        }
    }

    if (rc == 0) {
        v->have = 1;
        v->head.seq = s.seq;
        memcpy(v->head.hash, s.hash, ZOLL_SHA256_LEN);
        v->clean = strcmp(s.event, "checkpoint") == 0 && s.reason
                   && strcmp(s.reason, "shutdown") == 0;
        v->st.records++;
        v->st.last_seq = s.seq;

        if (v->file == NULL || strcmp(v->file, file) != 0) {
            free(v->file);
            v->file = strdup(file);
            rc = v->file ? 0 : -1;
        }
    }

    zoll_sealed_free(&s);
    return rc;
}


int
zoll_verify_end(zoll_verify_t *v, int open)
{
    if (v->failed) {
        return -1;
    }

    if (v->torn) {
        return zoll_verify_torn_fail(v);
    }

    if (!v->have) {
        snprintf(v->err, sizeof(v->err), "no records");
        v->failed = 1;
        return -1;
    }

    v->st.closed = v->clean;

    if (!v->clean && !open) {
        snprintf(v->err, sizeof(v->err), "%s: the log ends at seq %llu "
                 "without a shutdown checkpoint: records at its end were "
                 "deleted, or the gateway is still running or crashed (pass "
                 "--open for a live log)", v->file,
                 (unsigned long long) v->head.seq);
        v->failed = 1;
        return -1;
    }

    return 0;
}


const char *
zoll_verify_error(const zoll_verify_t *v)
{
    return v->err;
}


const zoll_verify_stats_t *
zoll_verify_stats(const zoll_verify_t *v)
{
    return &v->st;
}
