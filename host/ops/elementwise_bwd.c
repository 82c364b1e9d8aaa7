/* elementwise_bwd.c - gradients of ReLU, add and concat (kernels/backward.cl). */
#include "backward.h"
#include "launch_helpers.h"

static const char *kernel_for(const op_call *call) {
    switch (call->kind) {
    case OP_RELU_BWD:
        return "relu_bwd";
    case OP_ADD_BWD:
        return "add_bwd";
    default:
        return "slice_channels";
    }
}

static clseg_status prepare(clseg_context *ctx, const op_call *call, const op_config *cfg) {
    (void)cfg;
    cl_kernel kernel;
    return ctx_kernel(ctx, "backward", NULL, kernel_for(call), &kernel);
}

/* The channels [offset, offset + dst.s.c) of dy (shape ys) into dst. */
static clseg_status slice(clseg_context *ctx, cl_kernel kernel, const dtensor *dy, dtensor dst,
                          int offset) {
    shape4 s = dst.s;
    int plane = s.h * s.w;
    size_t gws[3] = {(size_t)plane, (size_t)s.c, (size_t)s.n}, lws[3];
    launch_local_size(&ctx->info, gws, lws);
    return CTX_RUN(ctx, kernel, 3, gws, lws, KARG_MEM(dy->mem), KARG_MEM(dst.mem),
                   KARG_INT(dy->s.c), KARG_INT(s.c), KARG_INT(offset), KARG_INT(plane),
                   KARG_INT(s.n));
}

static clseg_status concat_run(clseg_context *ctx, const op_call *call, cl_kernel kernel) {
    shape4 ys = call->in[0].s, as = call->out[0].s, bs = call->out[1].s;
    if (as.n != ys.n || bs.n != ys.n || as.h != ys.h || bs.h != ys.h || as.w != ys.w ||
        bs.w != ys.w || as.c < 0 || bs.c < 0 || as.c + bs.c != ys.c)
        return ctx_fail(ctx, CLSEG_ERR_INVALID_ARGUMENT,
                        "concat_bwd: %dx%dx%dx%d does not split into %dx%dx%dx%d and "
                        "%dx%dx%dx%d",
                        ys.n, ys.c, ys.h, ys.w, as.n, as.c, as.h, as.w, bs.n, bs.c, bs.h, bs.w);
    clseg_status st = CLSEG_OK;
    if (call->out[0].mem && as.c > 0) st = slice(ctx, kernel, &call->in[0], call->out[0], 0);
    if (st == CLSEG_OK && call->out[1].mem && bs.c > 0)
        st = slice(ctx, kernel, &call->in[0], call->out[1], as.c);
    return st;
}

static clseg_status run(clseg_context *ctx, const op_call *call, const op_config *cfg) {
    (void)cfg;
    const char *name = op_kind_name(call->kind);
    shape4 s = call->in[0].s;
    if (!call->in[0].mem || !launch_fits_int(s))
        return ctx_fail(ctx, CLSEG_ERR_INVALID_ARGUMENT, "%s: missing or too large dy", name);
    cl_kernel kernel;
    clseg_status st = ctx_kernel(ctx, "backward", NULL, kernel_for(call), &kernel);
    if (st != CLSEG_OK) return st;
    if (call->kind == OP_CONCAT_BWD) return concat_run(ctx, call, kernel);

    const int relu = call->kind == OP_RELU_BWD || call->p.add.relu;
    for (int i = 0; i < 2; i++)
        if (call->out[i].mem || (call->kind == OP_RELU_BWD && i == 0)) {
            st = launch_check_shape(ctx, call->kind, call->out[i].s, s);
            if (st != CLSEG_OK) return st;
        }
    if (relu && (st = launch_check_shape(ctx, call->kind, call->in[1].s, s)) != CLSEG_OK) return st;
    if ((relu && !call->in[1].mem) || (call->kind == OP_RELU_BWD && !call->out[0].mem))
        return ctx_fail(ctx, CLSEG_ERR_INVALID_ARGUMENT, "%s: missing buffer", name);
    int count = (int)shape4_count(s);
    size_t gws[3] = {(size_t)count, 1, 1}, lws[3];
    launch_local_size(&ctx->info, gws, lws);
    if (call->kind == OP_RELU_BWD)
        return CTX_RUN(ctx, kernel, 1, gws, lws, KARG_MEM(call->in[0].mem),
                       KARG_MEM(call->in[1].mem), KARG_MEM(call->out[0].mem), KARG_INT(count));
    if (!call->out[0].mem && !call->out[1].mem) return CLSEG_OK;
    return CTX_RUN(ctx, kernel, 1, gws, lws, KARG_MEM(call->in[0].mem), KARG_MEM(call->in[1].mem),
                   KARG_MEM(call->out[0].mem), KARG_MEM(call->out[1].mem), KARG_INT(count),
                   KARG_INT(relu));
}

const op_variant relu_bwd_direct = {
    .name = "direct", .kind = OP_RELU_BWD, .prepare = prepare, .run = run};
const op_variant add_bwd_direct = {
    .name = "direct", .kind = OP_ADD_BWD, .prepare = prepare, .run = run};
const op_variant concat_bwd_direct = {
    .name = "direct", .kind = OP_CONCAT_BWD, .prepare = prepare, .run = run};
