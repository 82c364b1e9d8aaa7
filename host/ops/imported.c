/* imported.c - the inference-only ops of imported models (kernels/imported.cl): standalone
   activation, global average pooling, broadcast multiply and ONNX Resize; one plain variant
   each, memory-bound. */
#include "launch_helpers.h"

static clseg_status kernel_of(clseg_context *ctx, const op_call *call, cl_kernel *k) {
    static const char *const names[] = {
        [OP_ACT] = "act_elementwise",
        [OP_GAP] = "global_avgpool",
        [OP_MUL] = "mul_broadcast",
        [OP_RESIZE] = "resize_onnx",
    };
    return ctx_kernel(ctx, "imported", NULL, names[call->kind], k);
}

static clseg_status prepare(clseg_context *ctx, const op_call *call, const op_config *cfg) {
    (void)cfg;
    cl_kernel k;
    return kernel_of(ctx, call, &k);
}

static clseg_status run(clseg_context *ctx, const op_call *call, const op_config *cfg) {
    (void)cfg;
    const shape4 x = call->in[0].s;
    shape4 y = x;
    int ok = x.n >= 1 && x.c >= 1 && x.h >= 1 && x.w >= 1;
    if (call->kind == OP_GAP) y = (shape4){x.n, x.c, 1, 1};
    if (call->kind == OP_RESIZE) ok = ok && resize_out_shape(x, &call->p.resize, &y);
    if (call->kind == OP_ACT) ok = ok && call->p.act.act >= 0 && call->p.act.act < ACT_KIND_COUNT;
    const shape4 b = call->in[1].s;
    const int b_per_plane = call->kind == OP_MUL && b.h == 1 && b.w == 1 && x.h * x.w != 1;
    if (call->kind == OP_MUL)
        ok = ok && b.n == x.n && b.c == x.c && (b_per_plane || (b.h == x.h && b.w == x.w));
    if (!ok)
        return ctx_fail(ctx, CLSEG_ERR_INVALID_ARGUMENT, "%s: invalid parameters or shapes",
                        op_kind_name(call->kind));
    clseg_status st = launch_check_shape(ctx, call->kind, call->out[0].s, y);
    if (st != CLSEG_OK) return st;
    if (!launch_fits_int(x) || !launch_fits_int(y))
        return ctx_fail(ctx, CLSEG_ERR_TOO_LARGE, "%s: tensor too large", op_kind_name(call->kind));
    cl_kernel k;
    if ((st = kernel_of(ctx, call, &k)) != CLSEG_OK) return st;
    const int plane = x.h * x.w, planes = x.n * x.c;
    size_t gws[3] = {1, 1, 1}, lws[3];
    switch (call->kind) {
    case OP_ACT:
        gws[0] = shape4_count(x);
        launch_local_size(&ctx->info, gws, lws);
        return CTX_RUN(ctx, k, 1, gws, lws, KARG_MEM(call->in[0].mem), KARG_MEM(call->out[0].mem),
                       KARG_INT(shape4_count(x)), KARG_INT(call->p.act.act));
    case OP_GAP:
        gws[0] = (size_t)planes;
        launch_local_size(&ctx->info, gws, lws);
        return CTX_RUN(ctx, k, 1, gws, lws, KARG_MEM(call->in[0].mem), KARG_MEM(call->out[0].mem),
                       KARG_INT(plane), KARG_INT(planes));
    case OP_MUL:
        gws[0] = (size_t)plane, gws[1] = (size_t)planes;
        launch_local_size(&ctx->info, gws, lws);
        return CTX_RUN(ctx, k, 2, gws, lws, KARG_MEM(call->in[0].mem), KARG_MEM(call->in[1].mem),
                       KARG_MEM(call->out[0].mem), KARG_INT(plane), KARG_INT(planes),
                       KARG_INT(b_per_plane));
    default: {
        const resize_params *p = &call->p.resize;
        gws[0] = (size_t)y.w, gws[1] = (size_t)y.h, gws[2] = (size_t)planes;
        launch_local_size(&ctx->info, gws, lws);
        return CTX_RUN(ctx, k, 3, gws, lws, KARG_MEM(call->in[0].mem), KARG_MEM(call->out[0].mem),
                       KARG_INT(x.h), KARG_INT(x.w), KARG_INT(y.h), KARG_INT(y.w), KARG_INT(planes),
                       KARG_INT(p->linear), KARG_INT(p->coord), KARG_INT(p->round),
                       KARG_FLOAT(p->scale_h), KARG_FLOAT(p->scale_w));
    }
    }
}

const op_variant act_direct = {.name = "direct", .kind = OP_ACT, .prepare = prepare, .run = run};
const op_variant gap_direct = {.name = "direct", .kind = OP_GAP, .prepare = prepare, .run = run};
const op_variant mul_direct = {.name = "direct", .kind = OP_MUL, .prepare = prepare, .run = run};
const op_variant resize_direct = {
    .name = "direct", .kind = OP_RESIZE, .prepare = prepare, .run = run};
