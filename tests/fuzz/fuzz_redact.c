/*
 * The JSON scanner and rewriter (zoll_redact) with the real rule packs.
 *
 * The first byte picks the tenant (mask, pseudonymise with a blocked and a
 * kept entity, tokenise), the API (whose structural paths apply) and the
 * scan path; the rest is the request body.  Invariants, for every input:
 * a body that is forwarded is valid JSON again (redacting it once more
 * must not call it bad), an unchanged body is the input itself, and a
 * refused one has a reason.
 */

#include "fuzz.h"

#include <string.h>


static zoll_policy_t    *policy;
static zoll_redactor_t  *redactors[2];       /* prefiltered, PCRE2 only */
static const zoll_tenant_t  *tenants[3];


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char         err[ZOLL_ERR_LEN], *json, *at;
    FILE        *f;
    long         n;
    size_t       i;
    const char  *names[] = { "t_eea", "t_any", "t_tokens" };

    (void) argc;
    (void) argv;

    /* the unit tests' policy, with the real packs instead of the small
     * fixture pack */
    f = fopen("tests/unit/data/policy.json", "rb");
    FUZZ_ASSERT(f != NULL, "run from the repository root");
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    json = malloc(n + 64);
    FUZZ_ASSERT(json != NULL && fread(json, 1, n, f) == (size_t) n, "read");
    fclose(f);
    json[n] = '\0';

    at = strstr(json, "\"rules\": \"rules\"");
    FUZZ_ASSERT(at != NULL, "the unit policy names its rules differently");
    memmove(at + 25, at + 16, strlen(at + 16) + 1);
    memcpy(at, "\"rules\": \"../../../rules\"", 25);

    policy = zoll_policy_parse(json, strlen(json), "tests/unit/data", err,
                               sizeof(err));
    FUZZ_ASSERT(policy != NULL, "%s", err);
    free(json);

    for (i = 0; i < 3; i++) {
        tenants[i] = zoll_policy_tenant_by_id(policy, names[i]);
        FUZZ_ASSERT(tenants[i] != NULL, "no tenant %s", names[i]);
    }

    redactors[0] = zoll_redactor_new(policy, 0);
    redactors[1] = zoll_redactor_new(policy, ZOLL_SCAN_PCRE_ONLY);
    FUZZ_ASSERT(redactors[0] && redactors[1], "zoll_redactor_new");

    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned               sel;
    unsigned char         *copy, *body;
    zoll_api_e             api;
    zoll_status_e          rc;
    zoll_redactor_t       *rd;
    zoll_redaction_t       res, again;
    const zoll_tenant_t   *t;

    if (size == 0) {
        return 0;
    }

    sel = data[0];
    t = tenants[sel % 3];
    api = (zoll_api_e) ((sel / 3) % 3);
    rd = redactors[(sel / 9) & 1];

    /* an exact-size copy, so ASan sees any read past the body */
    copy = malloc(size - 1 ? size - 1 : 1);
    FUZZ_ASSERT(copy != NULL, "malloc");
    memcpy(copy, data + 1, size - 1);

    rc = zoll_redact(rd, t, api, copy, size - 1, &res);
    FUZZ_ASSERT(rc == res.status, "status %d but result %d", rc,
                res.status);

    if (rc != ZOLL_OK) {
        FUZZ_ASSERT(res.reason[0] != '\0', "refused without a reason");
        free(copy);
        return 0;
    }

    if (!res.changed) {
        FUZZ_ASSERT(res.body == copy && res.len == size - 1,
                    "an unchanged body is not the input");
        free(copy);
        return 0;
    }

    /* what would be forwarded must still be JSON of the same shape */
    body = malloc(res.len ? res.len : 1);
    FUZZ_ASSERT(body != NULL, "malloc");
    memcpy(body, res.body, res.len);

    rc = zoll_redact(rd, t, api, body, res.len, &again);
    FUZZ_ASSERT(rc != ZOLL_ERR_BAD_REQUEST,
                "the redacted body is not valid JSON: %s\n%.*s",
                again.reason, (int) res.len, (const char *) body);

    free(body);
    free(copy);
    return 0;
}
