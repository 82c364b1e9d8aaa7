/* conv2d.c - OpenCL variants of conv2d: the kernels/conv2d.cl kernel under different tilings. */
#include <stdio.h>

#include "ops.h"

/* One tiling of kernels/conv2d.cl. A tuned variant is another instance of this plus an
   op_variant entry; the kernel source stays the same. */
typedef struct conv2d_tiling {
    int tile_co, tile_x; /* -DTILE_CO, -DTILE_X: the register tile of one work-item */
    size_t lws[3];       /* preferred work-group shape, clamped to the device and the grid */
} conv2d_tiling;

/* 16 channels x 16 pixels: 16 float16 accumulators, 1 vector load + 16 weight loads per 256
   mads. On PoCL (AVX-512), 128->256 3x3 at 120x88: 8x8 tiles ran at ~45 GFLOP/s, 16x16 at ~67;
   rusticl/llvmpipe stays near 1 GFLOP/s whatever the tile. */
static const conv2d_tiling direct_tiling = {16, 16, {8, 2, 1}};

static void tiling_defines(const conv2d_tiling *t, char *buf, size_t len) {
    snprintf(buf, len, "-DTILE_CO=%d -DTILE_X=%d", t->tile_co, t->tile_x);
}

/* The grid for output shape ys, and a work-group shape every device accepts: at most the
   device's per-dimension and total limits, and no larger than the grid in any dimension. */
static void work_sizes(const clseg_device_info *dev, const conv2d_tiling *t, shape4 ys,
                       size_t gws[3], size_t lws[3]) {
    gws[0] = (size_t)(ys.w + t->tile_x - 1) / (size_t)t->tile_x;
    gws[1] = (size_t)ys.h;
    gws[2] = (size_t)ys.n * (size_t)((ys.c + t->tile_co - 1) / t->tile_co);
    size_t total = 1;
    for (int d = 0; d < 3; d++) {
        lws[d] = CLSEG_MIN(t->lws[d], gws[d]);
        if (dev->max_work_item_sizes[d]) lws[d] = CLSEG_MIN(lws[d], dev->max_work_item_sizes[d]);
        if (lws[d] < 1) lws[d] = 1;
        total *= lws[d];
    }
    while (dev->max_work_group_size && total > dev->max_work_group_size) {
        int big = 0;
        for (int d = 1; d < 3; d++)
            if (lws[d] > lws[big]) big = d;
        total = total / lws[big] * ((lws[big] + 1) / 2);
        lws[big] = (lws[big] + 1) / 2;
    }
}

/* Rejects calls whose tensors disagree with the parameters; returns the output shape. */
static clseg_status check_call(clseg_context *ctx, const op_call *call, shape4 *ys) {
    const conv2d_params *p = &call->p.conv;
    if (call->kind != OP_CONV2D || !conv2d_out_shape(call->in[0].s, p, ys))
        return ctx_fail(ctx, CLSEG_ERR_INVALID_ARGUMENT, "conv2d: invalid parameters");
    shape4 o = call->out[0].s;
    if (o.n != ys->n || o.c != ys->c || o.h != ys->h || o.w != ys->w)
        return ctx_fail(ctx, CLSEG_ERR_INVALID_ARGUMENT,
                        "conv2d: output is %dx%dx%dx%d, expected %dx%dx%dx%d", o.n, o.c, o.h, o.w,
                        ys->n, ys->c, ys->h, ys->w);
    if (!call->in[0].mem || !call->in[1].mem || !call->out[0].mem)
        return ctx_fail(ctx, CLSEG_ERR_INVALID_ARGUMENT, "conv2d: missing buffer");
    return CLSEG_OK;
}

static clseg_status tiled_prepare(clseg_context *ctx, const conv2d_tiling *t) {
    char defines[64];
    tiling_defines(t, defines, sizeof defines);
    cl_kernel kernel;
    return ctx_kernel(ctx, "conv2d", defines, "conv2d_direct", &kernel);
}

/* bias.mem may be NULL: the kernel then adds nothing. */
static clseg_status tiled_run(clseg_context *ctx, const op_call *call, const conv2d_tiling *t) {
    shape4 ys;
    clseg_status st = check_call(ctx, call, &ys);
    if (st != CLSEG_OK) return st;
    char defines[64];
    tiling_defines(t, defines, sizeof defines);
    cl_kernel kernel;
    st = ctx_kernel(ctx, "conv2d", defines, "conv2d_direct", &kernel);
    if (st != CLSEG_OK) return st;

    const conv2d_params *p = &call->p.conv;
    const shape4 xs = call->in[0].s;
    size_t gws[3], lws[3];
    work_sizes(&ctx->info, t, ys, gws, lws);
    return CTX_RUN(ctx, kernel, 3, gws, lws, KARG_MEM(call->in[0].mem), KARG_MEM(call->in[1].mem),
                   KARG_MEM(call->in[2].mem), KARG_MEM(call->out[0].mem), KARG_INT(xs.c),
                   KARG_INT(xs.h), KARG_INT(xs.w), KARG_INT(ys.c), KARG_INT(ys.h), KARG_INT(ys.w),
                   KARG_INT(p->k), KARG_INT(p->stride), KARG_INT(p->pad), KARG_INT(p->relu),
                   KARG_INT(xs.n));
}

static clseg_status direct_prepare(clseg_context *ctx, const op_call *call) {
    (void)call;
    return tiled_prepare(ctx, &direct_tiling);
}

static clseg_status direct_run(clseg_context *ctx, const op_call *call) {
    return tiled_run(ctx, call, &direct_tiling);
}

/* Handles every shape; the fallback that the table lists last for conv2d. */
const op_variant conv2d_direct = {"direct", OP_CONV2D, NULL, direct_prepare, direct_run};
