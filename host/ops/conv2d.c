/* conv2d.c - OpenCL variants of conv2d: the kernels/conv2d.cl kernel under different tilings. */
#include <stdio.h>

#include "variant_util.h"
#include "launch_helpers.h"

/* Tunables of the direct conv and the gather deconv (deconv2d.c), which tile the same way: the
   register tile of one work-item (kernel defines) and the work-group shape. No
   32-channel tiles: 32 x 16 accumulators are past any register file, and Mesa llvmpipe
   miscompiled them at cin >= 256. */
static const int tile_co_choices[] = {1, 2, 4, 8, 16};
static const int tile_x_choices[] = {1, 2, 4, 8, 16};
static const int wg_choices[] = {1, 2, 4, 8, 16, 32};
/* Defaults 16 channels x 16 pixels in 8x2 groups: on PoCL (AVX-512), 128->256 3x3 at 120x88 ran
   at ~45 GFLOP/s with 8x8 tiles and ~70 with 16x16; deconv 256->128 k2 s2 at 60x44 ~14 with 8x4,
   ~50 with 16x16 (with mad() and rolled channel loops; fma() and unrolling then doubled them).
   rusticl/llvmpipe stays near 1 GFLOP/s whatever the tile. */
const variant_param direct_tile_params[DIRECT_N_PARAMS] = {
    {"TILE_CO", 16, tile_co_choices, CLSEG_ARRAY_LEN(tile_co_choices), PARAM_DEFINE},
    {"TILE_X", 16, tile_x_choices, CLSEG_ARRAY_LEN(tile_x_choices), PARAM_DEFINE},
    {"WG_X", 8, wg_choices, CLSEG_ARRAY_LEN(wg_choices), PARAM_LOCAL_X},
    {"WG_Y", 2, wg_choices, CLSEG_ARRAY_LEN(wg_choices), PARAM_LOCAL_Y},
    {"WG_Z", 1, wg_choices, 3, PARAM_LOCAL_Z},
};
enum { P_TILE_CO, P_TILE_X, P_WG_X, P_WG_Y, P_WG_Z, N_PARAMS = DIRECT_N_PARAMS };

/* The grid for output shape ys, and a work-group shape every device accepts: at most the
   device's per-dimension limits and the kernel's total, no larger than the grid. */
static void work_sizes(const clseg_device_info *dev, size_t kernel_limit, const op_config *cfg,
                       shape4 ys, size_t gws[3], size_t lws[3]) {
    gws[0] = (size_t)(ys.w + cfg->v[P_TILE_X] - 1) / (size_t)cfg->v[P_TILE_X];
    gws[1] = (size_t)ys.h;
    gws[2] = (size_t)ys.n * (size_t)((ys.c + cfg->v[P_TILE_CO] - 1) / cfg->v[P_TILE_CO]);
    const size_t want[3] = {(size_t)cfg->v[P_WG_X], (size_t)cfg->v[P_WG_Y], (size_t)cfg->v[P_WG_Z]};
    launch_clamp_local(dev, kernel_limit, want, gws, lws);
}

clseg_status conv2d_check_call(clseg_context *ctx, const op_call *call, shape4 *ys) {
    const conv2d_params *p = &call->p.conv;
    if (call->kind != OP_CONV2D || !conv2d_out_shape(call->in[0].s, p, ys))
        return ctx_fail(ctx, CLSEG_ERR_INVALID_ARGUMENT, "conv2d: invalid parameters");
    return launch_check_conv_io(ctx, call, *ys);
}

int conv2d_dense_only(const op_call *call, char *why, size_t why_len) {
    const conv2d_params *p = &call->p.conv;
    if (conv2d_groups(p) > 1 || conv2d_dil(p) > 1)
        return op_refuse(why, why_len, "groups %d, dilation %d: a dense, undilated kernel",
                         conv2d_groups(p), conv2d_dil(p));
    return 1;
}

static clseg_status tiled_prepare(clseg_context *ctx, const op_call *call, const op_config *cfg) {
    (void)call;
    char defines[128];
    variant_defines(ctx, &conv2d_direct, cfg, defines, sizeof defines);
    cl_kernel kernel;
    return ctx_kernel(ctx, "conv2d", defines, "conv2d_direct", &kernel);
}

/* bias.mem may be NULL: the kernel then adds nothing. */
static clseg_status tiled_run(clseg_context *ctx, const op_call *call, const op_config *cfg) {
    shape4 ys;
    clseg_status st = conv2d_check_call(ctx, call, &ys);
    if (st != CLSEG_OK) return st;
    char defines[128];
    variant_defines(ctx, &conv2d_direct, cfg, defines, sizeof defines);
    cl_kernel kernel;
    st = ctx_kernel(ctx, "conv2d", defines, "conv2d_direct", &kernel);
    if (st != CLSEG_OK) return st;

    const conv2d_params *p = &call->p.conv;
    const shape4 xs = call->in[0].s;
    size_t gws[3], lws[3];
    work_sizes(&ctx->info, ctx_kernel_max_group(ctx, kernel), cfg, ys, gws, lws);
    return CTX_RUN(ctx, kernel, 3, gws, lws, KARG_MEM(call->in[0].mem), KARG_MEM(call->in[1].mem),
                   KARG_MEM(call->in[2].mem), KARG_MEM(call->out[0].mem), KARG_INT(xs.c),
                   KARG_INT(xs.h), KARG_INT(xs.w), KARG_INT(ys.c), KARG_INT(ys.h), KARG_INT(ys.w),
                   KARG_INT(p->k), KARG_INT(p->stride), KARG_INT(p->pad), KARG_INT(p->act),
                   KARG_INT(xs.n));
}

/* Every tile divides nothing in particular: the kernel guards edges, so any tiling supports any
   shape; the device limits only bound the work-group, which work_sizes clamps. */
static int tiled_supports(const clseg_device_info *dev, const op_call *call, const op_config *cfg,
                          char *why, size_t why_len) {
    (void)dev;
    if (!conv2d_dense_only(call, why, why_len)) return 0;
    const int tx = cfg->v[P_TILE_X];
    if (cfg->v[P_TILE_CO] < 1) return op_refuse(why, why_len, "TILE_CO %d < 1", cfg->v[P_TILE_CO]);
    if (tx < 1 || tx > 16 || (tx & (tx - 1)))
        return op_refuse(why, why_len, "TILE_X %d is not a power of 2 up to 16", tx);
    return 1;
}

/* Handles every shape; the fallback that the table lists last for conv2d. */
const op_variant conv2d_direct = {.name = "direct",
                                  .kind = OP_CONV2D,
                                  .params = direct_tile_params,
                                  .n_params = N_PARAMS,
                                  .supports = tiled_supports,
                                  .prepare = tiled_prepare,
                                  .run = tiled_run};
