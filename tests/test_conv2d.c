/* test_conv2d.c - conv2d on every device, through op_run and through each conv2d variant,
   against the C reference at awkward shapes; out-of-bounds writes fail through guard regions. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/ops.h"
#include "ref/ref.h"
#include "testutil.h"
#include "tune/select.h"

typedef struct conv_case {
    int n, cin, h, w, cout, k, stride, pad, relu, no_bias;
} conv_case;

/* Shapes that are not multiples of any tile: 1x1, 2x3, 9x7, 33x17, 21x70, odd channel counts,
   batch 3, even k, pads from 0 to k/2 (and beyond), strides 1 to 3. */
static const conv_case cases[] = {
    {1, 1, 1, 1, 1, 1, 1, 0, 0, 0},
    {1, 3, 1, 1, 7, 3, 1, 1, 1, 0},
    {1, 1, 9, 7, 16, 3, 1, 1, 0, 0},
    {3, 3, 9, 7, 7, 5, 2, 2, 1, 0},
    {1, 7, 33, 17, 3, 7, 1, 3, 0, 0},
    {1, 16, 33, 17, 64, 3, 1, 1, 1, 0},
    {3, 64, 9, 7, 16, 3, 2, 1, 0, 0},
    {1, 16, 2, 3, 1, 1, 2, 0, 0, 0},
    {1, 7, 2, 3, 16, 3, 1, 1, 1, 0},
    {1, 64, 33, 17, 64, 3, 1, 1, 1, 0},
    {1, 3, 33, 17, 16, 7, 2, 3, 1, 0},
    {3, 16, 9, 7, 3, 1, 1, 0, 1, 0},
    {1, 1, 9, 7, 1, 5, 1, 0, 0, 0},
    {1, 7, 9, 7, 7, 7, 2, 1, 0, 0},
    {1, 3, 17, 33, 5, 4, 2, 1, 0, 0},
    {1, 2, 10, 11, 3, 3, 3, 1, 0, 1},
    {3, 7, 2, 3, 64, 5, 1, 2, 0, 0},
    {1, 64, 1, 1, 7, 1, 1, 0, 1, 1},
    /* 3x3 stride 1 (Winograd's domain): pad 0 and 2, odd sizes that split output tiles, batch
       3, and a deep input for the F(4x4) transforms' rounding. */
    {1, 5, 11, 13, 9, 3, 1, 0, 1, 0},
    {3, 9, 13, 10, 20, 3, 1, 1, 1, 0},
    {1, 3, 6, 6, 5, 3, 1, 2, 0, 1},
    {1, 256, 9, 7, 8, 3, 1, 1, 1, 0},
    {1, 8, 21, 70, 17, 3, 1, 1, 0, 0},
};

/* Tolerance: the device sums the n = cin*k*k products (inputs and weights uniform in [-1, 1]) in
   another order than the reference, and with mad. The rounding error of such a float32 sum is
   about eps * sqrt(n) * |partial sums| ~ eps * n / 3, i.e. 1e-5 at n = 576, the largest here;
   atol = 3e-5 * sqrt(n) (7e-4 there) leaves a margin above 30x while a single missing or extra
   tap (|x * w| ~ 0.25 on average) still fails. rtol 1e-4 covers the large outputs. */
static float conv_atol(const conv_case *c) {
    return 3e-5f * sqrtf((float)(c->cin * c->k * c->k));
}
#define CONV_RTOL 1e-4f

/* Runs `run` (op_run, or one variant's run after its prepare) into a fresh guarded output that
   starts as NaN everywhere, so unwritten outputs fail too. */
static void check_one(clseg_context *ctx, const char *what, const tu_config *config, op_call call,
                      const conv_case *c, const float *want, size_t out_count) {
    tu_guarded y;
    CHECK(tu_guarded_create(ctx, out_count, NULL, &y), "%s: guarded buffer", what);
    call.out[0].mem = y.mem;
    clseg_status st = tu_run_config(ctx, config, &call);
    CHECK(st == CLSEG_OK, "%s: %s: %s", what, clseg_status_str(st), clseg_context_error(ctx));
    float *got = malloc(out_count * sizeof *got);
    CHECK(tu_guarded_read(ctx, &y, got), "%s: guard regions", what);
    CHECK(tu_allclose(what, got, want, out_count, conv_atol(c), CONV_RTOL),
          "%s: n%d cin%d %dx%d cout%d k%d s%d p%d relu%d", what, c->n, c->cin, c->h, c->w, c->cout,
          c->k, c->stride, c->pad, c->relu);
    free(got);
    tu_guarded_free(&y);
}

static void run_case(clseg_context *ctx, const conv_case *c, uint64_t seed) {
    conv2d_params p = {c->cin, c->cout, c->k, c->stride, c->pad, c->relu};
    shape4 xs = {c->n, c->cin, c->h, c->w}, ys;
    if (!conv2d_out_shape(xs, &p, &ys)) {
        CHECK(0, "test case has no valid output");
        return;
    }
    size_t nx = shape4_count(xs), nw = (size_t)c->cout * c->cin * c->k * c->k,
           ny = shape4_count(ys);
    float *x = malloc(nx * sizeof *x), *w = malloc(nw * sizeof *w);
    float *b = malloc((size_t)c->cout * sizeof *b), *want = malloc(ny * sizeof *want);
    tu_fill_uniform(x, nx, seed, -1, 1);
    tu_fill_uniform(w, nw, seed + 1, -1, 1);
    tu_fill_uniform(b, (size_t)c->cout, seed + 2, -1, 1);
    ref_conv2d(x, xs, w, c->no_bias ? NULL : b, &p, want);

    cl_mem xm = NULL, wm = NULL, bm = NULL;
    CHECK_OK(ctx_buffer(ctx, nx * sizeof *x, x, &xm));
    CHECK_OK(ctx_buffer(ctx, nw * sizeof *w, w, &wm));
    if (!c->no_bias) CHECK_OK(ctx_buffer(ctx, (size_t)c->cout * sizeof *b, b, &bm));
    op_call call = {.kind = OP_CONV2D};
    call.p.conv = p;
    call.in[0] = (dtensor){xm, xs};
    call.in[1].mem = wm;
    call.in[2].mem = bm;
    call.out[0].s = ys;

    tu_config configs[16];
    int nc = tu_op_configs(ctx, &call, configs, 16);
    for (int i = 0; i < nc; i++) check_one(ctx, configs[i].label, &configs[i], call, c, want, ny);

    clReleaseMemObject(xm);
    clReleaseMemObject(wm);
    if (bm) clReleaseMemObject(bm);
    free(x);
    free(w);
    free(b);
    free(want);
}

/* A wrong output shape is the caller's bug: reported, not run. */
static void check_rejects_bad_shape(clseg_context *ctx) {
    cl_mem m = NULL;
    CHECK_OK(ctx_buffer(ctx, 64 * sizeof(float), NULL, &m));
    op_call call = {.kind = OP_CONV2D};
    call.p.conv = (conv2d_params){1, 1, 3, 1, 1, 0};
    call.in[0] = (dtensor){m, {1, 1, 4, 4}};
    call.in[1].mem = m;
    call.out[0] = (dtensor){m, {1, 1, 4, 3}};
    CHECK(tune_run_call(ctx, &call) == CLSEG_ERR_INVALID_ARGUMENT, "wrong output shape accepted");
    clReleaseMemObject(m);
}

int main(void) {
    clseg_context **ctxs;
    int n_ctx = tu_contexts(&ctxs);
    for (int d = 0; d < n_ctx; d++) {
        for (size_t i = 0; i < CLSEG_ARRAY_LEN(cases); i++) run_case(ctxs[d], &cases[i], 100 + i);
        check_rejects_bad_shape(ctxs[d]);
    }
    tu_contexts_free(ctxs, n_ctx);
    return tu_finish("test_conv2d");
}
