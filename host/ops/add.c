/* add.c - elementwise sum with optional fused ReLU (residual and skip connections). */
#include "launch_helpers.h"

static clseg_status prepare(clseg_context *ctx, const op_call *call, const op_config *cfg) {
    (void)cfg;
    (void)call;
    cl_kernel kernel;
    return ctx_kernel(ctx, "elementwise", NULL, "add_elementwise", &kernel);
}

static clseg_status run(clseg_context *ctx, const op_call *call, const op_config *cfg) {
    (void)cfg;
    shape4 s = call->in[0].s;
    clseg_status st = launch_check_shape(ctx, call->kind, call->in[1].s, s);
    if (st == CLSEG_OK) st = launch_check_shape(ctx, call->kind, call->out[0].s, s);
    if (st != CLSEG_OK) return st;
    if (!launch_fits_int(s)) return ctx_fail(ctx, CLSEG_ERR_TOO_LARGE, "add: tensor too large");
    cl_kernel kernel;
    st = ctx_kernel(ctx, "elementwise", NULL, "add_elementwise", &kernel);
    if (st != CLSEG_OK) return st;
    size_t gws[3] = {shape4_count(s), 1, 1}, lws[3];
    launch_local_size(&ctx->info, gws, lws);
    return CTX_RUN(ctx, kernel, 1, gws, lws, KARG_MEM(call->in[0].mem), KARG_MEM(call->in[1].mem),
                   KARG_MEM(call->out[0].mem), KARG_INT(shape4_count(s)),
                   KARG_INT(call->p.add.relu ? 1 : 0));
}

const op_variant add_direct = {.name = "direct", .kind = OP_ADD, .prepare = prepare, .run = run};
