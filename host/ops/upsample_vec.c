/* upsample_vec.c - vectorised upsampling variant "vec" (kernels/upsample.cl built with -DVEC):
   VEC input columns per work-item, their outputs written with vector stores. */
#include <stdio.h>

#include "launch_helpers.h"

static const int vec_choices[] = {2, 4, 8, 16};
enum { P_VEC, N_PARAMS };
static const variant_param params[N_PARAMS] = {
    {"VEC", 8, vec_choices, CLSEG_ARRAY_LEN(vec_choices), PARAM_VECTOR_WIDTH},
};

/* Factors whose interleaving unrolls to a modest VEC * factor outputs. */
#define MAX_FACTOR 8

static int supports(const clseg_device_info *dev, const op_call *call, const op_config *cfg) {
    (void)dev;
    const upsample_params *p = &call->p.up;
    const int v = cfg->v[P_VEC];
    return p->factor >= 1 && p->factor <= MAX_FACTOR &&
           (p->mode == UPSAMPLE_NEAREST || p->mode == UPSAMPLE_BILINEAR) &&
           (v == 2 || v == 4 || v == 8 || v == 16);
}

static const char *kernel_for(const op_call *call) {
    return call->p.up.mode == UPSAMPLE_BILINEAR ? "upsample_bilinear_vec" : "upsample_nearest_vec";
}

static clseg_status get_kernel(clseg_context *ctx, const op_call *call, const op_config *cfg,
                               cl_kernel *kernel) {
    char defines[64];
    snprintf(defines, sizeof defines, "-DVEC=%d -DFACTOR=%d", cfg->v[P_VEC], call->p.up.factor);
    return ctx_kernel(ctx, "upsample", defines, kernel_for(call), kernel);
}

static clseg_status prepare(clseg_context *ctx, const op_call *call, const op_config *cfg) {
    cl_kernel kernel;
    return get_kernel(ctx, call, cfg, &kernel);
}

static clseg_status run(clseg_context *ctx, const op_call *call, const op_config *cfg) {
    const upsample_params *p = &call->p.up;
    shape4 xs = call->in[0].s, ys;
    if (!upsample_out_shape(xs, p, &ys) || !supports(&ctx->info, call, cfg))
        return ctx_fail(ctx, CLSEG_ERR_INVALID_ARGUMENT, "upsample vec: bad factor %d or mode %d",
                        p->factor, (int)p->mode);
    clseg_status st = launch_check_shape(ctx, call->kind, call->out[0].s, ys);
    if (st != CLSEG_OK) return st;
    if (!launch_fits_int(ys))
        return ctx_fail(ctx, CLSEG_ERR_TOO_LARGE, "upsample: tensor too large");
    cl_kernel kernel;
    if ((st = get_kernel(ctx, call, cfg, &kernel)) != CLSEG_OK) return st;
    const size_t v = (size_t)cfg->v[P_VEC];
    size_t gws[3] = {((size_t)xs.w + v - 1) / v, (size_t)ys.h, (size_t)ys.n * (size_t)ys.c}, lws[3];
    launch_local_size(&ctx->info, gws, lws);
    return CTX_RUN(ctx, kernel, 3, gws, lws, KARG_MEM(call->in[0].mem), KARG_MEM(call->out[0].mem),
                   KARG_INT(xs.h), KARG_INT(xs.w), KARG_INT(xs.n * xs.c));
}

/* Nearest and bilinear, factors up to 8, any input shape. */
const op_variant upsample_vec = {.name = "vec",
                                 .kind = OP_UPSAMPLE,
                                 .params = params,
                                 .n_params = N_PARAMS,
                                 .supports = supports,
                                 .prepare = prepare,
                                 .run = run};
