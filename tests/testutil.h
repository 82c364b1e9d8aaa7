/* testutil.h - tiny test harness: checks, random data, tolerant comparison, the devices to run
   on, and guarded device buffers that catch out-of-bounds writes. */
#ifndef CLSEG_TESTUTIL_H
#define CLSEG_TESTUTIL_H

#include <stdint.h>
#include <stdio.h>

#include "clseg.h"
#include "device/runtime.h"
#include "ops/ops.h"

extern int tu_checks, tu_failures;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        tu_checks++;                                                                               \
        if (!(cond)) {                                                                             \
            tu_failures++;                                                                         \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                        \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
        }                                                                                          \
    } while (0)

#define CHECK_OK(expr)                                                                             \
    do {                                                                                           \
        clseg_status st_ = (expr);                                                                 \
        CHECK(st_ == CLSEG_OK, "%s", clseg_status_str(st_));                                       \
    } while (0)

/* Prints "N checks passed, M failed" and returns the process exit code. */
int tu_finish(const char *test_name);

/* Deterministic uniform floats in [lo, hi). */
void tu_fill_uniform(float *x, size_t n, uint64_t seed, float lo, float hi);

/* Max abs / relative error report; passes when every |got - want| <= atol + rtol * |want|.
   NaN anywhere fails. */
int tu_allclose(const char *what, const float *got, const float *want, size_t n, float atol,
                float rtol);

/* The contexts to test on: the device named by $CLSEG_DEVICE if set, else every device present.
   Returns the number created (0 is a failure unless $CLSEG_ALLOW_NO_DEVICE=1). */
int tu_contexts(clseg_context ***out);
void tu_contexts_free(clseg_context **ctxs, int n);

/* A device buffer of `count` float-sized elements inside a larger allocation whose guard regions
   are filled with a sentinel; tu_guarded_check verifies them after a kernel ran. */
typedef struct tu_guarded {
    cl_mem parent, mem; /* mem = the sub-buffer to pass to kernels */
    size_t count;
} tu_guarded;
int tu_guarded_create(clseg_context *ctx, size_t count, const void *init, tu_guarded *g);
/* Reads the data region into host (may be NULL) and returns 1 if both guards are intact. */
int tu_guarded_read(clseg_context *ctx, tu_guarded *g, void *host);
void tu_guarded_free(tu_guarded *g);

/* A way to run an op in a test: through the selector (variant NULL) or one variant with given
   parameters. */
typedef struct tu_config {
    const op_variant *variant;
    op_config cfg;
    char label[96]; /* "op_run", "conv2d_direct", "conv2d_direct[TILE_CO=1 TILE_X=1 ...]" */
} tu_config;

/* op_run, then every variant of call->kind that supports call on ctx with its defaults, then for
   variants with parameters the smallest and the largest legal choice of every parameter at
   once. Returns the count written (<= max). */
int tu_op_configs(const clseg_context *ctx, const op_call *call, tu_config *out, int max);
/* prepare + run of one configuration */
clseg_status tu_run_config(clseg_context *ctx, const tu_config *c, const op_call *call);

#endif
