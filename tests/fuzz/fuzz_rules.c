/*
 * The rule compiler (zoll_rules_load): a rule pack as the input, written
 * into a directory of its own next to the unit tests' first-name list;
 * loading parses the pack, compiles PCRE2 and the Vectorscan prefilter
 * database (never cached here) and runs every example through both scan
 * paths.  A pack either loads or names its problem.
 */

#include "fuzz.h"

#include <string.h>
#include <unistd.h>


static char  dir[64];
static char  pack[128];


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char   names[128], buf[4096];
    FILE  *in, *out;
    size_t n;

    (void) argc;
    (void) argv;

    snprintf(dir, sizeof(dir), "/tmp/zoll-fuzz-rules.XXXXXX");
    FUZZ_ASSERT(mkdtemp(dir) != NULL, "mkdtemp");
    snprintf(pack, sizeof(pack), "%s/pack.json", dir);

    /* packs may refer to a word list by file name */
    snprintf(names, sizeof(names), "%s/first_names.txt", dir);
    in = fopen("tests/unit/data/rules/first_names.txt", "rb");
    out = fopen(names, "wb");
    FUZZ_ASSERT(in && out, "run from the repository root");

    while ((n = fread(buf, 1, sizeof(buf), in)) > 0) {
        fwrite(buf, 1, n, out);
    }

    fclose(in);
    fclose(out);
    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char           err[ZOLL_ERR_LEN];
    FILE          *f;
    zoll_rules_t  *rs;

    f = fopen(pack, "wb");
    FUZZ_ASSERT(f != NULL, "%s", pack);
    FUZZ_ASSERT(fwrite(data, 1, size, f) == size, "write");
    fclose(f);

    err[0] = '\0';
    rs = zoll_rules_load(dir, NULL, err, sizeof(err));

    if (rs == NULL) {
        FUZZ_ASSERT(err[0] != '\0', "refused without a reason");
    } else {
        zoll_rules_free(rs);
    }

    return 0;
}
