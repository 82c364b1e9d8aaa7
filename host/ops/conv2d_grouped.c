/* conv2d_grouped.c - conv2d variant "grouped": grouped, depthwise and dilated convolutions
   (kernels/conv2d_grouped.cl), one output channel per work-item. Inference only. */
#include "launch_helpers.h"
#include "variant_util.h"

static const int tile_x_choices[] = {1, 2, 4, 8, 16};
static const int wg_choices[] = {1, 2, 4, 8, 16, 32};
/* Default 8 pixels per item in 8x4 groups: a depthwise 3x3 has 9 taps per output, so a wide
   vector per tap is what keeps the loads streaming. */
static const variant_param params[] = {
    {"TILE_X", 8, tile_x_choices, CLSEG_ARRAY_LEN(tile_x_choices), PARAM_DEFINE},
    {"WG_X", 8, wg_choices, CLSEG_ARRAY_LEN(wg_choices), PARAM_LOCAL_X},
    {"WG_Y", 4, wg_choices, CLSEG_ARRAY_LEN(wg_choices), PARAM_LOCAL_Y},
};
enum { P_TILE_X, P_WG_X, P_WG_Y, N_PARAMS = CLSEG_ARRAY_LEN(params) };

static clseg_status kernel_of(clseg_context *ctx, const op_config *cfg, cl_kernel *kernel) {
    char defines[128];
    variant_defines(ctx, &conv2d_grouped, cfg, defines, sizeof defines);
    return ctx_kernel(ctx, "conv2d_grouped", defines, "conv2d_grouped", kernel);
}

static clseg_status prepare(clseg_context *ctx, const op_call *call, const op_config *cfg) {
    (void)call;
    cl_kernel kernel;
    return kernel_of(ctx, cfg, &kernel);
}

static clseg_status run(clseg_context *ctx, const op_call *call, const op_config *cfg) {
    shape4 ys;
    clseg_status st = conv2d_check_call(ctx, call, &ys);
    if (st != CLSEG_OK) return st;
    if (!launch_fits_int(ys) || !launch_fits_int(call->in[0].s))
        return ctx_fail(ctx, CLSEG_ERR_TOO_LARGE, "conv2d: tensor too large");
    cl_kernel kernel;
    if ((st = kernel_of(ctx, cfg, &kernel)) != CLSEG_OK) return st;
    const conv2d_params *p = &call->p.conv;
    const shape4 xs = call->in[0].s;
    const size_t gws[3] = {(size_t)(ys.w + cfg->v[P_TILE_X] - 1) / (size_t)cfg->v[P_TILE_X],
                           (size_t)ys.h, (size_t)ys.n * (size_t)ys.c};
    const size_t want[3] = {(size_t)cfg->v[P_WG_X], (size_t)cfg->v[P_WG_Y], 1};
    size_t lws[3];
    launch_clamp_local(&ctx->info, ctx_kernel_max_group(ctx, kernel), want, gws, lws);
    return CTX_RUN(ctx, kernel, 3, gws, lws, KARG_MEM(call->in[0].mem), KARG_MEM(call->in[1].mem),
                   KARG_MEM(call->in[2].mem), KARG_MEM(call->out[0].mem), KARG_INT(xs.c),
                   KARG_INT(xs.h), KARG_INT(xs.w), KARG_INT(ys.c), KARG_INT(ys.h), KARG_INT(ys.w),
                   KARG_INT(p->k), KARG_INT(p->stride), KARG_INT(p->pad), KARG_INT(conv2d_dil(p)),
                   KARG_INT(conv2d_groups(p)), KARG_INT(p->act), KARG_INT(xs.n));
}

static int supports(const clseg_device_info *dev, const op_call *call, const op_config *cfg,
                    char *why, size_t why_len) {
    (void)dev;
    const conv2d_params *p = &call->p.conv;
    const int tx = cfg->v[P_TILE_X];
    if (conv2d_groups(p) == 1 && conv2d_dil(p) == 1)
        return op_refuse(why, why_len, "a dense conv: the other variants share each input load");
    if (tx < 1 || tx > 16 || (tx & (tx - 1)))
        return op_refuse(why, why_len, "TILE_X %d is not a power of 2 up to 16", tx);
    return 1;
}

const op_variant conv2d_grouped = {.name = "grouped",
                                   .kind = OP_CONV2D,
                                   .params = params,
                                   .n_params = N_PARAMS,
                                   .supports = supports,
                                   .prepare = prepare,
                                   .run = run};
