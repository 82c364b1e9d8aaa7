/* avgpool.c - average pooling over the in-input part of each window. */
#include "launch_helpers.h"

static clseg_status prepare(clseg_context *ctx, const op_call *call, const op_config *cfg) {
    (void)cfg;
    (void)call;
    cl_kernel kernel;
    return ctx_kernel(ctx, "pool", NULL, "avgpool2d", &kernel);
}

static clseg_status run(clseg_context *ctx, const op_call *call, const op_config *cfg) {
    (void)cfg;
    const pool_params *p = &call->p.pool;
    shape4 xs = call->in[0].s, ys;
    if (!pool_out_shape(xs, p, &ys))
        return ctx_fail(ctx, CLSEG_ERR_INVALID_ARGUMENT, "avgpool: no output for k=%d stride=%d",
                        p->k, p->stride);
    clseg_status st = launch_check_shape(ctx, call->kind, call->out[0].s, ys);
    if (st != CLSEG_OK) return st;
    if (!launch_fits_int(xs))
        return ctx_fail(ctx, CLSEG_ERR_TOO_LARGE, "avgpool: tensor too large");
    cl_kernel kernel;
    st = ctx_kernel(ctx, "pool", NULL, "avgpool2d", &kernel);
    if (st != CLSEG_OK) return st;
    size_t gws[3] = {(size_t)ys.w, (size_t)ys.h, (size_t)ys.n * (size_t)ys.c}, lws[3];
    launch_local_size(&ctx->info, gws, lws);
    return CTX_RUN(ctx, kernel, 3, gws, lws, KARG_MEM(call->in[0].mem), KARG_MEM(call->out[0].mem),
                   KARG_INT(xs.h), KARG_INT(xs.w), KARG_INT(ys.h), KARG_INT(ys.w),
                   KARG_INT(ys.n * ys.c), KARG_INT(p->k), KARG_INT(p->stride));
}

const op_variant avgpool_direct = {
    .name = "direct", .kind = OP_AVGPOOL, .prepare = prepare, .run = run};
