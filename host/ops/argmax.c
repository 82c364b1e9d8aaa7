/* argmax.c - per-pixel int32 class labels as the argmax over channels. */
#include "launch_helpers.h"

static clseg_status prepare(clseg_context *ctx, const op_call *call, const op_config *cfg) {
    (void)cfg;
    (void)call;
    cl_kernel kernel;
    return ctx_kernel(ctx, "elementwise", NULL, "argmax_channels", &kernel);
}

static clseg_status run(clseg_context *ctx, const op_call *call, const op_config *cfg) {
    (void)cfg;
    shape4 xs = call->in[0].s;
    clseg_status st =
        launch_check_shape(ctx, call->kind, call->out[0].s, (shape4){xs.n, 1, xs.h, xs.w});
    if (st != CLSEG_OK) return st;
    if (xs.c < 1) return ctx_fail(ctx, CLSEG_ERR_INVALID_ARGUMENT, "argmax: no channels");
    if (!launch_fits_int(xs)) return ctx_fail(ctx, CLSEG_ERR_TOO_LARGE, "argmax: tensor too large");
    cl_kernel kernel;
    st = ctx_kernel(ctx, "elementwise", NULL, "argmax_channels", &kernel);
    if (st != CLSEG_OK) return st;
    size_t gws[3] = {shape4_plane(xs), (size_t)xs.n, 1}, lws[3];
    launch_local_size(&ctx->info, gws, lws);
    return CTX_RUN(ctx, kernel, 2, gws, lws, KARG_MEM(call->in[0].mem), KARG_MEM(call->out[0].mem),
                   KARG_INT(xs.c), KARG_INT(xs.h * xs.w), KARG_INT(xs.n));
}

const op_variant argmax_direct = {
    .name = "direct", .kind = OP_ARGMAX, .prepare = prepare, .run = run};
