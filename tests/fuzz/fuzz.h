/*
 * Shared by the libFuzzer harnesses tests/fuzz/fuzz_<target>.c.
 *
 * Each harness is one pure engine entry point fed untrusted bytes.  They
 * run from the repository root (build.sh does so), so the fixtures of the
 * unit tests (tests/unit/data) and the real rule packs (rules/) are found
 * by relative path.  A harness aborts on anything the engine must never do
 * with any input; the sanitizers catch the rest.
 */

#ifndef ZOLL_FUZZ_H
#define ZOLL_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "zoll.h"


/* optional (libFuzzer calls it only where a harness defines it) */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


/* a broken invariant: print why and abort, so libFuzzer keeps the input */
#define FUZZ_ASSERT(cond, ...)                                             \
    do {                                                                   \
        if (!(cond)) {                                                     \
            fprintf(stderr, "fuzz: " __VA_ARGS__);                         \
            fprintf(stderr, "\n");                                         \
            abort();                                                       \
        }                                                                  \
    } while (0)

#endif /* ZOLL_FUZZ_H */
