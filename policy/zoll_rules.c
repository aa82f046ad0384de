/*
 * Rule packs: loading, compiling, and checking them against their own
 * examples.
 *
 * Every "*.json" in the rules directory is one pack (the format is in
 * rules/README.md).  Each rule is compiled twice: with PCRE2 (JIT), which
 * decides every match, its span and its capture group, and with Vectorscan
 * in prefilter mode into one multi-pattern database, which reads the text
 * once and tells the scanner where a rule could end (zoll_scan.c).  A rule
 * Vectorscan cannot compile is not lost: the scanner runs its PCRE2 pattern
 * over the whole text instead.
 *
 * A pack whose own examples fail does not load: a rule that misses what its
 * author promised would otherwise pass text through unredacted.
 */

#include "zoll_internal.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>


#define ZOLL_RULE_MAX_LEN_DEFAULT  256
#define ZOLL_RULE_MAX_LEN_LIMIT    65536
#define ZOLL_CONTEXT_WINDOW_LIMIT  1024
#define ZOLL_LIST_MAX              (1024 * 1024)


typedef struct {
    char           *err;
    size_t          errlen;
    const char     *dir;
    const char     *file;         /* the pack being loaded */
    zoll_rules_t   *rules;
} zoll_rload_t;


static int
zoll_rfail(zoll_rload_t *ld, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
zoll_rfail(zoll_rload_t *ld, const char *path, const char *fmt, ...)
{
    va_list  ap;

    va_start(ap, fmt);
    zoll_load_vfail(ld->err, ld->errlen, ld->file ? ld->file : ld->dir, path,
                    fmt, ap);
    va_end(ap);

    return -1;
}


static int
zoll_rcheck_keys(zoll_rload_t *ld, json_t *obj, const char *path,
    const char *const *keys)
{
    const char  *k;

    k = zoll_json_unknown_key(obj, keys, 0);

    return k ? zoll_rfail(ld, path, "unknown key \"%s\"", k) : 0;
}


static int
zoll_rstr(zoll_rload_t *ld, json_t *obj, const char *path, const char *key,
    int required, const char **out)
{
    const char  *why;

    why = zoll_json_get_str(obj, key, required, out);

    return why ? zoll_rfail(ld, path, "\"%s\" %s", key, why) : 0;
}


static int
zoll_rint(zoll_rload_t *ld, json_t *obj, const char *path, const char *key,
    long min, long max, long def, long *out)
{
    json_t  *v;

    v = json_object_get(obj, key);

    if (v == NULL) {
        *out = def;
        return 0;
    }

    if (!json_is_integer(v) || json_integer_value(v) < min
        || json_integer_value(v) > max)
    {
        return zoll_rfail(ld, path, "\"%s\" must be an integer from %ld "
                          "to %ld", key, min, max);
    }

    *out = (long) json_integer_value(v);
    return 0;
}


/* Word lists: one entry per line, "#" starts a comment.  An entry is one
 * word: letters, apostrophes and hyphens.  Vectorscan gets a list as an
 * alternation of its words, which it matches at memory speed however long
 * the list; PCRE2 (whose compiled patterns are limited to 64 KB) gets a
 * capture of any such word followed by a callout, in which the scanner
 * looks the captured word up in the sorted list; a word that is not in it
 * makes PCRE2 backtrack, so "Anna-Maria" can still match as "Anna" and
 * "-Maria" (zoll_scan.c, zoll_list_callout). */

/* ASCII-caseless order, so one sorted list serves caseless rules too */
static int
zoll_cmp_words(const void *a, const void *b)
{
    return strcasecmp(*(char *const *) a, *(char *const *) b);
}


static int
zoll_word_ok(const char *w, size_t n)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        if ((unsigned char) w[i] < 0x80
            && !((w[i] >= 'a' && w[i] <= 'z') || (w[i] >= 'A' && w[i] <= 'Z')
                 || ((w[i] == '\'' || w[i] == '-') && i > 0)))
        {
            return 0;
        }
    }

    return n > 0;
}


static int
zoll_list_load(zoll_rload_t *ld, const char *path, const char *name,
    const char *file)
{
    char         full[4096], *text, *line, *next, *o;
    size_t       n, i, cap, altlen;
    FILE        *f;
    zoll_list_t *l, *nl;

    if (strchr(file, '/') != NULL) {
        return zoll_rfail(ld, path, "list \"%s\" must be a file name in the "
                          "rules directory", name);
    }

    nl = realloc(ld->rules->lists,
                 (ld->rules->nlists + 1) * sizeof(zoll_list_t));
    if (nl == NULL) {
        return zoll_rfail(ld, path, "out of memory");
    }

    ld->rules->lists = nl;
    l = &nl[ld->rules->nlists++];
    memset(l, 0, sizeof(zoll_list_t));
    l->name = name;

    snprintf(full, sizeof(full), "%s/%s", ld->dir, file);

    f = fopen(full, "rb");
    if (f == NULL) {
        return zoll_rfail(ld, path, "cannot read \"%s\": %s", full,
                          strerror(errno));
    }

    text = malloc(ZOLL_LIST_MAX + 1);
    if (text == NULL) {
        fclose(f);
        return zoll_rfail(ld, path, "out of memory");
    }

    n = fread(text, 1, ZOLL_LIST_MAX + 1, f);
    fclose(f);

    if (n > ZOLL_LIST_MAX) {
        free(text);
        return zoll_rfail(ld, path, "\"%s\" is larger than %d bytes", full,
                          ZOLL_LIST_MAX);
    }

    text[n] = '\0';
    cap = 0;
    altlen = 4;

    for (line = text; *line; line = next) {
        next = strchr(line, '\n');
        next = next ? next + 1 : line + strlen(line);

        n = strcspn(line, "#\r\n");
        while (n > 0 && (line[n - 1] == ' ' || line[n - 1] == '\t')) {
            n--;
        }

        if (n == 0) {
            continue;
        }

        if (!zoll_word_ok(line, n)) {
            zoll_rfail(ld, path, "list \"%s\": \"%.*s\" is not one word",
                       name, (int) n, line);
            free(text);
            return -1;
        }

        if (l->n == cap) {
            cap = cap ? 2 * cap : 256;
            l->words = realloc(l->words, cap * sizeof(char *));
            if (l->words == NULL) {
                free(text);
                return zoll_rfail(ld, path, "out of memory");
            }
        }

        l->words[l->n] = strndup(line, n);
        if (l->words[l->n] == NULL) {
            free(text);
            return zoll_rfail(ld, path, "out of memory");
        }

        l->n++;
        altlen += 2 * n + 1;
    }

    free(text);

    if (l->n == 0) {
        return zoll_rfail(ld, path, "list \"%s\" is empty", name);
    }

    qsort(l->words, l->n, sizeof(char *), zoll_cmp_words);

    l->alt = malloc(altlen);
    if (l->alt == NULL) {
        return zoll_rfail(ld, path, "out of memory");
    }

    o = l->alt;
    memcpy(o, "(?:", 3);
    o += 3;

    for (i = 0; i < l->n; i++) {
        if (i) {
            *o++ = '|';
        }

        for (line = l->words[i]; *line; line++) {
            if (*line == '-') {
                *o++ = '\\';
            }
            *o++ = *line;
        }
    }

    *o++ = ')';
    *o = '\0';

    return 0;
}


static int
zoll_list_index(const zoll_rules_t *rs, const char *name, size_t n)
{
    size_t  i;

    for (i = 0; i < rs->nlists; i++) {
        if (strlen(rs->lists[i].name) == n
            && strncmp(rs->lists[i].name, name, n) == 0)
        {
            return (int) i;
        }
    }

    return -1;
}


/* The word of a list capture in PCRE2 patterns: a word as list entries
 * are, so that the captured word is whole and can be looked up.  Letter
 * runs are possessive: a list word never ends inside one, so a word not in
 * the list gives up whole "-" or "'" parts ("Anna-Lena", then "Anna"),
 * never single letters; each give-up costs a lookup. */
#define ZOLL_LIST_WORD  "\\p{L}++(?:['\xe2\x80\x99-]\\p{L}++)*"


/* Vectorscan compiles bounded repeats by unrolling them: "{16,2000}" in
 * one secret rule took the database minutes to build.  In a prefilter a
 * large bound may be dropped, "{16,}", since the result matches wherever
 * the original does: the prefilter stays a superset. */

#define ZOLL_HS_REPEAT_MAX  32

static char *
zoll_hs_repeats(char *in)
{
    int            cls = 0;
    char          *o, *p, *end, *out;
    unsigned long  lo, hi;

    /* "{40}" becomes "{32,}": at most 2 bytes longer per 3 of input */
    out = malloc(2 * strlen(in) + 1);
    if (out == NULL) {
        free(in);
        return NULL;            /* the caller reports it */
    }

    for (p = in, o = out; *p; ) {
        if (*p == '\\' && p[1]) {
            *o++ = *p++;
            *o++ = *p++;
            continue;
        }

        if (cls) {
            cls = (*p != ']');
            *o++ = *p++;
            continue;
        }

        if (*p == '[') {
            cls = 1;
            *o++ = *p++;

            if (*p == '^') {
                *o++ = *p++;
            }

            if (*p == ']') {
                *o++ = *p++;
            }

            continue;
        }

        if (*p == '{' && p[1] >= '0' && p[1] <= '9') {
            lo = strtoul(p + 1, &end, 10);
            hi = lo;

            if (*end == ',') {
                hi = (end[1] == '}') ? (unsigned long) -1
                                     : strtoul(end + 1, &end, 10);
                if (hi != (unsigned long) -1) {
                    end--;
                }
                end++;
            }

            if (*end == '}' && hi > ZOLL_HS_REPEAT_MAX) {
                o += sprintf(o, "{%lu,}", lo < ZOLL_HS_REPEAT_MAX
                                          ? lo : ZOLL_HS_REPEAT_MAX);
                p = end + 1;
                continue;
            }
        }

        *o++ = *p++;
    }

    *o = '\0';
    free(in);
    return out;
}


/* Replaces every "{{name}}": for Vectorscan (pcre == 0) by the list's
 * alternation, for PCRE2 by a named capture "(?<zlK>word)" whose word the
 * scanner looks up.  The result is malloc()ed. */

static char *
zoll_expand(zoll_rload_t *ld, const char *path, const char *pattern,
    zoll_rule_t *rule, int pcre)
{
    int                  li;
    char                *out, *o;
    size_t               need;
    const char          *p, *q;
    const zoll_rules_t  *rs = ld->rules;

    need = strlen(pattern) + 1;

    for (p = strstr(pattern, "{{"); p; p = strstr(q + 2, "{{")) {
        q = strstr(p + 2, "}}");
        if (q == NULL) {
            break;
        }

        li = zoll_list_index(rs, p + 2, q - p - 2);
        if (li < 0) {
            zoll_rfail(ld, path, "unknown list \"%.*s\"", (int) (q - p + 2),
                       p);
            return NULL;
        }

        need += pcre ? sizeof("(?<zl00>" ZOLL_LIST_WORD ")(?C000)")
                     : strlen(rs->lists[li].alt);
    }

    out = malloc(need);
    if (out == NULL) {
        zoll_rfail(ld, path, "out of memory");
        return NULL;
    }

    o = out;

    for (p = pattern; *p; ) {
        q = (p[0] == '{' && p[1] == '{') ? strstr(p + 2, "}}") : NULL;

        if (q == NULL) {
            *o++ = *p++;
            continue;
        }

        li = zoll_list_index(rs, p + 2, q - p - 2);

        if (!pcre) {
            o += sprintf(o, "%s", rs->lists[li].alt);

        } else if (rule->nlrefs == ZOLL_LIST_REFS_MAX) {
            free(out);
            zoll_rfail(ld, path, "more than %d list references",
                       ZOLL_LIST_REFS_MAX);
            return NULL;

        } else {
            rule->lrefs[rule->nlrefs].list = (unsigned) li;
            o += sprintf(o, "(?<zl%u>" ZOLL_LIST_WORD ")(?C%u)",
                         rule->nlrefs, rule->nlrefs + 1);
            rule->nlrefs++;
        }

        p = q + 2;
    }

    *o = '\0';
    return out;
}


static int
zoll_rule_flags(zoll_rload_t *ld, json_t *arr, const char *path,
    zoll_rule_t *rule)
{
    size_t       i;
    json_t      *v;
    const char  *f;

    if (arr == NULL) {
        return 0;
    }

    if (!json_is_array(arr)) {
        return zoll_rfail(ld, path, "\"flags\" must be an array");
    }

    json_array_foreach(arr, i, v) {
        f = json_string_value(v);

        if (f == NULL) {
            return zoll_rfail(ld, path, "flags[%zu] must be a string", i);
        }

        if (strcmp(f, "caseless") == 0) {
            rule->pcre_opts |= PCRE2_CASELESS;
            rule->hs_flags |= HS_FLAG_CASELESS;

        } else if (strcmp(f, "multiline") == 0) {
            rule->pcre_opts |= PCRE2_MULTILINE;
            rule->hs_flags |= HS_FLAG_MULTILINE;

        } else if (strcmp(f, "dotall") == 0) {
            rule->pcre_opts |= PCRE2_DOTALL;
            rule->hs_flags |= HS_FLAG_DOTALL;

        } else if (strcmp(f, "extended") == 0) {
            rule->pcre_opts |= PCRE2_EXTENDED;
            rule->extended = 1;

        } else {
            return zoll_rfail(ld, path, "flags[%zu]: must be one of "
                              "caseless, multiline, dotall, extended", i);
        }
    }

    return 0;
}


static int
zoll_rule_context(zoll_rload_t *ld, json_t *ctx, const char *path,
    zoll_rule_t *rule)
{
    static const char *const  keys[] = { "words", "window", "required",
                                         NULL };
    size_t          i;
    long            window;
    json_t         *words, *v, *req;

    if (ctx == NULL) {
        return 0;
    }

    if (!json_is_object(ctx)) {
        return zoll_rfail(ld, path, "\"context\" must be an object");
    }

    if (zoll_rcheck_keys(ld, ctx, path, keys) != 0) {
        return -1;
    }

    words = json_object_get(ctx, "words");

    if (!json_is_array(words) || json_array_size(words) == 0) {
        return zoll_rfail(ld, path, "\"context.words\" must be a non-empty "
                          "array");
    }

    rule->ctx_words = calloc(json_array_size(words), sizeof(char *));
    if (rule->ctx_words == NULL) {
        return zoll_rfail(ld, path, "out of memory");
    }

    json_array_foreach(words, i, v) {
        if (!json_is_string(v) || json_string_length(v) == 0) {
            return zoll_rfail(ld, path, "context.words[%zu] must be a "
                              "non-empty string", i);
        }

        rule->ctx_words[i] = json_string_value(v);

        zoll_bytes_add_caseless(rule->ctx_first,
                                (unsigned char) rule->ctx_words[i][0]);
    }

    rule->nctx_words = json_array_size(words);

    if (zoll_rint(ld, ctx, path, "window", 1, ZOLL_CONTEXT_WINDOW_LIMIT, 40,
                  &window) != 0)
    {
        return -1;
    }

    rule->ctx_window = (size_t) window;

    req = json_object_get(ctx, "required");
    if (req != NULL && !json_is_boolean(req)) {
        return zoll_rfail(ld, path, "\"context.required\" must be a boolean");
    }

    rule->ctx_required = json_is_true(req);
    return 0;
}


static int
zoll_entity_index(zoll_rload_t *ld, const char *path, const char *name)
{
    size_t         i;
    const char    *p;
    zoll_rules_t  *r = ld->rules;

    for (p = name; *p; p++) {
        if (!((*p >= 'A' && *p <= 'Z') || *p == '_'
              || (p != name && *p >= '0' && *p <= '9')))
        {
            return zoll_rfail(ld, path, "\"entity\" must match "
                              "[A-Z][A-Z0-9_]*");
        }
    }

    /* a token "[ENTITY_4294967295]" must fit ZOLL_TOKEN_MAX, or its
     * answer could not be restored after the request went out */
    if (p - name > ZOLL_ENTITY_NAME_MAX) {
        return zoll_rfail(ld, path, "\"entity\" is longer than %d "
                          "characters", ZOLL_ENTITY_NAME_MAX);
    }

    for (i = 0; i < r->nentities; i++) {
        if (strcmp(r->entities[i], name) == 0) {
            return (int) i;
        }
    }

    if (r->nentities == ZOLL_ENTITIES_MAX) {
        return zoll_rfail(ld, path, "more than %d entities",
                          ZOLL_ENTITIES_MAX);
    }

    r->entities[r->nentities] = name;
    return (int) r->nentities++;
}


/* Literal alternations as tries.  PCRE2 tries the alternatives of a group
 * one by one, so a stop-word list of 300 words, "(?!(?:Und|Oder|...))",
 * costs some 300 comparisons at each place it is tried (most of the time
 * of the person and street rules).  Before compiling, every non-capturing
 * group whose alternatives are all plain literals is rewritten with the
 * common prefixes of its alternatives factored out, e.g.
 * "(?:Präsident|Präsidentin|Minister)" becomes
 * "(?:Präsident(?:|in)|Minister)", so PCRE2 compares first characters once
 * per group of words instead of once per word.
 *
 * The rewrite must not change any match, so it keeps PCRE2's
 * leftmost-first order: the alternatives that could match at a given
 * position are tried in the order written.  Two literals that start with
 * different characters never match at the same position (the rewrite is
 * done only for case-sensitive patterns, where a character matches only
 * itself), so alternatives are grouped by first character in the order of
 * each group's first member, and inside a group in their own order; an
 * alternative that is the prefix itself (empty after it) matches wherever
 * the others do, so no alternative moves across it.  A repeated literal
 * is dropped (its retry would fail exactly as the first did).  Literals
 * are compared by the character they match, so "[ ]", "\ " and " " are
 * one.  Anything else in a group (a class, a quantifier, a nested group)
 * leaves that group as written; patterns with "\Q", "(?#", POSIX classes
 * or inline options are left as written entirely, and so is any pattern
 * whose rewrite PCRE2 would not compile (zoll_rule_compile). */

typedef struct {
    const uint32_t  *c;             /* characters */
    size_t           n;
} zoll_lit_t;

typedef struct {
    char            *p;
    size_t           n;
    size_t           cap;
    int              oom;
} zoll_sbuf_t;


static void
zoll_sbuf_put(zoll_sbuf_t *b, const char *s, size_t n)
{
    char    *np;
    size_t   ncap;

    if (b->oom) {
        return;
    }

    if (b->n + n + 1 > b->cap) {
        ncap = 2 * (b->n + n + 1) + 64;
        np = realloc(b->p, ncap);
        if (np == NULL) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = ncap;
    }

    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}


/* One UTF-8 character at s (valid UTF-8, which PCRE2_UTF checks): its
 * length, its code point in *c. */

static size_t
zoll_utf8_char(const unsigned char *s, uint32_t *c)
{
    if (s[0] < 0x80) {
        *c = s[0];
        return 1;
    }

    if ((s[0] & 0xe0) == 0xc0 && (s[1] & 0xc0) == 0x80) {
        *c = ((uint32_t) (s[0] & 0x1f) << 6) | (s[1] & 0x3f);
        return 2;
    }

    if ((s[0] & 0xf0) == 0xe0 && (s[1] & 0xc0) == 0x80
        && (s[2] & 0xc0) == 0x80)
    {
        *c = ((uint32_t) (s[0] & 0x0f) << 12) | ((uint32_t) (s[1] & 0x3f) << 6)
             | (s[2] & 0x3f);
        return 3;
    }

    if ((s[0] & 0xf8) == 0xf0 && (s[1] & 0xc0) == 0x80
        && (s[2] & 0xc0) == 0x80 && (s[3] & 0xc0) == 0x80)
    {
        *c = ((uint32_t) (s[0] & 0x07) << 18) | ((uint32_t) (s[1] & 0x3f) << 12)
             | ((uint32_t) (s[2] & 0x3f) << 6) | (s[3] & 0x3f);
        return 4;
    }

    return 0;
}


static int
zoll_ascii_alnum(int c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')
           || (c >= 'A' && c <= 'Z');
}


/* One literal character of a pattern at s, outside a class: a plain
 * character, a backslash and a non-alphanumeric ASCII character, or a
 * class of exactly one such character ("[ ]").  Its length, or 0 if s is
 * anything else (or is followed by a quantifier). */

static size_t
zoll_lit_char(const char *s, uint32_t *c)
{
    size_t                n, k;
    const unsigned char  *u = (const unsigned char *) s;

    if (u[0] == '\\') {
        if (u[1] < 0x20 || u[1] >= 0x7f || zoll_ascii_alnum(u[1])) {
            return 0;
        }
        *c = u[1];
        n = 2;

    } else if (u[0] == '[') {
        if (u[1] == '\\' && u[2] >= 0x20 && u[2] < 0x7f
            && !zoll_ascii_alnum(u[2]))
        {
            *c = u[2];
            k = 2;

        } else if (u[1] != '\0' && strchr("\\^]-[", u[1]) == NULL) {
            k = zoll_utf8_char(u + 1, c);
            if (k == 0) {
                return 0;
            }

        } else {
            return 0;
        }

        if (u[1 + k] != ']') {
            return 0;
        }
        n = 2 + k;

    } else {
        if (u[0] == '\0' || u[0] < 0x20 || strchr("\\^$.|?*+()[]{}", u[0])) {
            return 0;
        }
        n = zoll_utf8_char(u, c);
        if (n == 0) {
            return 0;
        }
    }

    if (u[n] != '\0' && strchr("?*+{", u[n]) != NULL) {
        return 0;               /* quantified: not a plain literal */
    }

    return n;
}


static void
zoll_put_lit(zoll_sbuf_t *b, const uint32_t *c, size_t n)
{
    char    ch[8];
    size_t  i;

    for (i = 0; i < n; i++) {
        if (c[i] >= 0x80) {
            if (c[i] < 0x800) {
                ch[0] = (char) (0xc0 | (c[i] >> 6));
                ch[1] = (char) (0x80 | (c[i] & 0x3f));
                zoll_sbuf_put(b, ch, 2);
            } else if (c[i] < 0x10000) {
                ch[0] = (char) (0xe0 | (c[i] >> 12));
                ch[1] = (char) (0x80 | ((c[i] >> 6) & 0x3f));
                ch[2] = (char) (0x80 | (c[i] & 0x3f));
                zoll_sbuf_put(b, ch, 3);
            } else {
                ch[0] = (char) (0xf0 | (c[i] >> 18));
                ch[1] = (char) (0x80 | ((c[i] >> 12) & 0x3f));
                ch[2] = (char) (0x80 | ((c[i] >> 6) & 0x3f));
                ch[3] = (char) (0x80 | (c[i] & 0x3f));
                zoll_sbuf_put(b, ch, 4);
            }

        } else if (zoll_ascii_alnum((int) c[i])) {
            ch[0] = (char) c[i];
            zoll_sbuf_put(b, ch, 1);

        } else {
            /* any other ASCII character escaped: "\ ", "\.", "\'" */
            ch[0] = '\\';
            ch[1] = (char) c[i];
            zoll_sbuf_put(b, ch, 2);
        }
    }
}


/* The alternatives a[0..n) (distinct, in the order written) as a trie,
 * without the enclosing group. */

static void
zoll_put_trie(zoll_sbuf_t *b, zoll_lit_t *a, size_t n, int depth)
{
    size_t      i, j, k, m, g, lcp;
    int         first = 1;
    zoll_lit_t  *sub;
    unsigned char *used;

    used = calloc(n ? n : 1, 1);
    sub = malloc((n ? n : 1) * sizeof(zoll_lit_t));
    if (used == NULL || sub == NULL) {
        free(used);
        free(sub);
        b->oom = 1;
        return;
    }

    for (i = 0; i < n; i = j) {
        if (a[i].n == 0) {
            /* the empty alternative stays where it is */
            if (!first) {
                zoll_sbuf_put(b, "|", 1);
            }
            first = 0;
            j = i + 1;
            continue;
        }

        /* a segment [i, j) without an empty alternative */
        for (j = i; j < n && a[j].n > 0; j++) {
            /* void */
        }

        for (k = i; k < j; k++) {
            if (used[k]) {
                continue;
            }

            g = 0;
            for (m = k; m < j; m++) {
                if (!used[m] && a[m].c[0] == a[k].c[0]) {
                    used[m] = 1;
                    sub[g++] = a[m];
                }
            }

            if (!first) {
                zoll_sbuf_put(b, "|", 1);
            }
            first = 0;

            if (g == 1 || depth > 64) {
                for (m = 0; m < g; m++) {
                    if (m) {
                        zoll_sbuf_put(b, "|", 1);
                    }
                    zoll_put_lit(b, sub[m].c, sub[m].n);
                }
                continue;
            }

            lcp = sub[0].n;
            for (m = 1; m < g; m++) {
                size_t  l;

                for (l = 0; l < lcp && l < sub[m].n
                            && sub[m].c[l] == sub[0].c[l]; l++)
                {
                    /* void */
                }
                lcp = l;
            }

            zoll_put_lit(b, sub[0].c, lcp);

            for (m = 0; m < g; m++) {
                sub[m].c += lcp;
                sub[m].n -= lcp;
            }

            zoll_sbuf_put(b, "(?:", 3);
            zoll_put_trie(b, sub, g, depth + 1);
            zoll_sbuf_put(b, ")", 1);
        }
    }

    free(used);
    free(sub);
}


/* A group of plain literal alternatives whose body starts at s (after
 * "(?:"): written as a trie into b, and the length of the body and its
 * ")" returned; 0 if the group is anything else. */

static size_t
zoll_factor_group(zoll_sbuf_t *b, const char *s)
{
    size_t       i, j, k, n, na, nc, acap;
    uint32_t    *cs, c;
    zoll_lit_t  *alts, *na_p;
    const char  *p;

    /* at most one character per byte */
    n = strlen(s);
    cs = malloc((n + 1) * sizeof(uint32_t));
    acap = 16;
    alts = malloc(acap * sizeof(zoll_lit_t));
    if (cs == NULL || alts == NULL) {
        free(cs);
        free(alts);
        return 0;
    }

    na = 0;
    nc = 0;
    alts[0].c = cs;
    alts[0].n = 0;

    for (p = s; ; ) {
        if (*p == '|' || *p == ')') {
            /* a repeated literal is dropped */
            for (i = 0; i < na; i++) {
                if (alts[i].n == alts[na].n
                    && memcmp(alts[i].c, alts[na].c,
                              alts[na].n * sizeof(uint32_t)) == 0)
                {
                    break;
                }
            }

            if (i == na) {
                na++;
            } else {
                nc -= alts[na].n;
            }

            if (*p == ')') {
                break;
            }

            if (na == acap) {
                acap *= 2;
                na_p = realloc(alts, acap * sizeof(zoll_lit_t));
                if (na_p == NULL) {
                    free(cs);
                    free(alts);
                    return 0;
                }
                alts = na_p;
            }

            alts[na].c = cs + nc;
            alts[na].n = 0;
            p++;
            continue;
        }

        k = zoll_lit_char(p, &c);

        if (k == 0) {
            free(cs);
            free(alts);
            return 0;
        }

        cs[nc++] = c;
        alts[na].n++;
        p += k;
    }

    /* nothing to gain from one alternative or none */
    for (i = 0, j = 0; i < na; i++) {
        j += (alts[i].n > 0);
    }

    if (na < 2 || j < 2) {
        free(cs);
        free(alts);
        return 0;
    }

    zoll_put_trie(b, alts, na, 0);

    free(cs);
    free(alts);
    return (size_t) (p + 1 - s);
}


/* The pattern with its literal alternations as tries, malloc()ed, or NULL
 * if it is to stay as written (or on lack of memory). */

static char *
zoll_factor(const char *pattern, uint32_t opts)
{
    int          cls;
    size_t       n;
    zoll_sbuf_t  b;
    const char  *p;

    if ((opts & (PCRE2_CASELESS | PCRE2_EXTENDED)) != 0
        || strstr(pattern, "\\Q") != NULL || strstr(pattern, "(?#") != NULL
        || strstr(pattern, "[:") != NULL || strstr(pattern, "(*") != NULL)
    {
        return NULL;
    }

    /* inline options ("(?i)", "(?x:") could make a literal caseless */
    for (p = strstr(pattern, "(?"); p; p = strstr(p + 2, "(?")) {
        if (p[2] != ':' && p[2] != '=' && p[2] != '!' && p[2] != '<'
            && p[2] != '>' && p[2] != '(' && p[2] != 'C'
            && !(p[2] >= '0' && p[2] <= '9'))
        {
            return NULL;
        }
    }

    memset(&b, 0, sizeof(b));
    cls = 0;

    for (p = pattern; *p; ) {
        if (*p == '\\' && p[1]) {
            zoll_sbuf_put(&b, p, 2);
            p += 2;
            continue;
        }

        if (cls) {
            cls = (*p != ']');
            zoll_sbuf_put(&b, p, 1);
            p++;
            continue;
        }

        if (*p == '[') {
            /* a class; "]" right after "[" or "[^" is a member */
            cls = 1;
            n = (p[1] == '^') ? 2 : 1;
            n += (p[n] == ']');
            zoll_sbuf_put(&b, p, n);
            p += n;
            continue;
        }

        if (p[0] == '(' && p[1] == '?' && p[2] == ':') {
            zoll_sbuf_put(&b, "(?:", 3);
            n = zoll_factor_group(&b, p + 3);
            if (n > 0) {
                zoll_sbuf_put(&b, ")", 1);
            }
            p += 3 + (n > 0 ? n : 0);
            continue;
        }

        zoll_sbuf_put(&b, p, 1);
        p++;
    }

    if (b.oom || b.p == NULL) {
        free(b.p);
        return NULL;
    }

    return b.p;
}


/* The bytes any match of the rule starts with, as PCRE2 worked them out
 * (its start bitmap, or its first code unit): a digit window holding none
 * of them is skipped without a call into PCRE2, which costs more than
 * looking at a window's few bytes (an IBAN must start with a letter, and
 * most digit runs have none before them).  A first code unit is taken in
 * both cases if it is an ASCII letter, since PCRE2 does not say whether
 * it is caseless, and not at all beyond ASCII; PCRE2 gives none for a
 * caseless letter with a case beyond ASCII (k, K and the Kelvin sign:
 * test_scan_gates), its start bitmap holds all of them. */

static void
zoll_first_bytes(zoll_rule_t *rule)
{
    uint32_t              type, unit;
    unsigned              c;
    const unsigned char  *map;

    rule->first_known = 0;
    memset(rule->first, 0, sizeof(rule->first));

    if (pcre2_pattern_info(rule->re, PCRE2_INFO_FIRSTCODETYPE, &type) != 0) {
        return;
    }

    if (type == 0) {
        if (pcre2_pattern_info(rule->re, PCRE2_INFO_FIRSTBITMAP, &map) != 0
            || map == NULL)
        {
            return;
        }

        for (c = 0; c < 256; c++) {
            if (map[c >> 3] & (1u << (c & 7))) {
                rule->first[c >> 6] |= (uint64_t) 1 << (c & 63);
            }
        }

        rule->first_known = 1;
        return;
    }

    if (type != 1
        || pcre2_pattern_info(rule->re, PCRE2_INFO_FIRSTCODEUNIT, &unit) != 0
        || unit >= 0x80)
    {
        return;
    }

    zoll_bytes_add_caseless(rule->first, unit);
    rule->first_known = 1;
}


static int
zoll_rule_compile(zoll_rload_t *ld, const char *path, zoll_rule_t *rule,
    const char *pattern, const char *prefilter)
{
    int          rc, group;
    char         msg[256], *factored;
    unsigned     i;
    uint32_t     ncap;
    PCRE2_SIZE   off;
    pcre2_code  *re;

    rule->pattern = zoll_expand(ld, path, pattern, rule, 1);
    rule->hs_pattern = zoll_expand(ld, path, prefilter, rule, 0);

    if (rule->hs_pattern) {
        rule->hs_pattern = zoll_hs_repeats(rule->hs_pattern);

        if (rule->hs_pattern == NULL) {
            return zoll_rfail(ld, path, "out of memory");
        }
    }

    if (rule->pattern == NULL || rule->hs_pattern == NULL) {
        return -1;      /* zoll_expand() said why */
    }

    /* PCRE2_USE_OFFSET_LIMIT: the scanner tells PCRE2 the last start a
     * report can vouch for, so a search in a window stops there instead
     * of running on to the end of the subject */
    rule->re = pcre2_compile((PCRE2_SPTR) rule->pattern, PCRE2_ZERO_TERMINATED,
                             PCRE2_UTF | PCRE2_USE_OFFSET_LIMIT
                             | rule->pcre_opts, &rc, &off, NULL);

    if (rule->re == NULL) {
        pcre2_get_error_message(rc, (PCRE2_UCHAR *) msg, sizeof(msg));
        return zoll_rfail(ld, path, "pattern: %s at offset %zu", msg,
                          (size_t) off);
    }

    /* the same pattern with its literal alternations as tries; errors
     * above name offsets in the pattern as the rule wrote it */
    factored = zoll_factor(rule->pattern, rule->pcre_opts);

    if (factored != NULL) {
        re = pcre2_compile((PCRE2_SPTR) factored, PCRE2_ZERO_TERMINATED,
                           PCRE2_UTF | PCRE2_USE_OFFSET_LIMIT
                           | rule->pcre_opts, &rc, &off, NULL);

        if (re != NULL) {
            pcre2_code_free(rule->re);
            rule->re = re;
            free(rule->pattern);
            rule->pattern = factored;

        } else {
            free(factored);
        }
    }

    /* without JIT the scan is many times slower, but still correct */
    rule->jit = pcre2_jit_compile(rule->re, PCRE2_JIT_COMPLETE) == 0;

    zoll_first_bytes(rule);

    group = pcre2_substring_number_from_name(rule->re, (PCRE2_SPTR) "pii");
    rule->group = group > 0 ? (unsigned) group : 0;

    for (i = 0; i < rule->nlrefs; i++) {
        snprintf(msg, sizeof(msg), "zl%u", i);
        rule->lrefs[i].group = (unsigned) pcre2_substring_number_from_name(
                                   rule->re, (PCRE2_SPTR) msg);
    }

    pcre2_pattern_info(rule->re, PCRE2_INFO_CAPTURECOUNT, &ncap);

    if (ncap + 1 > ld->rules->max_groups) {
        ld->rules->max_groups = ncap + 1;
    }

    return 0;
}


/* "gate": where the scanner runs the rule instead of around the matches
 * of a Vectorscan prefilter (rules/README.md).  "context": around the
 * rule's required context words, which Vectorscan finds as literals.
 * {"digits": N, "lead": L}: around every run of at least N digits (each
 * at most ZOLL_DIGIT_GAP bytes after the one before), for matches that
 * start at most L bytes before the first digit of such a run; the scanner
 * finds the runs itself in one pass, so a pack of number rules costs one
 * pass instead of one automaton each. */

static int
zoll_rule_gate(zoll_rload_t *ld, json_t *g, const char *path,
    zoll_rule_t *rule, const char *prefilter)
{
    static const char *const  keys[] = { "digits", "lead", NULL };
    long                      n;

    if (g == NULL) {
        return 0;
    }

    if (prefilter != NULL || rule->som) {
        return zoll_rfail(ld, path, "\"gate\" replaces \"prefilter\" and "
                          "\"starts_with_prefilter\": give one or the other");
    }

    if (json_is_string(g) && strcmp(json_string_value(g), "context") == 0) {
        if (!rule->ctx_required) {
            return zoll_rfail(ld, path, "\"gate\": \"context\" needs "
                              "\"context.required\": true");
        }

        rule->gate = ZOLL_GATE_CONTEXT;
        return 0;
    }

    if (!json_is_object(g)) {
        return zoll_rfail(ld, path, "\"gate\" must be \"context\" or "
                          "{\"digits\": N, \"lead\": L}");
    }

    if (zoll_rcheck_keys(ld, g, path, keys) != 0
        || zoll_rint(ld, g, path, "digits", 1, 64, 0, &n) != 0)
    {
        return -1;
    }

    if (n == 0) {
        return zoll_rfail(ld, path, "\"gate.digits\" is required");
    }

    rule->gate_digits = (unsigned) n;

    if (zoll_rint(ld, g, path, "lead", 0, (long) rule->max_len, 0, &n) != 0) {
        return -1;
    }

    rule->gate_lead = (unsigned) n;
    rule->gate = ZOLL_GATE_DIGITS;
    return 0;
}


/* The context words as one Vectorscan alternation of literals, every byte
 * escaped: matched ASCII-caselessly, byte for byte, as zoll_scan.c's
 * context check compares them. */

static char *
zoll_context_alternation(zoll_rload_t *ld, const char *path,
    const zoll_rule_t *rule)
{
    char        *alt, *p;
    size_t       i, len;
    const char  *w;

    len = 4;

    for (i = 0; i < rule->nctx_words; i++) {
        len += 4 * strlen(rule->ctx_words[i]) + 1;
    }

    alt = malloc(len);
    if (alt == NULL) {
        zoll_rfail(ld, path, "out of memory");
        return NULL;
    }

    p = alt;
    *p++ = '(';
    *p++ = '?';
    *p++ = ':';

    for (i = 0; i < rule->nctx_words; i++) {
        if (i) {
            *p++ = '|';
        }

        for (w = rule->ctx_words[i]; *w; w++) {
            p += sprintf(p, "\\x%02x", (unsigned char) *w);
        }
    }

    *p++ = ')';
    *p = '\0';
    return alt;
}


static int
zoll_rule_load(zoll_rload_t *ld, json_t *o, const char *path,
    zoll_rule_t *rule)
{
    static const char *const  keys[] = {
        "id", "entity", "pattern", "prefilter", "starts_with_prefilter",
        "flags", "validator", "priority", "max_len", "lead", "lead_spaces",
        "context", "gate", "examples", "description", NULL
    };

    int          e, rc;
    json_t      *som;
    long         n;
    size_t       i;
    json_t      *ex;
    char        *alt;
    const char  *s, *entity, *pattern, *validator, *prefilter;

    if (!json_is_object(o)) {
        return zoll_rfail(ld, path, "must be an object");
    }

    if (zoll_rcheck_keys(ld, o, path, keys) != 0
        || zoll_rstr(ld, o, path, "id", 1, &rule->id) != 0
        || zoll_rstr(ld, o, path, "entity", 1, &entity) != 0
        || zoll_rstr(ld, o, path, "pattern", 1, &pattern) != 0
        || zoll_rstr(ld, o, path, "prefilter", 0, &prefilter) != 0
        || zoll_rstr(ld, o, path, "validator", 0, &validator) != 0
        || zoll_rstr(ld, o, path, "description", 0, &s) != 0)
    {
        return -1;
    }

    for (s = rule->id; *s; s++) {
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9')
              || *s == '_'))
        {
            return zoll_rfail(ld, path, "\"id\" must match [a-z0-9_]+");
        }
    }

    for (i = 0; i + 1 < ld->rules->nrules; i++) {
        if (strcmp(ld->rules->rules[i].id, rule->id) == 0) {
            return zoll_rfail(ld, path, "rule \"%s\" is defined twice",
                              rule->id);
        }
    }

    e = zoll_entity_index(ld, path, entity);
    if (e < 0) {
        return -1;
    }

    rule->entity = (unsigned) e;

    som = json_object_get(o, "starts_with_prefilter");

    if (som != NULL) {
        if (!json_is_boolean(som)) {
            return zoll_rfail(ld, path, "\"starts_with_prefilter\" must be "
                              "a boolean");
        }

        if (json_is_true(som) && prefilter == NULL) {
            return zoll_rfail(ld, path, "\"starts_with_prefilter\" needs a "
                              "\"prefilter\"");
        }

        rule->som = json_is_true(som);
    }

    /* A rule's own pattern is approximated (lookarounds and back
     * references dropped); a prefilter written for Vectorscan is matched
     * as written, and can then tell where its match starts. */
    rule->hs_flags = HS_FLAG_UTF8
                     | (prefilter == NULL ? HS_FLAG_PREFILTER
                        : rule->som ? HS_FLAG_SOM_LEFTMOST : 0);

    if (validator != NULL) {
        rule->validate = zoll_validator(validator);

        if (rule->validate == NULL) {
            return zoll_rfail(ld, path, "unknown validator \"%s\"",
                              validator);
        }
    }

    if (zoll_rint(ld, o, path, "priority", -1000, 1000, 0, &n) != 0) {
        return -1;
    }

    rule->priority = (int) n;

    if (zoll_rint(ld, o, path, "max_len", 1, ZOLL_RULE_MAX_LEN_LIMIT,
                  ZOLL_RULE_MAX_LEN_DEFAULT, &n) != 0)
    {
        return -1;
    }

    rule->max_len = (size_t) n;

    /* "lead": every match the validator accepts starts at most this many
     * bytes before the end of a prefilter match (the e-mail rule's "@":
     * a local part has at most 64 bytes), so a report's window need not
     * reach max_len back */
    if (zoll_rint(ld, o, path, "lead", 0, (long) rule->max_len,
                  (long) rule->max_len, &n) != 0)
    {
        return -1;
    }

    if (json_object_get(o, "lead") != NULL
        && (prefilter == NULL || rule->som))
    {
        return zoll_rfail(ld, path, "\"lead\" needs a \"prefilter\" "
                          "without \"starts_with_prefilter\"");
    }

    rule->back = (size_t) n;

    /* "lead_spaces": at most this many spaces lie between a match's start
     * and the end of a prefilter match in it ("Lange Straße 5": two), so
     * a report's window begins after the space before them: one word or
     * three back, not max_len bytes, whatever the words' lengths */
    if (zoll_rint(ld, o, path, "lead_spaces", 0, (long) rule->max_len, -1,
                  &n) != 0)
    {
        return -1;
    }

    if (n >= 0 && (prefilter == NULL || rule->som)) {
        return zoll_rfail(ld, path, "\"lead_spaces\" needs a \"prefilter\" "
                          "without \"starts_with_prefilter\"");
    }

    rule->lead_spaces = (int) n;

    ex = json_object_get(o, "examples");

    if (ex != NULL) {
        static const char *const  exkeys[] = { "match", "no_match", NULL };
        json_t                   *arr;

        if (!json_is_object(ex)
            || zoll_rcheck_keys(ld, ex, path, exkeys) != 0)
        {
            return json_is_object(ex)
                   ? -1
                   : zoll_rfail(ld, path, "\"examples\" must be an object");
        }

        json_object_foreach(ex, s, arr) {
            if (!json_is_array(arr)) {
                return zoll_rfail(ld, path, "\"examples.%s\" must be an "
                                  "array of strings", s);
            }
        }
    }

    rule->examples = ex;

    if (zoll_rule_flags(ld, json_object_get(o, "flags"), path, rule) != 0
        || zoll_rule_context(ld, json_object_get(o, "context"), path, rule)
           != 0
        || zoll_rule_gate(ld, json_object_get(o, "gate"), path, rule,
                          prefilter) != 0)
    {
        return -1;
    }

    if (rule->gate == ZOLL_GATE_CONTEXT) {
        alt = zoll_context_alternation(ld, path, rule);
        if (alt == NULL) {
            return -1;
        }

        rule->hs_flags = HS_FLAG_CASELESS;    /* bytes, not UTF-8 */
        rc = zoll_rule_compile(ld, path, rule, pattern, alt);
        free(alt);
        return rc;
    }

    return zoll_rule_compile(ld, path, rule, pattern,
                             prefilter ? prefilter : pattern);
}


/* A pack's lists.  All lists are loaded before any rule, so any pack may
 * use any pack's list. */

static int
zoll_pack_lists(zoll_rload_t *ld, json_t *root)
{
    static const char *const  keys[] = {
        "pack", "description", "lists", "rules", NULL
    };

    json_t      *lists, *v;
    const char  *k;

    if (!json_is_object(root)) {
        return zoll_rfail(ld, "$", "must be an object");
    }

    if (zoll_rcheck_keys(ld, root, "$", keys) != 0
        || zoll_rstr(ld, root, "$", "pack", 1, &k) != 0)
    {
        return -1;
    }

    lists = json_object_get(root, "lists");

    if (lists == NULL) {
        return 0;
    }

    if (!json_is_object(lists)) {
        return zoll_rfail(ld, "$.lists", "must be an object");
    }

    json_object_foreach(lists, k, v) {
        if (!json_is_string(v)) {
            return zoll_rfail(ld, "$.lists", "\"%s\" must be a file name", k);
        }

        if (zoll_list_index(ld->rules, k, strlen(k)) >= 0) {
            return zoll_rfail(ld, "$.lists", "list \"%s\" is defined twice",
                              k);
        }

        if (zoll_list_load(ld, "$.lists", k, json_string_value(v)) != 0) {
            return -1;
        }
    }

    return 0;
}


static int
zoll_pack_rules(zoll_rload_t *ld, json_t *root)
{
    char           path[64];
    size_t         i, n;
    json_t        *rules, *v;
    zoll_rule_t   *r;
    zoll_rules_t  *rs = ld->rules;

    rules = json_object_get(root, "rules");

    if (!json_is_array(rules) || json_array_size(rules) == 0) {
        return zoll_rfail(ld, "$.rules", "must be a non-empty array");
    }

    n = json_array_size(rules);

    r = realloc(rs->rules, (rs->nrules + n) * sizeof(zoll_rule_t));
    if (r == NULL) {
        return zoll_rfail(ld, "$.rules", "out of memory");
    }

    rs->rules = r;

    json_array_foreach(rules, i, v) {
        snprintf(path, sizeof(path), "$.rules[%zu]", i);

        r = &rs->rules[rs->nrules++];
        memset(r, 0, sizeof(zoll_rule_t));
        r->pack = ld->file;

        if (zoll_rule_load(ld, v, path, r) != 0) {
            return -1;
        }
    }

    return 0;
}


static int
zoll_cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}


/* The packs' file names in a stable order, so rule order (the last
 * tie-break between overlapping spans) does not depend on the file
 * system. */

static int
zoll_pack_names(zoll_rload_t *ld)
{
    DIR            *d;
    char          **nn;
    size_t          len, cap;
    zoll_rules_t   *rs = ld->rules;
    struct dirent  *de;

    d = opendir(ld->dir);
    if (d == NULL) {
        return zoll_rfail(ld, "$", "cannot open the rules directory: %s",
                          strerror(errno));
    }

    cap = 0;

    while ((de = readdir(d)) != NULL) {
        len = strlen(de->d_name);

        if (len < 6 || de->d_name[0] == '.'
            || strcmp(de->d_name + len - 5, ".json") != 0)
        {
            continue;
        }

        if (rs->nnames == cap) {
            cap = cap ? 2 * cap : 16;
            nn = realloc(rs->names, cap * sizeof(char *));
            if (nn == NULL) {
                break;
            }
            rs->names = nn;
        }

        rs->names[rs->nnames] = strdup(de->d_name);
        if (rs->names[rs->nnames] == NULL) {
            break;
        }

        rs->nnames++;
    }

    closedir(d);

    if (de != NULL) {
        return zoll_rfail(ld, "$", "out of memory");
    }

    if (rs->nnames == 0) {
        return zoll_rfail(ld, "$", "the rules directory holds no *.json "
                          "pack");
    }

    qsort(rs->names, rs->nnames, sizeof(char *), zoll_cmp_names);
    return 0;
}


/* Room for a list of rule indices, one per rule; NULL (and the error
 * said) without memory. */

static unsigned *
zoll_rule_list(zoll_rload_t *ld)
{
    unsigned  *list;

    list = calloc(ld->rules->nrules + 1, sizeof(unsigned));
    if (list == NULL) {
        ld->file = NULL;
        (void) zoll_rfail(ld, "$", "out of memory");
    }

    return list;
}


/* The rules gated by digit runs, for the scanner's one pass over them. */

static int
zoll_rules_digits(zoll_rload_t *ld)
{
    size_t         i;
    unsigned       k;
    zoll_rules_t  *rs = ld->rules;

    rs->digit_rules = zoll_rule_list(ld);
    if (rs->digit_rules == NULL) {
        return -1;
    }

    rs->digit_min = 64 + 1;

    /* by gate_digits, fewest first (in rule order where equal), so the
     * scanner stops at the first rule a run is too short for; the order
     * in which rules are searched does not change what each finds */
    for (k = 1; k <= 64; k++) {
        for (i = 0; i < rs->nrules; i++) {
            if (rs->rules[i].gate == ZOLL_GATE_DIGITS
                && rs->rules[i].gate_digits == k)
            {
                rs->digit_rules[rs->ndigit_rules++] = (unsigned) i;

                if (k < rs->digit_min) {
                    rs->digit_min = k;
                }
            }
        }
    }

    return 0;
}


/* One Vectorscan database over every rule, in prefilter mode: it may report
 * ends where PCRE2 then finds nothing, never the other way round.  A rule it
 * rejects is left out and scanned by PCRE2 alone. */

static int
zoll_rules_db(zoll_rload_t *ld)
{
    int                  rc, failed;
    size_t               i, n;
    unsigned            *flags, *ids;
    char                 q[128];
    const char         **exprs;
    zoll_rule_t         *r;
    zoll_rules_t        *rs = ld->rules;
    hs_compile_error_t  *cerr;

    exprs = calloc(rs->nrules, sizeof(char *));
    flags = calloc(rs->nrules, sizeof(unsigned));
    ids = calloc(rs->nrules, sizeof(unsigned));

    if (exprs == NULL || flags == NULL || ids == NULL) {
        free(exprs);
        free(flags);
        free(ids);
        ld->file = NULL;
        return zoll_rfail(ld, "$", "out of memory");
    }

    /* digit-gated rules need no automaton; a context gate is literals,
     * whatever the pattern's flags */
    for (i = 0; i < rs->nrules; i++) {
        r = &rs->rules[i];
        r->in_db = r->gate == ZOLL_GATE_CONTEXT
                   || (r->gate == ZOLL_GATE_PREFILTER && !r->extended);
    }

    failed = 0;

    for ( ;; ) {
        n = 0;

        for (i = 0; i < rs->nrules; i++) {
            if (rs->rules[i].in_db) {
                exprs[n] = rs->rules[i].hs_pattern;
                flags[n] = rs->rules[i].hs_flags;
                ids[n] = (unsigned) i;
                n++;
            }
        }

        if (n == 0) {
            break;
        }

        cerr = NULL;
        rc = zoll_hs_compile_cached(&rs->cache, exprs, flags, ids,
                                    (unsigned) n, HS_MODE_BLOCK, &rs->db,
                                    &cerr);

        if (rc == HS_SUCCESS) {
            break;
        }

        if (cerr == NULL || cerr->expression < 0) {
            /* the database as a whole failed: PCRE2 scans everything */
            for (i = 0; i < rs->nrules; i++) {
                rs->rules[i].in_db = 0;
            }

        } else if (!(rs->rules[ids[cerr->expression]].hs_flags
                     & HS_FLAG_PREFILTER))
        {
            /* a prefilter written for Vectorscan: its author wants to
             * know */
            r = &rs->rules[ids[cerr->expression]];
            ld->file = r->pack;
            snprintf(q, sizeof(q), "$.%s.%s", r->id,
                     r->gate == ZOLL_GATE_CONTEXT ? "context.words"
                                                  : "prefilter");
            failed = zoll_rfail(ld, q, "Vectorscan: %s", cerr->message);

        } else {
            rs->rules[ids[cerr->expression]].in_db = 0;
        }

        hs_free_compile_error(cerr);
        rs->db = NULL;

        if (failed) {
            break;
        }
    }

    free(exprs);
    free(flags);
    free(ids);
    return failed;
}


/* The rules the prefiltered scan must search in the whole text, listed
 * once here rather than found among all rules at every scan (which cost
 * some 800 instructions a text, most of what a short string's scan
 * costs besides Vectorscan's own start). */

static int
zoll_rules_whole(zoll_rload_t *ld)
{
    size_t         i;
    zoll_rules_t  *rs = ld->rules;

    rs->whole_rules = zoll_rule_list(ld);
    if (rs->whole_rules == NULL) {
        return -1;
    }

    for (i = 0; i < rs->nrules; i++) {
        if (rs->rules[i].gate != ZOLL_GATE_DIGITS
            && (rs->db == NULL || !rs->rules[i].in_db))
        {
            rs->whole_rules[rs->nwhole_rules++] = (unsigned) i;
        }
    }

    return 0;
}


/* "a [[span]] b" -> "a span b" with the span's offsets, or none (-1). */

static char *
zoll_example_text(const char *ex, size_t *len, long *s, long *e)
{
    char        *out, *o;
    const char  *p;

    out = malloc(strlen(ex) + 1);
    if (out == NULL) {
        return NULL;
    }

    *s = -1;
    *e = -1;

    for (o = out, p = ex; *p; ) {
        if (p[0] == '[' && p[1] == '[' && *s < 0) {
            *s = o - out;
            p += 2;

        } else if (p[0] == ']' && p[1] == ']' && *s >= 0 && *e < 0) {
            *e = o - out;
            p += 2;

        } else {
            *o++ = *p++;
        }
    }

    *len = o - out;
    *o = '\0';
    return out;
}


static int
zoll_example_check(zoll_rload_t *ld, zoll_scanner_t *sc, unsigned ri,
    const char *kind, size_t i, const char *ex)
{
    int                 want_match, found;
    char               *text, path[64];
    long                s, e;
    size_t              len, n, k;
    const zoll_span_t  *spans;

    snprintf(path, sizeof(path), "$.%s.examples.%s[%zu]",
             ld->rules->rules[ri].id, kind, i);

    want_match = (strcmp(kind, "match") == 0);

    text = zoll_example_text(ex, &len, &s, &e);
    if (text == NULL) {
        return zoll_rfail(ld, path, "out of memory");
    }

    if (zoll_scan_rule(sc, ri, (const unsigned char *) text, len, &spans, &n)
        != 0)
    {
        free(text);
        return zoll_rfail(ld, path, "the scan failed");
    }

    found = 0;

    for (k = 0; k < n; k++) {
        if (s < 0 || (spans[k].start == (size_t) s
                      && spans[k].end == (size_t) e))
        {
            found = 1;
        }
    }

    if (want_match && !found) {
        free(text);
        return zoll_rfail(ld, path, "\"%s\" must match%s%s", ex,
                          s >= 0 ? " exactly the marked span" : "",
                          zoll_scanner_mode(sc) ? " (PCRE2 only)"
                                                : " (prefiltered)");
    }

    if (!want_match && n != 0) {
        zoll_rfail(ld, path, "\"%s\" must not match, but matched \"%.*s\"",
                   ex, (int) (spans[0].end - spans[0].start),
                   text + spans[0].start);
        free(text);
        return -1;
    }

    free(text);
    return 0;
}


/* Every example of every rule, through both scan paths: the prefiltered
 * one nginx uses and PCRE2 alone, so a prefilter that loses a match shows
 * at load time. */

static int
zoll_rules_examples(zoll_rload_t *ld)
{
    size_t           ri, i, m;
    json_t          *arr, *v;
    unsigned         mode;
    const char      *kinds[] = { "match", "no_match" };
    zoll_rule_t     *r;
    zoll_scanner_t  *sc;

    for (mode = 0; mode < 2; mode++) {
        sc = zoll_scanner_new(ld->rules, mode ? ZOLL_SCAN_PCRE_ONLY : 0);
        if (sc == NULL) {
            ld->file = NULL;
            return zoll_rfail(ld, "$", "cannot create a scanner");
        }

        for (ri = 0; ri < ld->rules->nrules; ri++) {
            r = &ld->rules->rules[ri];
            ld->file = r->pack;

            if (r->examples == NULL) {
                continue;
            }

            for (m = 0; m < 2; m++) {
                arr = json_object_get(r->examples, kinds[m]);

                if (arr == NULL) {
                    continue;
                }

                json_array_foreach(arr, i, v) {
                    if (!json_is_string(v)
                        || zoll_example_check(ld, sc, (unsigned) ri,
                                              kinds[m], i,
                                              json_string_value(v)) != 0)
                    {
                        if (!json_is_string(v)) {
                            char  q[64];

                            snprintf(q, sizeof(q), "$.%s.examples.%s[%zu]",
                                     r->id, kinds[m], i);
                            zoll_rfail(ld, q, "must be a string");
                        }

                        zoll_scanner_free(sc);
                        return -1;
                    }
                }
            }
        }

        zoll_scanner_free(sc);
    }

    return 0;
}


zoll_rules_t *
zoll_rules_load(const char *dir, const char *cache_dir, char *err,
    size_t errlen)
{
    size_t         i;
    json_t        *root;
    json_error_t   jerr;
    zoll_rload_t   ld;
    zoll_rules_t  *rs;
    char           full[4096];

    memset(&ld, 0, sizeof(ld));
    ld.err = err;
    ld.errlen = errlen;
    ld.dir = dir;

    rs = calloc(1, sizeof(zoll_rules_t));
    ld.rules = rs;

    if (rs == NULL || (rs->packs = json_array()) == NULL)
    {
        snprintf(err, errlen, "out of memory");
        goto failed;
    }

    rs->cache.dir = cache_dir;

    if (zoll_pack_names(&ld) != 0) {
        goto failed;
    }

    for (i = 0; i < rs->nnames; i++) {
        ld.file = rs->names[i];
        snprintf(full, sizeof(full), "%s/%s", dir, rs->names[i]);

        root = json_load_file(full, JSON_REJECT_DUPLICATES, &jerr);
        if (root == NULL) {
            zoll_rfail(&ld, "$", "line %d, column %d: %s", jerr.line,
                       jerr.column, jerr.text);
            goto failed;
        }

        if (json_array_append_new(rs->packs, root) != 0) {
            zoll_rfail(&ld, "$", "out of memory");
            goto failed;
        }

        if (zoll_pack_lists(&ld, root) != 0) {
            goto failed;
        }
    }

    for (i = 0; i < rs->nnames; i++) {
        ld.file = rs->names[i];

        if (zoll_pack_rules(&ld, json_array_get(rs->packs, i)) != 0) {
            goto failed;
        }
    }

    if (zoll_rules_digits(&ld) != 0 || zoll_rules_db(&ld) != 0
        || zoll_rules_whole(&ld) != 0 || zoll_rules_examples(&ld) != 0)
    {
        goto failed;
    }

    rs->cache.dir = NULL;       /* the caller's string */
    return rs;

failed:

    zoll_rules_free(rs);
    return NULL;
}


void
zoll_rules_free(zoll_rules_t *rs)
{
    size_t  i, j;

    if (rs == NULL) {
        return;
    }

    for (i = 0; i < rs->nrules; i++) {
        pcre2_code_free(rs->rules[i].re);
        free(rs->rules[i].pattern);
        free(rs->rules[i].hs_pattern);
        free(rs->rules[i].ctx_words);
    }

    for (i = 0; i < rs->nnames; i++) {
        free(rs->names[i]);
    }

    for (i = 0; i < rs->nlists; i++) {
        for (j = 0; j < rs->lists[i].n; j++) {
            free(rs->lists[i].words[j]);
        }

        free(rs->lists[i].words);
        free(rs->lists[i].alt);
    }

    free(rs->lists);

    hs_free_database(rs->db);
    free(rs->digit_rules);
    free(rs->whole_rules);
    free(rs->rules);
    free(rs->names);
    json_decref(rs->packs);
    free(rs);
}


size_t
zoll_rules_count(const zoll_rules_t *rs, size_t *prefiltered)
{
    size_t  i;

    if (prefiltered) {
        *prefiltered = 0;

        for (i = 0; i < rs->nrules; i++) {
            *prefiltered += rs->rules[i].in_db
                            || rs->rules[i].gate == ZOLL_GATE_DIGITS;
        }
    }

    return rs->nrules;
}


const char *
zoll_rules_cache_note(const zoll_rules_t *rs, unsigned *hits)
{
    if (hits) {
        *hits = rs->cache.hits;
    }

    return rs->cache.note;
}


const char *
zoll_rule_id(const zoll_rules_t *rs, unsigned rule)
{
    return rs->rules[rule].id;
}


const char *
zoll_rule_entity(const zoll_rules_t *rs, unsigned rule)
{
    return rs->entities[rs->rules[rule].entity];
}


size_t
zoll_rules_entities(const zoll_rules_t *rs)
{
    return rs->nentities;
}


const char *
zoll_rules_entity(const zoll_rules_t *rs, unsigned entity)
{
    return rs->entities[entity];
}


int
zoll_rules_entity_index(const zoll_rules_t *rs, const char *name)
{
    size_t  i;

    for (i = 0; i < rs->nentities; i++) {
        if (strcmp(rs->entities[i], name) == 0) {
            return (int) i;
        }
    }

    return -1;
}
