/*
 * The restorer: puts the original values back in place of a request's
 * reversible tokens ("[EMAIL_1]") in the provider's response, a JSON body
 * or a server-sent event stream, fed in pieces cut anywhere.
 *
 * A JSON lexer walks the bytes one at a time (so it resumes at any cut);
 * inside string values it decodes escapes and matches the decoded text
 * against the request's tokens, sorted, narrowing a range of candidates
 * by one character at a time.  Only a suffix that is still a prefix of an
 * issued token is held back; anything else is written out at once, in its
 * original bytes.  A matched token becomes its value, JSON-escaped (twice
 * inside "arguments" and "partial_json", whose strings are JSON text).
 *
 * Event streams are restored event by event (an SDK acts on an event only
 * at its blank line).  A token split across two text deltas is restored by
 * moving the held suffix of the first delta into the next delta of the
 * same channel; see policy/README.md for the exact rule.  Memory is
 * bounded by the largest event, never by the stream's length.
 */

#include "zoll_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>


#define ZOLL_RS_DEPTH     32            /* levels tracked for channels */
#define ZOLL_RS_KEY       32            /* key bytes kept per level */
#define ZOLL_RS_CHANNEL   256
#define ZOLL_RS_TYPE      64            /* an event's "type" kept */


typedef struct {
    unsigned char   *tok;
    size_t           tlen;
    unsigned char   *val;
    size_t           vlen;
} zoll_rs_token_t;


/* an open object or array, for the channel of a string */
typedef struct {
    unsigned char    obj;
    unsigned char    want_key;
    unsigned char    has_index;          /* an "...index" member was seen */
    unsigned char    in_index;           /* reading its number */
    unsigned char    klen;               /* 0xff: too long to name */
    char             key[ZOLL_RS_KEY];
    uint64_t         item;               /* position in an array */
    uint64_t         index;              /* of all "...index" members */
    uint64_t         num;                /* the one being read */
} zoll_rs_level_t;


/* a growable byte buffer */
typedef struct {
    unsigned char   *p;
    size_t           len;
    size_t           cap;
} zoll_rs_buf_t;


/* text that may still become a token: decoded, and as it came */
typedef struct {
    unsigned char    dec[ZOLL_TOKEN_MAX];
    size_t           dlen;
    unsigned char    raw[ZOLL_TOKEN_MAX * 6];    /* "\uXXXX" each */
    size_t           rlen;
} zoll_rs_text_t;


/* such text cut from the end of an event's text delta */
typedef struct {
    zoll_rs_text_t   text;
    size_t           cut;                /* where it was in the event */
    char             channel[ZOLL_RS_CHANNEL];
} zoll_rs_carry_t;


enum {
    ZOLL_RS_OUT = 0,        /* between JSON tokens */
    ZOLL_RS_STR,            /* in a string */
    ZOLL_RS_ESC,            /* after a backslash */
    ZOLL_RS_HEX             /* in \uXXXX */
};


struct zoll_restorer_s {
    zoll_restore_mode_e   mode;
    zoll_rs_token_t      *tokens;
    size_t                ntokens;
    size_t                tcap;
    size_t                maxtok;
    int                   sorted;
    size_t                restored;
    int                   failed;

    /* the JSON lexer */
    unsigned              state;
    unsigned              depth;         /* may exceed ZOLL_RS_DEPTH */
    zoll_rs_level_t       levels[ZOLL_RS_DEPTH];
    unsigned              in_key:1;
    unsigned              twice:1;       /* the string holds JSON text */
    unsigned              text:1;        /* a text delta (events only) */
    unsigned              in_type:1;     /* the event's "type" value */
    unsigned char         typelen;       /* 0xff: too long to name */
    char                  type[ZOLL_RS_TYPE];
    unsigned char         esc[6];
    size_t                esclen;
    unsigned              hex;

    /* the held candidate and the range of tokens it is a prefix of */
    zoll_rs_text_t        held;
    size_t                lo, hi;

    zoll_rs_buf_t        *dst;           /* where output goes now */
    zoll_rs_buf_t         out;           /* returned to the caller */

    /* event streams */
    zoll_rs_buf_t         line;          /* the line being read */
    zoll_rs_buf_t         ev;            /* the event being read */
    zoll_rs_buf_t         hold;          /* a held event and those queued
                                            behind it */
    char                  channel[ZOLL_RS_CHANNEL];   /* of the string */
    int                   has_hold;
    zoll_rs_carry_t       carry;         /* the held event's */
    int                   resolved;      /* 0, or 1 moved, 2 stays */
    int                   ev_cut;        /* this event ends in a carry */
    zoll_rs_carry_t       ev_carry;
    int                   ev_text;       /* it has a text delta */
};


/* String values whose text is streamed in deltas, by their key: OpenAI
 * chat (content, refusal, tool call arguments), Responses (delta),
 * Anthropic (text, partial_json, thinking), Gemini (text).  These are
 * facts of the providers' wire formats. */
static const char *const  zoll_rs_text_keys[] = {
    "content", "refusal", "arguments", "delta", "text", "partial_json",
    "thinking", NULL
};

/* keys whose string value is itself JSON text */
static const char *const  zoll_rs_json_keys[] = {
    "arguments", "partial_json", NULL
};

/* ... and the "delta" of an event of this type (OpenAI Responses) */
#define ZOLL_RS_ARGS_TYPE  "function_call_arguments.delta"


static int
zoll_rs_grow(zoll_restorer_t *rs, zoll_rs_buf_t *b, size_t n)
{
    /* lines and events are bounded; what goes out is not held */
    if ((b != &rs->out && b->len + n > ZOLL_RESTORE_EVENT_MAX + 4096)
        || zoll_grow(&b->p, &b->cap, b->len + n) != 0)
    {
        rs->failed = 1;
        return -1;
    }

    return 0;
}


/* called for every byte of structure: the common case inline */

static inline int
zoll_rs_put(zoll_restorer_t *rs, zoll_rs_buf_t *b, const void *p, size_t n)
{
    if (b->len + n > b->cap && zoll_rs_grow(rs, b, n) != 0) {
        return -1;
    }

    if (n) {
        memcpy(b->p + b->len, p, n);
        b->len += n;
    }

    return 0;
}


zoll_restorer_t *
zoll_restorer_new(zoll_restore_mode_e mode)
{
    zoll_restorer_t  *rs;

    rs = calloc(1, sizeof(zoll_restorer_t));
    if (rs == NULL) {
        return NULL;
    }

    rs->mode = mode;
    return rs;
}


void
zoll_restorer_free(zoll_restorer_t *rs)
{
    size_t  i;

    if (rs == NULL) {
        return;
    }

    /* the values are personal data */
    for (i = 0; i < rs->ntokens; i++) {
        OPENSSL_cleanse(rs->tokens[i].val, rs->tokens[i].vlen);
        free(rs->tokens[i].tok);
    }

    free(rs->tokens);
    free(rs->out.p);
    free(rs->line.p);
    free(rs->ev.p);
    free(rs->hold.p);
    OPENSSL_cleanse(rs, sizeof(zoll_restorer_t));
    free(rs);
}


/* "[" then printable ASCII without brackets then "]": a token can then
 * never start inside another one, so a failed candidate is written out
 * whole and no text is looked at twice. */

static int
zoll_rs_token_ok(const char *t, size_t n)
{
    size_t  i;

    if (n < 3 || n > ZOLL_TOKEN_MAX || t[0] != '[' || t[n - 1] != ']') {
        return 0;
    }

    for (i = 1; i < n - 1; i++) {
        if (t[i] <= 0x20 || t[i] >= 0x7f || t[i] == '[' || t[i] == ']'
            || t[i] == '"' || t[i] == '\\')
        {
            return 0;
        }
    }

    return 1;
}


int
zoll_restorer_add(zoll_restorer_t *rs, const char *token, size_t tlen,
    const char *value, size_t vlen)
{
    zoll_rs_token_t  *t;

    if (!zoll_rs_token_ok(token, tlen)) {
        return -1;
    }

    if (rs->ntokens == rs->tcap) {
        t = realloc(rs->tokens, (rs->tcap ? 2 * rs->tcap : 8)
                                * sizeof(zoll_rs_token_t));
        if (t == NULL) {
            return -1;
        }
        rs->tokens = t;
        rs->tcap = rs->tcap ? 2 * rs->tcap : 8;
    }

    t = &rs->tokens[rs->ntokens];
    t->tok = malloc(tlen + vlen + 1);
    if (t->tok == NULL) {
        return -1;
    }

    memcpy(t->tok, token, tlen);
    t->tlen = tlen;
    t->val = t->tok + tlen;
    memcpy(t->val, value, vlen);
    t->vlen = vlen;

    rs->ntokens++;
    rs->sorted = 0;
    if (tlen > rs->maxtok) {
        rs->maxtok = tlen;
    }

    return 0;
}


static int
zoll_rs_cmp(const void *a, const void *b)
{
    const zoll_rs_token_t  *x = a, *y = b;
    size_t                  n = x->tlen < y->tlen ? x->tlen : y->tlen;
    int                     c = memcmp(x->tok, y->tok, n);

    return c ? c : (x->tlen > y->tlen) - (x->tlen < y->tlen);
}


size_t
zoll_restored(const zoll_restorer_t *rs)
{
    return rs->restored;
}


/* ---------------------------------------------------------------- match */


/* The value JSON-escaped once, or twice inside JSON text in a string. */

static int
zoll_rs_value(zoll_restorer_t *rs, const unsigned char *v, size_t n,
    unsigned twice)
{
    char            u[8];
    size_t          i;
    unsigned char   c;
    const char     *e;

    for (i = 0; i < n; i++) {
        c = v[i];
        e = NULL;

        switch (c) {
        case '"':  e = twice ? "\\\\\\\"" : "\\\""; break;
        case '\\': e = twice ? "\\\\\\\\" : "\\\\"; break;
        case '\n': e = twice ? "\\\\n" : "\\n"; break;
        case '\r': e = twice ? "\\\\r" : "\\r"; break;
        case '\t': e = twice ? "\\\\t" : "\\t"; break;
        default:
            if (c < 0x20) {
                snprintf(u, sizeof(u), "%su%04x", twice ? "\\\\" : "\\", c);
                e = u;
            }
        }

        if (e) {
            if (zoll_rs_put(rs, rs->dst, e, strlen(e)) != 0) {
                return -1;
            }

        } else if (zoll_rs_put(rs, rs->dst, &c, 1) != 0) {
            return -1;
        }
    }

    return 0;
}


static int
zoll_rs_unhold(zoll_restorer_t *rs)
{
    int  rc = zoll_rs_put(rs, rs->dst, rs->held.raw, rs->held.rlen);

    rs->held.dlen = 0;
    rs->held.rlen = 0;
    return rc;
}


/* Narrows [lo, hi) to the tokens whose byte k is c.  Every token in the
 * range is longer than k and shares the held prefix, so byte k grows
 * monotonically over the range. */

static void
zoll_rs_narrow(zoll_restorer_t *rs, size_t k, unsigned char c)
{
    size_t  a, b, m;

    a = rs->lo;
    b = rs->hi;
    while (a < b) {
        m = a + (b - a) / 2;
        if (rs->tokens[m].tok[k] < c) a = m + 1; else b = m;
    }

    rs->lo = a;
    b = rs->hi;
    while (a < b) {
        m = a + (b - a) / 2;
        if (rs->tokens[m].tok[k] <= c) a = m + 1; else b = m;
    }

    rs->hi = a;
}


/* One decoded character of a string value and its original bytes. */

static int
zoll_rs_char(zoll_restorer_t *rs, unsigned char c, const unsigned char *raw,
    size_t rlen)
{
    zoll_rs_token_t  *t;

    if (rs->held.dlen == 0) {
        if (c != '[') {
            return zoll_rs_put(rs, rs->dst, raw, rlen);
        }

        rs->lo = 0;
        rs->hi = rs->ntokens;
    }

    zoll_rs_narrow(rs, rs->held.dlen, c);

    if (rs->lo == rs->hi) {
        if (rs->held.dlen == 0) {
            return zoll_rs_put(rs, rs->dst, raw, rlen);
        }

        /* no token of this request: the held text and this character
         * are written as they came (a "[" starts a new candidate) */
        if (zoll_rs_unhold(rs) != 0) {
            return -1;
        }
        return c == '[' ? zoll_rs_char(rs, c, raw, rlen)
                        : zoll_rs_put(rs, rs->dst, raw, rlen);
    }

    rs->held.dec[rs->held.dlen++] = c;
    memcpy(rs->held.raw + rs->held.rlen, raw, rlen);
    rs->held.rlen += rlen;

    t = &rs->tokens[rs->lo];

    if (t->tlen == rs->held.dlen) {
        /* tokens end at their only "]": none continues a complete one */
        rs->held.dlen = 0;
        rs->held.rlen = 0;
        rs->restored++;
        return zoll_rs_value(rs, t->val, t->vlen, rs->twice);
    }

    return 0;
}


/* ---------------------------------------------------------------- JSON */


static int
zoll_rs_key_is(const zoll_rs_level_t *l, const char *const *keys)
{
    size_t  i;

    if (l->klen == 0xff) {
        return 0;
    }

    for (i = 0; keys[i]; i++) {
        if (keys[i][0] == l->key[0] && strlen(keys[i]) == l->klen
            && memcmp(keys[i], l->key, l->klen) == 0)
        {
            return 1;
        }
    }

    return 0;
}


/* The channel of the string value now starting: the path of keys and
 * array positions, with the numbers of the "index", "output_index",
 * "content_index" ... members of the enclosing objects (OpenAI choices and
 * tool calls, Responses output items and their parts, Anthropic content
 * blocks). */

static int
zoll_rs_channel(zoll_restorer_t *rs, char *out)
{
    unsigned                i;
    zoll_buf_t              b;
    const zoll_rs_level_t  *l;

    if (rs->depth > ZOLL_RS_DEPTH) {
        return -1;
    }

    /* once per text delta of every event: no printf */
    zoll_buf_init(&b, out, ZOLL_RS_CHANNEL);

    for (i = 0; i < rs->depth; i++) {
        l = &rs->levels[i];

        if (!l->obj) {
            zoll_buf_raw(&b, "[", 1);
            zoll_buf_uint(&b, l->item);
            zoll_buf_raw(&b, "]", 1);
            continue;
        }

        if (l->klen == 0xff) {
            return -1;
        }

        if (l->has_index) {
            zoll_buf_raw(&b, "#", 1);
            zoll_buf_uint(&b, l->index);
        }

        zoll_buf_raw(&b, ".", 1);
        zoll_buf_raw(&b, l->key, l->klen);
    }

    return zoll_buf_finish(&b) < ZOLL_RS_CHANNEL ? 0 : -1;
}


/* An event's text delta starts: the first one of an event after a held
 * event decides where the held suffix goes. */

static void
zoll_rs_text_starts(zoll_restorer_t *rs)
{
    size_t  i;

    if (rs->mode != ZOLL_RESTORE_SSE || zoll_rs_channel(rs, rs->channel) != 0)
    {
        return;
    }

    rs->text = 1;
    rs->ev_text = 1;

    if (!rs->has_hold || rs->resolved) {
        return;
    }

    if (strcmp(rs->channel, rs->carry.channel) != 0) {
        rs->resolved = 2;
        return;
    }

    /* the held suffix moves here and goes on matching */
    rs->resolved = 1;
    rs->held = rs->carry.text;
    rs->lo = 0;
    rs->hi = rs->ntokens;

    for (i = 0; i < rs->held.dlen; i++) {
        zoll_rs_narrow(rs, i, rs->held.dec[i]);
    }
}


static int
zoll_rs_string_ends(zoll_restorer_t *rs)
{
    if (rs->held.dlen == 0) {
        return 0;
    }

    if (!rs->text || rs->ev_cut) {
        return zoll_rs_unhold(rs);
    }

    /* the suffix may continue in the next delta of this channel */
    rs->ev_cut = 1;
    rs->ev_carry.text = rs->held;
    rs->ev_carry.cut = rs->dst->len;
    memcpy(rs->ev_carry.channel, rs->channel, sizeof(rs->channel));
    rs->held.dlen = 0;
    rs->held.rlen = 0;
    return 0;
}


static int
zoll_rs_holds_json(zoll_restorer_t *rs, const zoll_rs_level_t *l)
{
    size_t  n = sizeof(ZOLL_RS_ARGS_TYPE) - 1;

    if (zoll_rs_key_is(l, zoll_rs_json_keys)) {
        return 1;
    }

    return rs->depth == 1 && l->klen == 5 && memcmp(l->key, "delta", 5) == 0
           && rs->typelen != 0xff && rs->typelen >= n
           && memcmp(rs->type + rs->typelen - n, ZOLL_RS_ARGS_TYPE, n) == 0;
}


static zoll_rs_level_t *
zoll_rs_top(zoll_restorer_t *rs)
{
    if (rs->depth == 0 || rs->depth > ZOLL_RS_DEPTH) {
        return NULL;
    }

    return &rs->levels[rs->depth - 1];
}


static int
zoll_rs_hexval(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}


static uint64_t
zoll_rs_name_hash(const zoll_rs_level_t *l)
{
    uint64_t  h = 14695981039346656037ULL;
    unsigned  i;

    for (i = 0; i < l->klen; i++) {
        h = (h ^ (unsigned char) l->key[i]) * 1099511628211ULL;
    }

    return h;
}


/* Between strings: structure only; every byte is copied. */

static int
zoll_rs_out(zoll_restorer_t *rs, unsigned char c)
{
    zoll_rs_level_t  *l = zoll_rs_top(rs);

    if (l && l->in_index) {
        if (c >= '0' && c <= '9') {
            l->num = l->num * 10 + (uint64_t) (c - '0');

        } else if (c != ' ' && c != '\t' && c != '\r' && c != '\n') {
            /* several (output_index, content_index) make one channel; the
             * member's name and a start at 1 keep (0, 5) apart from (5)
             * and output_index 2 apart from content_index 2 */
            l->index = l->index * 1000003
                       + (zoll_rs_name_hash(l) * 1009 + l->num + 1);
            l->has_index = 1;
            l->in_index = 0;
        }
    }

    switch (c) {

    case '"':
        rs->state = ZOLL_RS_STR;
        rs->in_key = l && l->obj && l->want_key;
        rs->text = 0;
        rs->twice = 0;
        rs->in_type = 0;

        if (rs->in_key) {
            l->klen = 0;

        } else if (l && l->obj) {
            rs->twice = zoll_rs_holds_json(rs, l);
            if (rs->depth == 1 && l->klen == 4
                && memcmp(l->key, "type", 4) == 0)
            {
                rs->in_type = 1;
                rs->typelen = 0;
            }
            if (zoll_rs_key_is(l, zoll_rs_text_keys)) {
                zoll_rs_text_starts(rs);
            }
        }
        break;

    case '{':
    case '[':
        if (++rs->depth <= ZOLL_RS_DEPTH) {
            l = &rs->levels[rs->depth - 1];
            memset(l, 0, sizeof(zoll_rs_level_t));
            l->obj = (c == '{');
            l->want_key = l->obj;
        }
        break;

    case '}':
    case ']':
        if (rs->depth) {
            rs->depth--;
        }
        break;

    case ',':
        if (l) {
            l->want_key = l->obj;
            l->in_index = 0;
            l->item++;
        }
        break;

    case ':':
        if (l && l->obj) {
            l->want_key = 0;
            l->in_index = (l->klen != 0xff && l->klen >= 5
                           && memcmp(l->key + l->klen - 5, "index", 5) == 0);
            l->num = 0;
        }
        break;
    }

    return zoll_rs_put(rs, rs->dst, &c, 1);
}


/* Bytes of a key: kept (a key longer than ZOLL_RS_KEY is no key we look
 * for) and copied. */

static int
zoll_rs_key_bytes(zoll_restorer_t *rs, const unsigned char *p, size_t n)
{
    zoll_rs_level_t  *l = zoll_rs_top(rs);

    if (l && l->klen != 0xff) {
        if (l->klen + n <= ZOLL_RS_KEY) {
            memcpy(l->key + l->klen, p, n);
            l->klen += n;

        } else {
            l->klen = 0xff;
        }
    }

    return zoll_rs_put(rs, rs->dst, p, n);
}


static const unsigned char  zoll_rs_unescape[128] = {
    ['"'] = '"', ['\\'] = '\\', ['/'] = '/', ['b'] = '\b', ['f'] = '\f',
    ['n'] = '\n', ['r'] = '\r', ['t'] = '\t'
};


static int zoll_rs_escape_ends(zoll_restorer_t *rs);


static int
zoll_rs_json_byte(zoll_restorer_t *rs, unsigned char c)
{
    int     h;

    switch (rs->state) {

    case ZOLL_RS_OUT:
        return zoll_rs_out(rs, c);

    case ZOLL_RS_STR:
        if (rs->in_type && c != '"' && rs->typelen != 0xff) {
            if (rs->typelen < ZOLL_RS_TYPE && c != '\\') {
                rs->type[rs->typelen++] = (char) c;
            } else {
                rs->typelen = 0xff;
            }
        }

        if (c == '"') {
            rs->state = ZOLL_RS_OUT;
            rs->in_type = 0;
            if (!rs->in_key && zoll_rs_string_ends(rs) != 0) {
                return -1;
            }
            return zoll_rs_put(rs, rs->dst, &c, 1);
        }

        if (c == '\\') {
            rs->state = ZOLL_RS_ESC;
            rs->esc[0] = c;
            rs->esclen = 1;
            return 0;
        }

        if (rs->in_key) {
            return zoll_rs_key_bytes(rs, &c, 1);
        }

        if (c >= 0x80) {
            /* never part of a token */
            return zoll_rs_unhold(rs) ? -1 : zoll_rs_put(rs, rs->dst, &c, 1);
        }

        return zoll_rs_char(rs, c, &c, 1);

    case ZOLL_RS_ESC:
        rs->esc[rs->esclen++] = c;

        if (c == 'u') {
            rs->state = ZOLL_RS_HEX;
            rs->hex = 0;
            return 0;
        }

        rs->state = ZOLL_RS_STR;
        break;

    default:    /* ZOLL_RS_HEX */
        h = zoll_rs_hexval(c);

        if (h < 0) {
            /* not JSON: the escape's bytes go on as they came (0x80: as
             * if it were a character no token holds), and the byte that
             * broke it is read again as what it is (a '"' still ends the
             * string) */
            rs->state = ZOLL_RS_STR;
            rs->hex = 0x80;
            return zoll_rs_escape_ends(rs) != 0 ? -1
                   : zoll_rs_json_byte(rs, c);
        }

        rs->esc[rs->esclen++] = c;
        rs->hex = rs->hex * 16 + (unsigned) h;

        if (rs->esclen < 6) {
            return 0;
        }

        rs->state = ZOLL_RS_STR;
        break;
    }

    return zoll_rs_escape_ends(rs);
}


/* An escape is complete (or cut off, or broken): its character is matched
 * like any other, or its bytes go on as they came. */

static int
zoll_rs_escape_ends(zoll_restorer_t *rs)
{
    unsigned char  c;

    if (rs->in_key) {
        return zoll_rs_key_bytes(rs, rs->esc, rs->esclen);
    }

    if (rs->esclen < 2) {
        c = 0;                  /* a lone backslash at the end */
    } else if (rs->esc[1] == 'u') {
        c = rs->esclen == 6 && rs->hex < 0x80 ? (unsigned char) rs->hex : 0;
    } else {
        c = rs->esc[1] < 0x80 ? zoll_rs_unescape[rs->esc[1]] : 0;
    }

    if (c == 0 || c >= 0x80) {
        return zoll_rs_unhold(rs) ? -1
               : zoll_rs_put(rs, rs->dst, rs->esc, rs->esclen);
    }

    return zoll_rs_char(rs, c, rs->esc, rs->esclen);
}


/* The end of the text inside an escape: its bytes go out as they came. */

static int
zoll_rs_flush_escape(zoll_restorer_t *rs)
{
    if (rs->state != ZOLL_RS_ESC && rs->state != ZOLL_RS_HEX) {
        return 0;
    }

    rs->state = ZOLL_RS_STR;
    rs->hex = 0x80;
    return zoll_rs_escape_ends(rs);
}


/* Bytes of JSON: a run of a key, or of a string value that holds nothing
 * of interest (no quote, backslash or "[", no candidate held), is copied
 * at once. */

static int
zoll_rs_json(zoll_restorer_t *rs, const unsigned char *p, size_t n)
{
    size_t            i, j;
    zoll_rs_level_t  *l;

    for (i = 0; i < n; /* void */ ) {
        if (rs->state == ZOLL_RS_OUT) {
            /* numbers, literals and white space, unless an index is
             * being read */
            l = zoll_rs_top(rs);

            for (j = i; j < n && !(l && l->in_index) && p[j] != '"'
                        && p[j] != '{' && p[j] != '}' && p[j] != '['
                        && p[j] != ']' && p[j] != ',' && p[j] != ':'; j++)
            {
                /* void */
            }

            if (j > i) {
                if (zoll_rs_put(rs, rs->dst, p + i, j - i) != 0) {
                    return -1;
                }

                i = j;
                continue;
            }

        } else if (rs->state == ZOLL_RS_STR && rs->in_key) {
            for (j = i; j < n && p[j] != '"' && p[j] != '\\'; j++) {
                /* void */
            }

            if (j > i) {
                if (zoll_rs_key_bytes(rs, p + i, j - i) != 0) {
                    return -1;
                }

                i = j;
                continue;
            }

        } else if (rs->state == ZOLL_RS_STR && !rs->in_type
                   && rs->held.dlen == 0)
        {
            for (j = i; j < n && p[j] != '"' && p[j] != '\\' && p[j] != '[';
                 j++)
            {
                /* void */
            }

            if (j > i) {
                if (zoll_rs_put(rs, rs->dst, p + i, j - i) != 0) {
                    return -1;
                }

                i = j;
                continue;
            }
        }

        if (zoll_rs_json_byte(rs, p[i++]) != 0) {
            return -1;
        }
    }

    return 0;
}


static void
zoll_rs_json_reset(zoll_restorer_t *rs)
{
    rs->state = ZOLL_RS_OUT;
    rs->depth = 0;
    rs->in_key = 0;
    rs->in_type = 0;
    rs->typelen = 0;
    rs->held.dlen = 0;
    rs->held.rlen = 0;
}


/* ---------------------------------------------------------------- SSE */


static int
zoll_rs_emit_hold(zoll_restorer_t *rs, int with_carry)
{
    if (!rs->has_hold) {
        return 0;
    }

    rs->has_hold = 0;

    if (zoll_rs_put(rs, &rs->out, rs->hold.p, rs->carry.cut) != 0
        || (with_carry && zoll_rs_put(rs, &rs->out, rs->carry.text.raw,
                                      rs->carry.text.rlen))
        || zoll_rs_put(rs, &rs->out, rs->hold.p + rs->carry.cut,
                       rs->hold.len - rs->carry.cut) != 0)
    {
        return -1;
    }

    rs->hold.len = 0;
    return 0;
}


/* The event's blank line: it is written out, held, or queued behind the
 * held one. */

static int
zoll_rs_event_ends(zoll_restorer_t *rs)
{
    zoll_rs_buf_t  tmp;

    if (rs->has_hold && !rs->ev_text) {
        /* no text of its own: it waits behind the held event, unless the
         * queue grew too long */
        if (rs->hold.len + rs->ev.len <= ZOLL_RESTORE_EVENT_MAX) {
            if (zoll_rs_put(rs, &rs->hold, rs->ev.p, rs->ev.len) != 0) {
                return -1;
            }
            rs->ev.len = 0;
            return 0;
        }
        rs->resolved = 2;
    }

    if (rs->has_hold && zoll_rs_emit_hold(rs, rs->resolved != 1) != 0) {
        return -1;
    }

    if (rs->ev_cut) {
        /* this event's suffix waits for the next delta */
        tmp = rs->hold;
        rs->hold = rs->ev;
        rs->ev = tmp;
        rs->has_hold = 1;
        rs->resolved = 0;
        rs->carry = rs->ev_carry;

    } else if (zoll_rs_put(rs, &rs->out, rs->ev.p, rs->ev.len) != 0) {
        return -1;
    }

    rs->ev.len = 0;
    rs->ev_cut = 0;
    rs->ev_text = 0;
    return 0;
}


static int
zoll_rs_blank(const unsigned char *p, size_t n)
{
    return n == 0 || (n == 1 && p[0] == '\r');
}


/* One whole line (without its "\n"): "data:" lines are JSON and restored,
 * every other line ("event:", "id:", comments) is copied. */

static int
zoll_rs_line(zoll_restorer_t *rs, const unsigned char *p, size_t n, int nl)
{
    size_t  end;

    rs->dst = &rs->ev;

    if (n >= 5 && memcmp(p, "data:", 5) == 0) {
        end = (n > 5 && p[n - 1] == '\r') ? n - 1 : n;

        if (zoll_rs_put(rs, &rs->ev, p, 5) != 0) {
            return -1;
        }

        zoll_rs_json_reset(rs);

        if (zoll_rs_json(rs, p + 5, end - 5) != 0) {
            return -1;
        }

        /* an unterminated string's escape and candidate go out as they
         * came */
        if (zoll_rs_flush_escape(rs) != 0 || zoll_rs_unhold(rs) != 0
            || zoll_rs_put(rs, &rs->ev, p + end, n - end) != 0)
        {
            return -1;
        }

    } else if (zoll_rs_put(rs, &rs->ev, p, n) != 0) {
        return -1;
    }

    if (nl && zoll_rs_put(rs, &rs->ev, "\n", 1) != 0) {
        return -1;
    }

    return zoll_rs_blank(p, n) && nl ? zoll_rs_event_ends(rs) : 0;
}


static int
zoll_rs_sse(zoll_restorer_t *rs, const unsigned char *in, size_t len)
{
    const unsigned char  *nl, *end = in + len;

    while (in < end) {
        nl = memchr(in, '\n', (size_t) (end - in));

        if (nl == NULL) {
            if (rs->line.len + (size_t) (end - in) > ZOLL_RESTORE_EVENT_MAX) {
                rs->failed = 1;
                return -1;
            }
            return zoll_rs_put(rs, &rs->line, in, (size_t) (end - in));
        }

        if (rs->line.len) {
            if (zoll_rs_put(rs, &rs->line, in, (size_t) (nl - in)) != 0
                || zoll_rs_line(rs, rs->line.p, rs->line.len, 1) != 0)
            {
                return -1;
            }
            rs->line.len = 0;

        } else if (zoll_rs_line(rs, in, (size_t) (nl - in), 1) != 0) {
            return -1;
        }

        if (rs->ev.len > ZOLL_RESTORE_EVENT_MAX) {
            rs->failed = 1;
            return -1;
        }

        in = nl + 1;
    }

    return 0;
}


/* ---------------------------------------------------------------- API */


static void
zoll_rs_prepare(zoll_restorer_t *rs)
{
    if (!rs->sorted) {
        if (rs->ntokens) {      /* qsort's array may not be NULL */
            qsort(rs->tokens, rs->ntokens, sizeof(zoll_rs_token_t),
                  zoll_rs_cmp);
        }

        rs->sorted = 1;
    }

    rs->out.len = 0;
}


int
zoll_restore(zoll_restorer_t *rs, const unsigned char *in, size_t len,
    const unsigned char **out, size_t *olen)
{
    *out = NULL;
    *olen = 0;

    if (rs->failed) {
        return -1;
    }

    zoll_rs_prepare(rs);

    if (rs->mode == ZOLL_RESTORE_SSE) {
        if (zoll_rs_sse(rs, in, len) != 0) {
            return -1;
        }

    } else {
        rs->dst = &rs->out;
        if (zoll_rs_json(rs, in, len) != 0) {
            return -1;
        }
    }

    *out = rs->out.p;
    *olen = rs->out.len;
    return 0;
}


int
zoll_restore_finish(zoll_restorer_t *rs, const unsigned char **out,
    size_t *olen)
{
    *out = NULL;
    *olen = 0;

    if (rs->failed) {
        return -1;
    }

    zoll_rs_prepare(rs);

    if (rs->mode == ZOLL_RESTORE_SSE) {
        /* a last line without its newline, a last event without its blank
         * line, and a held event: all go out */
        if ((rs->line.len
             && zoll_rs_line(rs, rs->line.p, rs->line.len, 0) != 0)
            || (rs->ev.len && zoll_rs_event_ends(rs) != 0)
            || zoll_rs_emit_hold(rs, rs->resolved != 1) != 0)
        {
            return -1;
        }

        rs->line.len = 0;

    } else {
        rs->dst = &rs->out;
        if (zoll_rs_flush_escape(rs) != 0 || zoll_rs_unhold(rs) != 0) {
            return -1;
        }
    }

    *out = rs->out.p;
    *olen = rs->out.len;
    return 0;
}
