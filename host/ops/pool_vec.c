/* pool_vec.c - vectorised max / average pooling variants "vec" (kernels/pool.cl built with
   -DVEC): VEC consecutive outputs per work-item, the scalar code at the edges. */
#include <stdio.h>

#include "launch_helpers.h"

static const int vec_choices[] = {2, 4, 8, 16};
enum { P_VEC, N_PARAMS };
static const variant_param params[N_PARAMS] = {
    {"VEC", 8, vec_choices, CLSEG_ARRAY_LEN(vec_choices), PARAM_VECTOR_WIDTH},
};

/* Windows up to 4x4 (the lane picks unroll k^2 * VEC loads); any input shape. */
#define MAX_K 4

static int supports(const clseg_device_info *dev, const op_call *call, const op_config *cfg) {
    (void)dev;
    const pool_params *p = &call->p.pool;
    const int v = cfg->v[P_VEC];
    return p->k >= 1 && p->k <= MAX_K && p->stride >= 1 && p->stride <= MAX_K &&
           (v == 2 || v == 4 || v == 8 || v == 16);
}

static const char *kernel_for(const op_call *call) {
    return call->kind == OP_MAXPOOL ? "maxpool2d_vec" : "avgpool2d_vec";
}

static clseg_status get_kernel(clseg_context *ctx, const op_call *call, const op_config *cfg,
                               cl_kernel *kernel) {
    char defines[64];
    snprintf(defines, sizeof defines, "-DVEC=%d -DPK=%d -DPS=%d", cfg->v[P_VEC], call->p.pool.k,
             call->p.pool.stride);
    return ctx_kernel(ctx, "pool", defines, kernel_for(call), kernel);
}

static clseg_status prepare(clseg_context *ctx, const op_call *call, const op_config *cfg) {
    cl_kernel kernel;
    return get_kernel(ctx, call, cfg, &kernel);
}

static clseg_status run(clseg_context *ctx, const op_call *call, const op_config *cfg) {
    const pool_params *p = &call->p.pool;
    shape4 xs = call->in[0].s, ys;
    if (!pool_out_shape(xs, p, &ys))
        return ctx_fail(ctx, CLSEG_ERR_INVALID_ARGUMENT, "%s: no output for k=%d stride=%d",
                        op_kind_name(call->kind), p->k, p->stride);
    clseg_status st = launch_check_shape(ctx, call->kind, call->out[0].s, ys);
    const int with_indices = call->kind == OP_MAXPOOL && p->with_indices;
    if (st == CLSEG_OK && with_indices)
        st = call->out[1].mem ? launch_check_shape(ctx, call->kind, call->out[1].s, ys)
                              : ctx_fail(ctx, CLSEG_ERR_INVALID_ARGUMENT,
                                         "maxpool: with_indices but no indices buffer");
    if (st != CLSEG_OK) return st;
    if (!launch_fits_int(xs))
        return ctx_fail(ctx, CLSEG_ERR_TOO_LARGE, "%s: tensor too large", op_kind_name(call->kind));
    if (!supports(&ctx->info, call, cfg))
        return ctx_fail(ctx, CLSEG_ERR_UNSUPPORTED, "%s vec: unsupported call",
                        op_kind_name(call->kind));
    cl_kernel kernel;
    if ((st = get_kernel(ctx, call, cfg, &kernel)) != CLSEG_OK) return st;
    const size_t v = (size_t)cfg->v[P_VEC];
    size_t gws[3] = {((size_t)ys.w + v - 1) / v, (size_t)ys.h, (size_t)ys.n * (size_t)ys.c}, lws[3];
    launch_local_size(&ctx->info, gws, lws);
    if (call->kind == OP_MAXPOOL) {
        cl_mem idx = with_indices ? call->out[1].mem : NULL;
        return CTX_RUN(ctx, kernel, 3, gws, lws, KARG_MEM(call->in[0].mem),
                       KARG_MEM(call->out[0].mem), KARG_MEM(idx), KARG_INT(xs.h), KARG_INT(xs.w),
                       KARG_INT(ys.h), KARG_INT(ys.w), KARG_INT(ys.n * ys.c));
    }
    return CTX_RUN(ctx, kernel, 3, gws, lws, KARG_MEM(call->in[0].mem), KARG_MEM(call->out[0].mem),
                   KARG_INT(xs.h), KARG_INT(xs.w), KARG_INT(ys.h), KARG_INT(ys.w),
                   KARG_INT(ys.n * ys.c));
}

/* Windows and strides up to 4, any input shape. */
const op_variant maxpool_vec = {.name = "vec",
                                .kind = OP_MAXPOOL,
                                .params = params,
                                .n_params = N_PARAMS,
                                .supports = supports,
                                .prepare = prepare,
                                .run = run};
const op_variant avgpool_vec = {.name = "vec",
                                .kind = OP_AVGPOOL,
                                .params = params,
                                .n_params = N_PARAMS,
                                .supports = supports,
                                .prepare = prepare,
                                .run = run};
