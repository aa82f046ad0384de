/*
 * Bounded output buffer and JSON string escaping for records and errors;
 * the growable buffers of the redactor and the restorer.
 */

#include "zoll_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>


/* *buf holds at least need bytes, its capacity doubled from 256 (or from
 * what it has) as needed; -1 and *buf unchanged without memory. */

int
zoll_grow(unsigned char **buf, size_t *cap, size_t need)
{
    size_t          ncap;
    unsigned char  *nb;

    if (need <= *cap) {
        return 0;
    }

    ncap = *cap ? *cap : 256;
    while (ncap < need) {
        ncap *= 2;
    }

    nb = realloc(*buf, ncap);
    if (nb == NULL) {
        return -1;
    }

    *buf = nb;
    *cap = ncap;
    return 0;
}


void
zoll_buf_init(zoll_buf_t *b, char *p, size_t cap)
{
    b->p = p;
    b->len = 0;
    b->cap = cap;
}


void
zoll_buf_raw(zoll_buf_t *b, const char *s, size_t n)
{
    if (b->len < b->cap) {
        size_t room = b->cap - b->len;

        memcpy(b->p + b->len, s, n < room ? n : room);
    }

    b->len += n;
}


/* records hold a dozen numbers each; printf would be most of their cost */

void
zoll_buf_uint(zoll_buf_t *b, uint64_t v)
{
    char    tmp[20];
    size_t  i = sizeof(tmp);

    do {
        tmp[--i] = (char) ('0' + v % 10);
        v /= 10;
    } while (v);

    zoll_buf_raw(b, tmp + i, sizeof(tmp) - i);
}


void
zoll_buf_printf(zoll_buf_t *b, const char *fmt, ...)
{
    char     tmp[256];
    int      n;
    va_list  ap;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);

    if (n < 0) {
        return;
    }

    /* only used for numbers and short fixed text */
    zoll_buf_raw(b, tmp, (size_t) n < sizeof(tmp) ? (size_t) n
                                                   : sizeof(tmp) - 1);
}


/* Length of the well-formed UTF-8 sequence at s (RFC 3629: no overlongs,
 * no surrogates, nothing above U+10FFFF), or 0 if it is not one. */

static size_t
zoll_utf8_seq(const unsigned char *s, size_t n)
{
    size_t    len, i;
    uint32_t  cp;

    if (s[0] < 0x80) {
        return 1;

    } else if ((s[0] & 0xe0) == 0xc0) {
        len = 2; cp = s[0] & 0x1f;

    } else if ((s[0] & 0xf0) == 0xe0) {
        len = 3; cp = s[0] & 0x0f;

    } else if ((s[0] & 0xf8) == 0xf0) {
        len = 4; cp = s[0] & 0x07;

    } else {
        return 0;
    }

    if (len > n) {
        return 0;
    }

    for (i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return 0;
        }
        cp = (cp << 6) | (s[i] & 0x3f);
    }

    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800)
        || (len == 4 && cp < 0x10000) || cp > 0x10ffff
        || (cp >= 0xd800 && cp <= 0xdfff))
    {
        return 0;
    }

    return len;
}


void
zoll_buf_json_str(zoll_buf_t *b, const char *str, size_t n)
{
    static const char    hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *) str;
    const unsigned char *end;
    const unsigned char *run;
    char                 esc[6];
    size_t               len;

    /* an empty string may come as NULL, where even "+ 0" is undefined */
    end = (n != 0) ? s + n : s;

    zoll_buf_raw(b, "\"", 1);

    while (s < end) {
        run = s;

        /* copy runs of bytes that need no escaping in one go */
        s = zoll_next_special(s, end, 1);

        zoll_buf_raw(b, (const char *) run, s - run);

        if (s == end) {
            break;
        }

        if (*s >= 0x80) {
            len = zoll_utf8_seq(s, end - s);

            if (len == 0) {
                zoll_buf_raw(b, "\\ufffd", 6);
                s++;

            } else {
                zoll_buf_raw(b, (const char *) s, len);
                s += len;
            }

            continue;
        }

        switch (*s) {
        case '"':  zoll_buf_raw(b, "\\\"", 2); break;
        case '\\': zoll_buf_raw(b, "\\\\", 2); break;
        case '\n': zoll_buf_raw(b, "\\n", 2); break;
        case '\r': zoll_buf_raw(b, "\\r", 2); break;
        case '\t': zoll_buf_raw(b, "\\t", 2); break;
        default:
            esc[0] = '\\'; esc[1] = 'u'; esc[2] = '0'; esc[3] = '0';
            esc[4] = hex[*s >> 4]; esc[5] = hex[*s & 0xf];
            zoll_buf_raw(b, esc, 6);
        }

        s++;
    }

    zoll_buf_raw(b, "\"", 1);
}


void
zoll_buf_json_cstr(zoll_buf_t *b, const char *s)
{
    if (s == NULL) {
        zoll_buf_raw(b, "null", 4);
        return;
    }

    zoll_buf_json_str(b, s, strlen(s));
}


size_t
zoll_buf_finish(zoll_buf_t *b)
{
    if (b->len < b->cap) {
        b->p[b->len] = '\0';

    } else if (b->cap > 0) {
        b->p[b->cap - 1] = '\0';
    }

    /* the terminating NUL needs room too */
    return b->len;
}


/* a JSON string: UTC, milliseconds, e.g. "2026-11-22T12:36:20.046Z" */

/* v in exactly n digits, zero-padded */

static void
zoll_buf_digits(zoll_buf_t *b, unsigned v, size_t n)
{
    char    tmp[8];
    size_t  i;

    for (i = n; i > 0; i--) {
        tmp[i - 1] = (char) ('0' + v % 10);
        v /= 10;
    }

    zoll_buf_raw(b, tmp, n);
}


void
zoll_buf_time(zoll_buf_t *b, int64_t ms)
{
    time_t     sec = (time_t) (ms / 1000);
    struct tm  tm;

    gmtime_r(&sec, &tm);

    /* "YYYY-MM-DDTHH:MM:SS.mmmZ" by hand: strftime and printf cost more
     * than the rest of a record */
    zoll_buf_raw(b, "\"", 1);
    zoll_buf_digits(b, (unsigned) tm.tm_year + 1900, 4);
    zoll_buf_raw(b, "-", 1);
    zoll_buf_digits(b, (unsigned) tm.tm_mon + 1, 2);
    zoll_buf_raw(b, "-", 1);
    zoll_buf_digits(b, (unsigned) tm.tm_mday, 2);
    zoll_buf_raw(b, "T", 1);
    zoll_buf_digits(b, (unsigned) tm.tm_hour, 2);
    zoll_buf_raw(b, ":", 1);
    zoll_buf_digits(b, (unsigned) tm.tm_min, 2);
    zoll_buf_raw(b, ":", 1);
    zoll_buf_digits(b, (unsigned) tm.tm_sec, 2);
    zoll_buf_raw(b, ".", 1);
    zoll_buf_digits(b, (unsigned) (ms % 1000), 3);
    zoll_buf_raw(b, "Z\"", 2);
}
