/* test_deconv2d.c - deconv2d on every device, through op_run and through each deconv2d variant,
   against the C reference over kernel sizes, strides, paddings and output paddings at awkward
   shapes; out-of-bounds writes fail through guard regions. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/ops.h"
#include "ref/ref.h"
#include "testutil.h"
#include "tune/select.h"

typedef struct deconv_case {
    int n, cin, h, w, cout, k, stride, pad, out_pad_h, out_pad_w, relu, no_bias;
} deconv_case;

/* Tolerance: as for conv2d (see test_conv2d.c), the device sums at most n = cin*k*k products of
   values in [-1, 1] in another order than the reference; the float32 rounding error is about
   eps * n / 3, and atol = 3e-5 * sqrt(n) keeps a wide margin while one wrong tap still fails. */
static float deconv_atol(const deconv_case *c) {
    return 3e-5f * sqrtf((float)(c->cin * c->k * c->k));
}
#define DECONV_RTOL 1e-4f

static void check_one(clseg_context *ctx, const char *what, const tu_config *config, op_call call,
                      const deconv_case *c, const float *want, size_t out_count) {
    tu_guarded y;
    CHECK(tu_guarded_create(ctx, out_count, NULL, &y), "%s: guarded buffer", what);
    call.out[0].mem = y.mem;
    clseg_status st = tu_run_config(ctx, config, &call);
    CHECK(st == CLSEG_OK, "%s: %s: %s", what, clseg_status_str(st), clseg_context_error(ctx));
    float *got = malloc(out_count * sizeof *got);
    CHECK(tu_guarded_read(ctx, &y, got), "%s: guard regions", what);
    CHECK(tu_allclose(what, got, want, out_count, deconv_atol(c), DECONV_RTOL),
          "%s: n%d cin%d %dx%d cout%d k%d s%d p%d op%d,%d relu%d", what, c->n, c->cin, c->h, c->w,
          c->cout, c->k, c->stride, c->pad, c->out_pad_h, c->out_pad_w, c->relu);
    free(got);
    tu_guarded_free(&y);
}

/* Returns 0 when the case has no valid output (skipped). */
static int run_case(clseg_context *ctx, const deconv_case *c, uint64_t seed) {
    deconv2d_params p = {c->cin, c->cout,      c->k,         c->stride,
                         c->pad, c->out_pad_h, c->out_pad_w, c->relu};
    shape4 xs = {c->n, c->cin, c->h, c->w}, ys;
    if (!deconv2d_out_shape(xs, &p, &ys)) return 0;
    size_t nx = shape4_count(xs), nw = (size_t)c->cin * c->cout * c->k * c->k,
           ny = shape4_count(ys);
    float *x = malloc(nx * sizeof *x), *w = malloc(nw * sizeof *w);
    float *b = malloc((size_t)c->cout * sizeof *b), *want = malloc(ny * sizeof *want);
    tu_fill_uniform(x, nx, seed, -1, 1);
    tu_fill_uniform(w, nw, seed + 1, -1, 1);
    tu_fill_uniform(b, (size_t)c->cout, seed + 2, -1, 1);
    ref_deconv2d(x, xs, w, c->no_bias ? NULL : b, &p, want);

    cl_mem xm = NULL, wm = NULL, bm = NULL;
    CHECK_OK(ctx_buffer(ctx, nx * sizeof *x, x, &xm));
    CHECK_OK(ctx_buffer(ctx, nw * sizeof *w, w, &wm));
    if (!c->no_bias) CHECK_OK(ctx_buffer(ctx, (size_t)c->cout * sizeof *b, b, &bm));
    op_call call = {.kind = OP_DECONV2D};
    call.p.deconv = p;
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
    return 1;
}

/* Every k in {2, 3, 4} x stride in {1, 2, 3} x pad in {0, 1}, each with an output padding legal
   for its stride (the two axes differ where they can), cycling through awkward spatial sizes,
   channel pairs and batch sizes so every kernel path meets several shapes. */
static void run_sweep(clseg_context *ctx) {
    static const int spatial[][2] = {{1, 1}, {9, 7}, {33, 17}, {2, 3}, {7, 9}};
    static const int channels[][2] = {{1, 1}, {3, 7}, {16, 3}, {7, 16}, {64, 16}, {16, 64}};
    int index = 0, ran = 0;
    for (int k = 2; k <= 4; k++)
        for (int s = 1; s <= 3; s++)
            for (int pad = 0; pad <= 1; pad++, index++) {
                const int *hw = spatial[index % CLSEG_ARRAY_LEN(spatial)];
                const int *ch = channels[index % CLSEG_ARRAY_LEN(channels)];
                deconv_case c = {.n = 1 + 2 * (index % 3 == 2),
                                 .cin = ch[0],
                                 .h = hw[0],
                                 .w = hw[1],
                                 .cout = ch[1],
                                 .k = k,
                                 .stride = s,
                                 .pad = pad,
                                 .out_pad_h = (index + 1) % s,
                                 .out_pad_w = (index + 2) % s,
                                 .relu = index % 2,
                                 .no_bias = index % 7 == 3};
                ran += run_case(ctx, &c, 1000 + (uint64_t)index);
            }
    CHECK(ran >= index - 3, "only %d of %d sweep cases had a valid output", ran, index);
}

/* Cases the sweep does not reach: 1x1 kernels whose stride leaves output pixels no tap reaches
   (bias only), a kernel smaller than the stride, pad larger than k/2, the largest output
   padding, and SegNet's k=2 s=2 upsampling at a size that is not a tile multiple. */
static const deconv_case cases[] = {
    {1, 3, 9, 7, 5, 1, 2, 0, 1, 1, 0, 0},   {1, 7, 9, 7, 3, 2, 3, 0, 2, 1, 1, 0},
    {1, 3, 9, 7, 2, 3, 1, 2, 0, 0, 0, 0},   {3, 16, 33, 17, 7, 4, 3, 1, 2, 2, 0, 0},
    {1, 64, 9, 7, 64, 2, 2, 0, 0, 0, 1, 0}, {1, 1, 1, 1, 1, 4, 2, 1, 1, 0, 0, 0},
    {1, 7, 2, 3, 16, 3, 2, 1, 1, 1, 1, 1},  {1, 3, 7, 9, 4, 5, 3, 2, 0, 2, 0, 0},
};

static void check_rejects_bad_shape(clseg_context *ctx) {
    cl_mem m = NULL;
    CHECK_OK(ctx_buffer(ctx, 256 * sizeof(float), NULL, &m));
    op_call call = {.kind = OP_DECONV2D};
    call.p.deconv = (deconv2d_params){1, 1, 2, 2, 0, 0, 0, 0};
    call.in[0] = (dtensor){m, {1, 1, 4, 4}};
    call.in[1].mem = m;
    call.out[0] = (dtensor){m, {1, 1, 9, 8}};
    CHECK(tune_run_call(ctx, &call) == CLSEG_ERR_INVALID_ARGUMENT, "wrong output shape accepted");
    clReleaseMemObject(m);
}

int main(void) {
    clseg_context **ctxs;
    int n_ctx = tu_contexts(&ctxs);
    for (int d = 0; d < n_ctx; d++) {
        run_sweep(ctxs[d]);
        for (size_t i = 0; i < CLSEG_ARRAY_LEN(cases); i++)
            CHECK(run_case(ctxs[d], &cases[i], 500 + i), "case %zu has no valid output", i);
        check_rejects_bad_shape(ctxs[d]);
    }
    tu_contexts_free(ctxs, n_ctx);
    return tu_finish("test_deconv2d");
}
