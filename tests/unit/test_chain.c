/*
 * The transfer log's chain: sealing, signed checkpoints, reading a log's
 * end, and verification against every kind of tampering.  Each test builds
 * a small log the way the connector writes it (checkpoint at start,
 * records, checkpoint at shutdown), changes it, and expects the verifier
 * to name the first bad line.
 */

#include "zt.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>


#define ZT_LINES  16
#define ZT_LINE   2048

typedef struct {
    char    dir[64];
    char    key[128];          /* Ed25519 private key */
    char    pub[128];          /* its public key */
    char    other[128];        /* another Ed25519 public key */
    char    ec[128];           /* an EC key: not Ed25519 */
    zoll_policy_t  *p;

    char    line[ZT_LINES][ZT_LINE];   /* with their newlines */
    size_t  n;
    zoll_chain_t  head;
} zt_log_t;


static void
zt_write_key(const char *path, const char *pubpath, int type)
{
    FILE          *f;
    EVP_PKEY      *k = NULL;
    EVP_PKEY_CTX  *ctx;

    if (type == EVP_PKEY_EC) {
        k = EVP_EC_gen("P-256");

    } else {
        ctx = EVP_PKEY_CTX_new_id(type, NULL);
        assert_non_null(ctx);
        assert_int_equal(EVP_PKEY_keygen_init(ctx), 1);
        assert_int_equal(EVP_PKEY_keygen(ctx, &k), 1);
        EVP_PKEY_CTX_free(ctx);
    }

    assert_non_null(k);

    if (path) {
        f = fopen(path, "w");
        assert_non_null(f);
        assert_int_equal(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL,
                                              NULL), 1);
        fclose(f);
    }

    if (pubpath) {
        f = fopen(pubpath, "w");
        assert_non_null(f);
        assert_int_equal(PEM_write_PUBKEY(f, k), 1);
        fclose(f);
    }

    EVP_PKEY_free(k);
}


static zoll_policy_t *
zt_policy_with_key(const char *key, char err[ZOLL_ERR_LEN])
{
    char     value[256];
    json_t  *root = zt_base();

    snprintf(value, sizeof(value), "\"%s\"", key);
    zt_set(root, "logging.signing_key_file", value);

    return zt_parse(root, err);
}


static int
zt_setup(void **state)
{
    char       err[ZOLL_ERR_LEN];
    zt_log_t  *t = calloc(1, sizeof(zt_log_t));

    strcpy(t->dir, "/tmp/zt-chain-XXXXXX");
    assert_non_null(mkdtemp(t->dir));
    snprintf(t->key, sizeof(t->key), "%s/log.key", t->dir);
    snprintf(t->pub, sizeof(t->pub), "%s/log.pub", t->dir);
    snprintf(t->other, sizeof(t->other), "%s/other.pub", t->dir);
    snprintf(t->ec, sizeof(t->ec), "%s/ec.key", t->dir);

    zt_write_key(t->key, t->pub, EVP_PKEY_ED25519);
    zt_write_key(NULL, t->other, EVP_PKEY_ED25519);
    zt_write_key(t->ec, NULL, EVP_PKEY_EC);

    t->p = zt_policy_with_key(t->key, err);
    if (t->p == NULL) {
        fail_msg("%s", err);
    }

    *state = t;
    return 0;
}


static int
zt_teardown(void **state)
{
    char       cmd[128];
    zt_log_t  *t = *state;

    zoll_policy_free(t->p);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->dir);
    assert_int_equal(system(cmd), 0);
    free(t);
    return 0;
}


static void
zt_add_checkpoint(zt_log_t *t, const char *reason, const char *extra)
{
    size_t  n;

    n = zoll_chain_checkpoint(t->p, &t->head, 1700000000000 + t->n, reason,
                              extra, t->line[t->n], ZT_LINE, &t->head);
    assert_true(n > 0 && n < ZT_LINE);
    t->n++;
}


static void
zt_add_record(zt_log_t *t)
{
    int     n;
    size_t  len;

    n = snprintf(t->line[t->n], ZT_LINE, "{\"v\":1,\"event\":\"decision\","
                 "\"request_id\":\"r%zu\",\"tenant\":\"t\"}\n", t->n);
    len = zoll_chain_seal(&t->head, t->line[t->n], n, ZT_LINE, &t->head);
    assert_true(len > (size_t) n && len < ZT_LINE);
    t->n++;
}


/* start, five records, an interval checkpoint, three records, shutdown */

static void
zt_build(zt_log_t *t)
{
    int  i;

    memset(&t->head, 0, sizeof(t->head));
    t->n = 0;
    zt_add_checkpoint(t, "start", NULL);

    for (i = 0; i < 5; i++) {
        zt_add_record(t);
    }

    zt_add_checkpoint(t, "interval", NULL);

    for (i = 0; i < 3; i++) {
        zt_add_record(t);
    }

    zt_add_checkpoint(t, "shutdown", NULL);
}


/* Verifies lines [from, t->n) as the file "log"; returns the verifier's
 * error, or "" when the log verifies. */

static const char *
zt_verify(zt_log_t *t, size_t from, int open, const char *key)
{
    static char     out[ZOLL_ERR_LEN];
    char            err[ZOLL_ERR_LEN];
    size_t          i, len;
    zoll_verify_t  *v = zoll_verify_new();
    int             rc = 0;

    assert_non_null(v);
    assert_int_equal(zoll_verify_add_key(v, key ? key : t->pub, err,
                                         sizeof(err)), 0);

    for (i = from; rc == 0 && i < t->n; i++) {
        len = strlen(t->line[i]);
        rc = zoll_verify_line(v, "log", i + 1, t->line[i],
                              len && t->line[i][len - 1] == '\n' ? len - 1
                                                                 : len,
                              len && t->line[i][len - 1] == '\n');
    }

    if (rc == 0) {
        rc = zoll_verify_end(v, open);
    }

    snprintf(out, sizeof(out), "%s", rc == 0 ? "" : zoll_verify_error(v));
    zoll_verify_free(v);
    return out;
}


static void
test_chain_verifies(void **state)
{
    char                        err[ZOLL_ERR_LEN];
    size_t                      i, len;
    zt_log_t                   *t = *state;
    zoll_verify_t              *v;
    const zoll_verify_stats_t  *st;

    zt_build(t);

    v = zoll_verify_new();
    assert_int_equal(zoll_verify_add_key(v, t->pub, err, sizeof(err)), 0);

    for (i = 0; i < t->n; i++) {
        len = strlen(t->line[i]) - 1;
        assert_int_equal(zoll_verify_line(v, "log", i + 1, t->line[i], len,
                                          1), 0);
    }

    assert_int_equal(zoll_verify_end(v, 0), 0);
    st = zoll_verify_stats(v);
    assert_int_equal(st->records, 11);
    assert_int_equal(st->checkpoints, 3);
    assert_int_equal(st->first_seq, 1);
    assert_int_equal(st->last_seq, 11);
    assert_int_equal(st->signed_seq, 11);
    assert_true(st->closed);
    assert_false(st->anchored);
    zoll_verify_free(v);

    /* the private key serves as well as the public one */
    assert_string_equal(zt_verify(t, 0, 0, t->key), "");
}


/* The hash is SHA-256 of the line's own bytes up to ',"hash":', then "}":
 * recomputed here from the text, independently of the engine's parser. */

static void
test_chain_hash_is_of_the_bytes(void **state)
{
    char           *at, buf[ZT_LINE], hex[65];
    size_t          i;
    zt_log_t       *t = *state;
    unsigned char   h[ZOLL_SHA256_LEN];

    zt_build(t);

    for (i = 0; i < t->n; i++) {
        at = strstr(t->line[i], ",\"hash\":\"");
        assert_non_null(at);
        memcpy(buf, t->line[i], at - t->line[i]);
        buf[at - t->line[i]] = '}';
        zoll_sha256(buf, at - t->line[i] + 1, h);
        zoll_hex(h, sizeof(h), hex);
        assert_memory_equal(at + 9, hex, 64);
        assert_string_equal(at + 9 + 64, "\"}\n");
    }

    zt_assert_contains(t->line[1], "\"seq\":2,\"prev\":\"");
    zt_assert_contains(t->line[0], "\"prev\":\"0000000000000000");
}


static void
test_chain_modified(void **state)
{
    char      *at;
    zt_log_t  *t = *state;

    zt_build(t);
    at = strstr(t->line[3], "\"t\"");
    at[1] = 'u';                          /* tenant "t" becomes "u" */
    assert_string_equal(zt_verify(t, 0, 0, NULL), "log:4: seq 4: the record "
                        "does not match its hash: it was changed after it "
                        "was written");

    /* a change that breaks the JSON is named just as well */
    zt_build(t);
    t->line[2][0] = '[';
    zt_assert_contains(zt_verify(t, 0, 0, NULL), "log:3: ");
}


static void
test_chain_deleted(void **state)
{
    zt_log_t  *t = *state;

    zt_build(t);
    memmove(t->line[2], t->line[3], (t->n - 3) * ZT_LINE);
    t->n--;
    assert_string_equal(zt_verify(t, 0, 0, NULL), "log:3: seq 4: follows "
                        "seq 2: 1 record(s) before it are missing (deleted)");
}


static void
test_chain_inserted(void **state)
{
    zt_log_t  *t = *state;

    /* a copy of an earlier record */
    zt_build(t);
    memmove(t->line[4], t->line[3], (t->n - 3) * ZT_LINE);
    memcpy(t->line[3], t->line[1], ZT_LINE);
    t->n++;
    assert_string_equal(zt_verify(t, 0, 0, NULL), "log:4: seq 2: follows "
                        "seq 3: a record was inserted, repeated or moved "
                        "here");
}


static void
test_chain_reordered(void **state)
{
    char       tmp[ZT_LINE];
    zt_log_t  *t = *state;

    zt_build(t);
    memcpy(tmp, t->line[2], ZT_LINE);
    memcpy(t->line[2], t->line[3], ZT_LINE);
    memcpy(t->line[3], tmp, ZT_LINE);
    assert_string_equal(zt_verify(t, 0, 0, NULL), "log:3: seq 4: follows "
                        "seq 2: 1 record(s) before it are missing (deleted)");
}


/* What a forger without the signing key can do: rewrite the chain
 * members of a line from the documented rule (a checkpoint keeps its old
 * signature), continuing from c. */

static void
zt_forge(char *line, zoll_chain_t *c)
{
    char           sig[140] = "", hex[65], buf[ZT_LINE], *at;
    unsigned char  h[ZOLL_SHA256_LEN];

    at = strstr(line, ",\"sig\":\"");
    if (at) {
        memcpy(sig, at, 137);
        sig[137] = '\0';
    }

    at = strstr(line, ",\"seq\":");
    zoll_hex(c->hash, ZOLL_SHA256_LEN, hex);
    sprintf(at, ",\"seq\":%llu,\"prev\":\"%s\"%s",
            (unsigned long long) c->seq + 1, hex, sig);
    snprintf(buf, sizeof(buf), "%s}", line);
    zoll_sha256(buf, strlen(buf), h);
    zoll_hex(h, ZOLL_SHA256_LEN, hex);
    sprintf(line + strlen(line), ",\"hash\":\"%s\"}\n", hex);

    c->seq++;
    memcpy(c->hash, h, sizeof(h));
}


/* An attacker who changes a record and recomputes every hash after it
 * keeps the chain intact; the next signed checkpoint catches it. */

static void
test_chain_rechained(void **state)
{
    char         *at;
    size_t        i;
    zt_log_t     *t = *state;
    zoll_chain_t  c = { 1, { 0 } };

    zt_build(t);
    at = strstr(t->line[0], ",\"hash\":\"") + 9;
    for (i = 0; i < ZOLL_SHA256_LEN; i++) {
        assert_int_equal(sscanf(at + 2 * i, "%2hhx", &c.hash[i]), 1);
    }

    at = strstr(t->line[1], "\"t\"");
    at[1] = 'u';

    for (i = 1; i < t->n; i++) {
        zt_forge(t->line[i], &c);
    }

    assert_string_equal(zt_verify(t, 0, 0, NULL), "log:7: seq 7: the "
                        "checkpoint's signature does not verify: it, or a "
                        "record after the checkpoint at seq 1, was changed, "
                        "inserted or deleted and the chain recomputed");

    /* the forging itself is right: without the change only the
     * signatures are left to catch anything */
    zt_build(t);
    c.seq = 0;
    memset(c.hash, 0, sizeof(c.hash));

    for (i = 0; i < t->n; i++) {
        zt_forge(t->line[i], &c);
    }

    assert_string_equal(zt_verify(t, 0, 0, NULL), "");
}


static void
test_chain_truncated(void **state)
{
    size_t     len;
    zt_log_t  *t = *state;

    /* whole records cut off the end: the shutdown checkpoint is gone */
    zt_build(t);
    t->n -= 2;
    assert_string_equal(zt_verify(t, 0, 0, NULL), "log: the log ends at seq "
                        "9 without a shutdown checkpoint: records at its end "
                        "were deleted, or the gateway is still running or "
                        "crashed (pass --open for a live log)");

    /* a live log may end anywhere */
    assert_string_equal(zt_verify(t, 0, 1, NULL), "");

    /* cut in the middle of a line */
    zt_build(t);
    len = strlen(t->line[t->n - 1]);
    t->line[t->n - 1][len / 2] = '\0';
    assert_string_equal(zt_verify(t, 0, 1, NULL), "log:11: the last line has "
                        "no newline: the log was cut off (truncated, or a "
                        "write did not finish)");
}


static void
test_chain_keys(void **state)
{
    char            err[ZOLL_ERR_LEN];
    zt_log_t       *t = *state;
    zoll_policy_t  *p;
    zoll_verify_t  *v;

    zt_build(t);
    zt_assert_contains(zt_verify(t, 0, 0, t->other), "log:1: seq 1: "
                       "checkpoint signed with key ed25519:");
    zt_assert_contains(zt_verify(t, 0, 0, t->other), ", which is not among "
                       "the public keys given");

    p = zt_policy_with_key(t->ec, err);
    assert_null(p);
    zt_assert_contains(err, "$.logging.signing_key_file: ");
    zt_assert_contains(err, "must be an Ed25519 key");

    v = zoll_verify_new();
    assert_int_equal(zoll_verify_add_key(v, t->ec, err, sizeof(err)), -1);
    zt_assert_contains(err, "not an Ed25519 key in PEM");
    zoll_verify_free(v);

    /* without a key the engine writes no checkpoint at all */
    p = zt_load_base();
    assert_int_equal(zoll_chain_checkpoint(p, &t->head, 0, "start", NULL,
                                           t->line[0], ZT_LINE, &t->head), 0);
    zoll_policy_free(p);
}


/* After retention removed older files, the rest starts at a checkpoint. */

static void
test_chain_anchored(void **state)
{
    zt_log_t                   *t = *state;

    zt_build(t);
    assert_string_equal(zt_verify(t, 6, 0, NULL), "");
    assert_string_equal(zt_verify(t, 3, 0, NULL), "log:4: seq 4: the log "
                        "starts at seq 4 with a record that is not a "
                        "checkpoint: the files before it are missing");
}


static void
zt_write_file(const char *path, zt_log_t *t, const char *tail)
{
    FILE    *f = fopen(path, "w");
    size_t   i;

    assert_non_null(f);

    for (i = 0; i < t->n; i++) {
        fputs(t->line[i], f);
    }

    fputs(tail, f);
    fclose(f);
}


static int
zt_tail(const char *path, zoll_log_tail_t *tl, char *err)
{
    int  fd, rc;

    fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    rc = zoll_log_tail(fd, tl, err, ZOLL_ERR_LEN);
    close(fd);
    return rc;
}


static void
test_chain_tail(void **state)
{
    char              path[256], err[ZOLL_ERR_LEN], extra[512];
    zt_log_t         *t = *state;
    zoll_log_tail_t   tl;

    snprintf(path, sizeof(path), "%s/transfer.log", t->dir);

    /* empty: a new chain */
    t->n = 0;
    zt_write_file(path, t, "");
    assert_int_equal(zt_tail(path, &tl, err), 0);
    assert_false(tl.found);

    /* a clean end */
    zt_build(t);
    zt_write_file(path, t, "");
    assert_int_equal(zt_tail(path, &tl, err), 0);
    assert_true(tl.found);
    assert_true(tl.clean);
    assert_int_equal(tl.head.seq, 11);
    assert_memory_equal(tl.head.hash, t->head.hash, ZOLL_SHA256_LEN);
    assert_int_equal(tl.torn_bytes, 0);

    /* a crash in the middle of a write */
    t->n--;
    zt_write_file(path, t, "{\"v\":1,\"event\":\"deci");
    assert_int_equal(zt_tail(path, &tl, err), 0);
    assert_true(tl.found);
    assert_false(tl.clean);
    assert_int_equal(tl.head.seq, 10);
    assert_int_equal(tl.torn_bytes, 20);
    assert_true(zoll_log_tail_json(&tl, extra, sizeof(extra))
                < sizeof(extra));
    zt_assert_contains(extra, ",\"previous\":{\"seq\":10,\"clean\":false,"
                       "\"torn\":{\"offset\":");
    zt_assert_contains(extra, ",\"bytes\":20,\"sha256\":\"");

    /* the last record changed: refuse to write on */
    zt_build(t);
    strstr(t->line[t->n - 1], "shutdown")[0] = 'S';
    zt_write_file(path, t, "");
    assert_int_equal(zt_tail(path, &tl, err), -1);
    zt_assert_contains(err, "does not match its hash");
}


/* A torn line is forgiven only if the next start checkpoint names it. */

static void
test_chain_torn_reported(void **state)
{
    char              path[256], err[ZOLL_ERR_LEN], extra[512];
    size_t            torn;
    zt_log_t         *t = *state;
    zoll_log_tail_t   tl;

    snprintf(path, sizeof(path), "%s/transfer.log", t->dir);
    zt_build(t);
    t->n--;
    zt_write_file(path, t, "{\"v\":1,\"event\":\"deci");
    assert_int_equal(zt_tail(path, &tl, err), 0);
    assert_int_equal(zoll_log_tail_json(&tl, extra, sizeof(extra))
                     < sizeof(extra), 1);

    torn = t->n++;
    strcpy(t->line[torn], "{\"v\":1,\"event\":\"deci\n");
    t->head = tl.head;
    zt_add_checkpoint(t, "start", extra);
    zt_add_record(t);
    zt_add_checkpoint(t, "shutdown", NULL);
    assert_string_equal(zt_verify(t, 0, 0, NULL), "");

    /* the same bad line, not reported by the gateway */
    zt_build(t);
    memmove(t->line[5], t->line[4], (t->n - 4) * ZT_LINE);
    strcpy(t->line[4], "{\"v\":1,\"event\":\"deci\n");
    t->n++;
    assert_string_equal(zt_verify(t, 0, 0, NULL), "log:5: is not a record "
                        "(too short)");
}


static void
test_client_addr_hmac(void **state)
{
    char                  buf[64];
    static const unsigned char  v4[4] = { 192, 0, 2, 7 };
    zoll_day_key_t        k;

    (void) state;

    memset(k.key, 0x11, sizeof(k.key));
    strcpy(k.day, "2026-11-22");

    /* openssl dgst -sha256 -mac HMAC -macopt hexkey:1111…11 over the four
     * address bytes: 78144aef5339397d… */
    assert_int_equal(zoll_client_addr(ZOLL_CLIENT_ADDR_HMAC, &k, 4, v4, buf,
                                      sizeof(buf)), 32);
    assert_string_equal(buf, "hmac:2026-11-22:78144aef5339397d");

    /* another day's key: unlinkable */
    memset(k.key, 0x12, sizeof(k.key));
    assert_int_equal(zoll_client_addr(ZOLL_CLIENT_ADDR_HMAC, &k, 4, v4, buf,
                                      sizeof(buf)), 32);
    assert_string_not_equal(buf, "hmac:2026-11-22:78144aef5339397d");

    /* no key: nothing rather than the address */
    assert_int_equal(zoll_client_addr(ZOLL_CLIENT_ADDR_HMAC, NULL, 4, v4, buf,
                                      sizeof(buf)), 0);
}


int
zt_chain_tests(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_chain_verifies),
        cmocka_unit_test(test_chain_hash_is_of_the_bytes),
        cmocka_unit_test(test_chain_modified),
        cmocka_unit_test(test_chain_deleted),
        cmocka_unit_test(test_chain_inserted),
        cmocka_unit_test(test_chain_reordered),
        cmocka_unit_test(test_chain_rechained),
        cmocka_unit_test(test_chain_truncated),
        cmocka_unit_test(test_chain_keys),
        cmocka_unit_test(test_chain_anchored),
        cmocka_unit_test(test_chain_tail),
        cmocka_unit_test(test_chain_torn_reported),
        cmocka_unit_test(test_client_addr_hmac),
    };

    return cmocka_run_group_tests_name("chain", tests, zt_setup,
                                       zt_teardown);
}
