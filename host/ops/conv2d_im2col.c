/* conv2d_im2col.c - conv2d variant "im2col_gemm": im2col into scratch columns, CLBlast SGEMM of
   the weights with them straight into the output, then bias + ReLU (kernels/im2col.cl). */
#include "launch_helpers.h"
#include "variant_util.h"

/* The output rows whose columns fit the scratch at once; 0 if not even one row does. */
static int chunk_rows(const clseg_device_info *dev, const op_call *call, shape4 ys) {
    const conv2d_params *p = &call->p.conv;
    const size_t per_row = (size_t)p->cin * (size_t)p->k * (size_t)p->k * (size_t)ys.w * 4;
    const size_t fit = scratch_budget(dev) / per_row;
    return (int)CLSEG_MIN(fit, (size_t)ys.h);
}

static int supports(const clseg_device_info *dev, const op_call *call, const op_config *cfg,
                    char *why, size_t why_len) {
    (void)cfg;
    shape4 ys;
    if (!conv2d_dense_only(call, why, why_len)) return 0;
    if (!conv2d_out_shape(call->in[0].s, &call->p.conv, &ys))
        return op_refuse(why, why_len, "no output for these parameters");
    if (!launch_fits_int(ys) || !launch_fits_int(call->in[0].s))
        return op_refuse(why, why_len, "tensors too large for int indexing");
    if (chunk_rows(dev, call, ys) <= 0)
        return op_refuse(why, why_len,
                         "one output row's columns exceed the scratch budget of %zu bytes",
                         scratch_budget(dev));
    return 1;
}

static size_t scratch_bytes(const clseg_device_info *dev, const op_call *call,
                            const op_config *cfg) {
    (void)cfg;
    shape4 ys;
    if (!conv2d_out_shape(call->in[0].s, &call->p.conv, &ys)) return 0;
    const conv2d_params *p = &call->p.conv;
    const size_t kdim = (size_t)p->cin * (size_t)p->k * (size_t)p->k;
    return kdim * (size_t)chunk_rows(dev, call, ys) * (size_t)ys.w * 4;
}

static clseg_status kernels(clseg_context *ctx, cl_kernel *im2col, cl_kernel *epilogue) {
    clseg_status st = ctx_kernel(ctx, "im2col", NULL, "im2col", im2col);
    return st == CLSEG_OK ? ctx_kernel(ctx, "im2col", NULL, "bias_relu", epilogue) : st;
}

/* Besides compiling the two kernels, runs the first chunk's GEMM (into the output, which run
   overwrites): CLBlast compiles its own kernels on first use (seconds on a CPU device), and that
   belongs to start-up. */
static clseg_status prepare(clseg_context *ctx, const op_call *call, const op_config *cfg) {
    (void)cfg;
    cl_kernel a, b;
    clseg_status st = kernels(ctx, &a, &b);
    shape4 ys;
    if (st != CLSEG_OK || !call->in[1].mem || !call->out[0].mem ||
        !conv2d_out_shape(call->in[0].s, &call->p.conv, &ys))
        return st;
    const int rows = chunk_rows(&ctx->info, call, ys);
    const size_t kdim = (size_t)call->p.conv.cin * (size_t)call->p.conv.k * (size_t)call->p.conv.k;
    const size_t ncols = (size_t)rows * (size_t)ys.w;
    cl_mem s;
    if (rows < 1) return CLSEG_OK;
    if ((st = scratch_get(ctx, kdim * ncols * 4, &s)) != CLSEG_OK) return st;
    st = blas_sgemm(ctx, 0, 0, (size_t)ys.c, ncols, kdim, call->in[1].mem, 0, kdim, s, 0, ncols,
                    0.0f, call->out[0].mem, 0, shape4_plane(ys));
    return st == CLSEG_OK ? ctx_finish(ctx) : st;
}

static clseg_status run(clseg_context *ctx, const op_call *call, const op_config *cfg) {
    shape4 ys;
    clseg_status st = conv2d_check_call(ctx, call, &ys);
    if (st != CLSEG_OK) return st;
    if (!supports(&ctx->info, call, cfg, NULL, 0))
        return ctx_fail(ctx, CLSEG_ERR_UNSUPPORTED, "conv2d im2col_gemm: unsupported call");
    cl_kernel im2col, epilogue;
    if ((st = kernels(ctx, &im2col, &epilogue)) != CLSEG_OK) return st;
    const conv2d_params *p = &call->p.conv;
    const shape4 xs = call->in[0].s;
    const int rows = chunk_rows(&ctx->info, call, ys);
    const size_t kdim = (size_t)p->cin * (size_t)p->k * (size_t)p->k;
    const size_t plane = (size_t)ys.h * (size_t)ys.w;
    cl_mem s;
    if ((st = scratch_get(ctx, scratch_bytes(&ctx->info, call, cfg), &s)) != CLSEG_OK) return st;
    for (int n = 0; n < ys.n && st == CLSEG_OK; n++) {
        for (int r0 = 0; r0 < ys.h && st == CLSEG_OK; r0 += rows) {
            const int nr = CLSEG_MIN(rows, ys.h - r0);
            size_t gws[3] = {(size_t)ys.w, (size_t)nr, kdim}, lws[3];
            launch_local_size(&ctx->info, gws, lws);
            st = CTX_RUN(ctx, im2col, 3, gws, lws, KARG_MEM(call->in[0].mem), KARG_MEM(s),
                         KARG_INT(p->cin), KARG_INT(xs.h), KARG_INT(xs.w), KARG_INT(ys.w),
                         KARG_INT(p->k), KARG_INT(p->stride), KARG_INT(p->pad), KARG_INT(n),
                         KARG_INT(r0), KARG_INT(nr));
            if (st != CLSEG_OK) break;
            /* y[n][:, rows r0 ..] (cout x nr*ow, leading dimension oh*ow) = W (cout x kdim) *
               columns (kdim x nr*ow) */
            const size_t ncols = (size_t)nr * (size_t)ys.w;
            st = blas_sgemm(ctx, 0, 0, (size_t)ys.c, ncols, kdim, call->in[1].mem, 0, kdim, s, 0,
                            ncols, 0.0f, call->out[0].mem,
                            (size_t)n * (size_t)ys.c * plane + (size_t)r0 * (size_t)ys.w, plane);
        }
    }
    if (st != CLSEG_OK || (!call->in[2].mem && !p->act)) return st;
    size_t gws[3] = {plane, (size_t)ys.c, (size_t)ys.n}, lws[3];
    launch_local_size(&ctx->info, gws, lws);
    return CTX_RUN(ctx, epilogue, 3, gws, lws, KARG_MEM(call->out[0].mem),
                   KARG_MEM(call->in[2].mem), KARG_INT(ys.c), KARG_INT(plane), KARG_INT(ys.n),
                   KARG_INT(p->act));
}

/* Every shape whose columns for one output row fit the scratch budget. */
const op_variant conv2d_im2col_gemm = {.name = "im2col_gemm",
                                       .kind = OP_CONV2D,
                                       .supports = supports,
                                       .prepare = prepare,
                                       .run = run,
                                       .scratch_bytes = scratch_bytes};
