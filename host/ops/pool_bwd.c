/* pool_bwd.c - gradients of max-pooling, max-unpooling and upsampling (kernels/backward.cl). */
#include "backward.h"
#include "launch_helpers.h"

static const char *kernel_for(const op_call *call) {
    switch (call->kind) {
    case OP_MAXPOOL_BWD:
        return call->p.pool.stride >= call->p.pool.k ? "maxpool_bwd_disjoint" : "maxpool_bwd";
    case OP_MAXUNPOOL_BWD:
        return "maxunpool_bwd";
    default:
        return call->p.up.mode == UPSAMPLE_BILINEAR ? "upsample_bilinear_bwd"
                                                    : "upsample_nearest_bwd";
    }
}

static clseg_status prepare(clseg_context *ctx, const op_call *call, const op_config *cfg) {
    (void)cfg;
    cl_kernel kernel;
    return ctx_kernel(ctx, "backward", NULL, kernel_for(call), &kernel);
}

/* The forward's output shape for input xs (= dy's shape), or 0 when the parameters give none. */
static int forward_shape(const op_call *call, shape4 xs, shape4 *ys) {
    switch (call->kind) {
    case OP_MAXPOOL_BWD:
        return pool_out_shape(xs, &call->p.pool, ys);
    case OP_MAXUNPOOL_BWD:
        if (call->p.unpool.out_h < 1 || call->p.unpool.out_w < 1) return 0;
        *ys = (shape4){xs.n, xs.c, call->p.unpool.out_h, call->p.unpool.out_w};
        return 1;
    default:
        if (call->p.up.mode != UPSAMPLE_NEAREST && call->p.up.mode != UPSAMPLE_BILINEAR) return 0;
        return upsample_out_shape(xs, &call->p.up, ys);
    }
}

static clseg_status run(clseg_context *ctx, const op_call *call, const op_config *cfg) {
    (void)cfg;
    const char *name = op_kind_name(call->kind);
    shape4 xs = call->out[0].s, ys;
    if (xs.n < 1 || xs.c < 1 || xs.h < 1 || xs.w < 1 || !forward_shape(call, xs, &ys))
        return ctx_fail(ctx, CLSEG_ERR_INVALID_ARGUMENT, "%s: invalid parameters", name);
    clseg_status st = launch_check_shape(ctx, call->kind, call->in[0].s, ys);
    if (st == CLSEG_OK && call->kind != OP_UPSAMPLE_BWD)
        st = launch_check_shape(ctx, call->kind, call->in[1].s,
                                call->kind == OP_MAXPOOL_BWD ? ys : xs);
    if (st != CLSEG_OK) return st;
    if (!call->in[0].mem || !call->out[0].mem ||
        (call->kind != OP_UPSAMPLE_BWD && !call->in[1].mem))
        return ctx_fail(ctx, CLSEG_ERR_INVALID_ARGUMENT, "%s: missing buffer", name);
    if (!launch_fits_int(xs) || !launch_fits_int(ys))
        return ctx_fail(ctx, CLSEG_ERR_TOO_LARGE, "%s: tensor too large", name);
    cl_kernel kernel;
    st = ctx_kernel(ctx, "backward", NULL, kernel_for(call), &kernel);
    if (st != CLSEG_OK) return st;
    const int planes = xs.n * xs.c;
    size_t gws[3] = {(size_t)xs.w, (size_t)xs.h, (size_t)planes}, lws[3];
    if (call->kind == OP_MAXUNPOOL_BWD) {
        gws[0] = (size_t)xs.h * (size_t)xs.w;
        gws[1] = (size_t)planes;
        gws[2] = 1;
        launch_local_size(&ctx->info, gws, lws);
        return CTX_RUN(ctx, kernel, 2, gws, lws, KARG_MEM(call->in[0].mem),
                       KARG_MEM(call->in[1].mem), KARG_MEM(call->out[0].mem), KARG_INT(xs.h * xs.w),
                       KARG_INT(ys.h * ys.w), KARG_INT(planes));
    }
    if (call->kind == OP_MAXPOOL_BWD && call->p.pool.stride >= call->p.pool.k)
        gws[0] = (size_t)ys.w; /* one work-item per window column (see the kernel) */
    launch_local_size(&ctx->info, gws, lws);
    if (call->kind == OP_MAXPOOL_BWD)
        return CTX_RUN(ctx, kernel, 3, gws, lws, KARG_MEM(call->in[0].mem),
                       KARG_MEM(call->in[1].mem), KARG_MEM(call->out[0].mem), KARG_INT(xs.h),
                       KARG_INT(xs.w), KARG_INT(ys.h), KARG_INT(ys.w), KARG_INT(planes),
                       KARG_INT(call->p.pool.k), KARG_INT(call->p.pool.stride));
    return CTX_RUN(ctx, kernel, 3, gws, lws, KARG_MEM(call->in[0].mem), KARG_MEM(call->out[0].mem),
                   KARG_INT(xs.h), KARG_INT(xs.w), KARG_INT(call->p.up.factor), KARG_INT(planes));
}

const op_variant maxpool_bwd_direct = {
    .name = "direct", .kind = OP_MAXPOOL_BWD, .prepare = prepare, .run = run};
const op_variant maxunpool_bwd_direct = {
    .name = "direct", .kind = OP_MAXUNPOOL_BWD, .prepare = prepare, .run = run};
const op_variant upsample_bwd_direct = {
    .name = "direct", .kind = OP_UPSAMPLE_BWD, .prepare = prepare, .run = run};
