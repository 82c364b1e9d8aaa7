/* test_upsample.c - upsampling and max-unpooling vs the C reference on every device. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/ops.h"
#include "ref/ref.h"
#include "testutil.h"
#include "tune/select.h"

/* Every variant, awkward shapes, factors 1-4; plus hand-computed checks of the reference against
   PyTorch's documented align_corners=False results. */

/* Bilinear: kernel and reference compute the same exact source coordinates and weights, but
   OpenCL's division may be off by 2.5 ulp and compilers may contract a*b+c into fma, so outputs
   (values in [-1, 1)) may differ by a few ulp: 1e-6 absolute + 1e-5 relative. Nearest and
   unpooling copy values and are compared exactly. */
#define BILINEAR_ATOL 1e-6f
#define BILINEAR_RTOL 1e-5f

static void check_upsample(clseg_context *ctx, shape4 xs, upsample_params p, uint64_t seed) {
    shape4 ys;
    CHECK(upsample_out_shape(xs, &p, &ys), "shape");
    size_t xn = shape4_count(xs), yn = shape4_count(ys);
    float *x = malloc(xn * sizeof *x), *want = malloc(yn * sizeof *want);
    float *got = malloc(yn * sizeof *got);
    tu_fill_uniform(x, xn, seed, -1.0f, 1.0f);
    ref_upsample(x, xs, &p, want);

    cl_mem xm = NULL;
    CHECK_OK(ctx_buffer(ctx, xn * sizeof *x, x, &xm));
    op_call call = {.kind = OP_UPSAMPLE, .p.up = p, .in[0] = {xm, xs}};
    tu_config vs[16];
    size_t nv = (size_t)tu_op_configs(ctx, &call, vs, 16);
    for (size_t vi = 0; vi < nv; vi++) {
        tu_guarded y;
        CHECK(tu_guarded_create(ctx, yn, NULL, &y), "guarded y");
        call.out[0] = (dtensor){y.mem, ys};
        clseg_status st = tu_run_config(ctx, &vs[vi], &call);
        CHECK(st == CLSEG_OK, "upsample %s: %s", vs[vi].label, clseg_context_error(ctx));
        CHECK_OK(ctx_finish(ctx));
        char what[160];
        snprintf(what, sizeof what, "upsample/%s %dx%dx%dx%d x%d %s", vs[vi].label, xs.n, xs.c,
                 xs.h, xs.w, p.factor, p.mode == UPSAMPLE_NEAREST ? "nearest" : "bilinear");
        CHECK(tu_guarded_read(ctx, &y, got), "%s: guards", what);
        if (p.mode == UPSAMPLE_NEAREST)
            CHECK(memcmp(got, want, yn * sizeof *got) == 0, "%s: values differ", what);
        else
            CHECK(tu_allclose(what, got, want, yn, BILINEAR_ATOL, BILINEAR_RTOL), "%s", what);
        tu_guarded_free(&y);
    }
    if (xm) clReleaseMemObject(xm);
    free(x);
    free(want);
    free(got);
}

/* The SegNet pipeline: max-pool on the device (keeping indices), then unpool the pooled values
   back to the original size, compared with the same chain in the reference. */
static void check_unpool(clseg_context *ctx, shape4 xs, pool_params pp, uint64_t seed) {
    shape4 ps;
    if (!pool_out_shape(xs, &pp, &ps)) return;
    size_t xn = shape4_count(xs), pn = shape4_count(ps);
    float *x = malloc(xn * sizeof *x), *pooled = malloc(pn * sizeof *pooled);
    float *want = malloc(xn * sizeof *want), *got = malloc(xn * sizeof *got);
    int32_t *idx = malloc(pn * sizeof *idx);
    tu_fill_uniform(x, xn, seed, -1.0f, 1.0f);
    ref_maxpool(x, xs, &pp, pooled, idx);
    unpool_params up = {xs.h, xs.w};
    ref_maxunpool(pooled, idx, ps, &up, want);

    cl_mem xm = NULL;
    tu_guarded pm, im;
    CHECK_OK(ctx_buffer(ctx, xn * sizeof *x, x, &xm));
    CHECK(tu_guarded_create(ctx, pn, NULL, &pm) && tu_guarded_create(ctx, pn, NULL, &im),
          "guarded pool outputs");
    op_call pool = {.kind = OP_MAXPOOL, .p.pool = pp, .in[0] = {xm, xs}};
    pool.p.pool.with_indices = 1;
    pool.out[0] = (dtensor){pm.mem, ps};
    pool.out[1] = (dtensor){im.mem, ps};
    CHECK_OK(tune_run_call(ctx, &pool));

    op_call call = {.kind = OP_MAXUNPOOL, .p.unpool = up};
    call.in[0] = (dtensor){pm.mem, ps};
    call.in[1] = (dtensor){im.mem, ps};
    tu_config vs[16];
    size_t nv = (size_t)tu_op_configs(ctx, &call, vs, 16);
    for (size_t vi = 0; vi < nv; vi++) {
        tu_guarded y;
        CHECK(tu_guarded_create(ctx, xn, NULL, &y), "guarded y");
        call.out[0] = (dtensor){y.mem, xs};
        clseg_status st = tu_run_config(ctx, &vs[vi], &call);
        CHECK(st == CLSEG_OK, "maxunpool %s: %s", vs[vi].label, clseg_context_error(ctx));
        CHECK_OK(ctx_finish(ctx));
        char what[160];
        snprintf(what, sizeof what, "maxunpool/%s %dx%dx%dx%d -> %dx%d (k%d s%d ceil%d)",
                 vs[vi].label, ps.n, ps.c, ps.h, ps.w, xs.h, xs.w, pp.k, pp.stride, pp.ceil_mode);
        CHECK(tu_guarded_read(ctx, &y, got), "%s: guards", what);
        CHECK(memcmp(got, want, xn * sizeof *got) == 0, "%s: values differ", what);
        tu_guarded_free(&y);
    }
    tu_guarded_free(&pm);
    tu_guarded_free(&im);
    if (xm) clReleaseMemObject(xm);
    free(x);
    free(pooled);
    free(want);
    free(got);
    free(idx);
}

static int near(float a, float b) {
    return fabsf(a - b) <= 1e-6f;
}

static void check_reference_by_hand(void) {
    /* torch.nn.Upsample(scale_factor=2, mode='bilinear', align_corners=False) on [[1,2],[3,4]],
       as printed in PyTorch's documentation. */
    const float x[4] = {1, 2, 3, 4};
    const float bilinear_want[16] = {1.00f, 1.25f, 1.75f, 2.00f, 1.50f, 1.75f, 2.25f, 2.50f,
                                     2.50f, 2.75f, 3.25f, 3.50f, 3.00f, 3.25f, 3.75f, 4.00f};
    const float nearest_want[16] = {1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4};
    float y[18]; /* largest case below: 1x2 upsampled x3 = 3x6 */
    shape4 xs = {1, 1, 2, 2};
    ref_upsample(x, xs, &(upsample_params){2, UPSAMPLE_BILINEAR}, y);
    for (int i = 0; i < 16; i++)
        CHECK(near(y[i], bilinear_want[i]), "bilinear[%d] = %g, want %g", i, y[i],
              bilinear_want[i]);
    ref_upsample(x, xs, &(upsample_params){2, UPSAMPLE_NEAREST}, y);
    CHECK(memcmp(y, nearest_want, sizeof nearest_want) == 0, "nearest 2x2 x2");

    /* x3 of the row [1, 2] (first output row of 3): sources 0 (clamped), 0, 1/3, 2/3, 1, 1
       (edge). */
    const float row_want[6] = {1.0f, 1.0f, 4.0f / 3.0f, 5.0f / 3.0f, 2.0f, 2.0f};
    ref_upsample(x, (shape4){1, 1, 1, 2}, &(upsample_params){3, UPSAMPLE_BILINEAR}, y);
    for (int i = 0; i < 6; i++)
        CHECK(near(y[i], row_want[i]), "bilinear x3 [%d] = %g, want %g", i, y[i], row_want[i]);

    /* 3x3 of 1..9 pooled 2x2/2 in ceil mode keeps 5, 6, 8, 9 at their positions. */
    const float pooled[4] = {5, 6, 8, 9};
    const int32_t idx[4] = {4, 5, 7, 8};
    const float unpool_want[9] = {0, 0, 0, 0, 5, 6, 0, 8, 9};
    ref_maxunpool(pooled, idx, (shape4){1, 1, 2, 2}, &(unpool_params){3, 3}, y);
    CHECK(memcmp(y, unpool_want, sizeof unpool_want) == 0, "unpool 2x2 -> 3x3");
}

int main(void) {
    check_reference_by_hand();

    clseg_context **ctxs;
    int n_ctx = tu_contexts(&ctxs);
    static const int sides[][2] = {{1, 1}, {9, 7}, {33, 17}, {2, 3}, {8, 8}, {3, 37}};
    static const int channels[] = {1, 3, 7, 16, 64};
    /* Non-overlapping windows, as SegNet uses: their indices are distinct. */
    static const pool_params pools[] = {{2, 2, 1, 0}, {2, 2, 0, 0}, {3, 3, 1, 0}, {1, 1, 0, 0}};
    for (int ci = 0; ci < n_ctx; ci++) {
        uint64_t seed = 1;
        for (size_t si = 0; si < CLSEG_ARRAY_LEN(sides); si++)
            for (size_t ch = 0; ch < CLSEG_ARRAY_LEN(channels); ch++)
                for (int batch = 1; batch <= 3; batch += 2) {
                    shape4 xs = {batch, channels[ch], sides[si][0], sides[si][1]};
                    for (int factor = 1; factor <= 4; factor++)
                        for (int mode = 0; mode < 2; mode++) {
                            /* The large shapes only at the seed net's factor, to keep it quick. */
                            if (channels[ch] == 64 && factor != 2) continue;
                            upsample_params p = {factor, (upsample_mode)mode};
                            check_upsample(ctxs[ci], xs, p, seed++);
                        }
                    for (size_t pi = 0; pi < CLSEG_ARRAY_LEN(pools); pi++)
                        check_unpool(ctxs[ci], xs, pools[pi], seed++);
                }
    }
    tu_contexts_free(ctxs, n_ctx);
    return tu_finish("test_upsample");
}
