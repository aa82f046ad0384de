/*
 * Engine internals shared between the engine's own source files.  Not for
 * connectors: they use zoll.h only.
 */

#ifndef ZOLL_INTERNAL_H
#define ZOLL_INTERNAL_H

#include "zoll.h"
#include "zoll_validate.h"

#include <jansson.h>
#include <stdarg.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define PCRE2_CODE_UNIT_WIDTH  8
#include <pcre2.h>
#include <hs/hs.h>
#include <openssl/evp.h>


typedef struct {
    const char          *country;
    zoll_legal_basis_t  *basis;
} zoll_adequacy_t;


/* The structural paths of one API ("$.messages[*].role") as a trie: a
 * node per step, "[*]" a node without a name.  The redactor follows one
 * node per open container, so matching costs no allocation. */

#define ZOLL_APIS  (ZOLL_API_GEMINI + 1)

typedef struct zoll_pnode_s  zoll_pnode_t;

struct zoll_pnode_s {
    const char          *name;         /* a member; NULL: any element */
    size_t               len;
    zoll_pnode_t        *child;        /* the first next step */
    zoll_pnode_t        *next;         /* a sibling */
    unsigned             structural;   /* a string or number here is not
                                          scanned */
};


struct zoll_policy_s {
    json_t               *root;       /* owns every const char * below */
    char                  digest[7 + ZOLL_SHA256_HEX_LEN + 1];
    zoll_log_conf_t       log;
    EVP_PKEY             *log_key;     /* signs checkpoints, or NULL */
    char                  log_key_id[8 + 16 + 1];

    zoll_legal_basis_t   *bases;
    size_t                nbases;
    const char          **eea;
    size_t                neea;
    zoll_adequacy_t      *adequacy;
    size_t                nadequacy;
    zoll_geoip_t         *geoip;       /* "geoip.database", or NULL */
    zoll_subprocessor_t  *sps;
    size_t                nsps;
    zoll_tenant_t        *tenants;
    size_t                ntenants;

    zoll_rules_t         *rules;
    zoll_profile_t       *profiles;
    size_t                nprofiles;
    const zoll_profile_t *default_profile;   /* NULL: tenants must name one */
    zoll_pnode_t         *pnodes;             /* owns the tries */
    zoll_pnode_t         *structural[ZOLL_APIS];   /* "$" of each API */
    unsigned              max_depth;
};


/* SHA-256 for EVP_Digest* and HMAC, fetched once (zoll_crypto.c) */
const EVP_MD *zoll_sha256_md(void);
/* an HMAC-SHA256 context keyed with key: EVP_MAC_init(ctx, NULL, 0, NULL)
 * starts each message; EVP_MAC_CTX_free() ends it */
EVP_MAC_CTX *zoll_hmac_sha256_new(const void *key, size_t len);


/* A set of bytes, one bit each: the bytes a rule's match or a context
 * word can start with.  An ASCII letter goes in in both cases. */

static inline void
zoll_bytes_add_caseless(uint64_t set[4], unsigned c)
{
    set[c >> 6] |= (uint64_t) 1 << (c & 63);

    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') {
        c ^= 0x20;
        set[c >> 6] |= (uint64_t) 1 << (c & 63);
    }
}


/* a macro, not an inline function: in the digit gate's loop the function
 * cost 52,000 instructions more per corpus scan (callgrind) */
#define zoll_bytes_has(set, c)                                               \
    ((set)[(c) >> 6] & ((uint64_t) 1 << ((c) & 63)))


/* SWAR: a byte repeated in all eight bytes of a word, and the high bits */
#define ZOLL_ONES   0x0101010101010101ULL
#define ZOLL_HIGHS  0x8080808080808080ULL


#ifdef __SSE2__

/* The bytes of x a JSON string cannot hold as they are ('"', '\\', a
 * control character), one bit each. */

static inline unsigned
zoll_special16(__m128i x)
{
    const __m128i  ctl = _mm_set1_epi8(0x1f);

    return (unsigned) _mm_movemask_epi8(
               _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('"')),
                                         _mm_cmpeq_epi8(x,
                                                        _mm_set1_epi8('\\'))),
                            _mm_cmpeq_epi8(_mm_max_epu8(x, ctl), ctl)));
}

#endif


/* The first byte at or after p that a JSON string cannot hold as it is
 * ('"', '\\', a control character) or, with high, that starts a UTF-8
 * sequence: the redactor's validation and re-encoding and the records'
 * escaping.  Within a word the lowest flagged byte is exact (a borrow only
 * ever flags bytes above a real one), so its index comes from the
 * trailing zeros.  Inlined: strings in code hold an escape every few
 * dozen bytes, and a call per escape shows. */

static inline __attribute__((always_inline)) const unsigned char *
zoll_next_special(const unsigned char *p, const unsigned char *end, int high)
{
    uint64_t  v, q, b, m;

#ifdef __SSE2__
    /* sixteen bytes at a time where the CPU has SSE2 (every x86-64):
     * escapes and quotes come every few dozen bytes in pasted code, so
     * this loop runs on most of a body's bytes twice (validation and
     * re-encoding) */
    __m128i   x;
    unsigned  bits;

    for ( /* void */ ; end - p >= 16; p += 16) {
        x = _mm_loadu_si128((const __m128i *) p);
        bits = zoll_special16(x);

        if (high) {
            bits |= (unsigned) _mm_movemask_epi8(x);
        }

        if (bits) {
            return p + __builtin_ctz(bits);
        }
    }
#endif

    for ( /* void */ ; end - p >= 8; p += 8) {
        memcpy(&v, p, 8);
        q = v ^ (ZOLL_ONES * '"');
        b = v ^ (ZOLL_ONES * '\\');
        m = (((q - ZOLL_ONES) & ~q) | ((b - ZOLL_ONES) & ~b)
             | ((v - ZOLL_ONES * 0x20) & ~v) | (high ? v : 0)) & ZOLL_HIGHS;

        if (m) {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
            return p + (__builtin_ctzll(m) >> 3);
#else
            break;
#endif
        }
    }

    while (p < end && *p != '"' && *p != '\\' && *p >= 0x20
           && !(high && *p >= 0x80))
    {
        p++;
    }

    return p;
}


/* A bounded writer that keeps counting past its capacity, so callers learn
 * the size they need (snprintf-style) without a second formatting pass. */

typedef struct {
    char    *p;
    size_t   len;
    size_t   cap;
} zoll_buf_t;

void zoll_buf_init(zoll_buf_t *b, char *p, size_t cap);
int zoll_grow(unsigned char **buf, size_t *cap, size_t need);
void zoll_buf_raw(zoll_buf_t *b, const char *s, size_t n);

/* inline, so that the length of a literal (most of the records' member
 * names) is known when compiling, not counted on every record */
static inline void
zoll_buf_cstr(zoll_buf_t *b, const char *s)
{
    zoll_buf_raw(b, s, strlen(s));
}

void zoll_buf_uint(zoll_buf_t *b, uint64_t v);
void zoll_buf_printf(zoll_buf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* A JSON string literal: quoted and escaped; invalid UTF-8 becomes U+FFFD,
 * so a record stays valid JSON whatever bytes a client sent. */
void zoll_buf_json_str(zoll_buf_t *b, const char *s, size_t n);
void zoll_buf_json_cstr(zoll_buf_t *b, const char *s);   /* NULL -> null */
void zoll_buf_time(zoll_buf_t *b, int64_t ms);
size_t zoll_buf_finish(zoll_buf_t *b);                    /* NUL, length */


/* JSON checks the policy and rule-pack loaders share: each returns what
 * is wrong (the unknown key; the problem with the string) or NULL, and the
 * loader words the error with its own path.  With comments, keys starting
 * with "_" and the key "note" are allowed anywhere. */
const char *zoll_json_unknown_key(json_t *obj, const char *const *allowed,
    int comments);
const char *zoll_json_str_problem(json_t *v);   /* non-empty, no NUL */
/* obj's string member key: NULL and *out set (NULL if absent and not
 * required), or the problem ("is required", "must be a non-empty string") */
const char *zoll_json_get_str(json_t *obj, const char *key, int required,
    const char **out);
/* the loaders' error line: "prefix: path: message" (prefix: the rule pack
 * or directory), or "path: message" */
void zoll_load_vfail(char *err, size_t errlen, const char *prefix,
    const char *path, const char *fmt, va_list ap)
    __attribute__((format(printf, 5, 0)));


/* supplementary_measures, data_categories, sent_in_clear, redactions */
void zoll_redaction_record(const zoll_redactor_t *rd, zoll_buf_t *b);

/* an ISO 3166-1 alpha-2 code (two capitals) */
int zoll_is_country(const char *s);

const zoll_legal_basis_t *zoll_adequacy_basis(const zoll_policy_t *p,
    const char *country, const zoll_legal_basis_t *basis);

/* A disk cache of compiled Vectorscan databases (zoll_hs_cache.c):
 * hs_compile_multi() with the same arguments, except that a database
 * compiled before from exactly the same input (and the same Vectorscan
 * and CPU) is read from dir instead.  Any problem with the cache means
 * compiling as without it, with note saying why. */

#define ZOLL_HS_PATH_LEN  4096

typedef struct {
    const char          *dir;          /* NULL: no cache */
    unsigned             hits;         /* databases read from the cache */
    unsigned             stores;       /* databases written to it */
    char                 note[256];    /* why it was not used, or "" */
} zoll_hs_cache_t;

hs_error_t zoll_hs_compile_cached(zoll_hs_cache_t *cache,
    const char *const *exprs, const unsigned *flags, const unsigned *ids,
    unsigned n, unsigned mode, hs_database_t **db, hs_compile_error_t **cerr);


/* Rule packs (zoll_rules.c) and the scanner (zoll_scan.c) */

#define ZOLL_LIST_REFS_MAX  8

typedef struct {
    const char          *name;
    char               **words;         /* sorted, for bsearch */
    size_t               n;
    char                *alt;           /* "(?:w1|w2|...)" for Vectorscan */
} zoll_list_t;

/* Where the scanner runs a rule's PCRE2 pattern (rules/README.md,
 * "gate"): around the ends of its Vectorscan prefilter's matches, around
 * its context words, or around runs of digits. */

typedef enum {
    ZOLL_GATE_PREFILTER = 0,
    ZOLL_GATE_CONTEXT,
    ZOLL_GATE_DIGITS
} zoll_gate_e;

/* A digit run: ASCII digits, each at most this many bytes after the one
 * before; the widest gap inside a rule's match ("+49 / (030)") fits. */
#define ZOLL_DIGIT_GAP  4

typedef struct {
    const char          *id;
    const char          *pack;          /* file name, for errors */
    unsigned             entity;        /* index into rules->entities */
    char                *pattern;       /* lists as captures, for PCRE2 */
    char                *hs_pattern;    /* lists as alternations */
    pcre2_code          *re;
    struct {
        unsigned         group;         /* the capture "zlK" */
        unsigned         list;
    }                    lrefs[ZOLL_LIST_REFS_MAX];
    unsigned             nlrefs;
    unsigned             group;         /* (?<pii>...) or 0: whole match */
    uint32_t             pcre_opts;
    unsigned             hs_flags;      /* all of them, for hs_compile */
    unsigned             extended:1;
    unsigned             in_db:1;       /* prefiltered by Vectorscan */
    unsigned             som:1;         /* matches start where a prefilter
                                           match starts */
    unsigned             ctx_required:1;
    unsigned             jit:1;         /* re is JIT-compiled */
    unsigned             first_known:1; /* first[] holds every byte a match
                                           can start with */
    zoll_gate_e          gate;
    unsigned             gate_digits;   /* ZOLL_GATE_DIGITS: a match holds
                                           a run of this many digits */
    unsigned             gate_lead;     /* and starts at most this many
                                           bytes before its first digit */
    uint64_t             first[4];      /* PCRE2's start bytes, for a digit
                                           window without any of them */
    zoll_validator_pt    validate;
    int                  priority;
    size_t               max_len;
    size_t               back;          /* a match starts at most this far
                                           before its prefilter match's
                                           end: "lead", else max_len */
    int                  lead_spaces;   /* and has at most this many spaces
                                           before that end, or -1 */
    const char         **ctx_words;
    size_t               nctx_words;
    uint64_t             ctx_first[4];  /* the bytes a context word starts
                                           with, in either case */
    size_t               ctx_window;
    json_t              *examples;
} zoll_rule_t;


/* The bench's ceiling (tests/bench/redact): one search of rule ri for a
 * match starting in [pos, upto] of text, as a window makes it, with the
 * spans it accepted in *spans; none of the rest of a scan. */
int zoll_scan_at(zoll_scanner_t *sc, unsigned ri, const unsigned char *text,
    size_t len, size_t pos, size_t upto, const zoll_span_t **spans,
    size_t *n);


struct zoll_rules_s {
    json_t              *packs;        /* owns the strings rules point to */
    char               **names;        /* pack file names */
    size_t               nnames;
    zoll_rule_t         *rules;
    size_t               nrules;
    const char          *entities[ZOLL_ENTITIES_MAX];
    size_t               nentities;
    zoll_list_t         *lists;
    size_t               nlists;
    hs_database_t       *db;           /* NULL if no rule could go in */
    unsigned            *digit_rules;  /* the rules gated by digit runs,
                                           by gate_digits, fewest first */
    size_t               ndigit_rules;
    unsigned            *whole_rules;  /* the rules PCRE2 searches in the
                                           whole text on the prefiltered
                                           path: neither gated by digits
                                           nor in db */
    size_t               nwhole_rules;
    unsigned             digit_min;    /* the fewest digits they need */
    zoll_hs_cache_t      cache;        /* dir only while loading */
    size_t               max_groups;
};


#endif /* ZOLL_INTERNAL_H */
