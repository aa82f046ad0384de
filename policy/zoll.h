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


typedef enum {
    ZOLL_API_OPENAI = 0,
    ZOLL_API_ANTHROPIC,
    ZOLL_API_GEMINI
} zoll_api_e;


typedef enum {
    ZOLL_CLIENT_ADDR_TRUNCATE = 0,  /* IPv4 /24, IPv6 /48 */
    ZOLL_CLIENT_ADDR_OMIT
} zoll_client_addr_e;


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


typedef struct {
    const char                  *id;
    zoll_residency_e             residency;
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
zoll_client_addr_e zoll_policy_client_addr(const zoll_policy_t *p);

const zoll_subprocessor_t *zoll_policy_subprocessor(const zoll_policy_t *p,
    const char *id);
const zoll_tenant_t *zoll_policy_tenant_by_id(const zoll_policy_t *p,
    const char *id);
int zoll_policy_is_eea(const zoll_policy_t *p, const char *country);

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
    char                        reason[ZOLL_REASON_LEN];
} zoll_decision_t;

/* Decides where a request of tenant t for subprocessor sp may go: the first
 * region, in the tenant's (else the policy's) order, that the tenant's
 * residency mode allows and that has a non-suspended legal basis.  d->reason
 * explains the outcome, region by region, for logs, errors and zollctl. */
zoll_status_e zoll_route(const zoll_policy_t *p, const zoll_tenant_t *t,
    const zoll_subprocessor_t *sp, zoll_decision_t *d);


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
} zoll_outcome_t;

size_t zoll_record_outcome(const zoll_request_info_t *ri,
    const zoll_decision_t *d, const zoll_outcome_t *o,
    char *buf, size_t cap);

/* A JSON error body in the style of the provider api the client speaks,
 * carrying Zoll's stable code. */
size_t zoll_error_body(zoll_api_e api, zoll_status_e s, const char *message,
    zoll_str_t request_id, char *buf, size_t cap);

/* Writes the client address as it may be logged: IPv4 /24 or IPv6 /48
 * ("203.0.113.0/24"), or "" when the policy omits it.  family is 4 or 6. */
size_t zoll_client_addr(zoll_client_addr_e mode, int family,
    const unsigned char *addr, char *buf, size_t cap);

const char *zoll_residency_name(zoll_residency_e r);
const char *zoll_api_name(zoll_api_e a);

#endif /* ZOLL_H */
