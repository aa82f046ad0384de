/*
 * The redactor: rewrites a JSON request body so that the personal data in
 * it does not leave.
 *
 * One pass over the body validates it as strict JSON (RFC 8259, UTF-8) and
 * scans every string value, every object key and the text of every number,
 * except the strings and numbers at the structural paths the policy lists
 * for the request's API ("$.model", "$.messages[*].role", ...).  A string
 * with escapes is decoded first, so "\u0040" cannot hide an "@" from the
 * rules.  Only strings that change are re-encoded; a number in which
 * something is replaced becomes a string ("[CREDIT_CARD]"), since no
 * replacement is a number; every other byte of the body is copied as it
 * was, and a body without findings is not copied at all.  A key that
 * is rewritten must not become the same as another key of its object
 * (two e-mail addresses masked to "[EMAIL]"): such a body is refused
 * rather than have the provider keep only one of the members.
 *
 * Fail closed: a body that is not valid JSON, nests deeper than the policy
 * allows, or cannot be scanned completely is refused, never forwarded.
 */

#include "zoll_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>


#define ZOLL_PSEUDONYM_HEX    8
#define ZOLL_REPLACEMENT_LEN  (ZOLL_PSEUDONYM_HEX + 96)


/* an object key as forwarded, for finding keys that redaction made equal */
typedef struct {
    uint64_t   hash;         /* FNV-1a of the decoded text */
    unsigned   changed;
} zoll_key_t;


/* an open object or array */
typedef struct {
    unsigned char        c;        /* '{' or '[' */
    size_t               kbase;    /* its first key in rd->keys */
    const zoll_pnode_t  *node;     /* its structural path, or NULL */
} zoll_level_t;


typedef struct {
    unsigned   entity;
    unsigned   number;       /* [ENTITY_<number>] */
    size_t     value;        /* offset into the arena */
    size_t     len;
    uint32_t   hash;
} zoll_token_t;


struct zoll_redactor_s {
    const zoll_policy_t   *policy;
    const zoll_tenant_t   *tenant;
    zoll_scanner_t        *sc;

    const unsigned char   *in;
    size_t                 len;
    size_t                 copied;         /* in[0, copied) is in out */
    unsigned char         *out;
    size_t                 olen;
    size_t                 ocap;
    unsigned char         *dec;            /* a decoded string */
    size_t                 dcap;
    zoll_level_t          *levels;         /* max_depth of them */
    zoll_key_t            *keys;           /* of the open objects */
    size_t                 nkeys;
    size_t                 kcap;

    size_t                 found[ZOLL_ENTITIES_MAX];
    size_t                 redacted;
    unsigned               applied;        /* bit per zoll_op_e */
    int                    blocked;

    zoll_token_t          *tokens;
    size_t                 ntokens;
    size_t                 tcap;
    uint32_t              *slots;          /* token index + 1, or 0 */
    size_t                 nslots;
    unsigned char         *arena;
    size_t                 alen;
    size_t                 acap;
    unsigned               numbers[ZOLL_ENTITIES_MAX];
    EVP_MAC_CTX          **macs;           /* per tenant: its pseudonym key */

    char                  *reason;
    size_t                 reason_len;
};


zoll_redactor_t *
zoll_redactor_new(const zoll_policy_t *p, unsigned mode)
{
    zoll_redactor_t  *rd;

    rd = calloc(1, sizeof(zoll_redactor_t));
    if (rd == NULL) {
        return NULL;
    }

    rd->policy = p;
    rd->sc = zoll_scanner_new(p->rules, mode);
    rd->levels = malloc(p->max_depth * sizeof(zoll_level_t));
    rd->macs = calloc(p->ntenants + 1, sizeof(EVP_MAC_CTX *));

    if (rd->sc == NULL || rd->levels == NULL || rd->macs == NULL) {
        zoll_redactor_free(rd);
        return NULL;
    }

    return rd;
}


void
zoll_redactor_free(zoll_redactor_t *rd)
{
    size_t  i;

    if (rd == NULL) {
        return;
    }

    zoll_scanner_free(rd->sc);

    for (i = 0; rd->macs && i < rd->policy->ntenants; i++) {
        EVP_MAC_CTX_free(rd->macs[i]);
    }

    free(rd->macs);

    /* originals of tokens and decoded prompts are personal data */
    if (rd->arena) {
        OPENSSL_cleanse(rd->arena, rd->acap);
    }

    if (rd->dec) {
        OPENSSL_cleanse(rd->dec, rd->dcap);
    }

    free(rd->out);
    free(rd->dec);
    free(rd->levels);
    free(rd->keys);
    free(rd->tokens);
    free(rd->slots);
    free(rd->arena);
    free(rd);
}


static int
zoll_out(zoll_redactor_t *rd, const void *p, size_t n)
{
    if (zoll_grow(&rd->out, &rd->ocap, rd->olen + n) != 0) {
        return -1;
    }

    memcpy(rd->out + rd->olen, p, n);
    rd->olen += n;
    return 0;
}


static zoll_status_e
zoll_bad(zoll_redactor_t *rd, zoll_status_e s, size_t at, const char *what)
{
    snprintf(rd->reason, rd->reason_len, "%s at byte %zu", what, at);
    return s;
}


/* How much of a member's key and colon its value is scanned with: enough
 * for any context window, bounded against a key padded with megabytes of
 * white space before its value. */
#define ZOLL_KEY_CONTEXT  128


/* Strings */


/* the character after a backslash of a two-character escape */

static int
zoll_simple_escape(unsigned char c)
{
    switch (c) {
    case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r':
    case 't':
        return 1;
    default:
        return 0;
    }
}


/* One UTF-8 sequence starting at p (p[0] >= 0x80): its length, or 0 if it
 * is invalid (overlong, a surrogate, beyond U+10FFFF, or cut short). */

static size_t
zoll_utf8_len(const unsigned char *p, const unsigned char *end)
{
    unsigned char  c = p[0];

    if (c >= 0xc2 && c <= 0xdf) {
        return (end - p >= 2 && (p[1] & 0xc0) == 0x80) ? 2 : 0;
    }

    if (c >= 0xe0 && c <= 0xef) {
        if (end - p < 3 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80
            || (c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] > 0x9f))
        {
            return 0;
        }
        return 3;
    }

    if (c >= 0xf0 && c <= 0xf4) {
        if (end - p < 4 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80
            || (p[3] & 0xc0) != 0x80 || (c == 0xf0 && p[1] < 0x90)
            || (c == 0xf4 && p[1] > 0x8f))
        {
            return 0;
        }
        return 4;
    }

    return 0;
}


static int
zoll_hex4(const unsigned char *p, unsigned *v)
{
    int  i;

    *v = 0;

    for (i = 0; i < 4; i++) {
        *v <<= 4;

        if (p[i] >= '0' && p[i] <= '9') {
            *v |= p[i] - '0';

        } else if ((p[i] | 0x20) >= 'a' && (p[i] | 0x20) <= 'f') {
            *v |= (p[i] | 0x20) - 'a' + 10;

        } else {
            return -1;
        }
    }

    return 0;
}


/* Validates the string whose opening quote is at *pos and leaves *pos past
 * its closing quote; *esc tells whether it holds escapes. */

static zoll_status_e
zoll_string_end(zoll_redactor_t *rd, size_t *pos, int *esc)
{
    size_t                n;
    unsigned              u, l;
    const unsigned char  *p, *end;

    p = rd->in + *pos + 1;
    end = rd->in + rd->len;
    *esc = 0;

    for ( ;; ) {
        p = zoll_next_special(p, end, 1);

        if (p == end) {
            return zoll_bad(rd, ZOLL_ERR_BAD_REQUEST, rd->len,
                            "invalid JSON: unterminated string");
        }

        if (*p == '"') {
            *pos = p + 1 - rd->in;
            return ZOLL_OK;
        }

        if (*p < 0x20) {
            return zoll_bad(rd, ZOLL_ERR_BAD_REQUEST, p - rd->in,
                            "invalid JSON: control character in a string");
        }

        if (*p >= 0x80) {
            n = zoll_utf8_len(p, end);
            if (n == 0) {
                return zoll_bad(rd, ZOLL_ERR_BAD_REQUEST, p - rd->in,
                                "invalid UTF-8 in a string");
            }
            p += n;
            continue;
        }

        *esc = 1;

        if (end - p < 2) {
            return zoll_bad(rd, ZOLL_ERR_BAD_REQUEST, p - rd->in,
                            "invalid JSON: unterminated string");
        }

        if (zoll_simple_escape(p[1])) {
            p += 2;
            continue;
        }

        if (p[1] != 'u' || end - p < 6 || zoll_hex4(p + 2, &u) != 0) {
            return zoll_bad(rd, ZOLL_ERR_BAD_REQUEST, p - rd->in,
                            "invalid JSON: bad escape");
        }

        p += 6;

        if (u >= 0xdc00 && u <= 0xdfff) {
            return zoll_bad(rd, ZOLL_ERR_BAD_REQUEST, p - 6 - rd->in,
                            "invalid JSON: lone low surrogate");
        }

        if (u >= 0xd800 && u <= 0xdbff) {
            if (end - p < 6 || p[0] != '\\' || p[1] != 'u'
                || zoll_hex4(p + 2, &l) != 0 || l < 0xdc00 || l > 0xdfff)
            {
                return zoll_bad(rd, ZOLL_ERR_BAD_REQUEST, p - 6 - rd->in,
                                "invalid JSON: lone high surrogate");
            }
            p += 6;
        }
    }
}


static size_t
zoll_put_utf8(unsigned char *o, unsigned c)
{
    if (c < 0x80) {
        o[0] = (unsigned char) c;
        return 1;
    }

    if (c < 0x800) {
        o[0] = (unsigned char) (0xc0 | (c >> 6));
        o[1] = (unsigned char) (0x80 | (c & 0x3f));
        return 2;
    }

    if (c < 0x10000) {
        o[0] = (unsigned char) (0xe0 | (c >> 12));
        o[1] = (unsigned char) (0x80 | ((c >> 6) & 0x3f));
        o[2] = (unsigned char) (0x80 | (c & 0x3f));
        return 3;
    }

    o[0] = (unsigned char) (0xf0 | (c >> 18));
    o[1] = (unsigned char) (0x80 | ((c >> 12) & 0x3f));
    o[2] = (unsigned char) (0x80 | ((c >> 6) & 0x3f));
    o[3] = (unsigned char) (0x80 | (c & 0x3f));
    return 4;
}


/* Decodes a validated string body [s, e) (quotes excluded) into rd->dec
 * from offset at on, after at bytes the caller put there; *n: the decoded
 * text's end.  Decoding never grows a string, so e - s bytes suffice. */

static int
zoll_decode(zoll_redactor_t *rd, size_t at, size_t s, size_t e, size_t *n)
{
    size_t                m;
    unsigned              u, l;
    unsigned char        *o;
    const unsigned char  *p, *q, *end;

    if (zoll_grow(&rd->dec, &rd->dcap, at + e - s + 1) != 0) {
        return -1;
    }

    o = rd->dec + at;
    end = rd->in + e;

    for (p = rd->in + s; p < end; ) {
        if (*p != '\\') {
#ifdef __SSE2__
            /* sixteen bytes copied at a time, up to the next escape: the
             * store stays inside the buffer, as what is decoded is never
             * longer than what it came from (o - dec - at <= p - in - s) */
            if (end - p >= 16) {
                __m128i   x;
                unsigned  bits;

                x = _mm_loadu_si128((const __m128i *) p);
                _mm_storeu_si128((__m128i *) o, x);
                bits = (unsigned) _mm_movemask_epi8(
                           _mm_cmpeq_epi8(x, _mm_set1_epi8('\\')));
                m = bits ? (size_t) __builtin_ctz(bits) : 16;
                o += m;
                p += m;
                continue;
            }
#endif
            /* the plain run up to the next escape, in one copy */
            q = memchr(p, '\\', end - p);
            m = (q != NULL ? q : end) - p;
            memcpy(o, p, m);
            o += m;
            p += m;
            continue;
        }

        switch (p[1]) {
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case 'u':
            (void) zoll_hex4(p + 2, &u);

            if (u >= 0xd800 && u <= 0xdbff) {
                (void) zoll_hex4(p + 8, &l);
                u = 0x10000 + ((u - 0xd800) << 10) + (l - 0xdc00);
                p += 6;
            }

            o += zoll_put_utf8(o, u);
            p += 6;
            continue;
        default:  *o++ = p[1]; break;
        }

        p += 2;
    }

    *n = o - rd->dec;
    return 0;
}


/* Re-encodes decoded text as the inside of a JSON string. */

static int
zoll_out_escaped(zoll_redactor_t *rd, const unsigned char *p, size_t n)
{
    size_t                run;
    unsigned char        *o;
    const unsigned char  *end = p + n;

    while (p < end) {
#ifdef __SSE2__
        /* sixteen bytes stored at a time while the buffer has room for
         * them, of which those before the first special one count */
        if (end - p >= 16 && rd->ocap - rd->olen >= 16) {
            __m128i   x;
            unsigned  bits;

            x = _mm_loadu_si128((const __m128i *) p);
            bits = zoll_special16(x);
            _mm_storeu_si128((__m128i *) (rd->out + rd->olen), x);
            run = bits ? (size_t) __builtin_ctz(bits) : 16;
            rd->olen += run;
            p += run;

            if (run == 16) {
                continue;
            }

        } else
#endif
        {
            run = zoll_next_special(p, end, 0) - p;

            if (run && zoll_out(rd, p, run) != 0) {
                return -1;
            }

            p += run;

            if (p == end) {
                break;
            }
        }

        /* the escape written in place: one of these every few dozen
         * bytes of pasted code, where a zoll_out() call each cost more
         * than the bytes between them */
        if (rd->ocap - rd->olen < 6
            && zoll_grow(&rd->out, &rd->ocap, rd->olen + 6) != 0)
        {
            return -1;
        }

        o = rd->out + rd->olen;
        o[0] = '\\';

        switch (*p) {
        case '"':  o[1] = '"'; n = 2; break;
        case '\\': o[1] = '\\'; n = 2; break;
        case '\n': o[1] = 'n'; n = 2; break;
        case '\r': o[1] = 'r'; n = 2; break;
        case '\t': o[1] = 't'; n = 2; break;
        default:
            /* "\\u%04x" of a control character */
            o[1] = 'u';
            o[2] = '0';
            o[3] = '0';
            o[4] = "0123456789abcdef"[*p >> 4];
            o[5] = "0123456789abcdef"[*p & 15];
            n = 6;
        }

        rd->olen += n;
        p++;
    }

    return 0;
}


/* Operators */

static uint32_t
zoll_fnv(unsigned entity, const unsigned char *p, size_t n)
{
    size_t    i;
    uint32_t  h = 2166136261u ^ entity;

    for (i = 0; i < n; i++) {
        h = (h ^ p[i]) * 16777619u;
    }

    return h;
}


static int
zoll_slots_grow(zoll_redactor_t *rd)
{
    size_t     i, n, j;
    uint32_t  *slots;

    n = rd->nslots ? 2 * rd->nslots : 64;

    slots = calloc(n, sizeof(uint32_t));
    if (slots == NULL) {
        return -1;
    }

    for (i = 0; i < rd->ntokens; i++) {
        for (j = rd->tokens[i].hash & (n - 1); slots[j];
             j = (j + 1) & (n - 1))
        {
            /* void */
        }
        slots[j] = (uint32_t) i + 1;
    }

    free(rd->slots);
    rd->slots = slots;
    rd->nslots = n;
    return 0;
}


/* The request's token for this value: the same value gets the same token
 * within a request, so the model sees that two mentions are one person. */

static const zoll_token_t *
zoll_token(zoll_redactor_t *rd, unsigned entity, const unsigned char *v,
    size_t n)
{
    size_t         j;
    uint32_t       h;
    zoll_token_t  *t;

    if (2 * (rd->ntokens + 1) > rd->nslots && zoll_slots_grow(rd) != 0) {
        return NULL;
    }

    h = zoll_fnv(entity, v, n);

    for (j = h & (rd->nslots - 1); rd->slots[j];
         j = (j + 1) & (rd->nslots - 1))
    {
        t = &rd->tokens[rd->slots[j] - 1];

        if (t->hash == h && t->entity == entity && t->len == n
            && memcmp(rd->arena + t->value, v, n) == 0)
        {
            return t;
        }
    }

    if (rd->ntokens == rd->tcap) {
        t = realloc(rd->tokens, (rd->tcap ? 2 * rd->tcap : 16)
                                * sizeof(zoll_token_t));
        if (t == NULL) {
            return NULL;
        }
        rd->tokens = t;
        rd->tcap = rd->tcap ? 2 * rd->tcap : 16;
    }

    if (zoll_grow(&rd->arena, &rd->acap, rd->alen + n) != 0) {
        return NULL;
    }

    t = &rd->tokens[rd->ntokens];
    t->entity = entity;
    t->number = ++rd->numbers[entity];
    t->value = rd->alen;
    t->len = n;
    t->hash = h;

    memcpy(rd->arena + rd->alen, v, n);
    rd->alen += n;
    rd->slots[j] = (uint32_t) ++rd->ntokens;

    return t;
}


/* [ENTITY_xxxxxxxx]: the first 32 bits of HMAC-SHA256 over the entity, a
 * NUL and the value, keyed with the tenant's pseudonym key.  Each tenant's
 * context is keyed once, at its first pseudonym. */

static int
zoll_pseudonym(zoll_redactor_t *rd, const char *entity,
    const unsigned char *v, size_t n, char *hex)
{
    int             ok;
    size_t          i, mdlen;
    uintptr_t       off;
    unsigned char   md[EVP_MAX_MD_SIZE];
    EVP_MAC_CTX    *ctx, *own = NULL;
    const char     *key = rd->tenant->pseudonym_key;

    off = (uintptr_t) rd->tenant - (uintptr_t) rd->policy->tenants;
    i = off / sizeof(zoll_tenant_t);

    if (off % sizeof(zoll_tenant_t) == 0 && i < rd->policy->ntenants) {
        if (rd->macs[i] == NULL) {
            rd->macs[i] = zoll_hmac_sha256_new(key, strlen(key));
        }

        ctx = rd->macs[i];

    } else {
        /* not one of the policy's tenants: keyed for this value only */
        ctx = own = zoll_hmac_sha256_new(key, strlen(key));
    }

    ok = ctx != NULL
         && EVP_MAC_init(ctx, NULL, 0, NULL) == 1
         && EVP_MAC_update(ctx, (const unsigned char *) entity,
                           strlen(entity) + 1) == 1
         && EVP_MAC_update(ctx, v, n) == 1
         && EVP_MAC_final(ctx, md, &mdlen, sizeof(md)) == 1;

    EVP_MAC_CTX_free(own);

    if (!ok) {
        return -1;
    }

    zoll_hex(md, ZOLL_PSEUDONYM_HEX / 2, hex);
    hex[ZOLL_PSEUDONYM_HEX] = '\0';
    return 0;
}


/* The replacement of a span as decoded text: *out points to it (into buf,
 * or the span itself for keep). */

static int
zoll_replace(zoll_redactor_t *rd, const zoll_span_t *sp,
    const unsigned char *text, char buf[ZOLL_REPLACEMENT_LEN],
    const unsigned char **out, size_t *len)
{
    char                 hex[ZOLL_PSEUDONYM_HEX + 1];
    unsigned             op;
    zoll_buf_t           b;
    const char          *entity;
    const zoll_token_t  *t;

    op = rd->tenant->profile->ops[sp->entity];
    entity = zoll_rules_entity(rd->policy->rules, sp->entity);

    /* once per span: no printf.  Entity names are at most
     * ZOLL_ENTITY_NAME_MAX bytes, so every form fits. */
    zoll_buf_init(&b, buf, ZOLL_REPLACEMENT_LEN);
    zoll_buf_raw(&b, "[", 1);
    zoll_buf_cstr(&b, entity);

    switch (op) {

    case ZOLL_OP_MASK:
        break;

    case ZOLL_OP_PSEUDONYMIZE:
        if (zoll_pseudonym(rd, entity, text + sp->start,
                           sp->end - sp->start, hex) != 0)
        {
            return -1;
        }
        zoll_buf_raw(&b, "_", 1);
        zoll_buf_raw(&b, hex, ZOLL_PSEUDONYM_HEX);
        break;

    case ZOLL_OP_TOKENIZE:
        t = zoll_token(rd, sp->entity, text + sp->start, sp->end - sp->start);
        if (t == NULL) {
            return -1;
        }
        zoll_buf_raw(&b, "_", 1);
        zoll_buf_uint(&b, t->number);
        break;

    default:    /* keep; block refuses the whole body anyway */
        *out = text + sp->start;
        *len = sp->end - sp->start;
        return 0;
    }

    zoll_buf_raw(&b, "]", 1);

    if (zoll_buf_finish(&b) >= ZOLL_REPLACEMENT_LEN) {
        return -1;
    }

    *out = (const unsigned char *) buf;
    *len = b.len;
    return 0;
}


#define ZOLL_FNV64_INIT  0xcbf29ce484222325ULL

static uint64_t
zoll_fnv64(uint64_t h, const unsigned char *p, size_t n)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        h = (h ^ p[i]) * 0x100000001b3ULL;
    }

    return h;
}


/* Writes decoded text into the body as the inside of a JSON string and
 * adds it to the hash of a key. */

static int
zoll_out_text(zoll_redactor_t *rd, const unsigned char *p, size_t n,
    uint64_t *h)
{
    if (h) {
        *h = zoll_fnv64(*h, p, n);
    }

    return zoll_out_escaped(rd, p, n);
}


/* Scans the text [s, e) of a string (quotes excluded) or of a number
 * and, if anything in it is to be replaced, writes the body up to it and
 * its new text; a number becomes a string.  The pre bytes of the body
 * before s (a member's key, as it came: '"tel": ') are scanned with it as
 * context only: spans there are the key's own and are not replaced, so
 * '{"tel": 4915123456789}' finds what "Tel. 4915123456789" would.  key,
 * if not NULL, receives the text as forwarded (its hash) and whether it
 * changed. */

static zoll_status_e
zoll_text(zoll_redactor_t *rd, size_t pre, size_t s, size_t e, int esc,
    int number, zoll_key_t *key)
{
    char                  buf[ZOLL_REPLACEMENT_LEN];
    size_t                i, n, at, change, tlen, rlen;
    uint64_t              h, *hp;
    unsigned              op;
    zoll_span_t           sp;
    const zoll_span_t    *spans;
    const unsigned char  *text, *rtext;

    if (esc) {
        if (zoll_grow(&rd->dec, &rd->dcap, pre + 1) != 0) {
            return zoll_bad(rd, ZOLL_ERR_UNINSPECTABLE, s, "out of memory");
        }

        if (pre) {
            memcpy(rd->dec, rd->in + s - pre, pre);
        }

        if (zoll_decode(rd, pre, s, e, &tlen) != 0) {
            return zoll_bad(rd, ZOLL_ERR_UNINSPECTABLE, s, "out of memory");
        }

        text = rd->dec;

    } else {
        text = rd->in + s - pre;
        tlen = e - s + pre;
    }

    if (zoll_scan(rd->sc, text, tlen, &spans, &n) != 0) {
        return zoll_bad(rd, ZOLL_ERR_UNINSPECTABLE, s,
                        "a string could not be scanned completely");
    }

    /* spans are sorted and do not overlap: the key's own ones come first,
     * and one reaching into the value counts from the value's start */
    while (n && spans[0].end <= pre) {
        spans++;
        n--;
    }

    change = 0;

    for (i = 0; i < n; i++) {
        op = rd->tenant->profile->ops[spans[i].entity];

        rd->found[spans[i].entity]++;
        rd->applied |= 1u << op;

        if (op == ZOLL_OP_BLOCK) {
            rd->blocked = 1;

        } else if (op != ZOLL_OP_KEEP) {
            change++;
        }
    }

    if (change == 0 || rd->blocked) {
        if (key) {
            key->hash = zoll_fnv64(ZOLL_FNV64_INIT, text + pre, tlen - pre);
            key->changed = 0;
        }

        return ZOLL_OK;
    }

    rd->redacted += change;

    /* the body up to the opening quote (or the number), then the new
     * string */
    if (zoll_out(rd, rd->in + rd->copied, s - rd->copied) != 0
        || (number && zoll_out(rd, "\"", 1) != 0))
    {
        return zoll_bad(rd, ZOLL_ERR_UNINSPECTABLE, s, "out of memory");
    }

    at = pre;
    h = ZOLL_FNV64_INIT;
    hp = key ? &h : NULL;       /* only keys are compared */

    for (i = 0; i < n; i++) {
        sp = spans[i];
        sp.start = sp.start < pre ? pre : sp.start;

        if (zoll_out_text(rd, text + at, sp.start - at, hp) != 0
            || zoll_replace(rd, &sp, text, buf, &rtext, &rlen) != 0
            || zoll_out_text(rd, rtext, rlen, hp) != 0)
        {
            return zoll_bad(rd, ZOLL_ERR_UNINSPECTABLE, s, "out of memory");
        }

        at = sp.end;
    }

    if (zoll_out_text(rd, text + at, tlen - at, hp) != 0
        || (number && zoll_out(rd, "\"", 1) != 0))
    {
        return zoll_bad(rd, ZOLL_ERR_UNINSPECTABLE, s, "out of memory");
    }

    if (key) {
        key->hash = h;
        key->changed = 1;
    }

    rd->copied = e;
    return ZOLL_OK;
}


/* Object keys */

static int
zoll_cmp_keys(const void *a, const void *b)
{
    const zoll_key_t  *x = a, *y = b;

    return x->hash < y->hash ? -1 : x->hash > y->hash;
}


/* An object ends: no two of its keys may be the same, as decoded.  The
 * client's own duplicates are refused as invalid JSON, because which of
 * them a provider keeps is up to its parser, not Zoll's; keys that only
 * redaction made equal refuse with their own code rather than have the
 * provider keep one member.  (A hash collision of two different keys
 * refuses too: on the safe side, and with 64 bits as good as never.) */

static zoll_status_e
zoll_object_end(zoll_redactor_t *rd, zoll_level_t *l, size_t pos)
{
    size_t       i, n;
    zoll_key_t  *k;

    n = rd->nkeys - l->kbase;
    rd->nkeys = l->kbase;

    /* rd->keys is NULL until an object's keys are first kept */
    if (n < 2) {
        return ZOLL_OK;
    }

    k = rd->keys + l->kbase;

    qsort(k, n, sizeof(zoll_key_t), zoll_cmp_keys);

    for (i = 1; i < n; i++) {
        if (k[i].hash != k[i - 1].hash) {
            continue;
        }

        if (k[i].changed || k[i - 1].changed) {
            return zoll_bad(rd, ZOLL_ERR_KEY_COLLISION, pos,
                            "redacting the keys of an object would make "
                            "two of them the same");
        }

        return zoll_bad(rd, ZOLL_ERR_BAD_REQUEST, pos,
                        "invalid JSON: a key repeats in the object ending");
    }

    return ZOLL_OK;
}


static zoll_status_e
zoll_key(zoll_redactor_t *rd, size_t s, size_t e, int esc)
{
    zoll_key_t  *k;

    if (rd->nkeys == rd->kcap) {
        k = realloc(rd->keys, (rd->kcap ? 2 * rd->kcap : 64)
                              * sizeof(zoll_key_t));
        if (k == NULL) {
            return zoll_bad(rd, ZOLL_ERR_UNINSPECTABLE, s, "out of memory");
        }

        rd->keys = k;
        rd->kcap = rd->kcap ? 2 * rd->kcap : 64;
    }

    k = &rd->keys[rd->nkeys++];
    k->changed = 0;

    return zoll_text(rd, 0, s, e, esc, 0, k);
}


/* The walk */

enum {
    ZOLL_J_VALUE = 0,
    ZOLL_J_VALUE_OR_END,     /* after '[' */
    ZOLL_J_KEY,              /* after ',' in an object */
    ZOLL_J_KEY_OR_END,       /* after '{' */
    ZOLL_J_COLON,
    ZOLL_J_NEXT,             /* after a member or element */
    ZOLL_J_DONE
};


/* The next step of a structural path: the member name (NULL: an array
 * element) below node n, or NULL when no path goes on from here. */

static const zoll_pnode_t *
zoll_path_step(const zoll_pnode_t *n, const unsigned char *name, size_t len)
{
    for (n = n ? n->child : NULL; n; n = n->next) {
        if (name == NULL ? n->name == NULL
            : (n->name != NULL && n->len == len
               && memcmp(n->name, name, len) == 0))
        {
            return n;
        }
    }

    return NULL;
}


/* The member of object level l named by the key [s, e). */

static const zoll_pnode_t *
zoll_path_member(zoll_redactor_t *rd, const zoll_level_t *l, size_t s,
    size_t e, int esc)
{
    size_t  n;

    if (l->node == NULL || l->node->child == NULL) {
        return NULL;
    }

    if (!esc) {
        return zoll_path_step(l->node, rd->in + s, e - s);
    }

    if (zoll_decode(rd, 0, s, e, &n) != 0) {
        return NULL;            /* scan it: the safe side */
    }

    return zoll_path_step(l->node, rd->dec, n);
}


static int
zoll_digits(const unsigned char *in, size_t len, size_t *pos)
{
    size_t  start = *pos;

    while (*pos < len && in[*pos] >= '0' && in[*pos] <= '9') {
        (*pos)++;
    }

    return *pos > start;
}


static zoll_status_e
zoll_number(zoll_redactor_t *rd, size_t *pos)
{
    size_t                at = *pos;
    const unsigned char  *in = rd->in;

    if (in[*pos] == '-') {
        (*pos)++;
    }

    if (*pos < rd->len && in[*pos] == '0') {
        (*pos)++;

    } else if (!zoll_digits(in, rd->len, pos)) {
        return zoll_bad(rd, ZOLL_ERR_BAD_REQUEST, at, "invalid JSON number");
    }

    if (*pos < rd->len && in[*pos] == '.') {
        (*pos)++;

        if (!zoll_digits(in, rd->len, pos)) {
            return zoll_bad(rd, ZOLL_ERR_BAD_REQUEST, at,
                            "invalid JSON number");
        }
    }

    if (*pos < rd->len && (in[*pos] == 'e' || in[*pos] == 'E')) {
        (*pos)++;

        if (*pos < rd->len && (in[*pos] == '+' || in[*pos] == '-')) {
            (*pos)++;
        }

        if (!zoll_digits(in, rd->len, pos)) {
            return zoll_bad(rd, ZOLL_ERR_BAD_REQUEST, at,
                            "invalid JSON number");
        }
    }

    return ZOLL_OK;
}


static zoll_status_e
zoll_literal(zoll_redactor_t *rd, size_t *pos)
{
    size_t  i, n;
    static const char *const  lits[] = { "true", "false", "null" };

    for (i = 0; i < 3; i++) {
        n = strlen(lits[i]);

        if (rd->len - *pos >= n && memcmp(rd->in + *pos, lits[i], n) == 0) {
            *pos += n;
            return ZOLL_OK;
        }
    }

    return zoll_bad(rd, ZOLL_ERR_BAD_REQUEST, *pos,
                    "invalid JSON: unexpected character");
}


static zoll_status_e
zoll_walk(zoll_redactor_t *rd, zoll_api_e api)
{
    int                   state, esc, skip;
    size_t                pos, s, depth, kstart, pre;
    unsigned char         c;
    zoll_level_t         *l;
    zoll_status_e         rc;
    const zoll_pnode_t   *node;
    const unsigned char  *in = rd->in;

    state = ZOLL_J_VALUE;
    pos = 0;
    depth = 0;
    kstart = 0;
    l = NULL;           /* the innermost open container */
    node = rd->policy->structural[api];     /* the next value's path */

    for ( ;; ) {
        while (pos < rd->len && (in[pos] == ' ' || in[pos] == '\t'
                                 || in[pos] == '\n' || in[pos] == '\r'))
        {
            pos++;
        }

        if (pos == rd->len) {
            return state == ZOLL_J_DONE
                   ? ZOLL_OK
                   : zoll_bad(rd, ZOLL_ERR_BAD_REQUEST, pos,
                              "invalid JSON: unexpected end");
        }

        c = in[pos];
        rc = ZOLL_OK;

        switch (state) {

        case ZOLL_J_VALUE_OR_END:
            if (c == ']') {
                pos++;
                depth--;
                break;
            }

            /* fall through */

        case ZOLL_J_VALUE:
            if (c == '{' || c == '[') {
                if (depth == rd->policy->max_depth) {
                    return zoll_bad(rd, ZOLL_ERR_BAD_REQUEST, pos,
                                    "JSON nested too deeply");
                }

                l = &rd->levels[depth++];
                l->c = c;
                l->kbase = rd->nkeys;
                l->node = node;
                node = (c == '[') ? zoll_path_step(node, NULL, 0) : NULL;
                pos++;
                state = (c == '{') ? ZOLL_J_KEY_OR_END : ZOLL_J_VALUE_OR_END;
                continue;
            }

            skip = node != NULL && node->structural;

            /* a member's key, as it came, is its value's context */
            pre = 0;

            if (depth > 0 && l->c == '{') {
                pre = pos - kstart;
                pre = pre < ZOLL_KEY_CONTEXT ? pre : ZOLL_KEY_CONTEXT;
            }

            if (c == '"') {
                s = pos;
                rc = zoll_string_end(rd, &pos, &esc);

                if (rc == ZOLL_OK && !skip) {
                    rc = zoll_text(rd, pre + 1, s + 1, pos - 1, esc, 0,
                                   NULL);
                }

            } else if (c == '-' || (c >= '0' && c <= '9')) {
                s = pos;
                rc = zoll_number(rd, &pos);

                if (rc == ZOLL_OK && !skip) {
                    rc = zoll_text(rd, pre, s, pos, 0, 1, NULL);
                }

            } else {
                rc = zoll_literal(rd, &pos);
            }

            break;

        case ZOLL_J_KEY_OR_END:
            if (c == '}') {
                rc = zoll_object_end(rd, l, pos);
                pos++;
                depth--;
                break;
            }

            /* fall through */

        case ZOLL_J_KEY:
            if (c != '"') {
                return zoll_bad(rd, ZOLL_ERR_BAD_REQUEST, pos,
                                "invalid JSON: expected a key");
            }

            s = pos;
            kstart = s;
            rc = zoll_string_end(rd, &pos, &esc);
            if (rc != ZOLL_OK) {
                return rc;
            }

            node = zoll_path_member(rd, l, s + 1, pos - 1, esc);

            rc = zoll_key(rd, s + 1, pos - 1, esc);
            if (rc != ZOLL_OK) {
                return rc;
            }

            state = ZOLL_J_COLON;
            continue;

        case ZOLL_J_COLON:
            if (c != ':') {
                return zoll_bad(rd, ZOLL_ERR_BAD_REQUEST, pos,
                                "invalid JSON: expected ':'");
            }

            pos++;
            state = ZOLL_J_VALUE;
            continue;

        case ZOLL_J_NEXT:
            if (c == ',') {
                pos++;

                if (l->c == '{') {
                    state = ZOLL_J_KEY;

                } else {
                    node = zoll_path_step(l->node, NULL, 0);
                    state = ZOLL_J_VALUE;
                }

                continue;
            }

            if (c != (l->c == '{' ? '}' : ']')) {
                return zoll_bad(rd, ZOLL_ERR_BAD_REQUEST, pos,
                                "invalid JSON: expected ',' or the end of "
                                "the container");
            }

            if (c == '}') {
                rc = zoll_object_end(rd, l, pos);
            }

            pos++;
            depth--;
            break;

        default:    /* ZOLL_J_DONE */
            return zoll_bad(rd, ZOLL_ERR_BAD_REQUEST, pos,
                            "invalid JSON: data after the value");
        }

        if (rc != ZOLL_OK) {
            return rc;
        }

        /* a value (or a container) ended */
        l = depth ? &rd->levels[depth - 1] : NULL;
        state = depth ? ZOLL_J_NEXT : ZOLL_J_DONE;
    }
}


zoll_status_e
zoll_redact(zoll_redactor_t *rd, const zoll_tenant_t *t, zoll_api_e api,
    const unsigned char *body, size_t len, zoll_redaction_t *res)
{
    size_t         i;
    zoll_buf_t     b;
    zoll_status_e  rc;

    rd->tenant = t;
    rd->in = body;
    rd->len = len;
    rd->copied = 0;
    rd->olen = 0;
    rd->redacted = 0;
    rd->applied = 0;
    rd->blocked = 0;
    rd->ntokens = 0;
    rd->alen = 0;
    rd->nkeys = 0;
    rd->reason = res->reason;
    rd->reason_len = sizeof(res->reason);
    memset(rd->found, 0, sizeof(rd->found));
    memset(rd->numbers, 0, sizeof(rd->numbers));

    if (rd->slots) {
        memset(rd->slots, 0, rd->nslots * sizeof(uint32_t));
    }

    res->reason[0] = '\0';
    res->body = body;
    res->len = len;
    res->changed = 0;
    res->redacted = 0;

    rc = zoll_walk(rd, api);

    if (rc == ZOLL_OK && rd->blocked) {
        /* entity types only: never a value */
        zoll_buf_init(&b, res->reason, sizeof(res->reason));
        zoll_buf_cstr(&b, "the redaction profile blocks");

        for (i = 0; i < zoll_rules_entities(rd->policy->rules); i++) {
            if (rd->found[i] && t->profile->ops[i] == ZOLL_OP_BLOCK) {
                zoll_buf_cstr(&b, b.len > 28 ? ", " : " ");
                zoll_buf_cstr(&b, zoll_rules_entity(rd->policy->rules,
                                                    (unsigned) i));
            }
        }

        (void) zoll_buf_finish(&b);
        rc = ZOLL_ERR_PII_BLOCKED;
    }

    if (rc == ZOLL_OK && rd->olen > 0) {
        if (zoll_out(rd, body + rd->copied, len - rd->copied) != 0) {
            rc = zoll_bad(rd, ZOLL_ERR_UNINSPECTABLE, len, "out of memory");

        } else {
            res->body = rd->out;
            res->len = rd->olen;
            res->changed = 1;
        }
    }

    res->redacted = rd->blocked ? 0 : rd->redacted;
    res->status = rc;
    return rc;
}


size_t
zoll_redaction_found(const zoll_redactor_t *rd, unsigned entity)
{
    return entity < ZOLL_ENTITIES_MAX ? rd->found[entity] : 0;
}


size_t
zoll_redaction_tokens(const zoll_redactor_t *rd)
{
    return rd->ntokens;
}


size_t
zoll_redaction_token(const zoll_redactor_t *rd, size_t i, char *buf,
    size_t cap, zoll_str_t *value)
{
    int                  n;
    const zoll_token_t  *t = &rd->tokens[i];

    n = snprintf(buf, cap, "[%s_%u]",
                 zoll_rules_entity(rd->policy->rules, t->entity), t->number);

    value->data = (const char *) rd->arena + t->value;
    value->len = t->len;
    return (size_t) n;
}


/* For the transfer record: the measures applied (named as EDPB
 * Recommendations 01/2020 name supplementary measures) and the categories
 * found with counts, sent in clear or not. */

void
zoll_redaction_record(const zoll_redactor_t *rd, zoll_buf_t *b)
{
    size_t               i;
    const char          *sep;
    const zoll_rules_t  *rs = rd->policy->rules;

    static const char *const  measures[ZOLL_OP_N] = {
        NULL, "masking", "pseudonymisation", "tokenisation", NULL
    };

    zoll_buf_cstr(b, ",\"supplementary_measures\":[");
    sep = "";

    /* a blocked body is not sent at all: nothing was applied to it */
    for (i = 0; !rd->blocked && i < ZOLL_OP_N; i++) {
        if (measures[i] && (rd->applied & (1u << i))) {
            zoll_buf_cstr(b, sep);
            zoll_buf_json_cstr(b, measures[i]);
            sep = ",";
        }
    }

    zoll_buf_cstr(b, "],\"data_categories\":{");
    sep = "";
    for (i = 0; i < zoll_rules_entities(rs); i++) {
        if (rd->found[i]) {
            zoll_buf_cstr(b, sep);
            zoll_buf_json_cstr(b, zoll_rules_entity(rs, (unsigned) i));
            zoll_buf_raw(b, ":", 1);
            zoll_buf_uint(b, rd->found[i]);
            sep = ",";
        }
    }

    zoll_buf_cstr(b, "},\"sent_in_clear\":[");
    sep = "";

    for (i = 0; i < zoll_rules_entities(rs); i++) {
        if (rd->found[i] && rd->tenant->profile->ops[i] == ZOLL_OP_KEEP) {
            zoll_buf_cstr(b, sep);
            zoll_buf_json_cstr(b, zoll_rules_entity(rs, (unsigned) i));
            sep = ",";
        }
    }

    zoll_buf_cstr(b, "],\"redactions\":");
    zoll_buf_uint(b, rd->blocked ? 0 : rd->redacted);
}
