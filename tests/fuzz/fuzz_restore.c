/*
 * The restorer (zoll_restore): a provider's answer, JSON or an event
 * stream, with the request's tokens to put back.
 *
 * The first byte picks the mode and where the answer is cut in two; the
 * rest is the answer.  Invariants, for every input: the output does not
 * depend on where the network cut the answer (whole, cut once, or byte by
 * byte: the same bytes, the same count of tokens restored, or the same
 * refusal); and a restorer with no tokens gives the answer back unchanged.
 */

#include "fuzz.h"

#include <string.h>


static const char *const  fuzz_tokens[][2] = {
    { "[PERSON_1]", "Jane \"JJ\" Doe\\" },
    { "[PERSON_2]", "J\xc3\xb6rg\nM\xc3\xbcller" },
    { "[EMAIL_1]", "jane@example.org" },
    { "[EMAIL_10]", "ten@example.org" },
};


typedef struct {
    unsigned char  *p;
    size_t          len;
    size_t          restored;
    int             failed;
} fuzz_out_t;


static void
fuzz_append(fuzz_out_t *o, const unsigned char *p, size_t n)
{
    o->p = realloc(o->p, o->len + n + 1);
    FUZZ_ASSERT(o->p != NULL, "realloc");
    if (n) {
        memcpy(o->p + o->len, p, n);
    }
    o->len += n;
}


/* the answer fed in pieces: cut after the given offsets (ascending) */
static fuzz_out_t
fuzz_run(zoll_restore_mode_e mode, int tokens, const uint8_t *in,
    size_t len, const size_t *cuts, size_t ncuts)
{
    size_t                i, from, to, olen;
    fuzz_out_t            o = { NULL, 0, 0, 0 };
    zoll_restorer_t      *rs;
    const unsigned char  *out;

    rs = zoll_restorer_new(mode);
    FUZZ_ASSERT(rs != NULL, "zoll_restorer_new");

    for (i = 0; tokens && i < sizeof(fuzz_tokens) / sizeof(fuzz_tokens[0]);
         i++)
    {
        FUZZ_ASSERT(zoll_restorer_add(rs, fuzz_tokens[i][0],
                                      strlen(fuzz_tokens[i][0]),
                                      fuzz_tokens[i][1],
                                      strlen(fuzz_tokens[i][1])) == 0,
                    "zoll_restorer_add");
    }

    from = 0;

    for (i = 0; i <= ncuts && !o.failed; i++) {
        to = i < ncuts ? cuts[i] : len;

        if (zoll_restore(rs, in + from, to - from, &out, &olen) != 0) {
            o.failed = 1;
            break;
        }

        fuzz_append(&o, out, olen);
        from = to;
    }

    if (!o.failed) {
        if (zoll_restore_finish(rs, &out, &olen) != 0) {
            o.failed = 1;
        } else {
            fuzz_append(&o, out, olen);
        }
    }

    o.restored = zoll_restored(rs);
    zoll_restorer_free(rs);
    return o;
}


static void
fuzz_same(const fuzz_out_t *a, const fuzz_out_t *b, const char *how)
{
    FUZZ_ASSERT(a->failed == b->failed, "%s: refused once, not the other "
                "time", how);

    if (a->failed) {
        return;
    }

    FUZZ_ASSERT(a->len == b->len && memcmp(a->p, b->p, a->len) == 0
                && a->restored == b->restored, "%s: another output", how);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t               i, cut, *cuts;
    fuzz_out_t           whole, once, each, plain;
    zoll_restore_mode_e  mode;

    if (size == 0 || size > 64 * 1024) {
        return 0;
    }

    mode = (data[0] & 1) ? ZOLL_RESTORE_SSE : ZOLL_RESTORE_JSON;
    data++;
    size--;
    cut = size ? (size_t) (data[-1] >> 1) % (size + 1) : 0;

    whole = fuzz_run(mode, 1, data, size, NULL, 0);
    once = fuzz_run(mode, 1, data, size, &cut, 1);
    fuzz_same(&whole, &once, "cut once");

    if (size <= 512) {
        cuts = malloc((size + 1) * sizeof(size_t));
        FUZZ_ASSERT(cuts != NULL, "malloc");
        for (i = 0; i < size; i++) {
            cuts[i] = i;
        }
        each = fuzz_run(mode, 1, data, size, cuts, size);
        fuzz_same(&whole, &each, "byte by byte");
        free(cuts);
        free(each.p);
    }

    /* no tokens: nothing to restore, nothing to change */
    plain = fuzz_run(mode, 0, data, size, &cut, 1);
    FUZZ_ASSERT(plain.failed || (plain.len == size && plain.restored == 0
                                 && memcmp(plain.p, data, size) == 0),
                "without tokens the answer changed");

    free(whole.p);
    free(once.p);
    free(plain.p);
    return 0;
}
