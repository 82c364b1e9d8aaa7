/* loss.c - the fused softmax cross-entropy loss and its gradient (kernels/loss.cl). */
#include "backward.h"
#include "launch_helpers.h"

static clseg_status prepare(clseg_context *ctx, const op_call *call, const op_config *cfg) {
    (void)cfg;
    (void)call;
    cl_kernel kernel;
    return ctx_kernel(ctx, "loss", NULL, "softmax_xent", &kernel);
}

static clseg_status run(clseg_context *ctx, const op_call *call, const op_config *cfg) {
    (void)cfg;
    const shape4 s = call->in[0].s;
    if (s.n < 1 || s.c < 1 || s.h < 1 || s.w < 1 || !launch_fits_int(s))
        return ctx_fail(ctx, CLSEG_ERR_INVALID_ARGUMENT, "softmax_xent: bad shape %dx%dx%dx%d", s.n,
                        s.c, s.h, s.w);
    clseg_status st =
        launch_check_shape(ctx, call->kind, call->in[1].s, (shape4){s.n, 1, s.h, s.w});
    if (st == CLSEG_OK) st = launch_check_shape(ctx, call->kind, call->out[0].s, s);
    if (st != CLSEG_OK) return st;
    if (!call->in[0].mem || !call->in[1].mem || !call->in[2].mem || !call->out[0].mem ||
        !call->out[1].mem)
        return ctx_fail(ctx, CLSEG_ERR_INVALID_ARGUMENT, "softmax_xent: missing buffer");
    cl_kernel kernel;
    st = ctx_kernel(ctx, "loss", NULL, "softmax_xent", &kernel);
    if (st != CLSEG_OK) return st;
    const size_t rows = softmax_xent_partials(s);
    size_t gws[3] = {rows, 1, 1}, lws[3];
    launch_local_size(&ctx->info, gws, lws);
    return CTX_RUN(ctx, kernel, 1, gws, lws, KARG_MEM(call->in[0].mem), KARG_MEM(call->in[1].mem),
                   KARG_MEM(call->in[2].mem), KARG_MEM(call->out[0].mem),
                   KARG_MEM(call->out[1].mem), KARG_INT(s.c), KARG_INT(s.h), KARG_INT(s.w),
                   KARG_INT(rows));
}

const op_variant softmax_xent_direct = {
    .name = "direct", .kind = OP_SOFTMAX_XENT, .prepare = prepare, .run = run};
