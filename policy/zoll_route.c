/*
 * Tenant lookup and the routing decision: may this tenant's request go to
 * this subprocessor, and if so to which region under which legal basis.
 */

#include "zoll_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>


static const struct {
    int          http;
    const char  *code;
} zoll_statuses[] = {
    [ZOLL_OK]                  = { 200, "ok" },
    [ZOLL_ERR_BAD_REQUEST]     = { 400, "bad_request" },
    [ZOLL_ERR_UNAUTHENTICATED] = { 401, "invalid_api_key" },
    [ZOLL_ERR_NOT_ENABLED]     = { 403, "subprocessor_not_enabled" },
    [ZOLL_ERR_OBJECTED]        = { 403, "subprocessor_objected" },
    [ZOLL_ERR_TLS_REQUIRED]    = { 426, "tls_required" },
    [ZOLL_ERR_NO_LAWFUL_ROUTE] = { 451, "no_lawful_route" },
    [ZOLL_ERR_LOG_UNWRITABLE]  = { 503, "transfer_log_unwritable" },
    [ZOLL_ERR_UNPROTECTED]     = { 500, "unprotected_location" },
    [ZOLL_ERR_TOO_LARGE]       = { 413, "body_too_large" },
    [ZOLL_ERR_UNINSPECTABLE]   = { 415, "body_not_inspectable" },
    [ZOLL_ERR_PII_BLOCKED]     = { 422, "pii_blocked" },
    [ZOLL_ERR_KEY_COLLISION]   = { 422, "redaction_key_collision" },
    [ZOLL_ERR_UNRESTORABLE]    = { 502, "response_not_restorable" },
    [ZOLL_ERR_METHOD]          = { 405, "method_not_allowed" },
};


int
zoll_status_http(zoll_status_e s)
{
    return zoll_statuses[s].http;
}


const char *
zoll_status_code(zoll_status_e s)
{
    return zoll_statuses[s].code;
}


const char *
zoll_residency_name(zoll_residency_e r)
{
    static const char *const  names[] = { "eea_only", "adequate", "any" };

    return names[r];
}


const char *
zoll_api_name(zoll_api_e a)
{
    static const char *const  names[] = { "openai", "anthropic", "gemini" };

    return names[a];
}


const zoll_tenant_t *
zoll_tenant_lookup(const zoll_policy_t *p, const char *key, size_t len)
{
    size_t                i, k;
    unsigned char         md[ZOLL_SHA256_LEN];
    const zoll_tenant_t  *found = NULL;

    zoll_sha256(key, len, md);

    /* no early exit: every stored hash is compared, in constant time */
    for (i = 0; i < p->ntenants; i++) {
        for (k = 0; k < p->tenants[i].nkeys; k++) {
            if (CRYPTO_memcmp(p->tenants[i].key_hashes[k], md,
                              ZOLL_SHA256_LEN) == 0)
            {
                found = &p->tenants[i];
            }
        }
    }

    return found;
}


/* Appends the strings up to NULL to d's reason, as much as fits.  Every
 * routed request explains itself, so this runs on each one: plain copies,
 * not vsnprintf(), which cost about 1 us a request. */

static void
zoll_reason(zoll_decision_t *d, ...)
    __attribute__((sentinel));

static void
zoll_reason(zoll_decision_t *d, ...)
{
    size_t       n, m;
    va_list      ap;
    const char  *s;

    n = strlen(d->reason);

    va_start(ap, d);

    while ((s = va_arg(ap, const char *)) != NULL) {
        m = strlen(s);

        if (m > sizeof(d->reason) - 1 - n) {
            m = sizeof(d->reason) - 1 - n;
        }

        memcpy(d->reason + n, s, m);
        n += m;
    }

    va_end(ap);

    d->reason[n] = '\0';
}


/* The legal basis a region offers this tenant, or NULL with the reason
 * appended to d.  *ok tells an EEA region that needs no basis apart from a
 * region that is refused. */

static const zoll_legal_basis_t *
zoll_region_basis(const zoll_policy_t *p, const zoll_tenant_t *t,
    const zoll_region_t *r, zoll_decision_t *d, int *ok)
{
    size_t                     i, suspended = 0;
    int                        eea;
    const zoll_legal_basis_t  *b;

    *ok = 0;
    eea = r->eea;

    if (!eea && d->residency == ZOLL_RESIDENCY_EEA_ONLY) {
        zoll_reason(d, "region \"", r->id, "\" (", r->country,
                    "): outside the EEA, ",
                    d->residency == t->residency ? "tenant" : "subject's",
                    " residency is eea_only", NULL);
        return NULL;
    }

    if (eea && r->nbases == 0) {
        *ok = 1;
        return NULL;
    }

    for (i = 0; i < r->nbases; i++) {
        b = r->bases[i];

        if (b->suspended) {
            zoll_reason(d, "region \"", r->id, "\" (", r->country,
                        "): legal basis \"", b->id, "\" is suspended; ",
                        NULL);
            suspended++;
            continue;
        }

        if (!eea && d->residency == ZOLL_RESIDENCY_ADEQUATE
            && zoll_adequacy_basis(p, r->country, b) == NULL)
        {
            continue;
        }

        *ok = 1;
        return b;
    }

    if (suspended == r->nbases) {
        zoll_reason(d, "region \"", r->id, "\" (", r->country,
                    "): no legal basis left", NULL);

    } else if (d->residency == ZOLL_RESIDENCY_ADEQUATE) {
        zoll_reason(d, "region \"", r->id, "\" (", r->country,
                    "): no adequacy decision among its legal bases, ",
                    d->residency == t->residency ? "tenant" : "subject's",
                    " residency is adequate", NULL);

    } else {
        zoll_reason(d, "region \"", r->id, "\" (", r->country,
                    "): no usable legal basis", NULL);
    }

    return NULL;
}


static zoll_residency_e
zoll_narrow(zoll_residency_e a, zoll_residency_e b)
{
    return a < b ? a : b;     /* the enum runs from strictest to widest */
}


/* The tenant's residency narrowed by its rules for where the subject is:
 * the located area, an asserted area (which can only narrow), and on a
 * GeoIP failure the strictest rule the tenant has.  The reason starts with
 * how the subject was placed, for tenants whose rules depend on it. */

static zoll_residency_e
zoll_subject_residency(const zoll_tenant_t *t, const zoll_subject_t *s,
    zoll_decision_t *d)
{
    unsigned          a;
    zoll_residency_e  m = t->residency;

    if (s == NULL) {
        return m;
    }

    if (s->lookup == ZOLL_GEO_ERROR) {
        for (a = 0; a < ZOLL_AREA_N; a++) {
            m = zoll_narrow(m, t->subjects[a]);
        }

    } else {
        m = zoll_narrow(m, t->subjects[s->area]);
    }

    if (s->asserted[0]) {
        m = zoll_narrow(m, t->subjects[s->asserted_area]);
    }

    if (!t->has_subjects) {
        return m;
    }

    if (s->country[0]) {
        zoll_reason(d, "subject located in ", s->country, " (",
                    zoll_area_name(s->area), ")", NULL);

    } else {
        zoll_reason(d, "subject location unknown (GeoIP ",
                    zoll_geo_name(s->lookup),
                    s->lookup == ZOLL_GEO_ERROR ? ": strictest rule" : "",
                    ")", NULL);
    }

    if (s->asserted[0]) {
        zoll_reason(d, ", asserted ", s->asserted, " (",
                    zoll_area_name(s->asserted_area), ")", NULL);
    }

    zoll_reason(d, ": residency ", zoll_residency_name(m), "; ", NULL);

    return m;
}


zoll_status_e
zoll_route(const zoll_policy_t *p, const zoll_tenant_t *t,
    const zoll_subprocessor_t *sp, const zoll_subject_t *s,
    zoll_decision_t *d)
{
    size_t                     i, n;
    int                        ok;
    const zoll_grant_t        *g = NULL;
    const zoll_region_t       *r;
    const zoll_legal_basis_t  *b;

    memset(d, 0, sizeof(zoll_decision_t));
    d->tenant = t;
    d->sp = sp;
    d->residency = t->residency;

    if (s) {
        d->subject = *s;
        d->has_subject = 1;
    }

    for (i = 0; i < t->nobjections; i++) {
        if (t->objections[i] == sp) {
            snprintf(d->reason, sizeof(d->reason), "tenant \"%s\" objected "
                     "to subprocessor \"%s\"", t->id, sp->id);
            return d->status = ZOLL_ERR_OBJECTED;
        }
    }

    for (i = 0; i < t->ngrants; i++) {
        if (t->grants[i].sp == sp) {
            g = &t->grants[i];
            break;
        }
    }

    if (g == NULL) {
        snprintf(d->reason, sizeof(d->reason), "subprocessor \"%s\" is not "
                 "enabled for tenant \"%s\"", sp->id, t->id);
        return d->status = ZOLL_ERR_NOT_ENABLED;
    }

    d->residency = zoll_subject_residency(t, s, d);
    n = g->regions ? g->nregions : sp->nregions;

    for (i = 0; i < n; i++) {
        r = g->regions ? g->regions[i] : &sp->regions[i];
        b = zoll_region_basis(p, t, r, d, &ok);

        if (!ok) {
            zoll_reason(d, "; ", NULL);
            continue;
        }

        d->region = r;
        d->basis = b;
        d->credential = g->credential ? g->credential : sp->credential;
        d->third_country = !r->eea;

        /* keep why earlier regions were passed over: a reviewer wants to
         * see that a suspension re-routed this request */
        zoll_reason(d, "region \"", r->id, "\" (", r->country, "): ",
                    d->third_country ? "third country" : "within the EEA",
                    NULL);

        if (b) {
            zoll_reason(d, ", legal basis \"", b->id, "\"", NULL);
        }

        return d->status = ZOLL_OK;
    }

    /* drop the trailing separator */
    n = strlen(d->reason);
    if (n >= 2 && strcmp(d->reason + n - 2, "; ") == 0) {
        d->reason[n - 2] = '\0';
    }

    {
        char  why[ZOLL_REASON_LEN];

        memcpy(why, d->reason, sizeof(why));

        /* a reason cut at ZOLL_REASON_LEN still leads with the verdict */
        if (snprintf(d->reason, sizeof(d->reason), "no lawful route for "
                     "tenant \"%s\" (residency %s) to \"%s\": %s", t->id,
                     zoll_residency_name(d->residency), sp->id, why) < 0)
        {
            d->reason[0] = '\0';
        }
    }

    return d->status = ZOLL_ERR_NO_LAWFUL_ROUTE;
}
