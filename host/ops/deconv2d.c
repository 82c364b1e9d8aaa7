/* deconv2d.c - OpenCL variants of deconv2d: the gather kernel of kernels/deconv2d.cl under
   different tilings. */
#include <stdio.h>

#include "variant_util.h"
#include "launch_helpers.h"

/* The direct conv's tile parameters (conv2d.c). */
enum { P_TILE_CO, P_TILE_X, P_WG_X, P_WG_Y, P_WG_Z, N_PARAMS = DIRECT_N_PARAMS };

/* The grid for output shape ys (see the kernel's comment), and a work-group shape every device
   accepts: at most the device's per-dimension limits and the kernel's total, no larger than the
   grid. */
static void work_sizes(const clseg_device_info *dev, size_t kernel_limit, const op_config *cfg,
                       shape4 ys, int stride, size_t gws[3], size_t lws[3]) {
    size_t per_phase = ((size_t)ys.w + (size_t)stride - 1) / (size_t)stride;
    gws[0] =
        (size_t)stride * ((per_phase + (size_t)cfg->v[P_TILE_X] - 1) / (size_t)cfg->v[P_TILE_X]);
    gws[1] = (size_t)ys.h;
    gws[2] = (size_t)ys.n * (size_t)((ys.c + cfg->v[P_TILE_CO] - 1) / cfg->v[P_TILE_CO]);
    const size_t want[3] = {(size_t)cfg->v[P_WG_X], (size_t)cfg->v[P_WG_Y], (size_t)cfg->v[P_WG_Z]};
    launch_clamp_local(dev, kernel_limit, want, gws, lws);
}

clseg_status deconv2d_check_call(clseg_context *ctx, const op_call *call, shape4 *ys) {
    const deconv2d_params *p = &call->p.deconv;
    if (call->kind != OP_DECONV2D || !deconv2d_out_shape(call->in[0].s, p, ys))
        return ctx_fail(ctx, CLSEG_ERR_INVALID_ARGUMENT, "deconv2d: invalid parameters");
    return launch_check_conv_io(ctx, call, *ys);
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
    work_sizes(&ctx->info, ctx_kernel_max_group(ctx, kernel), cfg, ys, p->stride, gws, lws);
    return CTX_RUN(ctx, kernel, 3, gws, lws, KARG_MEM(call->in[0].mem), KARG_MEM(call->in[1].mem),
                   KARG_MEM(call->in[2].mem), KARG_MEM(call->out[0].mem), KARG_INT(xs.c),
                   KARG_INT(xs.h), KARG_INT(xs.w), KARG_INT(ys.c), KARG_INT(ys.h), KARG_INT(ys.w),
                   KARG_INT(p->k), KARG_INT(p->stride), KARG_INT(p->pad), KARG_INT(p->relu),
                   KARG_INT(xs.n));
}

/* Every tile divides nothing in particular: the kernel guards edges, so any tiling supports any
   shape; the device limits only bound the work-group, which work_sizes clamps. */
static int tiled_supports(const clseg_device_info *dev, const op_call *call, const op_config *cfg,
                          char *why, size_t why_len) {
    (void)dev;
    (void)call;
    const int tx = cfg->v[P_TILE_X];
    if (cfg->v[P_TILE_CO] < 1) return op_refuse(why, why_len, "TILE_CO %d < 1", cfg->v[P_TILE_CO]);
    if (tx < 1 || tx > 16 || (tx & (tx - 1)))
        return op_refuse(why, why_len, "TILE_X %d is not a power of 2 up to 16", tx);
    return 1;
}

/* Handles every shape; the fallback that the table lists last for deconv2d. */
const op_variant deconv2d_gather = {.name = "gather",
                                    .kind = OP_DECONV2D,
                                    .params = direct_tile_params,
                                    .n_params = N_PARAMS,
                                    .supports = tiled_supports,
                                    .prepare = tiled_prepare,
                                    .run = tiled_run};
