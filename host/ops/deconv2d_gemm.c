/* deconv2d_gemm.c - deconv2d variant "gemm_col2im": CLBlast SGEMM of the transposed weights with
   the input into scratch columns, then col2im gathers them into the output with bias and ReLU
   (kernels/im2col.cl). */
#include "launch_helpers.h"
#include "variant_util.h"

/* Output channels whose columns fit the scratch at once; 0 if not even one does. */
static int chunk_channels(const clseg_device_info *dev, const op_call *call) {
    const deconv2d_params *p = &call->p.deconv;
    const shape4 xs = call->in[0].s;
    const size_t per_channel = (size_t)p->k * (size_t)p->k * shape4_plane(xs) * 4;
    const size_t fit = scratch_budget(dev) / per_channel;
    return (int)CLSEG_MIN(fit, (size_t)p->cout);
}

static int supports(const clseg_device_info *dev, const op_call *call, const op_config *cfg,
                    char *why, size_t why_len) {
    (void)cfg;
    shape4 ys;
    if (!deconv2d_out_shape(call->in[0].s, &call->p.deconv, &ys))
        return op_refuse(why, why_len, "no output for these parameters");
    if (!launch_fits_int(ys) || !launch_fits_int(call->in[0].s))
        return op_refuse(why, why_len, "tensors too large for int indexing");
    if (chunk_channels(dev, call) <= 0)
        return op_refuse(why, why_len,
                         "one channel's columns exceed the scratch budget of %zu bytes",
                         scratch_budget(dev));
    return 1;
}

static size_t scratch_bytes(const clseg_device_info *dev, const op_call *call,
                            const op_config *cfg) {
    (void)cfg;
    const size_t kk = (size_t)call->p.deconv.k * (size_t)call->p.deconv.k;
    return (size_t)chunk_channels(dev, call) * kk * shape4_plane(call->in[0].s) * 4;
}

static clseg_status kernel(clseg_context *ctx, cl_kernel *k) {
    return ctx_kernel(ctx, "im2col", NULL, "col2im", k);
}

/* Besides compiling col2im, runs the GEMM once on the call's shapes: CLBlast compiles its own
   kernels on first use (seconds on a CPU device), which belongs to start-up. */
static clseg_status prepare(clseg_context *ctx, const op_call *call, const op_config *cfg) {
    (void)cfg;
    cl_kernel k;
    clseg_status st = kernel(ctx, &k);
    const deconv2d_params *p = &call->p.deconv;
    const int cc = chunk_channels(&ctx->info, call);
    if (st != CLSEG_OK || cc < 1 || !call->in[0].mem || !call->in[1].mem) return st;
    const size_t kk = (size_t)p->k * (size_t)p->k, plane = shape4_plane(call->in[0].s);
    cl_mem s;
    if ((st = scratch_get(ctx, (size_t)cc * kk * plane * 4, &s)) != CLSEG_OK) return st;
    st = blas_sgemm(ctx, 1, 0, (size_t)cc * kk, plane, (size_t)p->cin, call->in[1].mem, 0,
                    (size_t)p->cout * kk, call->in[0].mem, 0, plane, 0.0f, s, 0, plane);
    return st == CLSEG_OK ? ctx_finish(ctx) : st;
}

static clseg_status run(clseg_context *ctx, const op_call *call, const op_config *cfg) {
    shape4 ys;
    clseg_status st = deconv2d_check_call(ctx, call, &ys);
    if (st != CLSEG_OK) return st;
    if (!supports(&ctx->info, call, cfg, NULL, 0))
        return ctx_fail(ctx, CLSEG_ERR_UNSUPPORTED, "deconv2d gemm_col2im: unsupported call");
    cl_kernel col2im;
    if ((st = kernel(ctx, &col2im)) != CLSEG_OK) return st;
    const deconv2d_params *p = &call->p.deconv;
    const shape4 xs = call->in[0].s;
    const int cc_max = chunk_channels(&ctx->info, call);
    const size_t kk = (size_t)p->k * (size_t)p->k, plane = shape4_plane(xs);
    cl_mem s;
    if ((st = scratch_get(ctx, scratch_bytes(&ctx->info, call, cfg), &s)) != CLSEG_OK) return st;
    for (int n = 0; n < xs.n && st == CLSEG_OK; n++) {
        for (int c0 = 0; c0 < p->cout && st == CLSEG_OK; c0 += cc_max) {
            const int cc = CLSEG_MIN(cc_max, p->cout - c0);
            /* columns (cc*k*k x h*w) = W[:, c0 ..]^T (cc*k*k x cin) * x[n] (cin x h*w); W is
               cin x cout*k*k row-major. */
            st = blas_sgemm(ctx, 1, 0, (size_t)cc * kk, plane, (size_t)p->cin, call->in[1].mem,
                            (size_t)c0 * kk, (size_t)p->cout * kk, call->in[0].mem,
                            (size_t)n * (size_t)p->cin * plane, plane, 0.0f, s, 0, plane);
            if (st != CLSEG_OK) break;
            size_t gws[3] = {(size_t)ys.w, (size_t)ys.h, (size_t)cc}, lws[3];
            launch_local_size(&ctx->info, gws, lws);
            st = CTX_RUN(ctx, col2im, 3, gws, lws, KARG_MEM(s), KARG_MEM(call->in[2].mem),
                         KARG_MEM(call->out[0].mem), KARG_INT(xs.h), KARG_INT(xs.w), KARG_INT(ys.c),
                         KARG_INT(ys.h), KARG_INT(ys.w), KARG_INT(p->k), KARG_INT(p->stride),
                         KARG_INT(p->pad), KARG_INT(n), KARG_INT(c0), KARG_INT(cc),
                         KARG_INT(p->relu));
        }
    }
    return st;
}

/* Every shape whose columns for one output channel fit the scratch budget. */
const op_variant deconv2d_gemm_col2im = {.name = "gemm_col2im",
                                         .kind = OP_DECONV2D,
                                         .supports = supports,
                                         .prepare = prepare,
                                         .run = run,
                                         .scratch_bytes = scratch_bytes};
