/* concat.c - concatenation along channels: one channel-block copy per input. */
#include "launch_helpers.h"

static clseg_status prepare(clseg_context *ctx, const op_call *call, const op_config *cfg) {
    (void)cfg;
    (void)call;
    cl_kernel kernel;
    return ctx_kernel(ctx, "elementwise", NULL, "copy_channels", &kernel);
}

static clseg_status run(clseg_context *ctx, const op_call *call, const op_config *cfg) {
    (void)cfg;
    shape4 as = call->in[0].s, bs = call->in[1].s, ys = {as.n, as.c + bs.c, as.h, as.w};
    if (as.n != bs.n || as.h != bs.h || as.w != bs.w)
        return ctx_fail(ctx, CLSEG_ERR_INVALID_ARGUMENT,
                        "concat: inputs %dx%dx%dx%d and %dx%dx%dx%d differ outside channels", as.n,
                        as.c, as.h, as.w, bs.n, bs.c, bs.h, bs.w);
    clseg_status st = launch_check_shape(ctx, call->kind, call->out[0].s, ys);
    if (st != CLSEG_OK) return st;
    if (!launch_fits_int(ys)) return ctx_fail(ctx, CLSEG_ERR_TOO_LARGE, "concat: tensor too large");
    cl_kernel kernel;
    st = ctx_kernel(ctx, "elementwise", NULL, "copy_channels", &kernel);
    if (st != CLSEG_OK) return st;
    int plane_size = ys.h * ys.w;
    size_t gws[3] = {(size_t)plane_size, (size_t)as.c, (size_t)ys.n}, lws[3];
    launch_local_size(&ctx->info, gws, lws);
    st = CTX_RUN(ctx, kernel, 3, gws, lws, KARG_MEM(call->in[0].mem), KARG_MEM(call->out[0].mem),
                 KARG_INT(as.c), KARG_INT(ys.c), KARG_INT(0), KARG_INT(plane_size), KARG_INT(ys.n));
    if (st != CLSEG_OK) return st;
    gws[1] = (size_t)bs.c;
    launch_local_size(&ctx->info, gws, lws);
    return CTX_RUN(ctx, kernel, 3, gws, lws, KARG_MEM(call->in[1].mem), KARG_MEM(call->out[0].mem),
                   KARG_INT(bs.c), KARG_INT(ys.c), KARG_INT(as.c), KARG_INT(plane_size),
                   KARG_INT(ys.n));
}

const op_variant concat_direct = {
    .name = "direct", .kind = OP_CONCAT, .prepare = prepare, .run = run};
