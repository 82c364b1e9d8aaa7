/* public_check.h - the check counters of the tests that see only the public headers
   ("ctest-api: public"): testutil.h brings internal headers, this brings none. One test file
   per executable includes it. */
#ifndef CLSEG_PUBLIC_CHECK_H
#define CLSEG_PUBLIC_CHECK_H

#include <stdio.h>

#include "clseg.h"

static int checks, failures;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        checks++;                                                                                  \
        if (!(cond)) {                                                                             \
            failures++;                                                                            \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                        \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
        }                                                                                          \
    } while (0)

/* expr must return CLSEG_OK; err says what went wrong otherwise. */
#define CHECK_STATUS_OK(expr, err)                                                                 \
    do {                                                                                           \
        clseg_status st_ = (expr);                                                                 \
        CHECK(st_ == CLSEG_OK, "%s: %s", clseg_status_str(st_), err);                              \
    } while (0)

/* "NAME: P checks passed, F failed"; the exit status. */
static inline int check_finish(const char *name) {
    printf("%s: %d checks passed, %d failed\n", name, checks - failures, failures);
    return failures ? 1 : 0;
}

#endif
