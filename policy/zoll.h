/*
 * libzoll: the Zoll policy engine.
 *
 * This is the engine's only public header.  It knows nothing about nginx (or
 * any other server): connectors hand it plain bytes and get plain decisions
 * and records back.  Nothing here keeps global state; everything hangs off a
 * zoll_policy_t, which is immutable once loaded and may be shared by any
 * number of threads or worker processes.
 */

#ifndef ZOLL_H
#define ZOLL_H

#include <stddef.h>
#include <stdint.h>


#define ZOLL_SHA256_LEN      32
#define ZOLL_SHA256_HEX_LEN  64
#define ZOLL_ERR_LEN         512


typedef struct {
    const char  *data;
    size_t       len;
} zoll_str_t;


typedef enum {
    ZOLL_RESIDENCY_EEA_ONLY = 0,   /* EEA endpoints only */
    ZOLL_RESIDENCY_ADEQUATE,       /* EEA, or a country with adequacy */
    ZOLL_RESIDENCY_ANY             /* any country with a lawful basis */
} zoll_residency_e;


/* Where the data subject is, by the policy's country lists; the order is
 * the order of the tenant's "subjects" rules. */
typedef enum {
    ZOLL_AREA_EEA = 0,
    ZOLL_AREA_ADEQUACY,            /* a country with a standing adequacy
                                      decision */
    ZOLL_AREA_OTHER,
    ZOLL_AREA_UNKNOWN,             /* not located */
    ZOLL_AREA_N
} zoll_area_e;


typedef enum {
    ZOLL_API_OPENAI = 0,
    ZOLL_API_ANTHROPIC,
    ZOLL_API_GEMINI
} zoll_api_e;


typedef enum {
    ZOLL_CLIENT_ADDR_TRUNCATE = 0,  /* IPv4 /24, IPv6 /48 */
    ZOLL_CLIENT_ADDR_HMAC,          /* HMAC with a key of the day */
    ZOLL_CLIENT_ADDR_OMIT
} zoll_client_addr_e;


/* When a written record reaches the disk: "write" hands it to the kernel
 * before the request goes on (survives a crash of nginx, not of the
 * machine), "interval" adds fdatasync() at most every sync_interval_ms,
 * "sync" calls fdatasync() before the request goes on. */
typedef enum {
    ZOLL_DURABILITY_WRITE = 0,
    ZOLL_DURABILITY_INTERVAL,
    ZOLL_DURABILITY_SYNC
} zoll_durability_e;


/* The policy's "logging" section */
typedef struct {
    zoll_client_addr_e   client_addr;
    zoll_durability_e    durability;
    unsigned             sync_interval_ms;
    unsigned             checkpoint_records;  /* sign after this many */
    unsigned             checkpoint_seconds;  /* or this long */
    unsigned             retention_days;      /* 0: keep for ever */
    int                  signing;             /* a signing key is loaded */
} zoll_log_conf_t;


typedef struct {
    const char  *id;
    const char  *article;      /* e.g. "GDPR Art. 46(2)(c)" */
    const char  *instrument;   /* e.g. "... Decision (EU) 2021/914" */
    const char  *module;       /* SCC module or NULL */
    int          suspended;
} zoll_legal_basis_t;


typedef struct {
    const char           *id;
    const char           *host;       /* from the https endpoint */
    unsigned              port;
    const char           *upstream;   /* proxy target: upstream{} name */
    const char           *country;    /* ISO 3166-1 alpha-2 */
    int                   eea;        /* country in the policy's EEA list */
    zoll_legal_basis_t  **bases;      /* in preference order */
    size_t                nbases;
} zoll_region_t;


typedef struct {
    const char      *id;
    const char      *legal_name;
    const char      *address;
    const char      *purpose;
    zoll_api_e       api;
    int              enabled_by_default;
    char            *credential;       /* operator's default, may be NULL */
    zoll_region_t   *regions;
    size_t           nregions;
} zoll_subprocessor_t;


typedef struct {
    const zoll_subprocessor_t  *sp;
    char                       *credential;
    const zoll_region_t       **regions;   /* tenant's order, or NULL */
    size_t                      nregions;
} zoll_grant_t;


/* What happens to a span of personal data before the body leaves. */

typedef enum {
    ZOLL_OP_KEEP = 0,        /* sent as it is (a deliberate policy choice) */
    ZOLL_OP_MASK,            /* "[EMAIL]" */
    ZOLL_OP_PSEUDONYMIZE,    /* "[EMAIL_3f9a1c2b]", HMAC with the tenant key */
    ZOLL_OP_TOKENIZE,        /* "[EMAIL_1]", reversible within the request */
    ZOLL_OP_BLOCK,           /* the request is refused with 422 */
    ZOLL_OP_N
} zoll_op_e;

#define ZOLL_ENTITIES_MAX  64

/* A redaction profile: an operator per entity of the rule packs. */
typedef struct {
    const char     *id;
    unsigned char   ops[ZOLL_ENTITIES_MAX];     /* zoll_op_e */
    unsigned        uses;                       /* bit per zoll_op_e */
} zoll_profile_t;


typedef struct {
    const char                  *id;
    zoll_residency_e             residency;   /* the widest it allows */
    /* the residency for a subject in each area, never wider than
     * residency; all equal to residency unless the tenant has "subjects" */
    zoll_residency_e             subjects[ZOLL_AREA_N];
    int                          has_subjects;
    const zoll_profile_t        *profile;
    char                        *pseudonym_key;   /* NULL if unused */
    unsigned char              (*key_hashes)[ZOLL_SHA256_LEN];
    size_t                       nkeys;
    zoll_grant_t                *grants;
    size_t                       ngrants;
    const zoll_subprocessor_t  **objections;
    size_t                       nobjections;
} zoll_tenant_t;


typedef struct zoll_policy_s  zoll_policy_t;


/* Loading.  On failure NULL is returned and err holds one line naming the
 * JSON path of the first problem, e.g.
 *   "$.tenants[1].residency: must be one of eea_only, adequate, any" */

zoll_policy_t *zoll_policy_load(const char *path, char *err, size_t errlen);
zoll_policy_t *zoll_policy_parse(const char *json, size_t len,
    const char *base_dir, char *err, size_t errlen);
void zoll_policy_free(zoll_policy_t *p);

/* "sha256:<hex>" of the policy file as loaded; recorded with every transfer */
const char *zoll_policy_digest(const zoll_policy_t *p);
const zoll_log_conf_t *zoll_policy_log(const zoll_policy_t *p);

const zoll_subprocessor_t *zoll_policy_subprocessor(const zoll_policy_t *p,
    const char *id);
const zoll_tenant_t *zoll_policy_tenant_by_id(const zoll_policy_t *p,
    const char *id);
int zoll_policy_is_eea(const zoll_policy_t *p, const char *country);

/* GeoIP: where the data subject is.
 *
 * A MaxMind DB (GeoIP2/GeoLite2 Country or City layout, "country" ->
 * "iso_code") is opened at configuration time, by the policy's
 * "geoip.database" or by a connector (nginx's zoll_geoip directive).  It
 * is immutable and may be shared.  A lookup first checks that the file is
 * still the one that was opened: if it was changed, removed or made
 * unreadable the lookup fails (ZOLL_GEO_ERROR) and routing follows the
 * tenant's strictest rule. */

typedef struct zoll_geoip_s  zoll_geoip_t;

typedef enum {
    ZOLL_GEO_OFF = 0,        /* no database configured */
    ZOLL_GEO_FOUND,
    ZOLL_GEO_NOT_FOUND,      /* no country for the address */
    ZOLL_GEO_ERROR,          /* the database cannot be used */
    ZOLL_GEO_GIVEN           /* the caller named the country (zollctl) */
} zoll_geo_e;

typedef struct {
    zoll_geo_e    lookup;
    char          country[3];      /* "" unless found; never the address */
    zoll_area_e   area;
    char          asserted[3];     /* the application's assertion, or "" */
    zoll_area_e   asserted_area;
} zoll_subject_t;

zoll_geoip_t *zoll_geoip_open(const char *path, char *err, size_t errlen);
void zoll_geoip_free(zoll_geoip_t *g);
/* the policy's own database, or NULL */
const zoll_geoip_t *zoll_policy_geoip(const zoll_policy_t *p);

/* Locates a subject by address (family 4 or 6, network byte order) in g
 * (NULL: no database, lookup "off").  On ZOLL_GEO_ERROR err says why, for
 * the connector's error log. */
void zoll_subject_locate(const zoll_policy_t *p, const zoll_geoip_t *g,
    int family, const unsigned char *addr, zoll_subject_t *s, char *err,
    size_t errlen);

/* A subject the caller places in country (zollctl explain --country):
 * -1 if it is not an ISO 3166-1 alpha-2 code. */
int zoll_subject_in(const zoll_policy_t *p, zoll_subject_t *s,
    const char *country);

/* The application's assertion of the subject's country (X-Zoll-Subject-
 * Country): two letters, any case.  -1 if it is not a country code.  An
 * assertion can only narrow the tenant's rules, never widen them. */
int zoll_subject_assert(const zoll_policy_t *p, zoll_subject_t *s,
    const char *value, size_t len);

/* EEA, adequacy (a decision whose basis is not suspended), other, or
 * unknown for NULL / "" */
zoll_area_e zoll_policy_area(const zoll_policy_t *p, const char *country);
const char *zoll_area_name(zoll_area_e a);
const char *zoll_geo_name(zoll_geo_e g);


/* The tenant whose key hashes to SHA-256(key), or NULL.  Every stored hash
 * is compared in constant time, so timing tells nothing about the key. */
const zoll_tenant_t *zoll_tenant_lookup(const zoll_policy_t *p,
    const char *key, size_t len);


/* Routing */

typedef enum {
    ZOLL_OK = 0,
    ZOLL_ERR_BAD_REQUEST,        /* 400 */
    ZOLL_ERR_UNAUTHENTICATED,    /* 401 */
    ZOLL_ERR_NOT_ENABLED,        /* 403 */
    ZOLL_ERR_OBJECTED,           /* 403 */
    ZOLL_ERR_TLS_REQUIRED,       /* 426 */
    ZOLL_ERR_NO_LAWFUL_ROUTE,    /* 451 */
    ZOLL_ERR_LOG_UNWRITABLE,     /* 503 */
    ZOLL_ERR_UNPROTECTED,        /* 500: redirected out of Zoll's control */
    ZOLL_ERR_TOO_LARGE,          /* 413 */
    ZOLL_ERR_UNINSPECTABLE,      /* 415 */
    ZOLL_ERR_PII_BLOCKED,        /* 422 */
    ZOLL_ERR_KEY_COLLISION,      /* 422: redacted keys would be equal */
    ZOLL_ERR_UNRESTORABLE,       /* 502: the answer's tokens cannot be
                                    restored (e.g. it is compressed) */
    ZOLL_ERR_METHOD,             /* 405: not a method the provider APIs use */
    ZOLL_STATUS_N                /* the number of statuses; keep it last */
} zoll_status_e;

int zoll_status_http(zoll_status_e s);
const char *zoll_status_code(zoll_status_e s);   /* stable error code */


#define ZOLL_REASON_LEN  1024

typedef struct {
    zoll_status_e               status;
    const zoll_tenant_t        *tenant;
    const zoll_subprocessor_t  *sp;
    const zoll_region_t        *region;
    const zoll_legal_basis_t   *basis;          /* NULL: an EEA region
                                                   that lists none */
    const char                 *credential;
    int                         third_country;
    zoll_residency_e            residency;      /* the one that applied */
    int                         has_subject;    /* subject below is set */
    zoll_subject_t              subject;
    char                        reason[ZOLL_REASON_LEN];
} zoll_decision_t;

/* Decides where a request of tenant t for subprocessor sp may go: the first
 * region, in the tenant's (else the policy's) order, that the residency
 * mode allows and that has a non-suspended legal basis.  The mode is the
 * tenant's residency narrowed by its rule for the subject's area (s may be
 * NULL: not located), by its rule for an asserted area, and, when the
 * GeoIP database failed, by its strictest rule.  d->reason explains the
 * outcome, region by region, for logs, errors and zollctl. */
zoll_status_e zoll_route(const zoll_policy_t *p, const zoll_tenant_t *t,
    const zoll_subprocessor_t *sp, const zoll_subject_t *s,
    zoll_decision_t *d);


/* Keys: "zk_" + 43 base64url characters (256 random bits) */

#define ZOLL_KEY_LEN  46

int zoll_key_new(char out[ZOLL_KEY_LEN + 1]);
void zoll_sha256(const void *data, size_t len,
    unsigned char out[ZOLL_SHA256_LEN]);
void zoll_hex(const unsigned char *in, size_t len, char *out);


/* Transfer records and error bodies.  Writers produce one JSON line into
 * buf (NUL-terminated, newline included) and return its length, or the
 * length needed if cap is too small (snprintf-style), so a connector can
 * allocate from its own pool and retry. */

typedef struct {
    int64_t             time_ms;        /* Unix epoch, milliseconds */
    zoll_str_t          request_id;
    zoll_str_t          method;
    zoll_str_t          path;           /* without query string */
    zoll_str_t          client;         /* already truncated/hashed */
    int64_t             request_bytes;  /* -1 unknown */
    const zoll_subprocessor_t  *sp;     /* the location's subprocessor */
    const struct zoll_redactor_s *redaction;  /* the body's, or NULL if
                                                 it was not inspected */
} zoll_request_info_t;

size_t zoll_record_decision(const zoll_policy_t *p,
    const zoll_request_info_t *ri, const zoll_decision_t *d,
    char *buf, size_t cap);

typedef struct {
    int                 status;          /* sent to the client */
    int                 upstream_status; /* 0 if none */
    int64_t             request_bytes;
    int64_t             response_bytes;
    int64_t             duration_ms;
    size_t              tokens_issued;   /* reversible tokens, 0: none */
    size_t              tokens_restored; /* put back in the response */
} zoll_outcome_t;

size_t zoll_record_outcome(const zoll_request_info_t *ri,
    const zoll_decision_t *d, const zoll_outcome_t *o,
    char *buf, size_t cap);

/* A JSON error body in the style of the provider api the client speaks,
 * carrying Zoll's stable code. */
size_t zoll_error_body(zoll_api_e api, zoll_status_e s, const char *message,
    zoll_str_t request_id, char *buf, size_t cap);

/* Writes the client address as it may be logged: IPv4 /24 or IPv6 /48
 * ("203.0.113.0/24"), "hmac:<day>:<16 hex>" (HMAC-SHA256 of the address
 * with key, a secret of that day that is never stored), or "" when the
 * policy omits it.  family is 4 or 6. */
#define ZOLL_DAY_KEY_LEN  32

typedef struct {
    char           day[11];                  /* "2026-11-22" */
    unsigned char  key[ZOLL_DAY_KEY_LEN];
} zoll_day_key_t;

size_t zoll_client_addr(zoll_client_addr_e mode, const zoll_day_key_t *k,
    int family, const unsigned char *addr, char *buf, size_t cap);


/* The chain of the transfer log.
 *
 * Every record ends with "seq", "prev" and "hash": hash is SHA-256 over the
 * record's bytes as written, up to and without ',"hash":…', followed by
 * "}".  Those bytes include prev, the hash of the record before, so the
 * records form one chain.  A checkpoint record also carries "key" (the
 * signing key's id) and "sig", an Ed25519 signature over its bytes up to
 * and without ',"sig":…', followed by "}": whoever holds the public key can
 * check that nothing up to the checkpoint was changed.  The connector
 * serialises writers (one chain across all workers) and keeps the head in
 * shared memory; the engine only computes. */

typedef struct {
    uint64_t       seq;                      /* of the last record; 0: none */
    unsigned char  hash[ZOLL_SHA256_LEN];    /* of the last record */
} zoll_chain_t;

/* Seals the record in buf[0..len) ("{…}\n", as the writers above produce
 * it): appends its chain members.  Returns the new length, snprintf-style
 * (>= cap: buf is too small, nothing is usable).  *next is the head after
 * this record; commit it only once the record is written. */
size_t zoll_chain_seal(const zoll_chain_t *c, char *buf, size_t len,
    size_t cap, zoll_chain_t *next);

/* A signed checkpoint record: reason ("start", "reload", "reopen",
 * "interval", "shutdown"), and extra, NULL or JSON members to add
 * (",\"k\":v…").  Returns its length (snprintf-style), or 0 if the policy
 * has no signing key or signing failed. */
size_t zoll_chain_checkpoint(const zoll_policy_t *p, const zoll_chain_t *c,
    int64_t time_ms, const char *reason, const char *extra, char *buf,
    size_t cap, zoll_chain_t *next);

/* How a log ended, read from its last bytes before writing on. */
typedef struct {
    zoll_chain_t   head;          /* of the last complete record */
    int            found;         /* a complete record was found */
    int            clean;         /* it is a "shutdown" checkpoint */
    uint64_t       torn_offset;   /* a last line without its newline: */
    uint64_t       torn_bytes;    /* where it starts and how long it is */
    unsigned char  torn_hash[ZOLL_SHA256_LEN];
} zoll_log_tail_t;

/* Reads the end of the log file fd.  An empty file gives found = 0.
 * Returns -1 with err set when the last complete record is not a sealed
 * record whose hash verifies: Zoll will not continue a chain it cannot
 * trust. */
int zoll_log_tail(int fd, zoll_log_tail_t *t, char *err, size_t errlen);

/* The "start" checkpoint's account of the tail: ',"previous":{…}' with
 * the last seq, whether it was a clean shutdown and the torn line, if
 * any, by offset, length and SHA-256 (so a verifier can match it). */
size_t zoll_log_tail_json(const zoll_log_tail_t *t, char *buf, size_t cap);

/* Verification, one line at a time, across the files of one log in
 * order.  A verifier holds the public keys; it stops at the first problem
 * and keeps a message naming the file, line and seq. */

typedef struct zoll_verify_s  zoll_verify_t;

typedef struct {
    uint64_t   records;         /* complete records read */
    uint64_t   checkpoints;     /* signed checkpoints verified */
    uint64_t   first_seq;
    uint64_t   last_seq;
    uint64_t   signed_seq;      /* last seq covered by a signature */
    uint64_t   restarts;        /* "start" checkpoints after an unclean end */
    uint64_t   torn;            /* torn lines the gateway reported */
    int        anchored;        /* starts at a checkpoint, not at seq 1 */
    int        closed;          /* ends with a "shutdown" checkpoint */
} zoll_verify_stats_t;

zoll_verify_t *zoll_verify_new(void);
void zoll_verify_free(zoll_verify_t *v);
/* a PEM file with an Ed25519 public (or private) key */
int zoll_verify_add_key(zoll_verify_t *v, const char *path, char *err,
    size_t errlen);
/* line without its newline; complete = 0 for a last line that has none.
 * Returns 0, or -1 at the first problem (then see zoll_verify_error) */
int zoll_verify_line(zoll_verify_t *v, const char *file, uint64_t lineno,
    const char *line, size_t len, int complete);
/* after the last line: -1 if a problem is left open; a log that does not
 * end with a "shutdown" checkpoint is one, unless open (a live log) */
int zoll_verify_end(zoll_verify_t *v, int open);
const char *zoll_verify_error(const zoll_verify_t *v);
const zoll_verify_stats_t *zoll_verify_stats(const zoll_verify_t *v);

/* PII rule packs and the scanner.
 *
 * zoll_rules_load() reads every "*.json" pack of a directory, compiles it
 * and runs each rule's examples; err names the pack, the JSON path and the
 * problem.  Rules are immutable and may be shared; a scanner holds the
 * scratch space of one thread (one nginx worker) and is reused for every
 * text that thread scans. */

typedef struct zoll_rules_s    zoll_rules_t;
typedef struct zoll_scanner_s  zoll_scanner_t;

typedef struct {
    size_t    start;       /* byte offsets into the scanned text */
    size_t    end;
    unsigned  rule;
    unsigned  entity;
} zoll_span_t;

/* cache_dir: where compiled Vectorscan databases are kept between loads
 * (made if missing, one level), or NULL to compile every time */
#define ZOLL_RULES_CACHE_DIR  "/var/cache/zoll"

zoll_rules_t *zoll_rules_load(const char *dir, const char *cache_dir,
    char *err, size_t errlen);
/* why the cache was not used (a note for the log), or ""; hits: how many
 * databases came from it */
const char *zoll_rules_cache_note(const zoll_rules_t *rs, unsigned *hits);
void zoll_rules_free(zoll_rules_t *rs);
/* the rules; prefiltered: how many are searched only where Vectorscan or
 * a gate points (the others are searched over the whole text) */
size_t zoll_rules_count(const zoll_rules_t *rs, size_t *prefiltered);
const char *zoll_rule_id(const zoll_rules_t *rs, unsigned rule);
const char *zoll_rule_entity(const zoll_rules_t *rs, unsigned rule);
size_t zoll_rules_entities(const zoll_rules_t *rs);
const char *zoll_rules_entity(const zoll_rules_t *rs, unsigned entity);
int zoll_rules_entity_index(const zoll_rules_t *rs, const char *name);

/* ZOLL_SCAN_PCRE_ONLY runs every rule's PCRE2 pattern over the whole text,
 * without the Vectorscan prefilter: slower, and the reference the
 * prefiltered scan must agree with. */
#define ZOLL_SCAN_PCRE_ONLY  1

zoll_scanner_t *zoll_scanner_new(const zoll_rules_t *rs, unsigned mode);
void zoll_scanner_free(zoll_scanner_t *sc);
unsigned zoll_scanner_mode(const zoll_scanner_t *sc);

/* Finds the spans to redact in valid UTF-8 text: every rule's matches that
 * pass its validator and context, then, where spans overlap, the one of
 * the higher priority, else the longer one.  The spans are sorted, do not
 * overlap, and stay valid until the next scan.  Returns -1 if the text
 * could not be scanned completely (a match limit): fail closed. */
int zoll_scan(zoll_scanner_t *sc, const unsigned char *text, size_t len,
    const zoll_span_t **spans, size_t *n);

/* the spans of one rule alone, before overlaps are resolved */
int zoll_scan_rule(zoll_scanner_t *sc, unsigned rule,
    const unsigned char *text, size_t len, const zoll_span_t **spans,
    size_t *n);


/* The redactor: one per thread (nginx worker), reused for every body.
 *
 * zoll_redact() validates a JSON body, scans its string values, object keys
 * and numbers (except at the structural paths of api, the request's
 * format) and applies the tenant's profile.  res->body is what may be
 * forwarded: the input itself when nothing changed, else the redactor's
 * buffer, valid until the next call.  On any status but ZOLL_OK nothing
 * may be forwarded and res->reason says why, naming entity types but never
 * values. */

typedef struct zoll_redactor_s  zoll_redactor_t;

typedef struct {
    zoll_status_e          status;
    const unsigned char   *body;
    size_t                 len;
    int                    changed;
    size_t                 redacted;       /* spans replaced */
    char                   reason[256];
} zoll_redaction_t;

zoll_redactor_t *zoll_redactor_new(const zoll_policy_t *p, unsigned mode);
void zoll_redactor_free(zoll_redactor_t *rd);
zoll_status_e zoll_redact(zoll_redactor_t *rd, const zoll_tenant_t *t,
    zoll_api_e api, const unsigned char *body, size_t len,
    zoll_redaction_t *res);

/* after zoll_redact(): spans of an entity found (whatever the operator) */
size_t zoll_redaction_found(const zoll_redactor_t *rd, unsigned entity);

/* the reversible tokens of the last body: "[EMAIL_1]" into buf
 * (snprintf-style) and the original value */
size_t zoll_redaction_tokens(const zoll_redactor_t *rd);
size_t zoll_redaction_token(const zoll_redactor_t *rd, size_t i, char *buf,
    size_t cap, zoll_str_t *value);

const zoll_rules_t *zoll_policy_rules(const zoll_policy_t *p);

/* The restorer: the response side of the tokenize operator.  One per
 * response, made with the request's tokens (zoll_redaction_token()), fed
 * the response's bytes in pieces cut anywhere; each call returns the bytes
 * that may go to the client now (valid until the next call), holding back
 * only a suffix that could still become one of these tokens.  Tokens of
 * other requests, and tokens never issued, pass through unchanged.
 * ZOLL_RESTORE_JSON restores every string value of a JSON body;
 * ZOLL_RESTORE_SSE every "data:" line of a text/event-stream and tokens
 * split across text deltas (policy/README.md).  A pure function over
 * bytes: new, add, any number of zoll_restore(), finish, free is the
 * whole life of one, which is also a fuzzer's. */

#define ZOLL_TOKEN_MAX          64          /* "[ENTITY_N]", bytes */
#define ZOLL_ENTITY_NAME_MAX    48          /* so every token fits */
#define ZOLL_RESTORE_EVENT_MAX  (1024 * 1024)   /* a line or event */

typedef enum {
    ZOLL_RESTORE_JSON = 0,
    ZOLL_RESTORE_SSE
} zoll_restore_mode_e;

typedef struct zoll_restorer_s  zoll_restorer_t;

zoll_restorer_t *zoll_restorer_new(zoll_restore_mode_e mode);
/* -1: not a token ("[", printable ASCII without brackets, quotes and
 * backslashes, "]", at most ZOLL_TOKEN_MAX bytes) or out of memory */
int zoll_restorer_add(zoll_restorer_t *rs, const char *token, size_t tlen,
    const char *value, size_t vlen);
/* -1 on a line or event above ZOLL_RESTORE_EVENT_MAX or out of memory:
 * the response cannot be restored and must be cut off */
int zoll_restore(zoll_restorer_t *rs, const unsigned char *in, size_t len,
    const unsigned char **out, size_t *olen);
/* the end of the response: whatever was held goes out */
int zoll_restore_finish(zoll_restorer_t *rs, const unsigned char **out,
    size_t *olen);
/* tokens replaced by their values so far */
size_t zoll_restored(const zoll_restorer_t *rs);
void zoll_restorer_free(zoll_restorer_t *rs);



const char *zoll_residency_name(zoll_residency_e r);
const char *zoll_api_name(zoll_api_e a);

#endif /* ZOLL_H */
