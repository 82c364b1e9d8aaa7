/* test_pool.c - max / average pooling vs the C reference on every device and variant. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/ops.h"
#include "ref/ref.h"
#include "testutil.h"

/* Awkward shapes, ceil mode on and off, ties; plus hand-computed checks of the reference. */

/* Average pooling sums in the same order as the reference, but OpenCL's division may be off by
   2.5 ulp and compilers may reorder: 1e-6 absolute + 1e-5 relative is a few ulp for values in
   [-1, 1). Max pooling values and indices are compared exactly. */
#define AVGPOOL_ATOL 1e-6f
#define AVGPOOL_RTOL 1e-5f

/* Many exact ties (values from a set of 3), so that the first-maximum rule is exercised. */
static void fill_tied(float *x, size_t n, uint64_t seed) {
    tu_fill_uniform(x, n, seed, 0.0f, 3.0f);
    for (size_t i = 0; i < n; i++) x[i] = floorf(x[i]);
}

static void check_pool(clseg_context *ctx, op_kind kind, shape4 xs, pool_params p, int indices,
                       int tied, uint64_t seed) {
    shape4 ys;
    if (!pool_out_shape(xs, &p, &ys)) return;
    size_t xn = shape4_count(xs), yn = shape4_count(ys);
    float *x = malloc(xn * sizeof *x), *want = malloc(yn * sizeof *want);
    float *got = malloc(yn * sizeof *got);
    int32_t *want_idx = malloc(yn * sizeof *want_idx), *got_idx = malloc(yn * sizeof *got_idx);
    if (tied)
        fill_tied(x, xn, seed);
    else
        tu_fill_uniform(x, xn, seed, -1.0f, 1.0f);
    if (kind == OP_MAXPOOL)
        ref_maxpool(x, xs, &p, want, want_idx);
    else
        ref_avgpool(x, xs, &p, want);

    cl_mem xm = NULL;
    CHECK_OK(ctx_buffer(ctx, xn * sizeof *x, x, &xm));
    op_call call = {.kind = kind, .p.pool = p, .in[0] = {xm, xs}};
    call.p.pool.with_indices = kind == OP_MAXPOOL && indices;
    tu_config vs[16];
    size_t nv = (size_t)tu_op_configs(ctx, &call, vs, 16);
    for (size_t vi = 0; vi < nv; vi++) {
        tu_guarded y, idx = {0};
        CHECK(tu_guarded_create(ctx, yn, NULL, &y), "guarded y");
        if (indices) CHECK(tu_guarded_create(ctx, yn, NULL, &idx), "guarded indices");
        call.out[0] = (dtensor){y.mem, ys};
        call.out[1] = (dtensor){idx.mem, ys};
        clseg_status st = tu_run_config(ctx, &vs[vi], &call);
        CHECK(st == CLSEG_OK, "%s %s: %s", op_kind_name(kind), vs[vi].label,
              clseg_context_error(ctx));
        CHECK_OK(ctx_finish(ctx));
        char what[160];
        snprintf(what, sizeof what, "%s/%s %dx%dx%dx%d k%d s%d ceil%d%s", op_kind_name(kind),
                 vs[vi].label, xs.n, xs.c, xs.h, xs.w, p.k, p.stride, p.ceil_mode,
                 tied ? " tied" : "");
        CHECK(tu_guarded_read(ctx, &y, got), "%s: y guards", what);
        if (kind == OP_MAXPOOL) {
            CHECK(memcmp(got, want, yn * sizeof *got) == 0, "%s: values differ", what);
        } else {
            CHECK(tu_allclose(what, got, want, yn, AVGPOOL_ATOL, AVGPOOL_RTOL), "%s", what);
        }
        if (indices) {
            CHECK(tu_guarded_read(ctx, &idx, got_idx), "%s: index guards", what);
            CHECK(memcmp(got_idx, want_idx, yn * sizeof *got_idx) == 0, "%s: indices differ", what);
        }
        tu_guarded_free(&y);
        tu_guarded_free(&idx);
    }
    if (xm) clReleaseMemObject(xm);
    free(x);
    free(want);
    free(got);
    free(want_idx);
    free(got_idx);
}

/* 3x3 input 1..9: ceil mode makes 2x2 with partial windows, floor mode 1x1. */
static void check_reference_by_hand(void) {
    const float x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    shape4 xs = {1, 1, 3, 3}, ys;
    pool_params ceil_on = {2, 2, 1, 0}, ceil_off = {2, 2, 0, 0};
    CHECK(pool_out_shape(xs, &ceil_on, &ys) && ys.h == 2 && ys.w == 2, "ceil shape %dx%d", ys.h,
          ys.w);
    CHECK(pool_out_shape(xs, &ceil_off, &ys) && ys.h == 1 && ys.w == 1, "floor shape %dx%d", ys.h,
          ys.w);

    float y[4];
    int32_t idx[4];
    ref_maxpool(x, xs, &ceil_on, y, idx);
    const float max_want[4] = {5, 6, 8, 9};
    const int32_t idx_want[4] = {4, 5, 7, 8};
    CHECK(memcmp(y, max_want, sizeof y) == 0, "max %g %g %g %g", y[0], y[1], y[2], y[3]);
    CHECK(memcmp(idx, idx_want, sizeof idx) == 0, "idx %d %d %d %d", idx[0], idx[1], idx[2],
          idx[3]);
    ref_avgpool(x, xs, &ceil_on, y);
    const float avg_want[4] = {3.0f, 4.5f, 7.5f, 9.0f}; /* partial windows: 2, 2 and 1 element */
    CHECK(memcmp(y, avg_want, sizeof y) == 0, "avg %g %g %g %g", y[0], y[1], y[2], y[3]);
    ref_maxpool(x, xs, &ceil_off, y, idx);
    CHECK(y[0] == 5 && idx[0] == 4, "floor max %g at %d", y[0], idx[0]);

    /* All equal: every window reports its first (top-left) element. */
    const float flat[9] = {0};
    ref_maxpool(flat, xs, &ceil_on, y, idx);
    CHECK(idx[0] == 0 && idx[1] == 2 && idx[2] == 6 && idx[3] == 8, "tie idx %d %d %d %d", idx[0],
          idx[1], idx[2], idx[3]);

    /* PyTorch drops a window that would start outside the input: k=1, s=4, ceil on 4 rows
       would otherwise start a second window at row 4. */
    pool_params k1s4 = {1, 4, 1, 0};
    CHECK(pool_out_shape((shape4){1, 1, 4, 5}, &k1s4, &ys) && ys.h == 1 && ys.w == 2,
          "k1s4 ceil shape %dx%d", ys.h, ys.w);
    pool_params k2s2 = {2, 2, 1, 0};
    CHECK(pool_out_shape((shape4){1, 1, 4, 5}, &k2s2, &ys) && ys.h == 2 && ys.w == 3,
          "4x5 ceil shape %dx%d", ys.h, ys.w);
}

int main(void) {
    check_reference_by_hand();

    clseg_context **ctxs;
    int n_ctx = tu_contexts(&ctxs);
    static const int sides[][2] = {{1, 1}, {9, 7}, {33, 17}, {2, 3}, {8, 8}, {5, 71}};
    static const int channels[] = {1, 3, 7, 16, 64};
    static const pool_params pools[] = {
        {2, 2, 0, 0}, {2, 2, 1, 0}, {3, 2, 0, 0}, {3, 2, 1, 0},
        {3, 3, 1, 0}, {2, 1, 0, 0}, {1, 1, 0, 0}, {1, 4, 1, 0},
    };
    for (int ci = 0; ci < n_ctx; ci++) {
        uint64_t seed = 1;
        for (size_t si = 0; si < CLSEG_ARRAY_LEN(sides); si++)
            for (size_t ch = 0; ch < CLSEG_ARRAY_LEN(channels); ch++)
                for (int batch = 1; batch <= 3; batch += 2)
                    for (size_t pi = 0; pi < CLSEG_ARRAY_LEN(pools); pi++) {
                        shape4 xs = {batch, channels[ch], sides[si][0], sides[si][1]};
                        /* The large shapes only with the seed net's pool, to keep it quick. */
                        if (channels[ch] == 64 && pi > 1) continue;
                        int tied = (int)(seed % 2);
                        check_pool(ctxs[ci], OP_MAXPOOL, xs, pools[pi], 1, tied, seed++);
                        check_pool(ctxs[ci], OP_MAXPOOL, xs, pools[pi], 0, tied, seed++);
                        check_pool(ctxs[ci], OP_AVGPOOL, xs, pools[pi], 0, 0, seed++);
                    }
    }
    tu_contexts_free(ctxs, n_ctx);
    return tu_finish("test_pool");
}
