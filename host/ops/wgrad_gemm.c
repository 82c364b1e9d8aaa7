/* wgrad_gemm.c - weight-gradient variant "im2col_gemm" of conv2d and deconv2d: per image and
   chunk of rows, the adjoint conv's input as im2col columns (kernels/im2col.cl), then one CLBlast
   SGEMM dw += b * columns^T, which spreads the long sum over pixels across a GPU's cores. */
#include "launch_helpers.h"
#include "variant_util.h"
#include "wgrad.h"

/* Rows of b whose columns fit the scratch at once; 0 if not even one row does. */
static int chunk_rows(const clseg_device_info *dev, shape4 as, shape4 bs, int k) {
    const size_t per_row = (size_t)as.c * (size_t)k * (size_t)k * (size_t)bs.w * sizeof(float);
    if (per_row == 0) return 0;
    return (int)CLSEG_MIN(scratch_budget(dev) / per_row, (size_t)bs.h);
}

static int supports(const clseg_device_info *dev, const op_call *call, const op_config *cfg,
                    char *why, size_t why_len) {
    (void)cfg;
    shape4 as, bs;
    int k, stride;
    if (!wgrad_geometry(call, &as, &bs, &k, &stride))
        return op_refuse(why, why_len, "invalid parameters (a plain dense conv, no activation)");
    if (!launch_fits_int(as) || !launch_fits_int(bs))
        return op_refuse(why, why_len, "tensors too large for int indexing");
    if (chunk_rows(dev, as, bs, k) <= 0)
        return op_refuse(why, why_len, "one row's columns exceed the scratch budget of %zu bytes",
                         scratch_budget(dev));
    return 1;
}

static size_t scratch_bytes(const clseg_device_info *dev, const op_call *call,
                            const op_config *cfg) {
    (void)cfg;
    shape4 as, bs;
    int k, stride;
    if (!wgrad_geometry(call, &as, &bs, &k, &stride)) return 0;
    return (size_t)as.c * (size_t)k * (size_t)k * (size_t)chunk_rows(dev, as, bs, k) *
           (size_t)bs.w * sizeof(float);
}

/* Besides compiling the kernels, runs one GEMM of the first chunk's size into dw (which run
   overwrites): CLBlast compiles its own kernels on first use, and that belongs to start-up. */
static clseg_status prepare(clseg_context *ctx, const op_call *call, const op_config *cfg) {
    cl_kernel kernel;
    clseg_status st = ctx_kernel(ctx, "im2col", NULL, "im2col", &kernel);
    if (st == CLSEG_OK && call->out[1].mem)
        st = ctx_kernel(ctx, "backward", NULL, "channel_sum", &kernel);
    wgrad g;
    if (st != CLSEG_OK || !call->in[0].mem || !call->in[1].mem || !call->out[0].mem ||
        wgrad_problem(ctx, call, &g) != CLSEG_OK)
        return st;
    const int rows = chunk_rows(&ctx->info, g.as, g.bs, g.k);
    const size_t kdim = (size_t)g.as.c * (size_t)g.k * (size_t)g.k, ncols = (size_t)rows * g.bs.w;
    cl_mem s;
    if (rows < 1) return CLSEG_OK;
    if ((st = scratch_get(ctx, scratch_bytes(&ctx->info, call, cfg), &s)) != CLSEG_OK) return st;
    st = blas_sgemm(ctx, 0, 1, (size_t)g.bs.c, kdim, ncols, g.b, 0, shape4_plane(g.bs), s, 0, ncols,
                    0.0f, g.dw, 0, kdim);
    return st == CLSEG_OK ? ctx_finish(ctx) : st;
}

static clseg_status run(clseg_context *ctx, const op_call *call, const op_config *cfg) {
    wgrad g;
    clseg_status st = wgrad_problem(ctx, call, &g);
    if (st != CLSEG_OK) return st;
    if (!supports(&ctx->info, call, cfg, NULL, 0))
        return ctx_fail(ctx, CLSEG_ERR_UNSUPPORTED, "%s im2col_gemm: unsupported call",
                        op_kind_name(call->kind));
    cl_kernel im2col;
    if ((st = ctx_kernel(ctx, "im2col", NULL, "im2col", &im2col)) != CLSEG_OK) return st;
    cl_mem s;
    if ((st = scratch_get(ctx, scratch_bytes(&ctx->info, call, cfg), &s)) != CLSEG_OK) return st;
    const int rows = chunk_rows(&ctx->info, g.as, g.bs, g.k);
    const size_t kdim = (size_t)g.as.c * (size_t)g.k * (size_t)g.k;
    const size_t plane = shape4_plane(g.bs);
    float beta = 0.0f; /* the first GEMM overwrites dw, the others add to it */
    for (int n = 0; n < g.bs.n && st == CLSEG_OK; n++) {
        for (int r0 = 0; r0 < g.bs.h && st == CLSEG_OK; r0 += rows) {
            const int nr = CLSEG_MIN(rows, g.bs.h - r0);
            size_t gws[3] = {(size_t)g.bs.w, (size_t)nr, kdim}, lws[3];
            launch_local_size(&ctx->info, gws, lws);
            st = CTX_RUN(ctx, im2col, 3, gws, lws, KARG_MEM(g.a), KARG_MEM(s), KARG_INT(g.as.c),
                         KARG_INT(g.as.h), KARG_INT(g.as.w), KARG_INT(g.bs.w), KARG_INT(g.k),
                         KARG_INT(g.stride), KARG_INT(g.pad), KARG_INT(n), KARG_INT(r0),
                         KARG_INT(nr));
            if (st != CLSEG_OK) break;
            /* dw (cout x kdim) += b[n][:, rows r0 ..] (cout x ncols, leading dimension plane) *
               columns^T (ncols x kdim) */
            const size_t ncols = (size_t)nr * (size_t)g.bs.w;
            st = blas_sgemm(ctx, 0, 1, (size_t)g.bs.c, kdim, ncols, g.b,
                            (size_t)n * (size_t)g.bs.c * plane + (size_t)r0 * (size_t)g.bs.w, plane,
                            s, 0, ncols, beta, g.dw, 0, kdim);
            beta = 1.0f;
        }
    }
    if (st != CLSEG_OK || !g.db) return st;
    return wgrad_bias(ctx, &g);
}

/* Every shape whose columns for one row of b fit the scratch budget. */
const op_variant conv2d_bwd_weight_gemm = {.name = "im2col_gemm",
                                           .kind = OP_CONV2D_BWD_WEIGHT,
                                           .supports = supports,
                                           .prepare = prepare,
                                           .run = run,
                                           .scratch_bytes = scratch_bytes};
const op_variant deconv2d_bwd_weight_gemm = {.name = "im2col_gemm",
                                             .kind = OP_DECONV2D_BWD_WEIGHT,
                                             .supports = supports,
                                             .prepare = prepare,
                                             .run = run,
                                             .scratch_bytes = scratch_bytes};
