/*
 * The policy loader (zoll_policy_parse): strict JSON, every key checked,
 * file references resolved against the unit tests' data directory (its
 * credentials and small rule pack).  A policy either loads or names its
 * problem.
 */

#define _GNU_SOURCE   /* memmem */

#include "fuzz.h"

#include <string.h>


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char            err[ZOLL_ERR_LEN];
    char           *copy;
    zoll_policy_t  *p;

    /* "rules_cache" makes directories and writes files where it says:
     * not something to let random bytes decide on this machine */
    if (memmem(data, size, "rules_cache", 11) != NULL) {
        return 0;
    }

    copy = malloc(size ? size : 1);
    FUZZ_ASSERT(copy != NULL, "malloc");
    memcpy(copy, data, size);

    err[0] = '\0';
    p = zoll_policy_parse(copy, size, "tests/unit/data", err, sizeof(err));

    if (p == NULL) {
        FUZZ_ASSERT(err[0] != '\0', "refused without a reason");
    } else {
        FUZZ_ASSERT(strncmp(zoll_policy_digest(p), "sha256:", 7) == 0,
                    "no digest");
        zoll_policy_free(p);
    }

    free(copy);
    return 0;
}
