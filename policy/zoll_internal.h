/*
 * Engine internals shared between the engine's own source files.  Not for
 * connectors: they use zoll.h only.
 */

#ifndef ZOLL_INTERNAL_H
#define ZOLL_INTERNAL_H

#include "zoll.h"

#include <jansson.h>


typedef struct {
    const char          *country;
    zoll_legal_basis_t  *basis;
} zoll_adequacy_t;


struct zoll_policy_s {
    json_t               *root;       /* owns every const char * below */
    char                  digest[7 + ZOLL_SHA256_HEX_LEN + 1];
    zoll_client_addr_e    client_addr;

    zoll_legal_basis_t   *bases;
    size_t                nbases;
    const char          **eea;
    size_t                neea;
    zoll_adequacy_t      *adequacy;
    size_t                nadequacy;
    zoll_subprocessor_t  *sps;
    size_t                nsps;
    zoll_tenant_t        *tenants;
    size_t                ntenants;
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
size_t zoll_buf_finish(zoll_buf_t *b);                    /* NUL, length */


const zoll_legal_basis_t *zoll_adequacy_basis(const zoll_policy_t *p,
    const char *country, const zoll_legal_basis_t *basis);

#endif /* ZOLL_INTERNAL_H */
