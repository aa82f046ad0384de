/*
 * Transfer records and the JSON error bodies Zoll returns itself.
 *
 * A record proves what happened to one request: who sent it (tenant, a
 * truncated client address), where it went (subprocessor, endpoint, country)
 * and under which legal basis.  It never contains payload or a raw IP.
 */

#include "zoll_internal.h"

#include <arpa/inet.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>


static void
zoll_buf_int_or_null(zoll_buf_t *b, int64_t v)
{
    if (v < 0) {
        zoll_buf_raw(b, "null", 4);

    } else {
        zoll_buf_uint(b, (uint64_t) v);
    }
}


/* fields every record starts with */

static void
zoll_record_head(zoll_buf_t *b, const char *event,
    const zoll_request_info_t *ri, const zoll_decision_t *d)
{
    zoll_buf_cstr(b, "{\"v\":1,\"event\":");
    zoll_buf_json_cstr(b, event);
    zoll_buf_cstr(b, ",\"time\":");
    zoll_buf_time(b, ri->time_ms);
    zoll_buf_cstr(b, ",\"request_id\":");
    zoll_buf_json_str(b, ri->request_id.data, ri->request_id.len);
    zoll_buf_cstr(b, ",\"tenant\":");
    zoll_buf_json_cstr(b, d->tenant ? d->tenant->id : NULL);
}


static void
zoll_record_basis(zoll_buf_t *b, const zoll_legal_basis_t *lb)
{
    if (lb == NULL) {
        zoll_buf_raw(b, "null", 4);
        return;
    }

    zoll_buf_cstr(b, "{\"id\":");
    zoll_buf_json_cstr(b, lb->id);
    zoll_buf_cstr(b, ",\"article\":");
    zoll_buf_json_cstr(b, lb->article);
    zoll_buf_cstr(b, ",\"instrument\":");
    zoll_buf_json_cstr(b, lb->instrument);
    zoll_buf_cstr(b, ",\"module\":");
    zoll_buf_json_cstr(b, lb->module);
    zoll_buf_cstr(b, "}");
}


/* where the subject is: its country only, never the address */

static void
zoll_record_subject(zoll_buf_t *b, const zoll_decision_t *d)
{
    const zoll_subject_t  *s = &d->subject;

    if (!d->has_subject) {
        zoll_buf_raw(b, "null", 4);
        return;
    }

    zoll_buf_cstr(b, "{\"country\":");
    zoll_buf_json_cstr(b, s->country[0] ? s->country : NULL);
    zoll_buf_cstr(b, ",\"area\":");
    zoll_buf_json_cstr(b, zoll_area_name(s->area));
    zoll_buf_cstr(b, ",\"lookup\":");
    zoll_buf_json_cstr(b, zoll_geo_name(s->lookup));
    zoll_buf_cstr(b, ",\"asserted\":");
    zoll_buf_json_cstr(b, s->asserted[0] ? s->asserted : NULL);
    zoll_buf_cstr(b, ",\"residency\":");
    zoll_buf_json_cstr(b, d->tenant ? zoll_residency_name(d->residency)
                                    : NULL);
    zoll_buf_cstr(b, "}");
}


size_t
zoll_record_decision(const zoll_policy_t *p, const zoll_request_info_t *ri,
    const zoll_decision_t *d, char *buf, size_t cap)
{
    zoll_buf_t                  b;
    const zoll_region_t        *r = d->region;
    const zoll_subprocessor_t  *sp = d->sp ? d->sp : ri->sp;
    int                         forwarded = d->status == ZOLL_OK;

    zoll_buf_init(&b, buf, cap);
    zoll_record_head(&b, "decision", ri, d);

    zoll_buf_cstr(&b, ",\"residency\":");
    zoll_buf_json_cstr(&b, d->tenant ? zoll_residency_name(d->tenant->residency)
                                     : NULL);
    zoll_buf_cstr(&b, ",\"subject\":");
    zoll_record_subject(&b, d);
    zoll_buf_cstr(&b, ",\"subprocessor\":{\"id\":");
    zoll_buf_json_cstr(&b, sp ? sp->id : NULL);
    zoll_buf_cstr(&b, ",\"legal_name\":");
    zoll_buf_json_cstr(&b, sp ? sp->legal_name : NULL);
    zoll_buf_cstr(&b, "},\"method\":");
    zoll_buf_json_str(&b, ri->method.data, ri->method.len);
    zoll_buf_cstr(&b, ",\"path\":");
    zoll_buf_json_str(&b, ri->path.data, ri->path.len);

    zoll_buf_cstr(&b, ",\"decision\":");
    zoll_buf_json_cstr(&b, forwarded ? "forwarded" : "refused");
    zoll_buf_cstr(&b, ",\"status\":");
    zoll_buf_int_or_null(&b, forwarded ? -1 : zoll_status_http(d->status));
    zoll_buf_cstr(&b, ",\"code\":");
    zoll_buf_json_cstr(&b, forwarded ? NULL : zoll_status_code(d->status));
    zoll_buf_cstr(&b, ",\"reason\":");
    zoll_buf_json_cstr(&b, d->reason);

    zoll_buf_cstr(&b, ",\"endpoint\":");
    zoll_buf_json_cstr(&b, r ? r->host : NULL);
    zoll_buf_cstr(&b, ",\"region\":");
    zoll_buf_json_cstr(&b, r ? r->id : NULL);
    zoll_buf_cstr(&b, ",\"country\":");
    zoll_buf_json_cstr(&b, r ? r->country : NULL);
    zoll_buf_cstr(&b, ",\"third_country\":");
    zoll_buf_cstr(&b, r == NULL ? "null"
                                : d->third_country ? "true" : "false");
    zoll_buf_cstr(&b, ",\"legal_basis\":");
    zoll_record_basis(&b, d->basis);

    if (ri->redaction) {
        zoll_redaction_record(ri->redaction, &b);

    } else {
        /* not inspected (refused before, or no body): nothing is known,
         * which is not the same as nothing found */
        zoll_buf_cstr(&b, ",\"supplementary_measures\":[]"
                          ",\"data_categories\":null");
    }

    zoll_buf_cstr(&b, ",\"client\":");
    if (ri->client.len) {
        zoll_buf_json_str(&b, ri->client.data, ri->client.len);

    } else {
        zoll_buf_raw(&b, "null", 4);
    }

    zoll_buf_cstr(&b, ",\"request_bytes\":");
    zoll_buf_int_or_null(&b, ri->request_bytes);
    zoll_buf_cstr(&b, ",\"policy\":");
    zoll_buf_json_cstr(&b, zoll_policy_digest(p));
    zoll_buf_cstr(&b, "}\n");

    return zoll_buf_finish(&b);
}


size_t
zoll_record_outcome(const zoll_request_info_t *ri, const zoll_decision_t *d,
    const zoll_outcome_t *o, char *buf, size_t cap)
{
    zoll_buf_t  b;

    zoll_buf_init(&b, buf, cap);
    zoll_record_head(&b, "outcome", ri, d);

    zoll_buf_cstr(&b, ",\"subprocessor\":");
    zoll_buf_json_cstr(&b, d->sp ? d->sp->id : NULL);
    zoll_buf_cstr(&b, ",\"region\":");
    zoll_buf_json_cstr(&b, d->region ? d->region->id : NULL);
    zoll_buf_cstr(&b, ",\"status\":");
    zoll_buf_int_or_null(&b, o->status);
    zoll_buf_cstr(&b, ",\"upstream_status\":");
    zoll_buf_int_or_null(&b, o->upstream_status > 0 ? o->upstream_status
                                                    : -1);
    zoll_buf_cstr(&b, ",\"request_bytes\":");
    zoll_buf_int_or_null(&b, o->request_bytes);
    zoll_buf_cstr(&b, ",\"response_bytes\":");
    zoll_buf_int_or_null(&b, o->response_bytes);
    zoll_buf_cstr(&b, ",\"duration_ms\":");
    zoll_buf_int_or_null(&b, o->duration_ms);

    /* the tokenize operator: how many of its tokens came back restored */
    if (o->tokens_issued) {
        zoll_buf_cstr(&b, ",\"reversible_tokens\":{\"issued\":");
        zoll_buf_uint(&b, o->tokens_issued);
        zoll_buf_cstr(&b, ",\"restored\":");
        zoll_buf_uint(&b, o->tokens_restored);
        zoll_buf_raw(&b, "}", 1);
    } else {
        zoll_buf_cstr(&b, ",\"reversible_tokens\":null");
    }

    zoll_buf_cstr(&b, "}\n");

    return zoll_buf_finish(&b);
}


/* Error "type" in the OpenAI and Anthropic vocabulary, and gRPC-style
 * status for Google, so each SDK raises the error class its users expect. */

static const char *
zoll_error_type(int http)
{
    switch (http) {
    case 401: return "authentication_error";
    case 403: return "permission_error";
    case 451: return "permission_error";
    case 500:
    case 502:
    case 503: return "api_error";
    default:  return "invalid_request_error";
    }
}


static const char *
zoll_error_status(int http)
{
    switch (http) {
    case 401: return "UNAUTHENTICATED";
    case 403: return "PERMISSION_DENIED";
    case 451: return "PERMISSION_DENIED";
    case 500: return "INTERNAL";
    case 502:
    case 503: return "UNAVAILABLE";
    case 426: return "FAILED_PRECONDITION";
    default:  return "INVALID_ARGUMENT";
    }
}


size_t
zoll_error_body(zoll_api_e api, zoll_status_e s, const char *message,
    zoll_str_t request_id, char *buf, size_t cap)
{
    int          http = zoll_status_http(s);
    const char  *code = zoll_status_code(s);
    zoll_buf_t   b;

    zoll_buf_init(&b, buf, cap);

    switch (api) {

    case ZOLL_API_ANTHROPIC:
        zoll_buf_cstr(&b, "{\"type\":\"error\",\"error\":{\"type\":");
        zoll_buf_json_cstr(&b, zoll_error_type(http));
        zoll_buf_cstr(&b, ",\"message\":");
        zoll_buf_json_cstr(&b, message);
        zoll_buf_cstr(&b, ",\"code\":");
        zoll_buf_json_cstr(&b, code);
        zoll_buf_cstr(&b, "},\"request_id\":");
        zoll_buf_json_str(&b, request_id.data, request_id.len);
        zoll_buf_cstr(&b, "}\n");
        break;

    case ZOLL_API_GEMINI:
        zoll_buf_printf(&b, "{\"error\":{\"code\":%d,\"message\":", http);
        zoll_buf_json_cstr(&b, message);
        zoll_buf_cstr(&b, ",\"status\":");
        zoll_buf_json_cstr(&b, zoll_error_status(http));
        zoll_buf_cstr(&b, ",\"details\":[{\"@type\":\"type.googleapis.com/"
                          "google.rpc.ErrorInfo\",\"reason\":");
        zoll_buf_json_cstr(&b, code);
        zoll_buf_cstr(&b, ",\"domain\":\"zoll\",\"metadata\":"
                          "{\"request_id\":");
        zoll_buf_json_str(&b, request_id.data, request_id.len);
        zoll_buf_cstr(&b, "}}]}}\n");
        break;

    default:
        zoll_buf_cstr(&b, "{\"error\":{\"message\":");
        zoll_buf_json_cstr(&b, message);
        zoll_buf_cstr(&b, ",\"type\":");
        zoll_buf_json_cstr(&b, zoll_error_type(http));
        zoll_buf_cstr(&b, ",\"param\":null,\"code\":");
        zoll_buf_json_cstr(&b, code);
        zoll_buf_cstr(&b, ",\"request_id\":");
        zoll_buf_json_str(&b, request_id.data, request_id.len);
        zoll_buf_cstr(&b, "}}\n");
    }

    return zoll_buf_finish(&b);
}


size_t
zoll_client_addr(zoll_client_addr_e mode, const zoll_day_key_t *k,
    int family, const unsigned char *a, char *buf, size_t cap)
{
    char           hex[17];
    zoll_buf_t     b;
    unsigned char  mac[ZOLL_SHA256_LEN];

    zoll_buf_init(&b, buf, cap);

    if (mode == ZOLL_CLIENT_ADDR_OMIT || (family != 4 && family != 6)) {
        /* nothing */

    } else if (mode == ZOLL_CLIENT_ADDR_HMAC) {
        /* the whole address, keyed: requests of one client link up within
         * a day, and once the day's key is gone nobody can tell whose */
        if (k == NULL
            || HMAC(zoll_sha256_md(), k->key, ZOLL_DAY_KEY_LEN, a,
                    family == 4 ? 4 : 16, mac, NULL) == NULL)
        {
            return 0;
        }

        zoll_hex(mac, 8, hex);
        zoll_buf_printf(&b, "hmac:%s:%s", k->day, hex);

    } else if (family == 4) {
        zoll_buf_uint(&b, a[0]);
        zoll_buf_raw(&b, ".", 1);
        zoll_buf_uint(&b, a[1]);
        zoll_buf_raw(&b, ".", 1);
        zoll_buf_uint(&b, a[2]);
        zoll_buf_cstr(&b, ".0/24");

    } else {
        unsigned char  net[16] = { 0 };
        char           text[INET6_ADDRSTRLEN];

        /* inet_ntop writes the RFC 5952 form, e.g. "2001:db8::" */
        memcpy(net, a, 6);

        if (inet_ntop(AF_INET6, net, text, sizeof(text)) != NULL) {
            zoll_buf_printf(&b, "%s/48", text);
        }
    }

    return zoll_buf_finish(&b);
}
