/*
 * Policy loading and validation.
 *
 * The policy is parsed once (at nginx configuration time, or by zollctl) into
 * flat arrays that point into the jansson tree, which the policy keeps alive.
 * Validation is strict: unknown keys are errors, because a misspelt
 * "suspend": true that is silently ignored would keep a transfer going that
 * an operator meant to stop.  Every error names its JSON path.
 */

#include "zoll_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>


#define ZOLL_PATH_LEN        256
#define ZOLL_CREDENTIAL_MAX  4096
#define ZOLL_FILE_PATH_LEN   4096
#define ZOLL_POLICY_MAX      (16 * 1024 * 1024)


typedef struct {
    char           *err;
    size_t          errlen;
    const char     *base_dir;
    zoll_policy_t  *policy;
} zoll_load_t;


static int
zoll_fail(zoll_load_t *ld, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
zoll_fail(zoll_load_t *ld, const char *path, const char *fmt, ...)
{
    va_list  ap;

    va_start(ap, fmt);
    zoll_load_vfail(ld->err, ld->errlen, NULL, path, fmt, ap);
    va_end(ap);

    return -1;
}


/* Paths are bounded; a path cut short still points at the right place. */

static void
zoll_path(char *out, const char *parent, const char *key)
{
    if (snprintf(out, ZOLL_PATH_LEN, "%s.%s", parent, key) < 0) {
        out[0] = '\0';
    }
}


static void
zoll_path_index(char *out, const char *parent, const char *key, size_t i)
{
    if (snprintf(out, ZOLL_PATH_LEN, "%s.%s[%zu]", parent, key, i) < 0) {
        out[0] = '\0';
    }
}


void
zoll_load_vfail(char *err, size_t errlen, const char *prefix,
    const char *path, const char *fmt, va_list ap)
{
    int  n;

    n = prefix ? snprintf(err, errlen, "%s: %s: ", prefix, path)
               : snprintf(err, errlen, "%s: ", path);

    if (n >= 0 && (size_t) n < errlen) {
        vsnprintf(err + n, errlen - n, fmt, ap);
    }
}


const char *
zoll_json_get_str(json_t *obj, const char *key, int required,
    const char **out)
{
    json_t      *v;
    const char  *why;

    *out = NULL;
    v = json_object_get(obj, key);

    if (v == NULL) {
        return required ? "is required" : NULL;
    }

    why = zoll_json_str_problem(v);
    if (why == NULL) {
        *out = json_string_value(v);
    }

    return why;
}


/* Keys beginning with "_" and "note" are free-form comments. */

static int
zoll_json_comment(const char *key)
{
    return key[0] == '_' || strcmp(key, "note") == 0;
}


const char *
zoll_json_unknown_key(json_t *obj, const char *const *allowed, int comments)
{
    const char          *key;
    json_t              *v;
    const char *const   *a;

    json_object_foreach(obj, key, v) {
        if (comments && zoll_json_comment(key)) {
            continue;
        }

        for (a = allowed; *a; a++) {
            if (strcmp(key, *a) == 0) {
                break;
            }
        }

        if (*a == NULL) {
            return key;
        }
    }

    return NULL;
}


const char *
zoll_json_str_problem(json_t *v)
{
    if (!json_is_string(v) || json_string_length(v) == 0) {
        return "must be a non-empty string";
    }

    /* C strings end at a NUL: "a\u0000b" would be read as "a".  Both
     * loaders parse without JSON_ALLOW_NUL, so jansson refuses it first;
     * this stays in case one ever allows it. */
    if (strlen(json_string_value(v)) != json_string_length(v)) {
        return "must not contain NUL";
    }

    return NULL;
}


/* Keys beginning with "_" and "note" are free-form comments. */

static int
zoll_check_keys(zoll_load_t *ld, json_t *obj, const char *path,
    const char *const *allowed)
{
    const char  *key;

    key = zoll_json_unknown_key(obj, allowed, 1);

    return key ? zoll_fail(ld, path, "unknown key \"%s\"", key) : 0;
}


static int
zoll_get_str(zoll_load_t *ld, json_t *obj, const char *path, const char *key,
    int required, const char **out)
{
    char         p[ZOLL_PATH_LEN];
    const char  *why;

    why = zoll_json_get_str(obj, key, required, out);
    if (why == NULL) {
        return 0;
    }

    zoll_path(p, path, key);
    return zoll_fail(ld, p, "%s", why);
}


static int
zoll_get_bool(zoll_load_t *ld, json_t *obj, const char *path, const char *key,
    int *out)
{
    char     p[ZOLL_PATH_LEN];
    json_t  *v;

    *out = 0;
    v = json_object_get(obj, key);

    if (v == NULL) {
        return 0;
    }

    if (!json_is_boolean(v)) {
        zoll_path(p, path, key);
        return zoll_fail(ld, p, "must be true or false");
    }

    *out = json_is_true(v);
    return 0;
}


/* An array member; required arrays must be non-empty. */

static int
zoll_get_array(zoll_load_t *ld, json_t *obj, const char *path,
    const char *key, int required, json_t **out)
{
    char     p[ZOLL_PATH_LEN];
    json_t  *v;

    *out = NULL;
    v = json_object_get(obj, key);
    zoll_path(p, path, key);

    if (v == NULL) {
        return required ? zoll_fail(ld, p, "is required") : 0;
    }

    if (!json_is_array(v)) {
        return zoll_fail(ld, p, "must be an array");
    }

    if (required && json_array_size(v) == 0) {
        return zoll_fail(ld, p, "must not be empty");
    }

    *out = v;
    return 0;
}


static int
zoll_is_id(const char *s)
{
    size_t  n;

    for (n = 0; s[n]; n++) {
        if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= 'A' && s[n] <= 'Z')
              || (s[n] >= '0' && s[n] <= '9') || s[n] == '_' || s[n] == '-'
              || s[n] == '.'))
        {
            return 0;
        }
    }

    return n > 0 && n <= 64;
}


static int
zoll_get_id(zoll_load_t *ld, json_t *obj, const char *path, const char **out)
{
    char  p[ZOLL_PATH_LEN];

    if (zoll_get_str(ld, obj, path, "id", 1, out) != 0) {
        return -1;
    }

    if (!zoll_is_id(*out)) {
        zoll_path(p, path, "id");
        return zoll_fail(ld, p, "\"%s\" must be 1-64 of [A-Za-z0-9_.-]", *out);
    }

    return 0;
}


int
zoll_is_country(const char *s)
{
    return strlen(s) == 2 && s[0] >= 'A' && s[0] <= 'Z'
           && s[1] >= 'A' && s[1] <= 'Z';
}


static zoll_legal_basis_t *
zoll_find_basis(const zoll_policy_t *p, const char *id)
{
    size_t  i;

    for (i = 0; i < p->nbases; i++) {
        if (strcmp(p->bases[i].id, id) == 0) {
            return &p->bases[i];
        }
    }

    return NULL;
}


/* A string array element that must name a defined legal basis. */

static int
zoll_basis_ref(zoll_load_t *ld, json_t *v, const char *path,
    zoll_legal_basis_t **out)
{
    if (!json_is_string(v)) {
        return zoll_fail(ld, path, "must be a legal basis id (string)");
    }

    *out = zoll_find_basis(ld->policy, json_string_value(v));

    if (*out == NULL) {
        return zoll_fail(ld, path, "unknown legal basis \"%s\"",
                         json_string_value(v));
    }

    return 0;
}


static int
zoll_load_bases(zoll_load_t *ld, json_t *root)
{
    static const char *const  keys[] = {
        "id", "article", "instrument", "module", "suspended", NULL
    };

    char                 p[ZOLL_PATH_LEN];
    size_t               i;
    json_t              *arr, *o;
    zoll_policy_t       *pol = ld->policy;
    zoll_legal_basis_t  *b;

    if (zoll_get_array(ld, root, "$", "legal_bases", 1, &arr) != 0) {
        return -1;
    }

    pol->bases = calloc(json_array_size(arr), sizeof(zoll_legal_basis_t));
    if (pol->bases == NULL) {
        return zoll_fail(ld, "$.legal_bases", "out of memory");
    }

    json_array_foreach(arr, i, o) {
        zoll_path_index(p, "$", "legal_bases", i);
        b = &pol->bases[i];

        if (!json_is_object(o)) {
            return zoll_fail(ld, p, "must be an object");
        }

        if (zoll_check_keys(ld, o, p, keys) != 0
            || zoll_get_id(ld, o, p, &b->id) != 0
            || zoll_get_str(ld, o, p, "article", 1, &b->article) != 0
            || zoll_get_str(ld, o, p, "instrument", 1, &b->instrument) != 0
            || zoll_get_str(ld, o, p, "module", 0, &b->module) != 0
            || zoll_get_bool(ld, o, p, "suspended", &b->suspended) != 0)
        {
            return -1;
        }

        if (zoll_find_basis(pol, b->id) != NULL) {
            return zoll_fail(ld, p, "duplicate legal basis id \"%s\"", b->id);
        }

        pol->nbases++;
    }

    return 0;
}


static int
zoll_load_countries(zoll_load_t *ld, json_t *root)
{
    static const char *const  keys[] = { "as_of", "eea", "adequacy", NULL };
    static const char *const  akeys[] = { "country", "legal_basis", NULL };

    char             p[ZOLL_PATH_LEN], q[ZOLL_PATH_LEN];
    size_t           i, j;
    json_t          *c, *arr, *v, *lb;
    const char      *as_of, *cc;
    zoll_policy_t   *pol = ld->policy;
    zoll_adequacy_t *a;

    c = json_object_get(root, "countries");
    if (!json_is_object(c)) {
        return zoll_fail(ld, "$.countries", "is required (an object)");
    }

    if (zoll_check_keys(ld, c, "$.countries", keys) != 0
        || zoll_get_str(ld, c, "$.countries", "as_of", 0, &as_of) != 0
        || zoll_get_array(ld, c, "$.countries", "eea", 1, &arr) != 0)
    {
        return -1;
    }

    pol->eea = calloc(json_array_size(arr), sizeof(char *));
    if (pol->eea == NULL) {
        return zoll_fail(ld, "$.countries.eea", "out of memory");
    }

    json_array_foreach(arr, i, v) {
        zoll_path_index(p, "$.countries", "eea", i);

        if (!json_is_string(v) || !zoll_is_country(json_string_value(v))) {
            return zoll_fail(ld, p, "must be an ISO 3166-1 alpha-2 code");
        }

        for (j = 0; j < pol->neea; j++) {
            if (strcmp(pol->eea[j], json_string_value(v)) == 0) {
                return zoll_fail(ld, p, "duplicate country \"%s\"",
                                 json_string_value(v));
            }
        }

        pol->eea[pol->neea++] = json_string_value(v);
    }

    if (zoll_get_array(ld, c, "$.countries", "adequacy", 0, &arr) != 0) {
        return -1;
    }

    if (arr == NULL) {
        return 0;
    }

    pol->adequacy = calloc(json_array_size(arr) + 1, sizeof(zoll_adequacy_t));
    if (pol->adequacy == NULL) {
        return zoll_fail(ld, "$.countries.adequacy", "out of memory");
    }

    json_array_foreach(arr, i, v) {
        zoll_path_index(p, "$.countries", "adequacy", i);
        a = &pol->adequacy[i];

        if (!json_is_object(v)) {
            return zoll_fail(ld, p, "must be an object");
        }

        if (zoll_check_keys(ld, v, p, akeys) != 0
            || zoll_get_str(ld, v, p, "country", 1, &cc) != 0)
        {
            return -1;
        }

        if (!zoll_is_country(cc)) {
            return zoll_fail(ld, p, "country \"%s\" is not an ISO 3166-1 "
                             "alpha-2 code", cc);
        }

        if (zoll_policy_is_eea(pol, cc)) {
            return zoll_fail(ld, p, "country \"%s\" is in the EEA; it needs "
                             "no adequacy decision", cc);
        }

        lb = json_object_get(v, "legal_basis");
        zoll_path(q, p, "legal_basis");

        if (lb == NULL) {
            return zoll_fail(ld, q, "is required");
        }

        if (zoll_basis_ref(ld, lb, q, &a->basis) != 0) {
            return -1;
        }

        a->country = cc;
        pol->nadequacy++;
    }

    return 0;
}


static int
zoll_policy_relative(zoll_load_t *ld, const char *path, const char *file,
    char full[ZOLL_FILE_PATH_LEN])
{
    int  n;

    if (file[0] == '/' || ld->base_dir == NULL) {
        n = snprintf(full, ZOLL_FILE_PATH_LEN, "%s", file);

    } else {
        n = snprintf(full, ZOLL_FILE_PATH_LEN, "%s/%s", ld->base_dir, file);
    }

    if (n < 0 || n >= ZOLL_FILE_PATH_LEN) {
        return zoll_fail(ld, path, "path is too long");
    }

    return 0;
}


/* A file the policy names, relative to the policy's own directory, opened
 * for reading; full receives the path for messages. */

static FILE *
zoll_open(zoll_load_t *ld, const char *path, const char *file,
    char full[ZOLL_FILE_PATH_LEN])
{
    FILE  *f;

    if (zoll_policy_relative(ld, path, file, full) != 0) {
        return NULL;
    }

    f = fopen(full, "rb");
    if (f == NULL) {
        zoll_fail(ld, path, "cannot read \"%s\": %s", full,
                  strerror(errno));
    }

    return f;
}


/* Reads a secret (provider credential) that will be sent in an HTTP header:
 * trailing white space is dropped; CR, LF and NUL are refused because they
 * would let a credential file inject headers upstream. */

static int
zoll_read_credential(zoll_load_t *ld, const char *path, const char *file,
    char **out)
{
    char    full[ZOLL_FILE_PATH_LEN], *buf;
    size_t  n, i;
    FILE   *f;

    f = zoll_open(ld, path, file, full);
    if (f == NULL) {
        return -1;
    }

    buf = malloc(ZOLL_CREDENTIAL_MAX + 1);
    if (buf == NULL) {
        fclose(f);
        return zoll_fail(ld, path, "out of memory");
    }

    n = fread(buf, 1, ZOLL_CREDENTIAL_MAX + 1, f);
    fclose(f);

    if (n > ZOLL_CREDENTIAL_MAX) {
        OPENSSL_cleanse(buf, n);
        free(buf);
        return zoll_fail(ld, path, "\"%s\" is larger than %d bytes", full,
                         ZOLL_CREDENTIAL_MAX);
    }

    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'
                     || buf[n - 1] == ' ' || buf[n - 1] == '\t'))
    {
        n--;
    }

    buf[n] = '\0';

    /* visible ASCII only: a token, nothing a header could be bent with */
    for (i = 0; i < n; i++) {
        if (buf[i] < 0x21 || buf[i] > 0x7e) {
            break;
        }
    }

    if (n == 0 || i != n) {
        OPENSSL_cleanse(buf, n);
        free(buf);
        return zoll_fail(ld, path, "\"%s\" must hold one token of "
                         "visible ASCII characters", full);
    }

    *out = buf;
    return 0;
}


/* "https://host[:port][/]": anything but https is refused outright; there is
 * deliberately no switch for plaintext upstreams. */

static int
zoll_parse_endpoint(zoll_load_t *ld, const char *path, const char *url,
    zoll_region_t *r)
{
    const char     *h, *e, *colon;
    char           *host, *end;
    unsigned long   port;
    size_t          n;

    if (strncmp(url, "https://", 8) != 0) {
        return zoll_fail(ld, path, "\"%s\": only https endpoints are "
                         "accepted", url);
    }

    h = url + 8;
    e = h + strcspn(h, "/?#");

    if (*e != '\0' && strcmp(e, "/") != 0) {
        return zoll_fail(ld, path, "\"%s\": give scheme, host and port "
                         "only; the path comes from the client request", url);
    }

    colon = memchr(h, ':', e - h);
    n = (colon ? colon : e) - h;
    port = 443;

    if (colon) {
        /* digits only (RFC 3986): strtoul alone would take "+443", " 443" */
        if (colon + 1 == e || strspn(colon + 1, "0123456789")
                              != (size_t) (e - colon - 1))
        {
            return zoll_fail(ld, path, "\"%s\": invalid port", url);
        }

        errno = 0;
        port = strtoul(colon + 1, &end, 10);

        if (end != e || errno || port == 0 || port > 65535) {
            return zoll_fail(ld, path, "\"%s\": invalid port", url);
        }
    }

    if (n == 0 || n > 253 || strspn(h, "abcdefghijklmnopqrstuvwxyz"
                                       "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                       "0123456789.-") < n)
    {
        return zoll_fail(ld, path, "\"%s\": invalid host name", url);
    }

    host = strndup(h, n);
    if (host == NULL) {
        return zoll_fail(ld, path, "out of memory");
    }

    r->host = host;
    r->port = (unsigned) port;
    return 0;
}


/* An adequacy decision covers its own country only: the DPF must not
 * become the basis of a transfer to, say, CN. */

static int
zoll_check_basis_country(zoll_load_t *ld, const char *path,
    const zoll_legal_basis_t *b, const char *country)
{
    size_t       i;
    const char  *other = NULL;

    for (i = 0; i < ld->policy->nadequacy; i++) {
        if (ld->policy->adequacy[i].basis != b) {
            continue;
        }

        if (strcmp(ld->policy->adequacy[i].country, country) == 0) {
            return 0;
        }

        other = ld->policy->adequacy[i].country;
    }

    if (other) {
        return zoll_fail(ld, path, "\"%s\" is the adequacy decision for "
                         "%s, not for %s", b->id, other, country);
    }

    return 0;
}


static int
zoll_load_region(zoll_load_t *ld, json_t *o, const char *p,
    zoll_subprocessor_t *sp, zoll_region_t *r)
{
    static const char *const  keys[] = {
        "id", "endpoint", "upstream", "country", "legal_bases", NULL
    };

    char         q[ZOLL_PATH_LEN];
    size_t       i;
    json_t      *arr, *v;
    const char  *endpoint;

    if (!json_is_object(o)) {
        return zoll_fail(ld, p, "must be an object");
    }

    if (zoll_check_keys(ld, o, p, keys) != 0
        || zoll_get_id(ld, o, p, &r->id) != 0
        || zoll_get_str(ld, o, p, "endpoint", 1, &endpoint) != 0
        || zoll_get_str(ld, o, p, "upstream", 0, &r->upstream) != 0
        || zoll_get_str(ld, o, p, "country", 1, &r->country) != 0
        || zoll_get_array(ld, o, p, "legal_bases", 0, &arr) != 0)
    {
        return -1;
    }

    for (i = 0; i < sp->nregions; i++) {
        if (strcmp(sp->regions[i].id, r->id) == 0) {
            return zoll_fail(ld, p, "duplicate region id \"%s\"", r->id);
        }
    }

    zoll_path(q, p, "endpoint");
    if (zoll_parse_endpoint(ld, q, endpoint, r) != 0) {
        return -1;
    }

    if (r->upstream == NULL) {
        r->upstream = r->host;

    } else if (!zoll_is_id(r->upstream)) {
        /* it becomes "https://<upstream>" for proxy_pass: a name only,
         * never a port, path or query */
        zoll_path(q, p, "upstream");
        return zoll_fail(ld, q, "\"%s\" must be the name of an nginx "
                         "upstream block (1-64 of [A-Za-z0-9_.-])",
                         r->upstream);
    }

    if (!zoll_is_country(r->country)) {
        zoll_path(q, p, "country");
        return zoll_fail(ld, q, "\"%s\" is not an ISO 3166-1 alpha-2 code",
                         r->country);
    }

    /* the lists are data, but fixed once loaded: not looked up again
     * for every request */
    r->eea = zoll_policy_is_eea(ld->policy, r->country);

    if (arr == NULL || json_array_size(arr) == 0) {
        if (!r->eea) {
            zoll_path(q, p, "legal_bases");
            return zoll_fail(ld, q, "a region outside the EEA (%s) needs at "
                             "least one legal basis", r->country);
        }

        return 0;
    }

    r->bases = calloc(json_array_size(arr), sizeof(zoll_legal_basis_t *));
    if (r->bases == NULL) {
        return zoll_fail(ld, p, "out of memory");
    }

    json_array_foreach(arr, i, v) {
        zoll_path_index(q, p, "legal_bases", i);

        if (zoll_basis_ref(ld, v, q, &r->bases[i]) != 0
            || zoll_check_basis_country(ld, q, r->bases[i], r->country) != 0)
        {
            return -1;
        }

        r->nbases++;
    }

    return 0;
}


static int
zoll_load_subprocessor(zoll_load_t *ld, json_t *o, const char *p,
    zoll_subprocessor_t *sp)
{
    static const char *const  keys[] = {
        "id", "legal_name", "address", "purpose", "api",
        "enabled_by_default", "credential_file", "regions", NULL
    };

    char         q[ZOLL_PATH_LEN];
    size_t       i;
    json_t      *arr, *v;
    const char  *api, *cred;

    if (!json_is_object(o)) {
        return zoll_fail(ld, p, "must be an object");
    }

    if (zoll_check_keys(ld, o, p, keys) != 0
        || zoll_get_id(ld, o, p, &sp->id) != 0
        || zoll_get_str(ld, o, p, "legal_name", 1, &sp->legal_name) != 0
        || zoll_get_str(ld, o, p, "address", 1, &sp->address) != 0
        || zoll_get_str(ld, o, p, "purpose", 1, &sp->purpose) != 0
        || zoll_get_str(ld, o, p, "api", 1, &api) != 0
        || zoll_get_bool(ld, o, p, "enabled_by_default",
                         &sp->enabled_by_default) != 0
        || zoll_get_str(ld, o, p, "credential_file", 0, &cred) != 0
        || zoll_get_array(ld, o, p, "regions", 1, &arr) != 0)
    {
        return -1;
    }

    if (zoll_policy_subprocessor(ld->policy, sp->id) != NULL) {
        return zoll_fail(ld, p, "duplicate subprocessor id \"%s\"", sp->id);
    }

    if (strcmp(api, "openai") == 0) {
        sp->api = ZOLL_API_OPENAI;

    } else if (strcmp(api, "anthropic") == 0) {
        sp->api = ZOLL_API_ANTHROPIC;

    } else if (strcmp(api, "gemini") == 0) {
        sp->api = ZOLL_API_GEMINI;

    } else {
        zoll_path(q, p, "api");
        return zoll_fail(ld, q, "must be one of openai, anthropic, gemini");
    }

    if (cred) {
        zoll_path(q, p, "credential_file");
        if (zoll_read_credential(ld, q, cred, &sp->credential) != 0) {
            return -1;
        }

    } else if (sp->enabled_by_default) {
        zoll_path(q, p, "credential_file");
        return zoll_fail(ld, q, "is required when enabled_by_default is "
                         "true");
    }

    /* one spare slot: a region that fails half-way is freed from it */
    sp->regions = calloc(json_array_size(arr) + 1, sizeof(zoll_region_t));
    if (sp->regions == NULL) {
        return zoll_fail(ld, p, "out of memory");
    }

    json_array_foreach(arr, i, v) {
        zoll_path_index(q, p, "regions", i);

        if (zoll_load_region(ld, v, q, sp, &sp->regions[i]) != 0) {
            return -1;
        }

        sp->nregions++;
    }

    return 0;
}


static int
zoll_load_subprocessors(zoll_load_t *ld, json_t *root)
{
    char            p[ZOLL_PATH_LEN];
    size_t          i;
    json_t         *arr, *o;
    zoll_policy_t  *pol = ld->policy;

    if (zoll_get_array(ld, root, "$", "subprocessors", 1, &arr) != 0) {
        return -1;
    }

    pol->sps = calloc(json_array_size(arr), sizeof(zoll_subprocessor_t));
    if (pol->sps == NULL) {
        return zoll_fail(ld, "$.subprocessors", "out of memory");
    }

    json_array_foreach(arr, i, o) {
        zoll_path_index(p, "$", "subprocessors", i);

        if (zoll_load_subprocessor(ld, o, p, &pol->sps[i]) != 0) {
            /* count it so that zoll_policy_free releases what it holds */
            pol->nsps = i + 1;
            return -1;
        }

        pol->nsps++;
    }

    return 0;
}


/* A string array element that must name a defined subprocessor. */

static int
zoll_sp_ref(zoll_load_t *ld, json_t *v, const char *path,
    const zoll_subprocessor_t **out)
{
    if (!json_is_string(v)) {
        return zoll_fail(ld, path, "must be a subprocessor id (string)");
    }

    *out = zoll_policy_subprocessor(ld->policy, json_string_value(v));

    if (*out == NULL) {
        return zoll_fail(ld, path, "unknown subprocessor \"%s\"",
                         json_string_value(v));
    }

    return 0;
}


static int
zoll_load_keys(zoll_load_t *ld, json_t *o, const char *p, zoll_tenant_t *t)
{
    char          q[ZOLL_PATH_LEN];
    size_t        i, j, k;
    json_t       *arr, *v;
    const char   *s;
    unsigned int  byte;

    if (zoll_get_array(ld, o, p, "keys", 1, &arr) != 0) {
        return -1;
    }

    t->key_hashes = calloc(json_array_size(arr), ZOLL_SHA256_LEN);
    if (t->key_hashes == NULL) {
        return zoll_fail(ld, p, "out of memory");
    }

    json_array_foreach(arr, i, v) {
        zoll_path_index(q, p, "keys", i);
        s = json_string_value(v);

        if (s == NULL || strlen(s) != 7 + ZOLL_SHA256_HEX_LEN
            || strncmp(s, "sha256:", 7) != 0
            || strspn(s + 7, "0123456789abcdef") != ZOLL_SHA256_HEX_LEN)
        {
            return zoll_fail(ld, q, "must be \"sha256:\" and 64 lower-case "
                             "hex digits (zollctl key new prints one)");
        }

        for (j = 0; j < ZOLL_SHA256_LEN; j++) {
            sscanf(s + 7 + 2 * j, "%2x", &byte);
            t->key_hashes[i][j] = (unsigned char) byte;
        }

        /* one key, one tenant: anything else breaks isolation */
        for (j = 0; j < ld->policy->ntenants; j++) {
            const zoll_tenant_t  *o2 = &ld->policy->tenants[j];

            for (k = 0; k < o2->nkeys; k++) {
                if (memcmp(o2->key_hashes[k], t->key_hashes[i],
                           ZOLL_SHA256_LEN) == 0)
                {
                    return zoll_fail(ld, q, "key is already used by tenant "
                                     "\"%s\"", o2->id);
                }
            }
        }

        for (k = 0; k < i; k++) {
            if (memcmp(t->key_hashes[k], t->key_hashes[i], ZOLL_SHA256_LEN)
                == 0)
            {
                return zoll_fail(ld, q, "duplicate key");
            }
        }

        t->nkeys++;
    }

    return 0;
}


static int
zoll_load_grant(zoll_load_t *ld, json_t *o, const char *p, zoll_tenant_t *t,
    zoll_grant_t *g)
{
    static const char *const  keys[] = {
        "id", "credential_file", "regions", NULL
    };

    char         q[ZOLL_PATH_LEN];
    size_t       i, j;
    json_t      *arr, *v, *idv;
    const char  *cred;

    if (!json_is_object(o)) {
        return zoll_fail(ld, p, "must be an object");
    }

    idv = json_object_get(o, "id");
    zoll_path(q, p, "id");

    if (zoll_check_keys(ld, o, p, keys) != 0) {
        return -1;
    }

    if (idv == NULL) {
        return zoll_fail(ld, q, "is required");
    }

    if (zoll_sp_ref(ld, idv, q, &g->sp) != 0) {
        return -1;
    }

    for (i = 0; i < t->ngrants; i++) {
        if (t->grants[i].sp == g->sp) {
            return zoll_fail(ld, q, "\"%s\" is enabled twice", g->sp->id);
        }
    }

    if (zoll_get_str(ld, o, p, "credential_file", 0, &cred) != 0
        || zoll_get_array(ld, o, p, "regions", 0, &arr) != 0)
    {
        return -1;
    }

    zoll_path(q, p, "credential_file");

    if (cred) {
        if (zoll_read_credential(ld, q, cred, &g->credential) != 0) {
            return -1;
        }

    } else if (g->sp->credential == NULL) {
        return zoll_fail(ld, q, "is required: subprocessor \"%s\" has no "
                         "default credential", g->sp->id);
    }

    if (arr == NULL) {
        return 0;
    }

    if (json_array_size(arr) == 0) {
        zoll_path(q, p, "regions");
        return zoll_fail(ld, q, "must not be empty (omit it to allow every "
                         "region)");
    }

    g->regions = calloc(json_array_size(arr), sizeof(zoll_region_t *));
    if (g->regions == NULL) {
        return zoll_fail(ld, p, "out of memory");
    }

    json_array_foreach(arr, i, v) {
        zoll_path_index(q, p, "regions", i);

        if (!json_is_string(v)) {
            return zoll_fail(ld, q, "must be a region id (string)");
        }

        for (j = 0; j < g->sp->nregions; j++) {
            if (strcmp(g->sp->regions[j].id, json_string_value(v)) == 0) {
                break;
            }
        }

        if (j == g->sp->nregions) {
            return zoll_fail(ld, q, "subprocessor \"%s\" has no region "
                             "\"%s\"", g->sp->id, json_string_value(v));
        }

        g->regions[g->nregions++] = &g->sp->regions[j];
    }

    return 0;
}


static const char *const  zoll_op_names[ZOLL_OP_N] = {
    "keep", "mask", "pseudonymize", "tokenize", "block"
};


static int
zoll_get_op(zoll_load_t *ld, json_t *v, const char *path, unsigned char *op)
{
    unsigned     i;
    const char  *s = json_string_value(v);

    for (i = 0; s && i < ZOLL_OP_N; i++) {
        if (strcmp(s, zoll_op_names[i]) == 0) {
            *op = (unsigned char) i;
            return 0;
        }
    }

    return zoll_fail(ld, path, "must be one of keep, mask, pseudonymize, "
                     "tokenize, block");
}


/* A profile names an operator for every entity: "default" for the ones it
 * does not list, so a rule pack that gains an entity cannot let it through
 * unnoticed. */

static int
zoll_load_profile(zoll_load_t *ld, json_t *o, const char *p,
    zoll_profile_t *prof)
{
    static const char *const  keys[] = { "default", "entities",
                                         "description", NULL };

    char                 q[ZOLL_PATH_LEN], ep[ZOLL_PATH_LEN];
    int                  e;
    size_t               i;
    json_t              *ents, *v;
    const char          *name, *desc;
    unsigned char        def;
    const zoll_rules_t  *rs = ld->policy->rules;

    if (!json_is_object(o)) {
        return zoll_fail(ld, p, "must be an object");
    }

    if (zoll_check_keys(ld, o, p, keys) != 0
        || zoll_get_str(ld, o, p, "description", 0, &desc) != 0)
    {
        return -1;
    }

    zoll_path(q, p, "default");

    if (json_object_get(o, "default") == NULL) {
        return zoll_fail(ld, q, "is required");
    }

    if (zoll_get_op(ld, json_object_get(o, "default"), q, &def) != 0) {
        return -1;
    }

    for (i = 0; i < ZOLL_ENTITIES_MAX; i++) {
        prof->ops[i] = def;
    }

    ents = json_object_get(o, "entities");

    if (ents != NULL && !json_is_object(ents)) {
        zoll_path(q, p, "entities");
        return zoll_fail(ld, q, "must be an object");
    }

    json_object_foreach(ents, name, v) {
        zoll_path(ep, p, "entities");
        zoll_path(q, ep, name);

        e = zoll_rules_entity_index(rs, name);
        if (e < 0) {
            return zoll_fail(ld, q, "no rule pack detects \"%s\"", name);
        }

        if (zoll_get_op(ld, v, q, &prof->ops[e]) != 0) {
            return -1;
        }
    }

    for (i = 0; i < zoll_rules_entities(rs); i++) {
        prof->uses |= 1u << prof->ops[i];
    }

    return 0;
}


static const zoll_profile_t *
zoll_find_profile(const zoll_policy_t *p, const char *id)
{
    size_t  i;

    for (i = 0; i < p->nprofiles; i++) {
        if (strcmp(p->profiles[i].id, id) == 0) {
            return &p->profiles[i];
        }
    }

    return NULL;
}


/* One structural path, "$" followed by ".name" and "[*]" steps, into the
 * API's trie.  Names point into the policy's JSON strings. */

static int
zoll_path_insert(zoll_load_t *ld, const char *q, zoll_pnode_t *root,
    const char *path, zoll_pnode_t *pool, size_t *n)
{
    size_t         len;
    const char    *p, *name;
    zoll_pnode_t  *node, *c;

    if (path[0] != '$' || path[1] == '\0') {
        return zoll_fail(ld, q, "\"%s\": a path is \"$\" followed by "
                         "\".name\" and \"[*]\" steps", path);
    }

    node = root;

    for (p = path + 1; *p; node = c) {
        if (p[0] == '[' && p[1] == '*' && p[2] == ']') {
            name = NULL;
            len = 0;
            p += 3;

        } else if (p[0] == '.') {
            name = ++p;

            while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
                   || (*p >= '0' && *p <= '9') || *p == '_' || *p == '-')
            {
                p++;
            }

            len = p - name;

        } else {
            len = 0;
            name = "";
        }

        if (name != NULL && len == 0) {
            return zoll_fail(ld, q, "\"%s\": at offset %zu: expected "
                             "\".name\" (letters, digits, \"_\", \"-\") or "
                             "\"[*]\"", path, (size_t) (p - path));
        }

        for (c = node->child; c; c = c->next) {
            if (name == NULL ? c->name == NULL
                : (c->name != NULL && c->len == len
                   && memcmp(c->name, name, len) == 0))
            {
                break;
            }
        }

        if (c == NULL) {
            c = &pool[(*n)++];
            c->name = name;
            c->len = len;
            c->next = node->child;
            node->child = c;
        }
    }

    if (node->structural) {
        return zoll_fail(ld, q, "\"%s\" is listed twice", path);
    }

    node->structural = 1;
    return 0;
}


/* "structural_paths": API name -> paths whose strings and numbers are
 * protocol (model names, roles, ids, signatures), not prompt, and are not
 * scanned.  A path, not a key name: "id" in a tool's arguments or in
 * free-form metadata is scanned like any value. */

static int
zoll_load_structural(zoll_load_t *ld, json_t *obj)
{
    char            q[ZOLL_PATH_LEN];
    size_t          i, n, cap;
    json_t         *arr, *v;
    unsigned        a;
    const char     *api, *why;
    zoll_policy_t  *pol = ld->policy;

    if (obj == NULL) {
        return 0;
    }

    if (!json_is_object(obj)) {
        return zoll_fail(ld, "$.redaction.structural_paths", "must be an "
                         "object: API name -> array of paths");
    }

    /* every step takes at least two characters: a node per character and
     * a root per API are more than enough */
    cap = ZOLL_APIS;

    json_object_foreach(obj, api, arr) {
        if (zoll_json_comment(api)) {
            continue;
        }

        zoll_path(q, "$.redaction.structural_paths", api);

        for (a = 0; a < ZOLL_APIS; a++) {
            if (strcmp(api, zoll_api_name((zoll_api_e) a)) == 0) {
                break;
            }
        }

        if (a == ZOLL_APIS) {
            return zoll_fail(ld, q, "must be one of openai, anthropic, "
                             "gemini");
        }

        if (!json_is_array(arr)) {
            return zoll_fail(ld, q, "must be an array of paths");
        }

        json_array_foreach(arr, i, v) {
            why = zoll_json_str_problem(v);
            if (why != NULL) {
                zoll_path_index(q, "$.redaction.structural_paths", api, i);
                return zoll_fail(ld, q, "%s", why);
            }

            cap += json_string_length(v);
        }
    }

    pol->pnodes = calloc(cap, sizeof(zoll_pnode_t));
    if (pol->pnodes == NULL) {
        return zoll_fail(ld, "$.redaction.structural_paths", "out of memory");
    }

    for (n = 0; n < ZOLL_APIS; n++) {
        pol->structural[n] = &pol->pnodes[n];
    }

    json_object_foreach(obj, api, arr) {
        if (zoll_json_comment(api)) {
            continue;
        }

        for (a = 0; strcmp(api, zoll_api_name((zoll_api_e) a)) != 0; a++) {
            /* void: checked above */
        }

        json_array_foreach(arr, i, v) {
            zoll_path_index(q, "$.redaction.structural_paths", api, i);

            if (zoll_path_insert(ld, q, pol->structural[a],
                                 json_string_value(v), pol->pnodes, &n)
                != 0)
            {
                return -1;
            }
        }
    }

    return 0;
}


static int
zoll_load_redaction(zoll_load_t *ld, json_t *root)
{
    static const char *const  keys[] = {
        "rules", "rules_cache", "profiles", "default_profile",
        "structural_paths", "max_depth", NULL
    };

    char            q[ZOLL_PATH_LEN], dir[ZOLL_FILE_PATH_LEN], rerr[ZOLL_ERR_LEN];
    char            cache[ZOLL_FILE_PATH_LEN];
    json_t         *o, *profs, *v, *depth, *rc;
    const char     *rules, *name, *why, *cache_dir;
    zoll_policy_t  *pol = ld->policy;

    o = json_object_get(root, "redaction");

    if (o == NULL) {
        return zoll_fail(ld, "$.redaction", "is required: without rules "
                         "and profiles no body could be inspected");
    }

    if (!json_is_object(o)) {
        return zoll_fail(ld, "$.redaction", "must be an object");
    }

    if (json_object_get(o, "structural_keys") != NULL) {
        return zoll_fail(ld, "$.redaction.structural_keys", "is replaced "
                         "by \"structural_paths\" (paths per API, e.g. "
                         "\"$.messages[*].role\"): a key name matched at any "
                         "depth lets personal data through");
    }

    if (zoll_check_keys(ld, o, "$.redaction", keys) != 0
        || zoll_get_str(ld, o, "$.redaction", "rules", 1, &rules) != 0
        || zoll_load_structural(ld, json_object_get(o, "structural_paths"))
           != 0)
    {
        return -1;
    }

    if (zoll_policy_relative(ld, "$.redaction.rules", rules, dir) != 0) {
        return -1;
    }

    /* compiled rules are kept between loads; false: compile every time */
    rc = json_object_get(o, "rules_cache");
    cache_dir = ZOLL_RULES_CACHE_DIR;

    if (json_is_false(rc)) {
        cache_dir = NULL;

    } else if (rc != NULL) {
        why = zoll_json_str_problem(rc);
        if (why != NULL) {
            return zoll_fail(ld, "$.redaction.rules_cache", "%s, or false",
                             why);
        }

        if (zoll_policy_relative(ld, "$.redaction.rules_cache",
                                 json_string_value(rc), cache) != 0)
        {
            return -1;
        }

        cache_dir = cache;
    }

    pol->rules = zoll_rules_load(dir, cache_dir, rerr, sizeof(rerr));
    if (pol->rules == NULL) {
        return zoll_fail(ld, "$.redaction.rules", "%s", rerr);
    }

    depth = json_object_get(o, "max_depth");
    pol->max_depth = 64;

    if (depth != NULL) {
        if (!json_is_integer(depth) || json_integer_value(depth) < 2
            || json_integer_value(depth) > 1024)
        {
            return zoll_fail(ld, "$.redaction.max_depth", "must be an "
                             "integer from 2 to 1024");
        }

        pol->max_depth = (unsigned) json_integer_value(depth);
    }

    profs = json_object_get(o, "profiles");

    if (!json_is_object(profs) || json_object_size(profs) == 0) {
        return zoll_fail(ld, "$.redaction.profiles", "must be a non-empty "
                         "object");
    }

    pol->profiles = calloc(json_object_size(profs), sizeof(zoll_profile_t));
    if (pol->profiles == NULL) {
        return zoll_fail(ld, "$.redaction", "out of memory");
    }

    json_object_foreach(profs, name, v) {
        zoll_path(q, "$.redaction.profiles", name);

        if (!zoll_is_id(name)) {
            return zoll_fail(ld, q, "profile names may hold letters, "
                             "digits, \"_\", \"-\" and \".\" only");
        }

        pol->profiles[pol->nprofiles].id = name;

        if (zoll_load_profile(ld, v, q, &pol->profiles[pol->nprofiles])
            != 0)
        {
            return -1;
        }

        pol->nprofiles++;
    }

    if (zoll_get_str(ld, o, "$.redaction", "default_profile", 0, &name) != 0)
    {
        return -1;
    }

    if (name != NULL) {
        pol->default_profile = zoll_find_profile(pol, name);

        if (pol->default_profile == NULL) {
            return zoll_fail(ld, "$.redaction.default_profile", "unknown "
                             "redaction profile \"%s\"", name);
        }
    }

    return 0;
}


/* The tenant's profile (else the policy's default) and, if it
 * pseudonymises anything, the tenant's own pseudonym key: one key per
 * tenant, so the same value gives unlinkable pseudonyms across tenants. */

static int
zoll_load_tenant_redaction(zoll_load_t *ld, json_t *o, const char *p,
    zoll_tenant_t *t)
{
    char         q[ZOLL_PATH_LEN];
    const char  *prof, *keyfile;

    if (zoll_get_str(ld, o, p, "redaction", 0, &prof) != 0
        || zoll_get_str(ld, o, p, "pseudonym_key_file", 0, &keyfile) != 0)
    {
        return -1;
    }

    zoll_path(q, p, "redaction");

    if (prof == NULL) {
        t->profile = ld->policy->default_profile;

        if (t->profile == NULL) {
            return zoll_fail(ld, q, "is required when "
                             "$.redaction.default_profile is not set");
        }

    } else {
        t->profile = zoll_find_profile(ld->policy, prof);

        if (t->profile == NULL) {
            return zoll_fail(ld, q, "unknown redaction profile \"%s\"",
                             prof);
        }
    }

    zoll_path(q, p, "pseudonym_key_file");

    if (keyfile == NULL) {
        if (t->profile->uses & (1u << ZOLL_OP_PSEUDONYMIZE)) {
            return zoll_fail(ld, q, "is required: profile \"%s\" "
                             "pseudonymises", t->profile->id);
        }

        return 0;
    }

    if (zoll_read_credential(ld, q, keyfile, &t->pseudonym_key) != 0) {
        return -1;
    }

    if (strlen(t->pseudonym_key) < 16) {
        return zoll_fail(ld, q, "the key must be at least 16 characters");
    }

    return 0;
}


static int
zoll_residency(zoll_load_t *ld, const char *path, const char *name,
    zoll_residency_e *out)
{
    zoll_residency_e  r;

    for (r = ZOLL_RESIDENCY_EEA_ONLY; r <= ZOLL_RESIDENCY_ANY; r++) {
        if (strcmp(name, zoll_residency_name(r)) == 0) {
            *out = r;
            return 0;
        }
    }

    return zoll_fail(ld, path, "must be one of eea_only, adequate, any");
}


/*
 * "subjects": the residency for a data subject in each area (by GeoIP or
 * the application's assertion).  Without it the subject's location does
 * not matter to the tenant.  With it, an area it leaves out gets the
 * strictest mode, eea_only, and no rule may be wider than the tenant's
 * "residency", which stays the most the tenant ever allows.
 */

static int
zoll_load_subjects(zoll_load_t *ld, json_t *o, const char *p,
    zoll_tenant_t *t)
{
    /* in the order of zoll_area_e */
    static const char *const  keys[] = {
        "eea", "adequacy", "other", "unknown", NULL
    };

    char         q[ZOLL_PATH_LEN], r[ZOLL_PATH_LEN];
    json_t      *subj;
    unsigned     a;
    const char  *name;

    subj = json_object_get(o, "subjects");

    for (a = 0; a < ZOLL_AREA_N; a++) {
        t->subjects[a] = subj ? ZOLL_RESIDENCY_EEA_ONLY : t->residency;
    }

    if (subj == NULL) {
        return 0;
    }

    zoll_path(q, p, "subjects");

    if (!json_is_object(subj)) {
        return zoll_fail(ld, q, "must be an object");
    }

    if (zoll_check_keys(ld, subj, q, keys) != 0) {
        return -1;
    }

    t->has_subjects = 1;

    for (a = 0; a < ZOLL_AREA_N; a++) {
        if (zoll_get_str(ld, subj, q, keys[a], 0, &name) != 0) {
            return -1;
        }

        if (name == NULL) {
            continue;
        }

        zoll_path(r, q, keys[a]);

        if (zoll_residency(ld, r, name, &t->subjects[a]) != 0) {
            return -1;
        }

        if (t->subjects[a] > t->residency) {
            return zoll_fail(ld, r, "\"%s\" is wider than the tenant's "
                             "residency \"%s\"", name,
                             zoll_residency_name(t->residency));
        }
    }

    return 0;
}


static int
zoll_load_tenant(zoll_load_t *ld, json_t *o, const char *p, zoll_tenant_t *t)
{
    static const char *const  keys[] = {
        "id", "name", "keys", "residency", "subjects", "subprocessors",
        "objections", "redaction", "pseudonym_key_file", NULL
    };

    char                  q[ZOLL_PATH_LEN];
    size_t                i, j, n;
    json_t               *grants, *obj, *v;
    const char           *name, *res;
    zoll_policy_t        *pol = ld->policy;
    zoll_grant_t         *g;

    if (!json_is_object(o)) {
        return zoll_fail(ld, p, "must be an object");
    }

    if (zoll_check_keys(ld, o, p, keys) != 0
        || zoll_get_id(ld, o, p, &t->id) != 0
        || zoll_get_str(ld, o, p, "name", 0, &name) != 0
        || zoll_get_str(ld, o, p, "residency", 1, &res) != 0
        || zoll_get_array(ld, o, p, "subprocessors", 0, &grants) != 0
        || zoll_get_array(ld, o, p, "objections", 0, &obj) != 0)
    {
        return -1;
    }

    if (zoll_policy_tenant_by_id(pol, t->id) != NULL) {
        return zoll_fail(ld, p, "duplicate tenant id \"%s\"", t->id);
    }

    zoll_path(q, p, "residency");

    if (zoll_residency(ld, q, res, &t->residency) != 0
        || zoll_load_subjects(ld, o, p, t) != 0
        || zoll_load_keys(ld, o, p, t) != 0
        || zoll_load_tenant_redaction(ld, o, p, t) != 0)
    {
        return -1;
    }

    if (obj != NULL) {
        t->objections = calloc(json_array_size(obj) + 1, sizeof(void *));
        if (t->objections == NULL) {
            return zoll_fail(ld, p, "out of memory");
        }

        json_array_foreach(obj, i, v) {
            zoll_path_index(q, p, "objections", i);

            if (zoll_sp_ref(ld, v, q, &t->objections[i]) != 0) {
                return -1;
            }

            t->nobjections++;
        }
    }

    /* explicit grants, then every enabled_by_default subprocessor the
     * tenant neither configured nor objected to */
    n = (grants ? json_array_size(grants) : 0) + pol->nsps;

    t->grants = calloc(n, sizeof(zoll_grant_t));
    if (t->grants == NULL) {
        return zoll_fail(ld, p, "out of memory");
    }

    for (i = 0; grants && i < json_array_size(grants); i++) {
        zoll_path_index(q, p, "subprocessors", i);
        g = &t->grants[t->ngrants];

        if (zoll_load_grant(ld, json_array_get(grants, i), q, t, g) != 0) {
            t->ngrants++;   /* so that its credential is freed */
            return -1;
        }

        t->ngrants++;

        for (j = 0; j < t->nobjections; j++) {
            if (t->objections[j] == g->sp) {
                return zoll_fail(ld, q, "tenant both enables and objects to "
                                 "\"%s\"", g->sp->id);
            }
        }
    }

    for (i = 0; i < pol->nsps; i++) {
        const zoll_subprocessor_t  *sp = &pol->sps[i];

        if (!sp->enabled_by_default) {
            continue;
        }

        for (j = 0; j < t->ngrants && t->grants[j].sp != sp; j++) {
            /* void */
        }

        if (j < t->ngrants) {
            continue;
        }

        for (j = 0; j < t->nobjections && t->objections[j] != sp; j++) {
            /* void */
        }

        if (j < t->nobjections) {
            continue;
        }

        t->grants[t->ngrants++].sp = sp;
    }

    return 0;
}


static int
zoll_load_tenants(zoll_load_t *ld, json_t *root)
{
    char            p[ZOLL_PATH_LEN];
    size_t          i;
    json_t         *arr, *o;
    zoll_policy_t  *pol = ld->policy;

    if (zoll_get_array(ld, root, "$", "tenants", 1, &arr) != 0) {
        return -1;
    }

    pol->tenants = calloc(json_array_size(arr), sizeof(zoll_tenant_t));
    if (pol->tenants == NULL) {
        return zoll_fail(ld, "$.tenants", "out of memory");
    }

    json_array_foreach(arr, i, o) {
        zoll_path_index(p, "$", "tenants", i);

        if (zoll_load_tenant(ld, o, p, &pol->tenants[i]) != 0) {
            pol->ntenants = i + 1;
            return -1;
        }

        pol->ntenants++;
    }

    return 0;
}


/* An optional whole number in [min, max]; def when absent. */

static int
zoll_get_uint(zoll_load_t *ld, json_t *obj, const char *path, const char *key,
    unsigned min, unsigned max, unsigned def, unsigned *out)
{
    char        p[ZOLL_PATH_LEN];
    json_t     *v;
    json_int_t  n;

    *out = def;
    v = json_object_get(obj, key);

    if (v == NULL) {
        return 0;
    }

    n = json_is_integer(v) ? json_integer_value(v) : -1;

    if (n < (json_int_t) min || n > (json_int_t) max) {
        zoll_path(p, path, key);
        return zoll_fail(ld, p, "must be a whole number from %u to %u",
                         min, max);
    }

    *out = (unsigned) n;
    return 0;
}


static int
zoll_get_enum(zoll_load_t *ld, json_t *obj, const char *path, const char *key,
    const char *const *names, const char *list, unsigned *out)
{
    char         p[ZOLL_PATH_LEN];
    unsigned     i;
    const char  *v;

    if (zoll_get_str(ld, obj, path, key, 0, &v) != 0) {
        return -1;
    }

    if (v == NULL) {
        *out = 0;
        return 0;
    }

    for (i = 0; names[i]; i++) {
        if (strcmp(v, names[i]) == 0) {
            *out = i;
            return 0;
        }
    }

    zoll_path(p, path, key);
    return zoll_fail(ld, p, "must be one of %s", list);
}


static int zoll_load_logging_section(zoll_load_t *ld, json_t *o,
    zoll_log_conf_t *lc);


/* The Ed25519 key that signs the transfer log's checkpoints.  Its id, the
 * first 8 bytes of SHA-256 over the raw public key, names it in every
 * checkpoint, so a verifier holding several public keys (after a key
 * rotation) knows which one applies. */

static int
zoll_load_signing_key(zoll_load_t *ld, const char *file)
{
    char            full[ZOLL_FILE_PATH_LEN];
    char            path[] = "$.logging.signing_key_file";
    unsigned char   raw[32], h[ZOLL_SHA256_LEN];
    size_t          rawlen = sizeof(raw);
    FILE           *f;
    EVP_PKEY       *k;

    f = zoll_open(ld, path, file, full);
    if (f == NULL) {
        return -1;
    }

    k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);

    if (k == NULL) {
        ERR_clear_error();
        return zoll_fail(ld, path, "\"%s\" is not a PEM private key "
                         "(make one with: openssl genpkey -algorithm "
                         "ed25519)", full);
    }

    if (EVP_PKEY_id(k) != EVP_PKEY_ED25519
        || EVP_PKEY_get_raw_public_key(k, raw, &rawlen) != 1)
    {
        EVP_PKEY_free(k);
        return zoll_fail(ld, path, "\"%s\" must be an Ed25519 key", full);
    }

    zoll_sha256(raw, rawlen, h);
    memcpy(ld->policy->log_key_id, "ed25519:", 8);
    zoll_hex(h, 8, ld->policy->log_key_id + 8);
    ld->policy->log_key = k;
    ld->policy->log.signing = 1;

    return 0;
}


static int
zoll_load_logging(zoll_load_t *ld, json_t *root)
{
    int               rc;
    json_t           *o;
    zoll_log_conf_t  *lc = &ld->policy->log;

    o = json_object_get(root, "logging");

    if (o == NULL) {
        /* no section: an empty one gives every default */
        o = json_object();
        if (o == NULL) {
            return zoll_fail(ld, "$.logging", "out of memory");
        }

        rc = zoll_load_logging_section(ld, o, lc);
        json_decref(o);
        return rc;
    }

    if (!json_is_object(o)) {
        return zoll_fail(ld, "$.logging", "must be an object");
    }

    return zoll_load_logging_section(ld, o, lc);
}


static int
zoll_load_logging_section(zoll_load_t *ld, json_t *o, zoll_log_conf_t *lc)
{
    static const char *const  keys[] = {
        "client_address", "signing_key_file", "durability",
        "sync_interval_ms", "checkpoint_records", "checkpoint_seconds",
        "retention_days", NULL
    };
    static const char *const  addr[] = { "truncate", "hmac", "omit", NULL };
    static const char *const  dur[] = { "write", "interval", "sync", NULL };

    unsigned     mode, durability;
    const char  *key;

    if (zoll_check_keys(ld, o, "$.logging", keys) != 0
        || zoll_get_enum(ld, o, "$.logging", "client_address", addr,
                         "truncate, hmac, omit", &mode) != 0
        || zoll_get_enum(ld, o, "$.logging", "durability", dur,
                         "write, interval, sync", &durability) != 0
        || zoll_get_uint(ld, o, "$.logging", "sync_interval_ms", 1, 60000,
                         1000, &lc->sync_interval_ms) != 0
        || zoll_get_uint(ld, o, "$.logging", "checkpoint_records", 1,
                         1000000, 1000, &lc->checkpoint_records) != 0
        || zoll_get_uint(ld, o, "$.logging", "checkpoint_seconds", 1, 86400,
                         60, &lc->checkpoint_seconds) != 0
        || zoll_get_uint(ld, o, "$.logging", "retention_days", 0, 36500, 0,
                         &lc->retention_days) != 0
        || zoll_get_str(ld, o, "$.logging", "signing_key_file", 0, &key)
           != 0)
    {
        return -1;
    }

    /* the enums' order is the order of the names above */
    lc->client_addr = (zoll_client_addr_e) mode;
    lc->durability = (zoll_durability_e) durability;

    return key ? zoll_load_signing_key(ld, key) : 0;
}


/* "geoip": {"database": FILE}, relative to the policy; opened here so
 * that a missing or unreadable database fails zollctl check and nginx -t */

static int
zoll_load_geoip(zoll_load_t *ld, json_t *root)
{
    static const char *const  keys[] = { "database", NULL };

    char         full[ZOLL_FILE_PATH_LEN], err[ZOLL_ERR_LEN];
    json_t      *g;
    const char  *db;

    g = json_object_get(root, "geoip");
    if (g == NULL) {
        return 0;
    }

    if (!json_is_object(g)) {
        return zoll_fail(ld, "$.geoip", "must be an object");
    }

    if (zoll_check_keys(ld, g, "$.geoip", keys) != 0
        || zoll_get_str(ld, g, "$.geoip", "database", 1, &db) != 0
        || zoll_policy_relative(ld, "$.geoip.database", db, full) != 0)
    {
        return -1;
    }

    ld->policy->geoip = zoll_geoip_open(full, err, sizeof(err));
    if (ld->policy->geoip == NULL) {
        return zoll_fail(ld, "$.geoip.database", "%s", err);
    }

    return 0;
}


zoll_policy_t *
zoll_policy_parse(const char *json, size_t len, const char *base_dir,
    char *err, size_t errlen)
{
    static const char *const  keys[] = {
        "version", "policy_id", "as_of", "legal_bases", "countries",
        "geoip", "subprocessors", "redaction", "tenants", "logging", NULL
    };

    json_t         *root, *ver;
    json_error_t    jerr;
    zoll_load_t     ld;
    zoll_policy_t  *p;
    unsigned char   md[ZOLL_SHA256_LEN];
    const char     *id;

    ld.err = err;
    ld.errlen = errlen;
    ld.base_dir = base_dir;

    root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        snprintf(err, errlen, "line %d, column %d: %s", jerr.line,
                 jerr.column, jerr.text);
        return NULL;
    }

    p = calloc(1, sizeof(zoll_policy_t));
    if (p == NULL) {
        json_decref(root);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }

    p->root = root;
    ld.policy = p;

    if (!json_is_object(root)) {
        zoll_fail(&ld, "$", "must be an object");
        goto failed;
    }

    ver = json_object_get(root, "version");

    if (!json_is_integer(ver) || json_integer_value(ver) != 1) {
        zoll_fail(&ld, "$.version", "must be 1");
        goto failed;
    }

    if (zoll_check_keys(&ld, root, "$", keys) != 0
        || zoll_get_str(&ld, root, "$", "policy_id", 0, &id) != 0
        || zoll_get_str(&ld, root, "$", "as_of", 0, &id) != 0
        || zoll_load_bases(&ld, root) != 0
        || zoll_load_countries(&ld, root) != 0
        || zoll_load_geoip(&ld, root) != 0
        || zoll_load_subprocessors(&ld, root) != 0
        || zoll_load_redaction(&ld, root) != 0
        || zoll_load_tenants(&ld, root) != 0
        || zoll_load_logging(&ld, root) != 0)
    {
        goto failed;
    }

    zoll_sha256(json, len, md);
    memcpy(p->digest, "sha256:", 7);
    zoll_hex(md, ZOLL_SHA256_LEN, p->digest + 7);

    return p;

failed:

    zoll_policy_free(p);
    return NULL;
}


zoll_policy_t *
zoll_policy_load(const char *path, char *err, size_t errlen)
{
    char           *buf, *dir, *slash;
    off_t           size;
    size_t          n;
    FILE           *f;
    struct stat     st;
    zoll_policy_t  *p;

    f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(err, errlen, "cannot open: %s", strerror(errno));
        return NULL;
    }

    if (fstat(fileno(f), &st) != 0) {
        snprintf(err, errlen, "cannot read: %s", strerror(errno));
        fclose(f);
        return NULL;
    }

    if (!S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "not a regular file");
        fclose(f);
        return NULL;
    }

    size = st.st_size;

    if (size > ZOLL_POLICY_MAX) {
        snprintf(err, errlen, "larger than %d bytes", ZOLL_POLICY_MAX);
        fclose(f);
        return NULL;
    }

    buf = malloc(size + 1);
    dir = strdup(path);

    if (buf == NULL || dir == NULL) {
        free(buf);
        free(dir);
        fclose(f);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }

    n = fread(buf, 1, size, f);
    fclose(f);

    if (n != (size_t) size) {
        snprintf(err, errlen, "short read");
        free(buf);
        free(dir);
        return NULL;
    }

    /* credential files are relative to the policy file */
    slash = strrchr(dir, '/');

    if (slash == NULL) {
        strcpy(dir, ".");

    } else if (slash == dir) {
        dir[1] = '\0';

    } else {
        *slash = '\0';
    }

    p = zoll_policy_parse(buf, n, dir, err, errlen);

    free(buf);
    free(dir);
    return p;
}


static void
zoll_secret_free(char *s)
{
    if (s) {
        OPENSSL_cleanse(s, strlen(s));
        free(s);
    }
}


void
zoll_policy_free(zoll_policy_t *p)
{
    size_t  i, j;

    if (p == NULL) {
        return;
    }

    for (i = 0; i < p->nsps; i++) {
        zoll_secret_free(p->sps[i].credential);

        for (j = 0; j < p->sps[i].nregions; j++) {
            free((char *) p->sps[i].regions[j].host);
            free(p->sps[i].regions[j].bases);
        }

        /* a region that failed half-way may hold a host already */
        if (p->sps[i].regions) {
            free((char *) p->sps[i].regions[p->sps[i].nregions].host);
            free(p->sps[i].regions[p->sps[i].nregions].bases);
        }

        free(p->sps[i].regions);
    }

    for (i = 0; i < p->ntenants; i++) {
        for (j = 0; j < p->tenants[i].ngrants; j++) {
            zoll_secret_free(p->tenants[i].grants[j].credential);
            free(p->tenants[i].grants[j].regions);
        }

        free(p->tenants[i].grants);
        free(p->tenants[i].key_hashes);
        zoll_secret_free(p->tenants[i].pseudonym_key);
        free(p->tenants[i].objections);
    }

    free(p->sps);
    free(p->tenants);
    free(p->bases);
    free(p->eea);
    free(p->adequacy);
    zoll_geoip_free(p->geoip);
    free(p->profiles);
    free(p->pnodes);
    zoll_rules_free(p->rules);
    EVP_PKEY_free(p->log_key);
    json_decref(p->root);
    free(p);
}


const zoll_rules_t *
zoll_policy_rules(const zoll_policy_t *p)
{
    return p->rules;
}


const char *
zoll_policy_digest(const zoll_policy_t *p)
{
    return p->digest;
}


const zoll_geoip_t *
zoll_policy_geoip(const zoll_policy_t *p)
{
    return p->geoip;
}


const zoll_log_conf_t *
zoll_policy_log(const zoll_policy_t *p)
{
    return &p->log;
}


const zoll_subprocessor_t *
zoll_policy_subprocessor(const zoll_policy_t *p, const char *id)
{
    size_t  i;

    for (i = 0; i < p->nsps; i++) {
        if (p->sps[i].id && strcmp(p->sps[i].id, id) == 0) {
            return &p->sps[i];
        }
    }

    return NULL;
}


const zoll_tenant_t *
zoll_policy_tenant_by_id(const zoll_policy_t *p, const char *id)
{
    size_t  i;

    for (i = 0; i < p->ntenants; i++) {
        if (p->tenants[i].id && strcmp(p->tenants[i].id, id) == 0) {
            return &p->tenants[i];
        }
    }

    return NULL;
}


int
zoll_policy_is_eea(const zoll_policy_t *p, const char *country)
{
    size_t  i;

    for (i = 0; i < p->neea; i++) {
        if (strcmp(p->eea[i], country) == 0) {
            return 1;
        }
    }

    return 0;
}


const zoll_legal_basis_t *
zoll_adequacy_basis(const zoll_policy_t *p, const char *country,
    const zoll_legal_basis_t *basis)
{
    size_t  i;

    for (i = 0; i < p->nadequacy; i++) {
        if (p->adequacy[i].basis == basis
            && strcmp(p->adequacy[i].country, country) == 0)
        {
            return basis;
        }
    }

    return NULL;
}
