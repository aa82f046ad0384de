
/*
 * ngx_http_zoll_module: the nginx connector of the Zoll engine.
 *
 * In the precontent phase it refuses requests that did not come over TLS 1.2+,
 * authenticates the tenant by the key the provider SDK sends, asks the engine
 * where the request may go, reads the whole request body and has the engine
 * redact it, replaces the body with the redacted one, writes the transfer
 * record and only then lets the stock proxy module forward the request,
 * using the variables set here ($zoll_upstream, $zoll_upstream_host,
 * $zoll_credential, ...).  In the log phase it records the outcome.  Its
 * output filters turn nginx's own 413 for a body above
 * client_max_body_size into Zoll's refusal and record, and have the engine
 * restore the request's reversible tokens in the response.  It
 * knows nothing about PII or law: all of that is in the engine (policy/).
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <zoll.h>

#include "ngx_http_zoll_log.h"


#define NGX_HTTP_ZOLL_RECORD_LEN  2048
#define NGX_HTTP_ZOLL_MAX_BODY    (8 * 1024 * 1024)
#define NGX_HTTP_ZOLL_OUT_BUF     4096
/* restored output not yet sent to the client, in buffer bytes: above it
 * the provider's buffers are left unread, so a slow client slows the
 * provider down instead of filling the worker's memory */
#define NGX_HTTP_ZOLL_BUSY_MAX    (64 * 1024)
/* r->buffered: unread provider buffers are kept (the image filter's bit;
 * image_filter has no place in a Zoll location) */
#define NGX_HTTP_ZOLL_BUFFERED    0x08

/* the methods of the provider APIs (files and responses are deleted) */
#define NGX_HTTP_ZOLL_METHODS  (NGX_HTTP_GET|NGX_HTTP_POST|NGX_HTTP_DELETE)


typedef struct {
    ngx_str_t                   policy_path;
    zoll_policy_t              *policy;
    zoll_geoip_t               *geoip;     /* zoll_geoip's, or NULL */
    const zoll_geoip_t         *geo;       /* that, else the policy's */
    ngx_http_zoll_log_t         log;
    ngx_int_t                   request_id_index;
    ngx_array_t                 key_vars;  /* indexes of $http_x_api_key.. */
    ngx_array_t                 used;      /* subprocessors of locations */
    zoll_redactor_t            *redactor;  /* this worker's */
} ngx_http_zoll_main_conf_t;


typedef struct {
    /* NULL: not configured here; &ngx_http_zoll_off: "zoll off" */
    const zoll_subprocessor_t  *sp;
    off_t                       max_body;
} ngx_http_zoll_loc_conf_t;


/* a reversible token of the request and the value it stands for, kept in
 * the request's pool for the response side */
typedef struct {
    ngx_str_t                   token;
    ngx_str_t                   value;
} ngx_http_zoll_token_t;


typedef struct {
    ngx_http_request_t         *request;
    zoll_request_info_t         ri;
    zoll_decision_t             d;
    ngx_str_t                   upstream;  /* "https://" + upstream name */
    const zoll_tenant_t        *tenant;    /* authenticated tenant */
    const char                 *auth_error;
    ngx_array_t                *tokens;    /* ngx_http_zoll_token_t */
    ngx_uint_t                  redactions;
    ngx_int_t                   body_rc;   /* the phase's result, once the
                                              body has been inspected */
    ngx_buf_t                  *error_body;  /* replaces nginx's page */
    zoll_restorer_t            *restorer;  /* the response's, or NULL */
    ngx_chain_t                *in;        /* provider buffers not read */
    ngx_chain_t                *free;      /* its output buffers */
    ngx_chain_t                *busy;
    unsigned                    authenticated:1;  /* the key was checked */
    unsigned                    decided:1;
    unsigned                    forwarded:1;
    unsigned                    inspected:1;
    unsigned                    reading_body:1;
    unsigned                    recorded:1;  /* its decision record was
                                                written, or tried */
} ngx_http_zoll_ctx_t;


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


/* "zoll off": a location a Zoll request may be redirected to */
static const zoll_subprocessor_t  ngx_http_zoll_off;


typedef enum {
    NGX_HTTP_ZOLL_VAR_TENANT = 0,
    NGX_HTTP_ZOLL_VAR_UPSTREAM,
    NGX_HTTP_ZOLL_VAR_UPSTREAM_HOST,
    NGX_HTTP_ZOLL_VAR_REGION,
    NGX_HTTP_ZOLL_VAR_COUNTRY,
    NGX_HTTP_ZOLL_VAR_LEGAL_BASIS,
    NGX_HTTP_ZOLL_VAR_CREDENTIAL,
    NGX_HTTP_ZOLL_VAR_REQUEST_ID,
    NGX_HTTP_ZOLL_VAR_REDACTIONS,
    NGX_HTTP_ZOLL_VAR_SUBJECT_COUNTRY,
    NGX_HTTP_ZOLL_VAR_SUBJECT_AREA
} ngx_http_zoll_var_e;


static ngx_int_t ngx_http_zoll_handler(ngx_http_request_t *r);
static void ngx_http_zoll_body_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_zoll_init_process(ngx_cycle_t *cycle);
static void ngx_http_zoll_exit_process(ngx_cycle_t *cycle);
static ngx_int_t ngx_http_zoll_init_module(ngx_cycle_t *cycle);
static void ngx_http_zoll_exit_master(ngx_cycle_t *cycle);
static ngx_int_t ngx_http_zoll_refusal_handler(ngx_http_request_t *r);
static void ngx_http_zoll_cleanup_ctx(void *data);
static ngx_int_t ngx_http_zoll_restore_header(ngx_http_request_t *r,
    ngx_http_zoll_ctx_t *ctx);
static ngx_int_t ngx_http_zoll_unrestorable(ngx_http_request_t *r,
    ngx_http_zoll_ctx_t *ctx);
static ngx_int_t ngx_http_zoll_restore_body(ngx_http_request_t *r,
    ngx_http_zoll_ctx_t *ctx, ngx_chain_t *in);
static ngx_int_t ngx_http_zoll_log_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_zoll_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);

static ngx_int_t ngx_http_zoll_add_variables(ngx_conf_t *cf);
static ngx_int_t ngx_http_zoll_init(ngx_conf_t *cf);
static void *ngx_http_zoll_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_zoll_init_main_conf(ngx_conf_t *cf, void *conf);
static char *ngx_http_zoll_check_upstreams(ngx_conf_t *cf,
    ngx_http_zoll_main_conf_t *zmcf);
static void *ngx_http_zoll_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_zoll_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_http_zoll_policy(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_zoll_transfer_log(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_zoll_geoip(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_zoll(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);


static ngx_command_t  ngx_http_zoll_commands[] = {

    { ngx_string("zoll_policy"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_zoll_policy,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("zoll_transfer_log"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_zoll_transfer_log,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("zoll_geoip"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_zoll_geoip,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("zoll"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_zoll,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("zoll_max_body_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_off_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_zoll_loc_conf_t, max_body),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_zoll_module_ctx = {
    ngx_http_zoll_add_variables,           /* preconfiguration */
    ngx_http_zoll_init,                    /* postconfiguration */

    ngx_http_zoll_create_main_conf,        /* create main configuration */
    ngx_http_zoll_init_main_conf,          /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_zoll_create_loc_conf,         /* create location configuration */
    ngx_http_zoll_merge_loc_conf           /* merge location configuration */
};


ngx_module_t  ngx_http_zoll_module = {
    NGX_MODULE_V1,
    &ngx_http_zoll_module_ctx,             /* module context */
    ngx_http_zoll_commands,                /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    ngx_http_zoll_init_module,             /* init module */
    ngx_http_zoll_init_process,            /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_zoll_exit_process,            /* exit process */
    ngx_http_zoll_exit_master,             /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_http_variable_t  ngx_http_zoll_vars[] = {

    { ngx_string("zoll_tenant"), NULL, ngx_http_zoll_variable,
      NGX_HTTP_ZOLL_VAR_TENANT, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("zoll_upstream"), NULL, ngx_http_zoll_variable,
      NGX_HTTP_ZOLL_VAR_UPSTREAM, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("zoll_upstream_host"), NULL, ngx_http_zoll_variable,
      NGX_HTTP_ZOLL_VAR_UPSTREAM_HOST, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("zoll_region"), NULL, ngx_http_zoll_variable,
      NGX_HTTP_ZOLL_VAR_REGION, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("zoll_country"), NULL, ngx_http_zoll_variable,
      NGX_HTTP_ZOLL_VAR_COUNTRY, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("zoll_legal_basis"), NULL, ngx_http_zoll_variable,
      NGX_HTTP_ZOLL_VAR_LEGAL_BASIS, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    /* NOHASH: usable by index (proxy_set_header), but not by name at run
     * time (SSI "echo", njs), where a response could reveal it */
    { ngx_string("zoll_credential"), NULL, ngx_http_zoll_variable,
      NGX_HTTP_ZOLL_VAR_CREDENTIAL,
      NGX_HTTP_VAR_NOCACHEABLE|NGX_HTTP_VAR_NOHASH, 0 },

    { ngx_string("zoll_request_id"), NULL, ngx_http_zoll_variable,
      NGX_HTTP_ZOLL_VAR_REQUEST_ID, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("zoll_redactions"), NULL, ngx_http_zoll_variable,
      NGX_HTTP_ZOLL_VAR_REDACTIONS, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("zoll_subject_country"), NULL, ngx_http_zoll_variable,
      NGX_HTTP_ZOLL_VAR_SUBJECT_COUNTRY, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("zoll_subject_area"), NULL, ngx_http_zoll_variable,
      NGX_HTTP_ZOLL_VAR_SUBJECT_AREA, NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


/* Headers that carry a client's key to Zoll.  They are matched by
 * lower-case name and never forwarded: upstream gets the tenant's own
 * provider credential instead, set with proxy_set_header. */

static ngx_str_t  ngx_http_zoll_key_headers[] = {
    ngx_string("authorization"),
    ngx_string("x-api-key"),
    ngx_string("x-goog-api-key"),
    ngx_null_string
};


/* Headers of other credential schemes: Azure OpenAI's "api-key" and a
 * proxy's credential.  Zoll takes no key from them and the proxy would
 * pass them on, so a request carrying one is refused: no second
 * credential may reach the provider beside the tenant's. */

static ngx_str_t  ngx_http_zoll_foreign_credentials[] = {
    ngx_string("api-key"),
    ngx_string("proxy-authorization"),
    ngx_null_string
};


/* Variables that may have cached the key before it was stripped. */

static ngx_str_t  ngx_http_zoll_key_vars[] = {
    ngx_string("http_authorization"),
    ngx_string("http_x_api_key"),
    ngx_string("http_x_goog_api_key"),
    ngx_string("arg_key"),
    ngx_null_string
};


/* The application's assertion of where the data subject is: it can only
 * narrow the tenant's rules; it is not forwarded. */

static ngx_str_t  ngx_http_zoll_subject_header =
    ngx_string("x-zoll-subject-country");


/* The response must come back as plain text for the tokens to be
 * restored: the client's Accept-Encoding is not forwarded (nginx's gzip
 * filter may still compress what goes to the client). */

static ngx_str_t  ngx_http_zoll_accept_encoding =
    ngx_string("accept-encoding");


static ngx_uint_t
ngx_http_zoll_is_header(ngx_table_elt_t *h, ngx_str_t *name)
{
    return h->key.len == name->len
           && ngx_strncmp(h->lowcase_key, name->data, name->len) == 0;
}


/* request handling */

static ngx_uint_t
ngx_http_zoll_tls_ok(ngx_http_request_t *r)
{
#if (NGX_HTTP_SSL)
    if (r->connection->ssl == NULL) {
        return 0;
    }

    /* do not trust ssl_protocols alone: a server block may allow old
     * protocols for other locations */
    return SSL_version(r->connection->ssl->connection) >= TLS1_2_VERSION;
#else
    return 0;
#endif
}


static ngx_uint_t
ngx_http_zoll_header_in(ngx_table_elt_t *h, ngx_str_t *names)
{
    ngx_str_t  *name;

    for (name = names; name->len; name++) {
        if (ngx_http_zoll_is_header(h, name)) {
            return 1;
        }
    }

    return 0;
}


/* Google's clients may send the key as a query argument, "?key=...". */

static u_char *
ngx_http_zoll_next_arg(u_char *p, u_char *end, ngx_str_t *arg,
    ngx_flag_t *is_key)
{
    u_char   *amp, *eq, *dst, *src, name[16];
    size_t    n;

    amp = ngx_strlchr(p, end, '&');
    arg->data = p;
    arg->len = (amp ? amp : end) - p;

    eq = ngx_strlchr(p, p + arg->len, '=');
    n = (eq ? eq : p + arg->len) - p;

    /* the provider decodes "%6Bey" to "key": so must we; a longer name
     * cannot decode to "key" */
    *is_key = 0;

    if (n <= sizeof(name)) {
        src = p;
        dst = name;
        ngx_unescape_uri(&dst, &src, n, NGX_UNESCAPE_URI);
        *is_key = (dst - name == 3 && ngx_strncmp(name, "key", 3) == 0);
    }

    return amp ? amp + 1 : end;
}


/* The decoded value of "key=...". */

static ngx_int_t
ngx_http_zoll_arg_value(ngx_http_request_t *r, ngx_str_t *arg)
{
    u_char  *eq, *src, *dst;

    eq = ngx_strlchr(arg->data, arg->data + arg->len, '=');

    if (eq == NULL) {
        arg->len = 0;
        return NGX_OK;
    }

    src = eq + 1;
    arg->len -= src - arg->data;

    dst = ngx_pnalloc(r->pool, arg->len + 1);
    if (dst == NULL) {
        return NGX_ERROR;
    }

    arg->data = dst;
    ngx_unescape_uri(&dst, &src, arg->len, NGX_UNESCAPE_URI);
    arg->len = dst - arg->data;

    return NGX_OK;
}


static ngx_int_t
ngx_http_zoll_one_key(ngx_str_t *key, ngx_str_t *v, const char **why)
{
    if (key->len
        && (key->len != v->len || ngx_strncmp(key->data, v->data, v->len)))
    {
        *why = "several different API keys were sent";
        return NGX_DECLINED;
    }

    *key = *v;

    return NGX_OK;
}


/*
 * Finds the client's key in the key headers and "key" query arguments.
 * NGX_DECLINED: no key, or several different ones (a request must not be
 * able to pick between two identities).
 */

static ngx_int_t
ngx_http_zoll_client_key(ngx_http_request_t *r, ngx_str_t *key,
    const char **why)
{
    u_char            *p, *end;
    ngx_str_t          v;
    ngx_uint_t         i;
    ngx_flag_t         is_key;
    ngx_list_part_t   *part;
    ngx_table_elt_t   *h;

    key->len = 0;
    key->data = NULL;
    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (ngx_http_zoll_header_in(&h[i],
                                    ngx_http_zoll_foreign_credentials))
        {
            *why = "credentials are accepted only in Authorization "
                   "(Bearer), x-api-key, x-goog-api-key or a key argument, "
                   "never in api-key or Proxy-Authorization";
            return NGX_DECLINED;
        }

        if (!ngx_http_zoll_header_in(&h[i], ngx_http_zoll_key_headers)) {
            continue;
        }

        v = h[i].value;

        if (h[i].key.len == sizeof("authorization") - 1) {
            if (v.len <= sizeof("Bearer ") - 1
                || ngx_strncasecmp(v.data, (u_char *) "Bearer ",
                                   sizeof("Bearer ") - 1) != 0)
            {
                *why = "Authorization must use the Bearer scheme";
                return NGX_DECLINED;
            }

            v.data += sizeof("Bearer ") - 1;
            v.len -= sizeof("Bearer ") - 1;
        }

        if (ngx_http_zoll_one_key(key, &v, why) != NGX_OK) {
            return NGX_DECLINED;
        }
    }

    p = r->args.data;
    end = p + r->args.len;

    while (p < end) {
        p = ngx_http_zoll_next_arg(p, end, &v, &is_key);

        if (!is_key) {
            continue;
        }

        if (ngx_http_zoll_arg_value(r, &v) != NGX_OK) {
            *why = "cannot decode the key argument";
            return NGX_DECLINED;
        }

        if (ngx_http_zoll_one_key(key, &v, why) != NGX_OK) {
            return NGX_DECLINED;
        }
    }

    if (key->len == 0) {
        *why = "no API key was sent";
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/* Drops every "key" argument from the query string the proxy passes on. */

static ngx_int_t
ngx_http_zoll_strip_key_args(ngx_http_request_t *r)
{
    u_char      *p, *end, *out;
    size_t       len;
    ngx_str_t    arg;
    ngx_flag_t   is_key;

    if (r->args.len == 0) {
        return NGX_OK;
    }

    len = r->args.len;

    out = ngx_pnalloc(r->pool, r->args.len);
    if (out == NULL) {
        return NGX_ERROR;
    }

    p = r->args.data;
    end = p + r->args.len;
    r->args.data = out;
    r->args.len = 0;

    while (p < end) {
        p = ngx_http_zoll_next_arg(p, end, &arg, &is_key);

        if (is_key || arg.len == 0) {
            continue;
        }

        if (r->args.len) {
            out[r->args.len++] = '&';
        }

        ngx_memcpy(out + r->args.len, arg.data, arg.len);
        r->args.len += arg.len;
    }

    if (r->args.len == 0) {
        r->args.data = NULL;
    }

    if (r->args.len != len) {
        /* else the proxy module would send the original request line */
        r->valid_unparsed_uri = 0;
    }

    return NGX_OK;
}


/* Rebuilds the header list without the client's key headers (and the
 * subject assertion and Accept-Encoding), and the query string without
 * "key" arguments, so that no proxy configuration can pass the client's
 * key on by mistake. */

static ngx_int_t
ngx_http_zoll_strip_keys(ngx_http_request_t *r,
    ngx_http_zoll_main_conf_t *zmcf)
{
    ngx_int_t        *index;
    ngx_uint_t        i;
    ngx_list_t        old;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h, *nh;

    /* the list is re-initialised in place: its "last" must point into
     * the request, for modules that push headers later */
    old = r->headers_in.headers;

    if (ngx_list_init(&r->headers_in.headers, r->pool, 20,
                      sizeof(ngx_table_elt_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    part = &old.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (ngx_http_zoll_header_in(&h[i], ngx_http_zoll_key_headers)
            || ngx_http_zoll_is_header(&h[i], &ngx_http_zoll_subject_header)
            || ngx_http_zoll_is_header(&h[i], &ngx_http_zoll_accept_encoding))
        {
            continue;
        }

        nh = ngx_list_push(&r->headers_in.headers);
        if (nh == NULL) {
            return NGX_ERROR;
        }

        *nh = h[i];
    }

    r->headers_in.authorization = NULL;

    /* $http_x_api_key and the like may have been evaluated (and cached)
     * before: they must not hand the key on either */
    index = zmcf->key_vars.elts;

    for (i = 0; i < zmcf->key_vars.nelts; i++) {
        r->variables[index[i]].valid = 0;
        r->variables[index[i]].not_found = 0;
    }

    return ngx_http_zoll_strip_key_args(r);
}


/* The client's address as nginx sees it after realip (set_real_ip_from
 * trusts only the proxies it names): family 4 or 6, a v4-mapped address
 * as IPv4; 0 for a unix socket. */

static int
ngx_http_zoll_sockaddr(ngx_http_request_t *r, const unsigned char **a)
{
    struct sockaddr_in   *sin;
#if (NGX_HAVE_INET6)
    struct sockaddr_in6  *sin6;
#endif

    switch (r->connection->sockaddr->sa_family) {

    case AF_INET:
        sin = (struct sockaddr_in *) r->connection->sockaddr;
        *a = (const unsigned char *) &sin->sin_addr.s_addr;
        return 4;

#if (NGX_HAVE_INET6)
    case AF_INET6:
        sin6 = (struct sockaddr_in6 *) r->connection->sockaddr;
        *a = sin6->sin6_addr.s6_addr;

        if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
            *a += 12;
            return 4;
        }

        return 6;
#endif

    default:
        *a = NULL;
        return 0;
    }
}


static ngx_str_t
ngx_http_zoll_client_addr(ngx_http_request_t *r, ngx_http_zoll_log_t *zl)
{
    int                   family;
    size_t                len;
    u_char               *buf;
    ngx_str_t             s = ngx_null_string;
    const unsigned char  *a;
    zoll_day_key_t        k, *key = NULL;
    zoll_client_addr_e    mode;

    family = ngx_http_zoll_sockaddr(r, &a);

    if (family == 0) {
        /* unix socket: there is no address to protect */
        ngx_str_set(&s, "unix");
        return s;
    }

    buf = ngx_pnalloc(r->pool, 64);
    if (buf == NULL) {
        return s;
    }

    mode = zoll_policy_log(zl->policy)->client_addr;

    if (mode == ZOLL_CLIENT_ADDR_HMAC) {
        /* without today's key, nothing is logged rather than the address */
        key = ngx_http_zoll_log_day_key(zl, &k) == NGX_OK ? &k : NULL;
    }

    len = zoll_client_addr(mode, key, family, a, (char *) buf, 64);
    ngx_explicit_memzero(&k, sizeof(k));

    s.data = buf;
    s.len = len < 64 ? len : 0;

    return s;
}


static void
ngx_http_zoll_request_info(ngx_http_request_t *r,
    ngx_http_zoll_main_conf_t *zmcf, const zoll_subprocessor_t *sp,
    zoll_request_info_t *ri)
{
    ngx_time_t                 *tp;
    ngx_str_t                   client;
    ngx_http_variable_value_t  *id;

    tp = ngx_timeofday();
    ri->time_ms = (int64_t) tp->sec * 1000 + tp->msec;

    id = ngx_http_get_indexed_variable(r, zmcf->request_id_index);

    if (id && !id->not_found) {
        ri->request_id.data = (const char *) id->data;
        ri->request_id.len = id->len;
    }

    ri->method.data = (const char *) r->method_name.data;
    ri->method.len = r->method_name.len;
    ri->path.data = (const char *) r->uri.data;
    ri->path.len = r->uri.len;

    client = ngx_http_zoll_client_addr(r, &zmcf->log);
    ri->client.data = (const char *) client.data;
    ri->client.len = client.len;

    ri->request_bytes = r->headers_in.content_length_n;
    ri->sp = sp;
}


static ngx_int_t
ngx_http_zoll_log_decision(ngx_http_request_t *r,
    ngx_http_zoll_main_conf_t *zmcf, ngx_http_zoll_ctx_t *ctx)
{
    u_char  *buf;
    size_t   len, cap;

    ctx->recorded = 1;
    cap = NGX_HTTP_ZOLL_RECORD_LEN;

    /* room for the chain's members after the record */
    for ( ;; ) {
        buf = ngx_pnalloc(r->pool, cap + NGX_HTTP_ZOLL_CHAIN_LEN);
        if (buf == NULL) {
            return NGX_ERROR;
        }

        len = zoll_record_decision(zmcf->policy, &ctx->ri, &ctx->d,
                                   (char *) buf, cap);
        if (len < cap) {
            return ngx_http_zoll_log_write(&zmcf->log, r->connection->log,
                                           buf, len);
        }

        cap = len + 1;
    }
}


static ngx_int_t
ngx_http_zoll_log_outcome(ngx_http_request_t *r,
    ngx_http_zoll_main_conf_t *zmcf, ngx_http_zoll_ctx_t *ctx,
    zoll_outcome_t *o)
{
    u_char  *buf;
    size_t   len, cap;

    cap = NGX_HTTP_ZOLL_RECORD_LEN / 4;

    for ( ;; ) {
        buf = ngx_pnalloc(r->pool, cap + NGX_HTTP_ZOLL_CHAIN_LEN);
        if (buf == NULL) {
            return NGX_ERROR;
        }

        len = zoll_record_outcome(&ctx->ri, &ctx->d, o, (char *) buf, cap);
        if (len < cap) {
            return ngx_http_zoll_log_write(&zmcf->log, r->connection->log,
                                           buf, len);
        }

        cap = len + 1;
    }
}


/* The refusal's JSON body, in the shape of the provider's API. */

static ngx_buf_t *
ngx_http_zoll_error_buf(ngx_http_request_t *r, ngx_http_zoll_ctx_t *ctx)
{
    size_t      len, cap;
    ngx_buf_t  *b;

    cap = 512;

    for ( ;; ) {
        b = ngx_create_temp_buf(r->pool, cap);
        if (b == NULL) {
            return NULL;
        }

        len = zoll_error_body(ctx->ri.sp->api, ctx->d.status, ctx->d.reason,
                              ctx->ri.request_id, (char *) b->pos, cap);
        if (len < cap) {
            break;
        }

        cap = len + 1;
    }

    b->last = b->pos + len;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    r->headers_out.content_length_n = len;
    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;

    return b;
}


static ngx_int_t
ngx_http_zoll_send_error(ngx_http_request_t *r, ngx_http_zoll_ctx_t *ctx)
{
    ngx_int_t         rc;
    ngx_buf_t        *b;
    ngx_chain_t       out;
    ngx_table_elt_t  *h;

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    b = ngx_http_zoll_error_buf(r, ctx);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.status = zoll_status_http(ctx->d.status);

    /* the request id is in the body; "add_header X-Zoll-Request-Id
     * $zoll_request_id always;" puts it on every response */

    if (ctx->d.status == ZOLL_ERR_TLS_REQUIRED
        || ctx->d.status == ZOLL_ERR_METHOD)
    {
        h = ngx_list_push(&r->headers_out.headers);
        if (h == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        h->hash = 1;

        if (ctx->d.status == ZOLL_ERR_METHOD) {
            ngx_str_set(&h->key, "Allow");
            ngx_str_set(&h->value, "GET, POST, DELETE");

        } else {
            ngx_str_set(&h->key, "Upgrade");
            ngx_str_set(&h->value, "TLS/1.3, TLS/1.2");
        }
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/*
 * Records the refusal (best effort: refusing needs no record to be safe)
 * and makes Zoll's refusal handler the request's content handler.  It
 * replaces the proxy module's: after a refusal the proxy never runs, even
 * if its proxy_pass does not depend on $zoll_upstream.
 */

static void
ngx_http_zoll_record_refusal(ngx_http_request_t *r,
    ngx_http_zoll_main_conf_t *zmcf, ngx_http_zoll_ctx_t *ctx,
    zoll_status_e status, const char *why)
{
    ctx->d.status = status;

    if (why) {
        ngx_cpystrn((u_char *) ctx->d.reason, (u_char *) why,
                    sizeof(ctx->d.reason));
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "zoll: refused %d %s: %s", zoll_status_http(status),
                  zoll_status_code(status), ctx->d.reason);

    if (status != ZOLL_ERR_LOG_UNWRITABLE) {
        (void) ngx_http_zoll_log_decision(r, zmcf, ctx);
    }
}


static ngx_int_t
ngx_http_zoll_refuse(ngx_http_request_t *r, ngx_http_zoll_main_conf_t *zmcf,
    ngx_http_zoll_ctx_t *ctx, zoll_status_e status, const char *why)
{
    ngx_http_zoll_record_refusal(r, zmcf, ctx, status, why);

    r->content_handler = ngx_http_zoll_refusal_handler;

    /* NGX_OK: on to the content phase, which runs the refusal handler */
    return NGX_OK;
}


static ngx_int_t
ngx_http_zoll_refusal_handler(ngx_http_request_t *r)
{
    ngx_http_zoll_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_zoll_module);

    if (ctx == NULL || ctx->forwarded) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_zoll_send_error(r, ctx);
}


static ngx_http_zoll_ctx_t *
ngx_http_zoll_get_ctx(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t   *cln;
    ngx_http_zoll_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_zoll_module);

    if (ctx) {
        return ctx;
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_zoll_ctx_t));
    if (ctx == NULL) {
        return NULL;
    }

    /* an internal redirect (error_page, say) clears module contexts; the
     * pool cleanup keeps every decision findable, for the log phase and
     * for ngx_http_zoll_escaped() */
    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    cln->handler = ngx_http_zoll_cleanup_ctx;
    cln->data = ctx;
    ctx->request = r;

    ngx_http_set_ctx(r, ctx, ngx_http_zoll_module);

    return ctx;
}


/*
 * Where the data subject is: the client address (after realip) in the
 * GeoIP database, and the application's X-Zoll-Subject-Country, which the
 * engine lets only narrow the tenant's rules.  NGX_DECLINED: the header is
 * not one country code (400).
 */

static ngx_int_t
ngx_http_zoll_locate(ngx_http_request_t *r, ngx_http_zoll_main_conf_t *zmcf,
    zoll_subject_t *s)
{
    int                   family;
    char                  err[ZOLL_ERR_LEN];
    ngx_uint_t            i, n = 0;
    ngx_list_part_t      *part;
    ngx_table_elt_t      *h;
    const unsigned char  *a;

    family = ngx_http_zoll_sockaddr(r, &a);
    zoll_subject_locate(zmcf->policy, zmcf->geo, family, a, s, err,
                        sizeof(err));

    if (s->lookup == ZOLL_GEO_ERROR) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "zoll: %s; requests follow their tenant's strictest "
                      "rule", err);
    }

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (!ngx_http_zoll_is_header(&h[i], &ngx_http_zoll_subject_header)) {
            continue;
        }

        if (++n > 1
            || zoll_subject_assert(zmcf->policy, s,
                                   (const char *) h[i].value.data,
                                   h[i].value.len)
               != 0)
        {
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}


/* Authenticates once per request; $zoll_tenant may ask before the
 * precontent phase (limit_req runs in preaccess). */

static const zoll_tenant_t *
ngx_http_zoll_authenticate(ngx_http_request_t *r,
    ngx_http_zoll_main_conf_t *zmcf, ngx_http_zoll_ctx_t *ctx)
{
    ngx_str_t  key;

    if (ctx->authenticated) {
        return ctx->tenant;
    }

    ctx->authenticated = 1;

    if (ngx_http_zoll_client_key(r, &key, &ctx->auth_error) != NGX_OK) {
        return NULL;
    }

    ctx->tenant = zoll_tenant_lookup(zmcf->policy, (const char *) key.data,
                                     key.len);
    if (ctx->tenant == NULL) {
        ctx->auth_error = "invalid API key";
    }

    return ctx->tenant;
}


/*
 * A request that passed through a Zoll location stays under Zoll: a
 * subrequest (mirror) or internal redirect (error_page, try_files) of it
 * that reaches a location without "zoll" is refused, unless that location
 * says "zoll off".  Otherwise it could be proxied with no decision and no
 * record.
 */

static ngx_int_t
ngx_http_zoll_escaped(ngx_http_request_t *r, ngx_http_zoll_main_conf_t *zmcf)
{
    ngx_pool_cleanup_t   *cln;
    ngx_http_zoll_ctx_t  *ctx, *first = NULL;

    for (cln = r->pool->cleanup; cln; cln = cln->next) {
        if (cln->handler == ngx_http_zoll_cleanup_ctx
            && ((ngx_http_zoll_ctx_t *) cln->data)->decided)
        {
            first = cln->data;
        }
    }

    if (first == NULL) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_zoll_get_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->decided = 1;
    ngx_http_zoll_request_info(r, zmcf, first->ri.sp, &ctx->ri);
    ctx->d.sp = first->ri.sp;

    return ngx_http_zoll_refuse(r, zmcf, ctx, ZOLL_ERR_UNPROTECTED,
                                "a subrequest or internal redirect of a Zoll "
                                "request reached a location without \"zoll\"");
}


/* Request bodies */

static ngx_uint_t
ngx_http_zoll_has_body(ngx_http_request_t *r)
{
    return r->headers_in.content_length_n > 0 || r->headers_in.chunked;
}


static ngx_uint_t
ngx_http_zoll_is_json(ngx_str_t *type)
{
    size_t   n;
    u_char  *semi;

    semi = ngx_strlchr(type->data, type->data + type->len, ';');
    n = (semi ? semi : type->data + type->len) - type->data;

    while (n > 0 && (type->data[n - 1] == ' ' || type->data[n - 1] == '\t')) {
        n--;
    }

    return (n == sizeof("application/json") - 1
            && ngx_strncasecmp(type->data, (u_char *) "application/json", n)
               == 0)
           || (n > 5 && ngx_strncasecmp(type->data + n - 5, (u_char *) "+json",
                                        5) == 0);
}


static zoll_status_e
ngx_http_zoll_size_check(ngx_http_zoll_loc_conf_t *zlcf, off_t size,
    u_char *why, size_t len)
{
    if (size <= zlcf->max_body) {
        return ZOLL_OK;
    }

    ngx_snprintf(why, len, "the request body is larger than the limit of %O "
                 "bytes%Z", zlcf->max_body);
    return ZOLL_ERR_TOO_LARGE;
}


/* What can be refused before a byte of the body is read: a declared size
 * above the limit, a compressed body, a body that is not JSON.  The engine
 * can only inspect plain JSON; anything else must not leave uninspected. */

static zoll_status_e
ngx_http_zoll_body_check(ngx_http_request_t *r, ngx_http_zoll_loc_conf_t *zlcf,
    u_char *why, size_t len)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    if (ngx_http_zoll_size_check(zlcf, r->headers_in.content_length_n, why,
                                 len)
        != ZOLL_OK)
    {
        return ZOLL_ERR_TOO_LARGE;
    }

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {
        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == sizeof("Content-Encoding") - 1
            && ngx_strncasecmp(h[i].key.data, (u_char *) "Content-Encoding",
                               h[i].key.len) == 0
            && !(h[i].value.len == sizeof("identity") - 1
                 && ngx_strncasecmp(h[i].value.data, (u_char *) "identity",
                                    h[i].value.len) == 0))
        {
            ngx_snprintf(why, len, "a request body with Content-Encoding "
                         "\"%V\" cannot be inspected; send it uncompressed%Z",
                         &h[i].value);
            return ZOLL_ERR_UNINSPECTABLE;
        }
    }

    if (ngx_http_zoll_has_body(r) && r->headers_in.content_type
        && !ngx_http_zoll_is_json(&r->headers_in.content_type->value))
    {
        ngx_snprintf(why, len, "only JSON request bodies can be inspected, "
                     "not \"%V\"%Z", &r->headers_in.content_type->value);
        return ZOLL_ERR_UNINSPECTABLE;
    }

    return ZOLL_OK;
}


static off_t
ngx_http_zoll_body_size(ngx_http_request_t *r)
{
    off_t         size;
    ngx_chain_t  *cl;

    size = 0;

    for (cl = r->request_body ? r->request_body->bufs : NULL; cl;
         cl = cl->next)
    {
        size += ngx_buf_size(cl->buf);
    }

    return size;
}


/* The body in one piece: as it is if nginx holds it in one memory buffer,
 * else copied from its buffers and its temp file into the pool. */

static u_char *
ngx_http_zoll_body(ngx_http_request_t *r, off_t size)
{
    u_char       *body, *p;
    size_t        n;
    ssize_t       got;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    /* one memory buffer holding all of it (a chunked body adds an empty
     * last buffer): no copy */
    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        if (ngx_buf_size(cl->buf) == size) {
            if (ngx_buf_in_memory(cl->buf)) {
                return cl->buf->pos;
            }

            break;
        }
    }

    cl = r->request_body->bufs;

    body = ngx_pnalloc(r->pool, (size_t) size);
    if (body == NULL) {
        return NULL;
    }

    p = body;

    for ( /* void */ ; cl; cl = cl->next) {
        b = cl->buf;
        n = (size_t) ngx_buf_size(b);

        /* e.g. the empty last_buf a chunked body ends with: no file */
        if (n == 0) {
            continue;
        }

        if (ngx_buf_in_memory(b)) {
            p = ngx_cpymem(p, b->pos, n);
            continue;
        }

        got = ngx_read_file(b->file, p, n, b->file_pos);

        if (got != (ssize_t) n) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "zoll: short read of the request body from \"%V\"",
                          &b->file->name);
            return NULL;
        }

        p += n;
    }

    return body;
}


/* Replaces the body the proxy will send, as lua-nginx-module's
 * ngx.req.set_body_data does: one memory buffer, no temp file, and the
 * length the proxy takes its Content-Length from. */

static ngx_int_t
ngx_http_zoll_set_body(ngx_http_request_t *r, const u_char *data, size_t len)
{
    ngx_buf_t                *b;
    ngx_chain_t              *cl;
    ngx_table_elt_t          *h;
    ngx_http_request_body_t  *rb = r->request_body;

    b = ngx_create_temp_buf(r->pool, len);
    cl = ngx_alloc_chain_link(r->pool);

    if (b == NULL || cl == NULL) {
        return NGX_ERROR;
    }

    b->last = ngx_cpymem(b->pos, data, len);
    b->last_buf = 1;
    b->last_in_chain = 1;

    cl->buf = b;
    cl->next = NULL;

    rb->bufs = cl;
    rb->temp_file = NULL;    /* the pool's cleanup still removes it */

    r->headers_in.content_length_n = len;

    h = r->headers_in.content_length;

    if (h) {
        h->value.data = ngx_pnalloc(r->pool, NGX_OFF_T_LEN);
        if (h->value.data == NULL) {
            return NGX_ERROR;
        }

        h->value.len = ngx_sprintf(h->value.data, "%uz", len)
                       - h->value.data;
    }

    return NGX_OK;
}


/* The request's reversible tokens, copied out of the worker's redactor
 * (which the next request reuses) into the request's pool, where they die
 * with the request. */

static ngx_int_t
ngx_http_zoll_keep_tokens(ngx_http_request_t *r, ngx_http_zoll_ctx_t *ctx,
    zoll_redactor_t *rd)
{
    char                    buf[128];
    size_t                  i, n, len;
    zoll_str_t              value;
    ngx_http_zoll_token_t  *t;

    n = zoll_redaction_tokens(rd);

    if (n == 0) {
        return NGX_OK;
    }

    ctx->tokens = ngx_array_create(r->pool, n, sizeof(ngx_http_zoll_token_t));
    if (ctx->tokens == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < n; i++) {
        len = zoll_redaction_token(rd, i, buf, sizeof(buf), &value);

        t = ngx_array_push(ctx->tokens);

        if (len >= sizeof(buf) || t == NULL) {
            return NGX_ERROR;
        }

        t->token.len = len;
        t->token.data = ngx_pnalloc(r->pool, len);
        t->value.len = value.len;
        t->value.data = ngx_pnalloc(r->pool, value.len);

        if (t->token.data == NULL || t->value.data == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(t->token.data, buf, len);
        ngx_memcpy(t->value.data, value.data, value.len);
    }

    return NGX_OK;
}


/* Has the engine redact the body.  NGX_DECLINED: go on with what is now in
 * r->request_body; anything else ends the phase (a refusal). */

static ngx_int_t
ngx_http_zoll_inspect(ngx_http_request_t *r, ngx_http_zoll_main_conf_t *zmcf,
    ngx_http_zoll_loc_conf_t *zlcf, ngx_http_zoll_ctx_t *ctx)
{
    off_t             size;
    u_char           *body, why[128];
    ngx_int_t         rc;
    zoll_status_e     st;
    zoll_redaction_t  res;

    size = ngx_http_zoll_body_size(r);

    /* the declared length was checked before reading; a chunked body's
     * length is known only now */
    st = ngx_http_zoll_size_check(zlcf, size, why, sizeof(why));

    if (st != ZOLL_OK) {
        return ngx_http_zoll_refuse(r, zmcf, ctx, st, (const char *) why);
    }

    if (size == 0) {
        return NGX_DECLINED;
    }

    if (zmcf->redactor == NULL) {
        return ngx_http_zoll_refuse(r, zmcf, ctx, ZOLL_ERR_UNINSPECTABLE,
                                    "this worker has no redactor");
    }

    body = ngx_http_zoll_body(r, size);
    if (body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    st = zoll_redact(zmcf->redactor, ctx->tenant, ctx->ri.sp->api, body,
                     (size_t) size, &res);

    /* the record of this decision names what was found */
    ctx->ri.redaction = zmcf->redactor;
    ctx->inspected = 1;

    if (st != ZOLL_OK) {
        rc = ngx_http_zoll_refuse(r, zmcf, ctx, st, res.reason);
        ctx->ri.redaction = NULL;
        return rc;
    }

    ctx->redactions = res.redacted;

    if (ngx_http_zoll_keep_tokens(r, ctx, zmcf->redactor) != NGX_OK
        || (res.changed
            && ngx_http_zoll_set_body(r, res.body, res.len) != NGX_OK))
    {
        ctx->ri.redaction = NULL;
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DECLINED;
}


/* The body (if any) is in: inspect it, then record and let the request go. */

static ngx_int_t
ngx_http_zoll_forward(ngx_http_request_t *r, ngx_http_zoll_main_conf_t *zmcf,
    ngx_http_zoll_loc_conf_t *zlcf, ngx_http_zoll_ctx_t *ctx)
{
    ngx_int_t  rc;

    if (r->request_body) {
        rc = ngx_http_zoll_inspect(r, zmcf, zlcf, ctx);
        if (rc != NGX_DECLINED) {
            return rc;
        }
    }

    if (ngx_http_zoll_strip_keys(r, zmcf) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->upstream.len = sizeof("https://") - 1
                        + ngx_strlen(ctx->d.region->upstream);
    ctx->upstream.data = ngx_pnalloc(r->pool, ctx->upstream.len);
    if (ctx->upstream.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_sprintf(ctx->upstream.data, "https://%s", ctx->d.region->upstream);

    /* no record, no transfer */
    rc = ngx_http_zoll_log_decision(r, zmcf, ctx);

    /* the redactor is the worker's and moves on to the next request */
    ctx->ri.redaction = NULL;

    if (rc != NGX_OK) {
        return ngx_http_zoll_refuse(r, zmcf, ctx, ZOLL_ERR_LOG_UNWRITABLE,
                                    "the transfer log cannot be written; "
                                    "nothing was forwarded");
    }

    ctx->forwarded = 1;

    return NGX_DECLINED;
}


/* The mirror module's pattern: the body handler does the work, then runs
 * the phases again, which come back to ngx_http_zoll_handler() and return
 * the result kept in ctx->body_rc. */

static void
ngx_http_zoll_body_handler(ngx_http_request_t *r)
{
    ngx_http_zoll_ctx_t        *ctx;
    ngx_http_zoll_loc_conf_t   *zlcf;
    ngx_http_zoll_main_conf_t  *zmcf;

    zmcf = ngx_http_get_module_main_conf(r, ngx_http_zoll_module);
    zlcf = ngx_http_get_module_loc_conf(r, ngx_http_zoll_module);
    ctx = ngx_http_get_module_ctx(r, ngx_http_zoll_module);

    ctx->body_rc = ngx_http_zoll_forward(r, zmcf, zlcf, ctx);
    ctx->reading_body = 0;

    r->preserve_body = 1;
    r->write_event_handler = ngx_http_core_run_phases;
    ngx_http_core_run_phases(r);
}


static ngx_int_t
ngx_http_zoll_handler(ngx_http_request_t *r)
{
    u_char                      why[256];
    ngx_int_t                   rc;
    zoll_status_e               status;
    zoll_subject_t              subject;
    ngx_http_zoll_ctx_t        *ctx;
    const zoll_tenant_t        *t;
    ngx_http_zoll_loc_conf_t   *zlcf;
    ngx_http_zoll_main_conf_t  *zmcf;

    zmcf = ngx_http_get_module_main_conf(r, ngx_http_zoll_module);

    if (zmcf->used.nelts == 0) {
        return NGX_DECLINED;
    }

    zlcf = ngx_http_get_module_loc_conf(r, ngx_http_zoll_module);

    if (zlcf->sp == &ngx_http_zoll_off) {
        return NGX_DECLINED;
    }

    if (zlcf->sp == NULL) {
        return ngx_http_zoll_escaped(r, zmcf);
    }

    ctx = ngx_http_zoll_get_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ctx->reading_body) {
        return NGX_DONE;
    }

    if (ctx->decided) {
        /* the phases are being run again */
        if (ctx->body_rc >= NGX_HTTP_SPECIAL_RESPONSE) {
            return ctx->body_rc;
        }

        if (ctx->forwarded) {
            return NGX_DECLINED;
        }

        r->content_handler = ngx_http_zoll_refusal_handler;
        return NGX_OK;
    }

    ctx->decided = 1;
    ngx_http_zoll_request_info(r, zmcf, zlcf->sp, &ctx->ri);
    ctx->d.sp = zlcf->sp;

    if (!ngx_http_zoll_tls_ok(r)) {
        return ngx_http_zoll_refuse(r, zmcf, ctx, ZOLL_ERR_TLS_REQUIRED,
                                    "TLS 1.2 or newer is required");
    }

    t = ngx_http_zoll_authenticate(r, zmcf, ctx);

    if (t == NULL) {
        return ngx_http_zoll_refuse(r, zmcf, ctx, ZOLL_ERR_UNAUTHENTICATED,
                                    ctx->auth_error);
    }

    /* HEAD, OPTIONS, PUT, PATCH...: no provider API uses them, and each
     * would be one more way for a request to leave */
    if (!(r->method & NGX_HTTP_ZOLL_METHODS)) {
        return ngx_http_zoll_refuse(r, zmcf, ctx, ZOLL_ERR_METHOD,
                                    "the provider APIs take GET, POST and "
                                    "DELETE requests only");
    }

    if (ngx_http_zoll_locate(r, zmcf, &subject) != NGX_OK) {
        ctx->d.subject = subject;
        ctx->d.has_subject = 1;
        return ngx_http_zoll_refuse(r, zmcf, ctx, ZOLL_ERR_BAD_REQUEST,
                                    "X-Zoll-Subject-Country must be sent "
                                    "once, as an ISO 3166-1 alpha-2 country "
                                    "code such as \"DE\"");
    }

    status = zoll_route(zmcf->policy, t, zlcf->sp, &subject, &ctx->d);

    if (status != ZOLL_OK) {
        return ngx_http_zoll_refuse(r, zmcf, ctx, status, NULL);
    }

    status = ngx_http_zoll_body_check(r, zlcf, why, sizeof(why));

    if (status != ZOLL_OK) {
        return ngx_http_zoll_refuse(r, zmcf, ctx, status, (const char *) why);
    }

    if (!ngx_http_zoll_has_body(r)) {
        return ngx_http_zoll_forward(r, zmcf, zlcf, ctx);
    }

    ctx->reading_body = 1;

    rc = ngx_http_read_client_request_body(r, ngx_http_zoll_body_handler);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        ctx->reading_body = 0;
        ctx->body_rc = rc;
        return rc;
    }

    ngx_http_finalize_request(r, NGX_DONE);
    return NGX_DONE;
}


/*
 * nginx refuses a body above client_max_body_size itself, with its HTML
 * page: in the find-config phase for a declared Content-Length, before
 * any module's handler runs, and in the body reader for a chunked or
 * HTTP/2 body.  Its body reader also answers 400 to a body it cannot
 * read (malformed chunked framing).  All go through
 * ngx_http_special_response_handler(), which sets r->err_status and sends
 * the page through the output filters.  In a Zoll location these filters
 * make it Zoll's refusal in the provider's shape, with its record: 413
 * body_too_large, else 400 bad_request.  Nothing was forwarded: the proxy
 * runs only after the whole body was read and inspected.
 */

static ngx_int_t
ngx_http_zoll_header_filter(ngx_http_request_t *r)
{
    u_char                      why[128];
    zoll_status_e               status;
    ngx_http_zoll_ctx_t        *ctx;
    ngx_http_zoll_loc_conf_t   *zlcf;
    ngx_http_zoll_main_conf_t  *zmcf;

    zlcf = ngx_http_get_module_loc_conf(r, ngx_http_zoll_module);

    if (r != r->main || zlcf->sp == NULL || zlcf->sp == &ngx_http_zoll_off) {
        return ngx_http_next_header_filter(r);
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_zoll_module);

    if (r->err_status == NGX_HTTP_REQUEST_ENTITY_TOO_LARGE) {
        status = ZOLL_ERR_TOO_LARGE;

    } else if (r->err_status == NGX_HTTP_BAD_REQUEST
               && ctx && ctx->decided && !ctx->recorded)
    {
        /* the body reader failed after Zoll had decided to read it */
        status = ZOLL_ERR_BAD_REQUEST;

    } else {
        /* the provider's answer (or nginx's own for a request Zoll did
         * not refuse): its tokens, if any, are restored */
        if (ctx && ctx->forwarded && ctx->tokens && !r->header_only
            && ngx_http_zoll_restore_header(r, ctx) != NGX_OK)
        {
            return NGX_ERROR;
        }

        return ngx_http_next_header_filter(r);
    }

    zmcf = ngx_http_get_module_main_conf(r, ngx_http_zoll_module);

    ctx = ngx_http_zoll_get_ctx(r);
    if (ctx == NULL || ctx->forwarded) {
        return NGX_ERROR;
    }

    if (!ctx->decided) {
        /* refused in the find-config phase: only the key is known */
        ctx->decided = 1;
        ngx_http_zoll_request_info(r, zmcf, zlcf->sp, &ctx->ri);
        ctx->d.sp = zlcf->sp;
        ctx->d.tenant = ngx_http_zoll_authenticate(r, zmcf, ctx);
    }

    if (status == ZOLL_ERR_TOO_LARGE) {
        /* above client_max_body_size, which lies above
         * zoll_max_body_size: the client is told Zoll's limit */
        (void) ngx_http_zoll_size_check(zlcf, zlcf->max_body + 1, why,
                                        sizeof(why));
    } else {
        ngx_cpystrn(why, (u_char *) "the request body could not be read: "
                    "malformed framing", sizeof(why));
    }

    ngx_http_zoll_record_refusal(r, zmcf, ctx, status, (const char *) why);

    ctx->error_body = ngx_http_zoll_error_buf(r, ctx);
    if (ctx->error_body == NULL) {
        return NGX_ERROR;
    }

    return ngx_http_next_header_filter(r);
}


static ngx_int_t
ngx_http_zoll_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_buf_t            *b;
    ngx_chain_t          *cl, out;
    ngx_http_zoll_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_zoll_module);

    if (ctx && ctx->restorer) {
        return ngx_http_zoll_restore_body(r, ctx, in);
    }

    if (ctx == NULL || ctx->error_body == NULL || in == NULL) {
        return ngx_http_next_body_filter(r, in);
    }

    /* nginx's page is dropped, Zoll's error is sent once in its place */
    for (cl = in; cl; cl = cl->next) {
        cl->buf->pos = cl->buf->last;
        cl->buf->file_pos = cl->buf->file_last;
    }

    b = ctx->error_body;

    if (b->pos == b->last) {
        return NGX_OK;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_next_body_filter(r, &out);
}


/*
 * The response side of the tokenize operator.  For a forwarded request
 * with reversible tokens whose response is JSON or an event stream, the
 * header filter makes a restorer from the tokens kept in the request's
 * pool (it is freed with the pool) and drops Content-Length, which no
 * longer holds; the body filter feeds it every buffer as it comes and
 * passes on what it returns at once, with flush and last_buf.  Output
 * buffers are recycled (free and busy chains) and bounded (the provider's
 * buffers wait unread while the client is slow), so memory does not grow
 * with the length of a stream.  Where restoring is impossible the client
 * never gets tokens half restored silently: a compressed answer becomes
 * Zoll's 502; a file-backed buffer or an event above the engine's limit,
 * once the answer has begun, cuts the response off.
 */

static void
ngx_http_zoll_free_restorer(void *data)
{
    zoll_restorer_free(data);
}


static ngx_uint_t
ngx_http_zoll_is_event_stream(ngx_str_t *type)
{
    size_t  n = sizeof("text/event-stream") - 1;

    return type->len >= n
           && ngx_strncasecmp(type->data, (u_char *) "text/event-stream", n)
              == 0
           && (type->len == n || type->data[n] == ';' || type->data[n] == ' ');
}


static ngx_int_t
ngx_http_zoll_restore_header(ngx_http_request_t *r, ngx_http_zoll_ctx_t *ctx)
{
    ngx_uint_t              i;
    ngx_table_elt_t        *ce;
    zoll_restorer_t        *rs;
    ngx_pool_cleanup_t     *cln;
    zoll_restore_mode_e     mode;
    ngx_http_zoll_token_t  *t;

    if (ngx_http_zoll_is_event_stream(&r->headers_out.content_type)) {
        mode = ZOLL_RESTORE_SSE;

    } else if (ngx_http_zoll_is_json(&r->headers_out.content_type)) {
        mode = ZOLL_RESTORE_JSON;

    } else {
        return NGX_OK;
    }

    ce = r->headers_out.content_encoding;

    if (ce && ce->hash && !(ce->value.len == sizeof("identity") - 1
                            && ngx_strncasecmp(ce->value.data,
                                               (u_char *) "identity",
                                               ce->value.len) == 0))
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "zoll: the provider answered with Content-Encoding "
                      "\"%V\", its tokens cannot be restored", &ce->value);
        return ngx_http_zoll_unrestorable(r, ctx);
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    rs = zoll_restorer_new(mode);
    if (rs == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_http_zoll_free_restorer;
    cln->data = rs;

    t = ctx->tokens->elts;

    for (i = 0; i < ctx->tokens->nelts; i++) {
        if (zoll_restorer_add(rs, (const char *) t[i].token.data,
                              t[i].token.len, (const char *) t[i].value.data,
                              t[i].value.len)
            != 0)
        {
            return NGX_ERROR;
        }
    }

    ctx->restorer = rs;

    /* restoring reads the provider's answer as it comes and holds back
     * its buffers while the client is slow: buffering, which an upstream's
     * "X-Accel-Buffering: yes" or the location could turn on, would spill
     * them to a temp file, which the restorer refuses; nginx reads
     * u->buffering only after the header filters */
    if (r->upstream) {
        r->upstream->buffering = 0;
    }

    ngx_http_clear_content_length(r);
    ngx_http_clear_accept_ranges(r);
    ngx_http_weak_etag(r);

    return NGX_OK;
}


/* Nothing has gone to the client yet: it gets Zoll's 502 instead of an
 * answer it could not use, and the body filter drops the provider's. */

static ngx_int_t
ngx_http_zoll_unrestorable(ngx_http_request_t *r, ngx_http_zoll_ctx_t *ctx)
{
    ctx->d.status = ZOLL_ERR_UNRESTORABLE;
    ngx_cpystrn((u_char *) ctx->d.reason,
                (u_char *) "the provider's answer is compressed, so its "
                "reversible tokens cannot be restored; it was dropped",
                sizeof(ctx->d.reason));

    r->headers_out.content_encoding->hash = 0;
    r->headers_out.content_encoding = NULL;
    ngx_http_clear_content_length(r);
    ngx_http_clear_accept_ranges(r);
    ngx_http_clear_last_modified(r);
    ngx_http_clear_etag(r);

    ctx->error_body = ngx_http_zoll_error_buf(r, ctx);
    if (ctx->error_body == NULL) {
        return NGX_ERROR;
    }

    r->headers_out.status = zoll_status_http(ZOLL_ERR_UNRESTORABLE);
    r->headers_out.status_line.len = 0;

    return NGX_OK;
}


/* Appends n bytes (and the flags of in, if given) as a recycled buffer. */

static ngx_chain_t **
ngx_http_zoll_restore_out(ngx_http_request_t *r, ngx_http_zoll_ctx_t *ctx,
    ngx_chain_t **ll, const u_char *p, size_t n, ngx_buf_t *in)
{
    u_char       *start, *end;
    size_t        size;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    cl = ngx_chain_get_free_buf(r->pool, &ctx->free);
    if (cl == NULL) {
        return NULL;
    }

    b = cl->buf;
    start = b->start;
    end = b->end;

    if (n > (size_t) (end - start)) {
        if (start) {
            (void) ngx_pfree(r->pool, start);
        }

        size = ngx_max(n, NGX_HTTP_ZOLL_OUT_BUF);
        start = ngx_palloc(r->pool, size);
        if (start == NULL) {
            return NULL;
        }

        end = start + size;
    }

    ngx_memzero(b, sizeof(ngx_buf_t));
    b->start = start;
    b->end = end;
    b->pos = start;
    b->last = n ? ngx_cpymem(start, p, n) : start;
    b->memory = (n > 0);
    b->tag = (ngx_buf_tag_t) &ngx_http_zoll_module;

    if (in) {
        b->flush = in->flush;
        b->last_buf = in->last_buf;
        b->last_in_chain = in->last_in_chain;
    }

    *ll = cl;
    return &cl->next;
}


/* One provider buffer through the restorer, its output appended at *ll. */

static ngx_chain_t **
ngx_http_zoll_restore_buf(ngx_http_request_t *r, ngx_http_zoll_ctx_t *ctx,
    ngx_chain_t **ll, ngx_buf_t *b)
{
    size_t                n;
    const unsigned char  *p;

    if (b->in_file && !ngx_buf_in_memory(b)) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "zoll: a response buffer is in a file, tokens cannot "
                      "be restored (\"proxy_buffering off\" is required); "
                      "response cut off");
        return NULL;
    }

    if (ngx_buf_in_memory(b) && b->last > b->pos) {
        if (zoll_restore(ctx->restorer, b->pos, b->last - b->pos, &p, &n)
            != 0)
        {
            goto failed;
        }

        b->pos = b->last;

        if (n && (ll = ngx_http_zoll_restore_out(r, ctx, ll, p, n, NULL))
                 == NULL)
        {
            return NULL;
        }
    }

    n = 0;

    if (b->last_buf && zoll_restore_finish(ctx->restorer, &p, &n) != 0) {
        goto failed;
    }

    if (n || b->flush || b->last_buf || b->last_in_chain) {
        ll = ngx_http_zoll_restore_out(r, ctx, ll, p, n, b);
    }

    return ll;

failed:

    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "zoll: the response cannot be restored (an event above "
                  "the restorer's limit, or no memory); response cut off");
    return NULL;
}


static size_t
ngx_http_zoll_busy_size(ngx_http_zoll_ctx_t *ctx)
{
    size_t        size = 0;
    ngx_chain_t  *cl;

    for (cl = ctx->busy; cl; cl = cl->next) {
        size += cl->buf->end - cl->buf->start;
    }

    return size;
}


/* The provider's buffers are queued in ctx->in and restored while less
 * than NGX_HTTP_ZOLL_BUSY_MAX of output waits for the client; what is
 * left is restored when nginx calls again (the client took some, or the
 * provider sent more). */

static ngx_int_t
ngx_http_zoll_restore_body(ngx_http_request_t *r, ngx_http_zoll_ctx_t *ctx,
    ngx_chain_t *in)
{
    size_t        busy;
    ngx_int_t     rc;
    ngx_chain_t  *cl, *out, **ll, **added;

    if (in && ngx_chain_add_copy(r->pool, &ctx->in, in) != NGX_OK) {
        return NGX_ERROR;
    }

    for ( ;; ) {
        out = NULL;
        ll = &out;
        busy = ngx_http_zoll_busy_size(ctx);

        while (ctx->in && busy < NGX_HTTP_ZOLL_BUSY_MAX) {
            cl = ctx->in;
            added = ll;

            ll = ngx_http_zoll_restore_buf(r, ctx, ll, cl->buf);
            if (ll == NULL) {
                return NGX_ERROR;
            }

            for ( /* void */ ; *added; added = &(*added)->next) {
                busy += (*added)->buf->end - (*added)->buf->start;
            }

            ctx->in = cl->next;
            ngx_free_chain(r->pool, cl);
        }

        if (ctx->in) {
            r->buffered |= NGX_HTTP_ZOLL_BUFFERED;
        } else {
            r->buffered &= ~NGX_HTTP_ZOLL_BUFFERED;
        }

        if (out == NULL && ctx->busy == NULL) {
            return NGX_OK;
        }

        rc = ngx_http_next_body_filter(r, out);

        ngx_chain_update_chains(r->pool, &ctx->free, &ctx->busy, &out,
                                (ngx_buf_tag_t) &ngx_http_zoll_module);

        if (rc == NGX_ERROR || ctx->in == NULL
            || ngx_http_zoll_busy_size(ctx) >= NGX_HTTP_ZOLL_BUSY_MAX)
        {
            return rc;
        }
    }
}


static void
ngx_http_zoll_cleanup_ctx(void *data)
{
    /* nothing to free: a marker to find the request's decisions by */
}


static void
ngx_http_zoll_outcome(ngx_http_zoll_main_conf_t *zmcf,
    ngx_http_zoll_ctx_t *ctx)
{
    ngx_msec_int_t               ms;
    ngx_time_t                  *tp;
    zoll_outcome_t               o;
    ngx_http_request_t          *r = ctx->request;
    ngx_http_upstream_state_t   *state;

    tp = ngx_timeofday();
    ms = (ngx_msec_int_t) ((tp->sec - r->start_sec) * 1000
                           + (tp->msec - r->start_msec));

    /* the outcome record is stamped with the time the request ended */
    ctx->ri.time_ms = (int64_t) tp->sec * 1000 + tp->msec;

    o.status = r->err_status ? r->err_status : r->headers_out.status;
    o.upstream_status = 0;
    o.request_bytes = r->request_length;
    o.response_bytes = r->connection->sent;
    o.duration_ms = ngx_max(ms, 0);
    o.tokens_issued = ctx->tokens ? ctx->tokens->nelts : 0;
    o.tokens_restored = ctx->restorer ? zoll_restored(ctx->restorer) : 0;

    if (r->upstream_states && r->upstream_states->nelts) {
        state = r->upstream_states->elts;
        o.upstream_status = state[r->upstream_states->nelts - 1].status;
    }

    (void) ngx_http_zoll_log_outcome(r, zmcf, ctx, &o);
}


/* The body reader ended the request before Zoll could decide: the client
 * went away or stalled past client_body_timeout (nginx closes the
 * connection without a response), or nginx failed to spool the body.
 * Nothing was forwarded, and the log says so. */

static void
ngx_http_zoll_unread_body(ngx_http_request_t *r,
    ngx_http_zoll_main_conf_t *zmcf, ngx_http_zoll_ctx_t *ctx)
{
    u_char  why[128];

    if (r->connection->timedout) {
        ngx_cpystrn(why, (u_char *) "it did not arrive within "
                    "client_body_timeout", sizeof(why));

    } else if (r->connection->error) {
        ngx_cpystrn(why, (u_char *) "the client closed the connection "
                    "before it was complete", sizeof(why));

    } else {
        ngx_snprintf(why, sizeof(why), "nginx answered %ui%Z",
                     r->err_status ? r->err_status : r->headers_out.status);
    }

    ngx_snprintf((u_char *) ctx->d.reason, sizeof(ctx->d.reason),
                 "the request body could not be read: %s%Z", why);

    ngx_http_zoll_record_refusal(r, zmcf, ctx, ZOLL_ERR_BAD_REQUEST, NULL);
}


static ngx_int_t
ngx_http_zoll_log_handler(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t         *cln;
    ngx_http_zoll_ctx_t        *ctx;
    ngx_http_zoll_main_conf_t  *zmcf;

    zmcf = ngx_http_get_module_main_conf(r, ngx_http_zoll_module);

    /* subrequests share the main request's pool: the main request logs
     * the outcome of every forwarded decision, once (log_subrequest) */
    if (zmcf->used.nelts == 0 || r != r->main) {
        return NGX_OK;
    }

    for (cln = r->pool->cleanup; cln; cln = cln->next) {
        if (cln->handler != ngx_http_zoll_cleanup_ctx) {
            continue;
        }

        ctx = cln->data;

        if (ctx->forwarded) {
            ngx_http_zoll_outcome(zmcf, ctx);

        } else if (ctx->decided && !ctx->recorded) {
            ngx_http_zoll_unread_body(r, zmcf, ctx);
        }
    }

    return NGX_OK;
}


/* $zoll_tenant is known wherever the key is: also before the precontent
 * phase, so that "limit_req_zone $zoll_tenant" limits per tenant. */

static ngx_int_t
ngx_http_zoll_tenant_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v)
{
    ngx_http_zoll_ctx_t        *ctx;
    const zoll_tenant_t        *t;
    ngx_http_zoll_main_conf_t  *zmcf;

    zmcf = ngx_http_get_module_main_conf(r, ngx_http_zoll_module);

    if (zmcf->policy == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    ctx = ngx_http_zoll_get_ctx(r);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    t = ngx_http_zoll_authenticate(r, zmcf, ctx);

    if (t == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->data = (u_char *) t->id;
    v->len = ngx_strlen(t->id);
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}


static ngx_int_t
ngx_http_zoll_variable(ngx_http_request_t *r, ngx_http_variable_value_t *v,
    uintptr_t data)
{
    u_char                     *buf;
    const char                 *s = NULL;
    size_t                      len = 0;
    ngx_http_zoll_ctx_t        *ctx;
    const zoll_region_t        *region;

    if (data == NGX_HTTP_ZOLL_VAR_TENANT) {
        return ngx_http_zoll_tenant_variable(r, v);
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_zoll_module);

    if (ctx == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    /* where a request goes is only defined once it may go */
    region = ctx->forwarded ? ctx->d.region : NULL;

    switch ((ngx_http_zoll_var_e) data) {

    case NGX_HTTP_ZOLL_VAR_TENANT:
        break;

    case NGX_HTTP_ZOLL_VAR_UPSTREAM:
        if (region) {
            s = (const char *) ctx->upstream.data;
            len = ctx->upstream.len;
        }
        break;

    case NGX_HTTP_ZOLL_VAR_UPSTREAM_HOST:
        s = region ? region->host : NULL;
        break;

    case NGX_HTTP_ZOLL_VAR_REGION:
        s = region ? region->id : NULL;
        break;

    case NGX_HTTP_ZOLL_VAR_COUNTRY:
        s = region ? region->country : NULL;
        break;

    case NGX_HTTP_ZOLL_VAR_LEGAL_BASIS:
        s = (region && ctx->d.basis) ? ctx->d.basis->id : NULL;
        break;

    case NGX_HTTP_ZOLL_VAR_CREDENTIAL:
        s = region ? ctx->d.credential : NULL;
        break;

    case NGX_HTTP_ZOLL_VAR_REQUEST_ID:
        s = ctx->ri.request_id.data;
        len = ctx->ri.request_id.len;
        break;

    case NGX_HTTP_ZOLL_VAR_REDACTIONS:
        if (region == NULL) {
            break;
        }

        buf = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
        if (buf == NULL) {
            return NGX_ERROR;
        }

        len = ngx_sprintf(buf, "%ui", ctx->redactions) - buf;
        s = (const char *) buf;
        break;

    /* known once decided, on refusals too; the country, never the
     * address */
    case NGX_HTTP_ZOLL_VAR_SUBJECT_COUNTRY:
        s = (ctx->d.has_subject && ctx->d.subject.country[0])
            ? ctx->d.subject.country : NULL;
        break;

    case NGX_HTTP_ZOLL_VAR_SUBJECT_AREA:
        s = ctx->d.has_subject ? zoll_area_name(ctx->d.subject.area) : NULL;
        break;
    }

    if (s == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->data = (u_char *) s;
    v->len = len ? len : ngx_strlen(s);
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}


/* per worker */

static ngx_int_t
ngx_http_zoll_init_process(ngx_cycle_t *cycle)
{
    ngx_http_zoll_main_conf_t  *zmcf;

    zmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_zoll_module);

    if (zmcf == NULL || zmcf->policy == NULL) {
        return NGX_OK;
    }

    /* Vectorscan and PCRE2 scratch space is per thread: one per worker */
    zmcf->redactor = zoll_redactor_new(zmcf->policy, 0);

    if (zmcf->redactor == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "zoll: cannot create the redactor");
        return NGX_ERROR;
    }

    if (zmcf->log.policy) {
        return ngx_http_zoll_log_init_process(cycle, &zmcf->log);
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_zoll_init_module(ngx_cycle_t *cycle)
{
    ngx_http_zoll_main_conf_t  *zmcf;

    zmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_zoll_module);

    if (zmcf == NULL || zmcf->log.policy == NULL) {
        return NGX_OK;
    }

    return ngx_http_zoll_log_init_module(cycle, &zmcf->log);
}


static void
ngx_http_zoll_exit_master(ngx_cycle_t *cycle)
{
    ngx_http_zoll_main_conf_t  *zmcf;

    zmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_zoll_module);

    if (zmcf && zmcf->log.policy) {
        ngx_http_zoll_log_exit_master(cycle, &zmcf->log);
    }
}


static void
ngx_http_zoll_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_zoll_main_conf_t  *zmcf;

    zmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_zoll_module);

    if (zmcf) {
        zoll_redactor_free(zmcf->redactor);
        zmcf->redactor = NULL;
    }
}


/* configuration */

static void
ngx_http_zoll_cleanup_policy(void *data)
{
    zoll_policy_free(data);
}


static char *
ngx_http_zoll_policy(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_zoll_main_conf_t *zmcf = conf;

    char                 err[ZOLL_ERR_LEN];
    ngx_str_t           *value;
    const char          *note;
    ngx_pool_cleanup_t  *cln;

    if (zmcf->policy) {
        return "is duplicate";
    }

    value = cf->args->elts;
    zmcf->policy_path = value[1];

    if (ngx_conf_full_name(cf->cycle, &zmcf->policy_path, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        return NGX_CONF_ERROR;
    }

    zmcf->policy = zoll_policy_load((const char *) zmcf->policy_path.data,
                                    err, sizeof(err));
    if (zmcf->policy == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "zoll_policy \"%V\": %s",
                           &zmcf->policy_path, err);
        return NGX_CONF_ERROR;
    }

    cln->handler = ngx_http_zoll_cleanup_policy;
    cln->data = zmcf->policy;

    /* the compiled rules could not be cached: a slower load, no more */
    note = zoll_rules_cache_note(zoll_policy_rules(zmcf->policy), NULL);

    if (note[0]) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0, "zoll_policy \"%V\": %s",
                           &zmcf->policy_path, note);
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_zoll_transfer_log(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_zoll_main_conf_t *zmcf = conf;

    ngx_str_t  *value;

    if (zmcf->log.file) {
        return "is duplicate";
    }

    value = cf->args->elts;

    return ngx_http_zoll_log_conf(cf, &zmcf->log, &value[1],
                                  &ngx_http_zoll_module);
}


static void
ngx_http_zoll_cleanup_geoip(void *data)
{
    zoll_geoip_free(data);
}


/* opened at configuration time: a missing or unreadable database fails
 * nginx -t and a reload (which then keeps the old configuration) */

static char *
ngx_http_zoll_geoip(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_zoll_main_conf_t *zmcf = conf;

    char                 err[ZOLL_ERR_LEN];
    ngx_str_t           *value, path;
    ngx_pool_cleanup_t  *cln;

    if (zmcf->geoip) {
        return "is duplicate";
    }

    value = cf->args->elts;
    path = value[1];

    if (ngx_conf_full_name(cf->cycle, &path, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        return NGX_CONF_ERROR;
    }

    zmcf->geoip = zoll_geoip_open((const char *) path.data, err, sizeof(err));
    if (zmcf->geoip == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "zoll_geoip: %s", err);
        return NGX_CONF_ERROR;
    }

    cln->handler = ngx_http_zoll_cleanup_geoip;
    cln->data = zmcf->geoip;

    return NGX_CONF_OK;
}


static char *
ngx_http_zoll(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_zoll_loc_conf_t *zlcf = conf;

    ngx_str_t                   *value;
    ngx_uint_t                   i;
    const zoll_subprocessor_t  **used;
    ngx_http_zoll_main_conf_t   *zmcf;

    if (zlcf->sp != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        zlcf->sp = &ngx_http_zoll_off;
        return NGX_CONF_OK;
    }

    zmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_zoll_module);

    if (zmcf->policy == NULL) {
        return "needs \"zoll_policy\" earlier in the http block";
    }

    zlcf->sp = zoll_policy_subprocessor(zmcf->policy,
                                        (const char *) value[1].data);
    if (zlcf->sp == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "zoll: subprocessor \"%V\" is not in policy "
                           "\"%V\"", &value[1], &zmcf->policy_path);
        return NGX_CONF_ERROR;
    }

    used = zmcf->used.elts;

    for (i = 0; i < zmcf->used.nelts; i++) {
        if (used[i] == zlcf->sp) {
            return NGX_CONF_OK;
        }
    }

    used = ngx_array_push(&zmcf->used);
    if (used == NULL) {
        return NGX_CONF_ERROR;
    }

    *used = zlcf->sp;

    return NGX_CONF_OK;
}


static void *
ngx_http_zoll_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_zoll_main_conf_t  *zmcf;

    zmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_zoll_main_conf_t));
    if (zmcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     zmcf->policy = NULL;
     *     zmcf->log.file = NULL;
     */

    if (ngx_array_init(&zmcf->used, cf->pool, 4,
                       sizeof(zoll_subprocessor_t *))
        != NGX_OK
        || ngx_array_init(&zmcf->key_vars, cf->pool, 4, sizeof(ngx_int_t))
           != NGX_OK)
    {
        return NULL;
    }

    zmcf->request_id_index = NGX_CONF_UNSET;

    return zmcf;
}


static char *
ngx_http_zoll_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_zoll_main_conf_t *zmcf = conf;

    ngx_str_t  *name, request_id = ngx_string("request_id");
    ngx_int_t  *index;

    if (zmcf->used.nelts == 0) {
        return NGX_CONF_OK;
    }

    /* fail closed at start-up: no log, no transfers */
    if (zmcf->log.file == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"zoll\" is used but "
                           "\"zoll_transfer_log\" is not set");
        return NGX_CONF_ERROR;
    }

    /* unsigned checkpoints would prove nothing to a third party */
    if (!zoll_policy_log(zmcf->policy)->signing) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "zoll: policy \"%V\" has "
                           "no \"logging.signing_key_file\": the transfer "
                           "log's checkpoints must be signed (make a key "
                           "with: openssl genpkey -algorithm ed25519)",
                           &zmcf->policy_path);
        return NGX_CONF_ERROR;
    }

    zmcf->log.policy = zmcf->policy;

    /* nginx's database, where it names one, else the policy's */
    zmcf->geo = zmcf->geoip ? zmcf->geoip : zoll_policy_geoip(zmcf->policy);

    zmcf->request_id_index = ngx_http_get_variable_index(cf, &request_id);
    if (zmcf->request_id_index == NGX_ERROR) {
        return NGX_CONF_ERROR;
    }

    for (name = ngx_http_zoll_key_vars; name->len; name++) {
        index = ngx_array_push(&zmcf->key_vars);
        if (index == NULL) {
            return NGX_CONF_ERROR;
        }

        *index = ngx_http_get_variable_index(cf, name);
        if (*index == NGX_ERROR) {
            return NGX_CONF_ERROR;
        }
    }

    return ngx_http_zoll_check_upstreams(cf, zmcf);
}


/* Every region a Zoll location may route to must be an upstream{} block:
 * "proxy_pass $zoll_upstream" then needs no resolver, keeps its keepalive
 * pool, and a typo fails nginx -t instead of a request. */

static char *
ngx_http_zoll_check_upstreams(ngx_conf_t *cf, ngx_http_zoll_main_conf_t *zmcf)
{
    size_t                          len;
    ngx_uint_t                      i, j, k;
    const zoll_region_t            *region;
    const zoll_subprocessor_t     **sp;
    ngx_http_upstream_srv_conf_t  **uscf;
    ngx_http_upstream_main_conf_t  *umcf;

    umcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_upstream_module);
    uscf = umcf->upstreams.elts;
    sp = zmcf->used.elts;

    for (i = 0; i < zmcf->used.nelts; i++) {
        for (j = 0; j < sp[i]->nregions; j++) {
            region = &sp[i]->regions[j];
            len = ngx_strlen(region->upstream);

            for (k = 0; k < umcf->upstreams.nelts; k++) {
                if ((uscf[k]->flags & NGX_HTTP_UPSTREAM_CREATE)
                    && uscf[k]->host.len == len
                    && ngx_strncasecmp(uscf[k]->host.data,
                                       (u_char *) region->upstream, len)
                       == 0)
                {
                    break;
                }
            }

            if (k == umcf->upstreams.nelts) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "zoll: subprocessor \"%s\", region "
                                   "\"%s\" of policy \"%V\" needs an "
                                   "\"upstream %s { ... }\" block",
                                   sp[i]->id, region->id,
                                   &zmcf->policy_path, region->upstream);
                return NGX_CONF_ERROR;
            }
        }
    }

    return NGX_CONF_OK;
}


static void *
ngx_http_zoll_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_zoll_loc_conf_t  *zlcf;

    zlcf = ngx_palloc(cf->pool, sizeof(ngx_http_zoll_loc_conf_t));
    if (zlcf == NULL) {
        return NULL;
    }

    zlcf->sp = NGX_CONF_UNSET_PTR;
    zlcf->max_body = NGX_CONF_UNSET;

    return zlcf;
}


static char *
ngx_http_zoll_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_zoll_loc_conf_t *prev = parent;
    ngx_http_zoll_loc_conf_t *conf = child;

    ngx_http_core_loc_conf_t  *clcf;

    ngx_conf_merge_ptr_value(conf->sp, prev->sp, NULL);
    ngx_conf_merge_off_value(conf->max_body, prev->max_body,
                             NGX_HTTP_ZOLL_MAX_BODY);

    if (conf->sp == NULL || conf->sp == &ngx_http_zoll_off) {
        return NGX_CONF_OK;
    }

    /*
     * nginx checks client_max_body_size before any location handler runs
     * (ngx_http_zoll_header_filter turns its 413 into Zoll's).  Zoll's own
     * limit is the one a client should meet, so nginx's must lie above it;
     * it caps what a chunked body may spool to disk before Zoll sees it.
     */

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->client_max_body_size == 0
        || clcf->client_max_body_size <= conf->max_body)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "zoll: in location \"%V\", client_max_body_size "
                           "(%O) must be larger than zoll_max_body_size "
                           "(%O) and not 0, e.g. \"client_max_body_size "
                           "%Om;\"", &clcf->name,
                           clcf->client_max_body_size, conf->max_body,
                           conf->max_body / (1024 * 1024) + 1);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_zoll_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_zoll_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_zoll_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_PRECONTENT_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_zoll_handler;

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_LOG_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_zoll_log_handler;

    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_zoll_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_zoll_body_filter;

    return NGX_OK;
}
