/* maxunpool.c - SegNet-style max-unpooling: zero the output, then scatter by the indices. */
#include "launch_helpers.h"

static clseg_status prepare(clseg_context *ctx, const op_call *call, const op_config *cfg) {
    (void)cfg;
    (void)call;
    cl_kernel kernel;
    clseg_status st = ctx_kernel(ctx, "upsample", NULL, "maxunpool_zero", &kernel);
    if (st != CLSEG_OK) return st;
    return ctx_kernel(ctx, "upsample", NULL, "maxunpool_scatter", &kernel);
}

static clseg_status run(clseg_context *ctx, const op_call *call, const op_config *cfg) {
    (void)cfg;
    const unpool_params *p = &call->p.unpool;
    shape4 xs = call->in[0].s, ys = {xs.n, xs.c, p->out_h, p->out_w};
    if (p->out_h < 1 || p->out_w < 1)
        return ctx_fail(ctx, CLSEG_ERR_INVALID_ARGUMENT, "maxunpool: bad output size %dx%d",
                        p->out_h, p->out_w);
    clseg_status st = launch_check_shape(ctx, call->kind, call->out[0].s, ys);
    if (st == CLSEG_OK) st = launch_check_shape(ctx, call->kind, call->in[1].s, xs);
    if (st != CLSEG_OK) return st;
    if (!launch_fits_int(xs) || !launch_fits_int(ys))
        return ctx_fail(ctx, CLSEG_ERR_TOO_LARGE, "maxunpool: tensor too large");
    cl_kernel zero, scatter;
    st = ctx_kernel(ctx, "upsample", NULL, "maxunpool_zero", &zero);
    if (st == CLSEG_OK) st = ctx_kernel(ctx, "upsample", NULL, "maxunpool_scatter", &scatter);
    if (st != CLSEG_OK) return st;
    int planes = xs.n * xs.c;
    int in_plane = xs.h * xs.w, out_plane = ys.h * ys.w;
    size_t gws[3] = {(size_t)out_plane, (size_t)planes, 1}, lws[3];
    launch_local_size(&ctx->info, gws, lws);
    st = CTX_RUN(ctx, zero, 2, gws, lws, KARG_MEM(call->out[0].mem), KARG_INT(out_plane),
                 KARG_INT(planes));
    if (st != CLSEG_OK) return st;
    gws[0] = (size_t)in_plane;
    launch_local_size(&ctx->info, gws, lws);
    return CTX_RUN(ctx, scatter, 2, gws, lws, KARG_MEM(call->in[0].mem), KARG_MEM(call->in[1].mem),
                   KARG_MEM(call->out[0].mem), KARG_INT(in_plane), KARG_INT(out_plane),
                   KARG_INT(planes));
}

const op_variant maxunpool_direct = {
    .name = "direct", .kind = OP_MAXUNPOOL, .prepare = prepare, .run = run};
