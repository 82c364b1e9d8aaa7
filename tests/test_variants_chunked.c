/* test_variants_chunked.c - the variants that work through the scratch buffer (the Winograd
   conv and deconv, im2col + GEMM, GEMM + col2im) on a device whose allocation limit is lowered so
   that one call takes several chunks, with batch 2 so that chunks cross images; against the C
   reference. Also that each variant's scratch_bytes predicts what it allocates (the net's memory
   check counts it before allocating anything). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/desc.h"
#include "ref/ref.h"
#include "ref/ref_backward.h"
#include "testutil.h"

/* Small enough that every scratch-using variant splits the calls below into 2 to 11 chunks, large
   enough that one chunk of each fits. */
#define CHUNKED_ALLOC_BYTES (300 * 1024)

/* Runs every configuration tu_op_configs offers for call (op_run included) with the device's
   allocation limit lowered, each into a fresh guarded output. */
static void check_configs(clseg_context *ctx, op_call call, const float *want, size_t ny,
                          const char *what) {
    const op_tolerance tol = op_desc_get(call.kind)->tolerance(&call, 0);
    const uint64_t saved = ctx->info.max_alloc_bytes;
    ctx->info.max_alloc_bytes = CHUNKED_ALLOC_BYTES;
    tu_config configs[16];
    int nc = tu_op_configs(ctx, &call, configs, 16);
    ctx->info.max_alloc_bytes = saved;
    float *got = malloc(ny * sizeof *got);
    for (int i = 0; i < nc; i++) {
        tu_guarded y;
        CHECK(tu_guarded_create(ctx, ny, NULL, &y), "%s: guarded buffer", what);
        call.out[0].mem = y.mem;
        ctx->info.max_alloc_bytes = CHUNKED_ALLOC_BYTES;
        if (ctx->scratch) clReleaseMemObject(ctx->scratch);
        ctx->scratch = NULL;
        ctx->scratch_bytes = 0;
        clseg_status st = tu_run_config(ctx, &configs[i], &call);
        if (configs[i].variant) {
            op_choice ch = {configs[i].variant, configs[i].cfg, CHOICE_GENERIC};
            size_t predicted = op_choice_scratch_bytes(&ctx->info, &call, &ch);
            CHECK(predicted == ctx->scratch_bytes, "%s %s: scratch predicted %zu, allocated %zu",
                  what, configs[i].label, predicted, ctx->scratch_bytes);
        }
        ctx->info.max_alloc_bytes = saved;
        CHECK(st == CLSEG_OK, "%s %s: %s", what, configs[i].label, clseg_context_error(ctx));
        CHECK(tu_guarded_read(ctx, &y, got), "%s %s: guard regions", what, configs[i].label);
        CHECK(tu_allclose(configs[i].label, got, want, ny, tol.atol, tol.rtol), "%s %s", what,
              configs[i].label);
        tu_guarded_free(&y);
    }
    free(got);
}

static void run_conv(clseg_context *ctx) {
    const conv2d_params p = {16, 24, 3, 1, 1, 1, 1, 1};
    const shape4 xs = {2, 16, 21, 70};
    shape4 ys;
    CHECK(conv2d_out_shape(xs, &p, &ys), "conv shape");
    size_t nx = shape4_count(xs), nw = 24 * 16 * 9, ny = shape4_count(ys);
    float *x = malloc(nx * sizeof *x), *w = malloc(nw * sizeof *w), b[24];
    float *want = malloc(ny * sizeof *want);
    tu_fill_uniform(x, nx, 1, -1, 1);
    tu_fill_uniform(w, nw, 2, -1, 1);
    tu_fill_uniform(b, 24, 3, -1, 1);
    ref_conv2d(x, xs, w, b, &p, want);
    cl_mem xm = NULL, wm = NULL, bm = NULL;
    CHECK_OK(ctx_buffer(ctx, nx * sizeof *x, x, &xm));
    CHECK_OK(ctx_buffer(ctx, nw * sizeof *w, w, &wm));
    CHECK_OK(ctx_buffer(ctx, sizeof b, b, &bm));
    op_call call = {.kind = OP_CONV2D, .p.conv = p};
    call.in[0] = (dtensor){xm, xs};
    call.in[1].mem = wm;
    call.in[2].mem = bm;
    call.out[0].s = ys;
    check_configs(ctx, call, want, ny, "conv2d 2x16x21x70 -> 24");
    clReleaseMemObject(xm);
    clReleaseMemObject(wm);
    clReleaseMemObject(bm);
    free(x);
    free(w);
    free(want);
}

static void run_deconv(clseg_context *ctx) {
    const deconv2d_params p = {16, 24, 3, 2, 1, 1, 0, 1};
    const shape4 xs = {2, 16, 21, 35};
    shape4 ys;
    CHECK(deconv2d_out_shape(xs, &p, &ys), "deconv shape");
    size_t nx = shape4_count(xs), nw = 16 * 24 * 9, ny = shape4_count(ys);
    float *x = malloc(nx * sizeof *x), *w = malloc(nw * sizeof *w), b[24];
    float *want = malloc(ny * sizeof *want);
    tu_fill_uniform(x, nx, 4, -1, 1);
    tu_fill_uniform(w, nw, 5, -1, 1);
    tu_fill_uniform(b, 24, 6, -1, 1);
    ref_deconv2d(x, xs, w, b, &p, want);
    cl_mem xm = NULL, wm = NULL, bm = NULL;
    CHECK_OK(ctx_buffer(ctx, nx * sizeof *x, x, &xm));
    CHECK_OK(ctx_buffer(ctx, nw * sizeof *w, w, &wm));
    CHECK_OK(ctx_buffer(ctx, sizeof b, b, &bm));
    op_call call = {.kind = OP_DECONV2D, .p.deconv = p};
    call.in[0] = (dtensor){xm, xs};
    call.in[1].mem = wm;
    call.in[2].mem = bm;
    call.out[0].s = ys;
    check_configs(ctx, call, want, ny, "deconv2d 2x16x21x35 -> 24");
    clReleaseMemObject(xm);
    clReleaseMemObject(wm);
    clReleaseMemObject(bm);
    free(x);
    free(w);
    free(want);
}

/* The weight gradient of a conv: the GEMM variant takes row chunks of both images. */
static void run_conv_wgrad(clseg_context *ctx) {
    const conv2d_params p = {.cin = 16, .cout = 24, .k = 3, .stride = 1, .pad = 1};
    const shape4 xs = {2, 16, 21, 70};
    shape4 ys;
    CHECK(conv2d_out_shape(xs, &p, &ys), "conv shape");
    size_t nx = shape4_count(xs), ndy = shape4_count(ys), nw = 24 * 16 * 9;
    float *x = malloc(nx * sizeof *x), *dy = malloc(ndy * sizeof *dy);
    float *want = malloc(nw * sizeof *want);
    tu_fill_uniform(x, nx, 7, -1, 1);
    tu_fill_uniform(dy, ndy, 8, -1, 1);
    ref_conv2d_bwd_weight(x, xs, dy, &p, want, NULL);
    cl_mem xm = NULL, dym = NULL;
    CHECK_OK(ctx_buffer(ctx, nx * sizeof *x, x, &xm));
    CHECK_OK(ctx_buffer(ctx, ndy * sizeof *dy, dy, &dym));
    op_call call = {.kind = OP_CONV2D_BWD_WEIGHT, .p.conv = p};
    call.in[0] = (dtensor){xm, xs};
    call.in[1] = (dtensor){dym, ys};
    call.out[0].s = (shape4){24, 16, 3, 3};
    check_configs(ctx, call, want, nw, "conv2d_bwd_weight 2x16x21x70 -> 24");
    clReleaseMemObject(xm);
    clReleaseMemObject(dym);
    free(x);
    free(dy);
    free(want);
}

/* The scratch-using variants must still be among those run, i.e. one chunk fits the limit. */
static void check_variants_offered(clseg_context *ctx) {
    static const struct {
        op_kind kind;
        const char *name;
    } wanted[] = {{OP_CONV2D, "winograd"},
                  {OP_CONV2D, "im2col_gemm"},
                  {OP_DECONV2D, "gemm_col2im"},
                  {OP_DECONV2D, "winograd"}};
    op_call conv = {.kind = OP_CONV2D, .p.conv = {16, 24, 3, 1, 1, 1, 1, 1}};
    conv.in[0].s = (shape4){2, 16, 21, 70};
    op_call deconv = {.kind = OP_DECONV2D, .p.deconv = {16, 24, 3, 2, 1, 1, 0, 1}};
    deconv.in[0].s = (shape4){2, 16, 21, 35};
    clseg_device_info dev = ctx->info;
    dev.max_alloc_bytes = CHUNKED_ALLOC_BYTES;
    for (size_t n = 0; n < CLSEG_ARRAY_LEN(wanted); n++) {
        int found = 0;
        for (size_t i = 0; i < op_variant_table_len; i++) {
            const op_variant *v = op_variant_table[i];
            if (v->kind != wanted[n].kind || strcmp(v->name, wanted[n].name) != 0) continue;
            op_config cfg = op_default_config(v);
            found |= op_variant_supports(v, &dev, v->kind == OP_CONV2D ? &conv : &deconv, &cfg);
        }
        CHECK(found, "%s %s not offered under the lowered allocation limit",
              op_kind_name(wanted[n].kind), wanted[n].name);
    }
}

int main(void) {
    clseg_context **ctxs;
    int n_ctx = tu_contexts(&ctxs);
    for (int d = 0; d < n_ctx; d++) {
        check_variants_offered(ctxs[d]);
        run_conv(ctxs[d]);
        run_deconv(ctxs[d]);
        run_conv_wgrad(ctxs[d]);
    }
    tu_contexts_free(ctxs, n_ctx);
    return tu_finish("test_variants_chunked");
}
