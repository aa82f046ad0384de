/*
 * Hashing and key generation (OpenSSL libcrypto).
 */

#include "zoll_internal.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <string.h>


/* OpenSSL 3 looks an algorithm up by name on every use of EVP_sha256()
 * (about 7,000 instructions a request for the records' hashes): it is
 * fetched once per process.  An immutable handle, not state. */

static EVP_MD          *zoll_sha256_fetched;
static pthread_once_t   zoll_sha256_once = PTHREAD_ONCE_INIT;


static void
zoll_sha256_fetch(void)
{
    zoll_sha256_fetched = EVP_MD_fetch(NULL, "SHA256", NULL);
}


const EVP_MD *
zoll_sha256_md(void)
{
    (void) pthread_once(&zoll_sha256_once, zoll_sha256_fetch);

    return zoll_sha256_fetched ? zoll_sha256_fetched : EVP_sha256();
}


/* HMAC() fetches HMAC and SHA-256 by name on every call, about 1.7 us:
 * per pseudonym that is most of its cost.  A context keyed once is reset
 * with EVP_MAC_init(ctx, NULL, 0, NULL) for each message instead. */

static EVP_MAC         *zoll_hmac_fetched;
static pthread_once_t   zoll_hmac_once = PTHREAD_ONCE_INIT;


static void
zoll_hmac_fetch(void)
{
    zoll_hmac_fetched = EVP_MAC_fetch(NULL, "HMAC", NULL);
}


EVP_MAC_CTX *
zoll_hmac_sha256_new(const void *key, size_t len)
{
    EVP_MAC_CTX  *ctx;
    OSSL_PARAM    params[2];

    (void) pthread_once(&zoll_hmac_once, zoll_hmac_fetch);

    if (zoll_hmac_fetched == NULL) {
        return NULL;
    }

    ctx = EVP_MAC_CTX_new(zoll_hmac_fetched);
    if (ctx == NULL) {
        return NULL;
    }

    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                 (char *) "SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();

    if (EVP_MAC_init(ctx, key, len, params) != 1) {
        EVP_MAC_CTX_free(ctx);
        return NULL;
    }

    return ctx;
}


void
zoll_sha256(const void *data, size_t len, unsigned char out[ZOLL_SHA256_LEN])
{
    /* SHA256() fetches the algorithm by name on every call, and it runs
     * for every request's key; only memory exhaustion makes this fail,
     * and then no key and no checksum matches a hash of zeros */
    if (EVP_Digest(data, len, out, NULL, zoll_sha256_md(), NULL) != 1) {
        memset(out, 0, ZOLL_SHA256_LEN);
    }
}


void
zoll_hex(const unsigned char *in, size_t len, char *out)
{
    static const char  hex[] = "0123456789abcdef";
    size_t             i;

    for (i = 0; i < len; i++) {
        out[2 * i] = hex[in[i] >> 4];
        out[2 * i + 1] = hex[in[i] & 0xf];
    }

    out[2 * len] = '\0';
}


int
zoll_key_new(char out[ZOLL_KEY_LEN + 1])
{
    static const char  b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                  "abcdefghijklmnopqrstuvwxyz0123456789-_";
    unsigned char      rnd[33];
    size_t             i, bit;
    unsigned           v;

    /* 256 bits of entropy; the 33rd byte only pads the last character */
    if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
        return -1;
    }

    out[0] = 'z'; out[1] = 'k'; out[2] = '_';

    for (i = 0; i < ZOLL_KEY_LEN - 3; i++) {
        bit = i * 6;
        v = (rnd[bit / 8] << 8 | rnd[bit / 8 + 1]) >> (10 - bit % 8);
        out[3 + i] = b64url[v & 0x3f];
    }

    out[ZOLL_KEY_LEN] = '\0';
    OPENSSL_cleanse(rnd, sizeof(rnd));
    return 0;
}
