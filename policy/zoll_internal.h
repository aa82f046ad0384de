/*
 * Engine internals shared between the engine's own source files.  Not for
 * connectors: they use zoll.h only.
 */

#ifndef ZOLL_INTERNAL_H
#define ZOLL_INTERNAL_H

#include "zoll.h"
#include "zoll_validate.h"

#include <jansson.h>

#define PCRE2_CODE_UNIT_WIDTH  8
#include <pcre2.h>
#include <hs/hs.h>
#include <openssl/evp.h>


typedef struct {
    const char          *country;
    zoll_legal_basis_t  *basis;
} zoll_adequacy_t;


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
    zoll_str_t           *structural_keys;   /* values not scanned */
    size_t                nstructural_keys;
    unsigned              max_depth;
};


/* A bounded writer that keeps counting past its capacity, so callers learn
 * the size they need (snprintf-style) without a second formatting pass. */

typedef struct {
    char    *p;
    size_t   len;
    size_t   cap;
} zoll_buf_t;

void zoll_buf_init(zoll_buf_t *b, char *p, size_t cap);
void zoll_buf_raw(zoll_buf_t *b, const char *s, size_t n);
void zoll_buf_cstr(zoll_buf_t *b, const char *s);
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


/* supplementary_measures, data_categories, sent_in_clear, redactions */
void zoll_redaction_record(const zoll_redactor_t *rd, zoll_buf_t *b);

/* an ISO 3166-1 alpha-2 code (two capitals) */
int zoll_is_country(const char *s);

const zoll_legal_basis_t *zoll_adequacy_basis(const zoll_policy_t *p,
    const char *country, const zoll_legal_basis_t *basis);

/* Rule packs (zoll_rules.c) and the scanner (zoll_scan.c) */

#define ZOLL_LIST_REFS_MAX  8

typedef struct {
    const char          *name;
    char               **words;         /* sorted, for bsearch */
    size_t               n;
    char                *alt;           /* "(?:w1|w2|...)" for Vectorscan */
} zoll_list_t;

typedef struct {
    const char          *id;
    const char          *pack;          /* file name, for errors */
    unsigned             entity;        /* index into rules->entities */
    char                *pattern;       /* lists as captures, for PCRE2 */
    char                *hs_pattern;    /* lists as alternations */
    pcre2_code          *re;
    pcre2_code          *re_anchored;   /* starts_with_prefilter rules */
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
    zoll_validator_pt    validate;
    int                  priority;
    size_t               max_len;
    const char         **ctx_words;
    size_t               nctx_words;
    size_t               ctx_window;
    json_t              *examples;
} zoll_rule_t;


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
    size_t               max_groups;
};


#endif /* ZOLL_INTERNAL_H */
