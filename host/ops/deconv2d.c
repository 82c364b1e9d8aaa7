/* deconv2d.c - OpenCL variants of deconv2d: the gather kernel of kernels/deconv2d.cl under
   different tilings. */
#include <stdio.h>

#include "variant_util.h"
#include "launch_helpers.h"

/* Tunables: the register tile of one work-item (kernel defines) and the work-group shape. No
   32-channel tiles: 32 x 16 accumulators are past any register file, and Mesa llvmpipe
   miscompiled them at cin >= 256. */
static const int tile_co_choices[] = {1, 2, 4, 8, 16};
static const int tile_x_choices[] = {1, 2, 4, 8, 16};
static const int wg_choices[] = {1, 2, 4, 8, 16, 32};
enum { P_TILE_CO, P_TILE_X, P_WG_X, P_WG_Y, P_WG_Z, N_PARAMS };
/* Defaults 16 channels x 16 pixels in 8x2 groups: on PoCL (AVX-512), 128->256 3x3 at 120x88 ran
   at ~45 GFLOP/s with 8x8 tiles and ~70 with 16x16; deconv 256->128 k2 s2 at 60x44 ~14 with 8x4,
   ~50 with 16x16 (with mad() and rolled channel loops; fma() and unrolling then doubled them).
   rusticl/llvmpipe stays near 1 GFLOP/s whatever the tile. */
static const variant_param params[N_PARAMS] = {
    {"TILE_CO", 16, tile_co_choices, CLSEG_ARRAY_LEN(tile_co_choices)},
    {"TILE_X", 16, tile_x_choices, CLSEG_ARRAY_LEN(tile_x_choices)},
    {"WG_X", 8, wg_choices, CLSEG_ARRAY_LEN(wg_choices)},
    {"WG_Y", 2, wg_choices, CLSEG_ARRAY_LEN(wg_choices)},
    {"WG_Z", 1, wg_choices, 3},
};

/* The grid for output shape ys (see the kernel's comment), and a work-group shape every device
   accepts: at most the device's per-dimension and total limits, no larger than the grid. */
static void work_sizes(const clseg_device_info *dev, const op_config *cfg, shape4 ys, int stride,
                       size_t gws[3], size_t lws[3]) {
    size_t per_phase = ((size_t)ys.w + (size_t)stride - 1) / (size_t)stride;
    gws[0] =
        (size_t)stride * ((per_phase + (size_t)cfg->v[P_TILE_X] - 1) / (size_t)cfg->v[P_TILE_X]);
    gws[1] = (size_t)ys.h;
    gws[2] = (size_t)ys.n * (size_t)((ys.c + cfg->v[P_TILE_CO] - 1) / cfg->v[P_TILE_CO]);
    const size_t want[3] = {(size_t)cfg->v[P_WG_X], (size_t)cfg->v[P_WG_Y], (size_t)cfg->v[P_WG_Z]};
    launch_clamp_local(dev, want, gws, lws);
}

clseg_status deconv2d_check_call(clseg_context *ctx, const op_call *call, shape4 *ys) {
    const deconv2d_params *p = &call->p.deconv;
    if (call->kind != OP_DECONV2D || !deconv2d_out_shape(call->in[0].s, p, ys))
        return ctx_fail(ctx, CLSEG_ERR_INVALID_ARGUMENT, "deconv2d: invalid parameters");
    shape4 o = call->out[0].s;
    if (o.n != ys->n || o.c != ys->c || o.h != ys->h || o.w != ys->w)
        return ctx_fail(ctx, CLSEG_ERR_INVALID_ARGUMENT,
                        "deconv2d: output is %dx%dx%dx%d, expected %dx%dx%dx%d", o.n, o.c, o.h, o.w,
                        ys->n, ys->c, ys->h, ys->w);
    if (!call->in[0].mem || !call->in[1].mem || !call->out[0].mem)
        return ctx_fail(ctx, CLSEG_ERR_INVALID_ARGUMENT, "deconv2d: missing buffer");
    return CLSEG_OK;
}

static clseg_status tiled_prepare(clseg_context *ctx, const op_call *call, const op_config *cfg) {
    (void)call;
    char defines[128];
    variant_defines(ctx, &deconv2d_gather, cfg, defines, sizeof defines);
    cl_kernel kernel;
    return ctx_kernel(ctx, "deconv2d", defines, "deconv2d_gather", &kernel);
}

/* bias.mem may be NULL: the kernel then adds nothing. */
static clseg_status tiled_run(clseg_context *ctx, const op_call *call, const op_config *cfg) {
    shape4 ys;
    clseg_status st = deconv2d_check_call(ctx, call, &ys);
    if (st != CLSEG_OK) return st;
    char defines[128];
    variant_defines(ctx, &deconv2d_gather, cfg, defines, sizeof defines);
    cl_kernel kernel;
    st = ctx_kernel(ctx, "deconv2d", defines, "deconv2d_gather", &kernel);
    if (st != CLSEG_OK) return st;

    const deconv2d_params *p = &call->p.deconv;
    const shape4 xs = call->in[0].s;
    size_t gws[3], lws[3];
    work_sizes(&ctx->info, cfg, ys, p->stride, gws, lws);
    return CTX_RUN(ctx, kernel, 3, gws, lws, KARG_MEM(call->in[0].mem), KARG_MEM(call->in[1].mem),
                   KARG_MEM(call->in[2].mem), KARG_MEM(call->out[0].mem), KARG_INT(xs.c),
                   KARG_INT(xs.h), KARG_INT(xs.w), KARG_INT(ys.c), KARG_INT(ys.h), KARG_INT(ys.w),
                   KARG_INT(p->k), KARG_INT(p->stride), KARG_INT(p->pad), KARG_INT(p->relu),
                   KARG_INT(xs.n));
}

/* Every tile divides nothing in particular: the kernel guards edges, so any tiling supports any
   shape; the device limits only bound the work-group, which work_sizes clamps. */
static int tiled_supports(const clseg_device_info *dev, const op_call *call, const op_config *cfg) {
    (void)dev;
    (void)call;
    return cfg->v[P_TILE_CO] >= 1 && cfg->v[P_TILE_X] >= 1 && cfg->v[P_TILE_X] <= 16 &&
           (cfg->v[P_TILE_X] & (cfg->v[P_TILE_X] - 1)) == 0;
}

/* Handles every shape; the fallback that the table lists last for deconv2d. */
const op_variant deconv2d_gather = {"gather",       OP_DECONV2D,   params,    N_PARAMS,
                                    tiled_supports, tiled_prepare, tiled_run, NULL};
