/* upsample.c - nearest / bilinear upsampling by an integer factor. */
#include "launch_helpers.h"

static const char *kernel_for(const op_call *call) {
    return call->p.up.mode == UPSAMPLE_BILINEAR ? "upsample_bilinear" : "upsample_nearest";
}

static clseg_status prepare(clseg_context *ctx, const op_call *call, const op_config *cfg) {
    (void)cfg;
    cl_kernel kernel;
    return ctx_kernel(ctx, "upsample", NULL, kernel_for(call), &kernel);
}

static clseg_status run(clseg_context *ctx, const op_call *call, const op_config *cfg) {
    (void)cfg;
    const upsample_params *p = &call->p.up;
    shape4 xs = call->in[0].s, ys;
    if (!upsample_out_shape(xs, p, &ys) ||
        (p->mode != UPSAMPLE_NEAREST && p->mode != UPSAMPLE_BILINEAR))
        return ctx_fail(ctx, CLSEG_ERR_INVALID_ARGUMENT, "upsample: bad factor %d or mode %d",
                        p->factor, (int)p->mode);
    clseg_status st = launch_check_shape(ctx, call->kind, call->out[0].s, ys);
    if (st != CLSEG_OK) return st;
    if (!launch_fits_int(ys))
        return ctx_fail(ctx, CLSEG_ERR_TOO_LARGE, "upsample: tensor too large");
    cl_kernel kernel;
    st = ctx_kernel(ctx, "upsample", NULL, kernel_for(call), &kernel);
    if (st != CLSEG_OK) return st;
    /* One work-item per input column and output row; it writes `factor` outputs. */
    size_t gws[3] = {(size_t)xs.w, (size_t)ys.h, (size_t)ys.n * (size_t)ys.c}, lws[3];
    launch_local_size(&ctx->info, gws, lws);
    return CTX_RUN(ctx, kernel, 3, gws, lws, KARG_MEM(call->in[0].mem), KARG_MEM(call->out[0].mem),
                   KARG_INT(xs.h), KARG_INT(xs.w), KARG_INT(p->factor), KARG_INT(xs.n * xs.c));
}

const op_variant upsample_direct = {
    .name = "direct", .kind = OP_UPSAMPLE, .prepare = prepare, .run = run};
