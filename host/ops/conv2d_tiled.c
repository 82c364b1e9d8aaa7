/* conv2d_tiled.c - conv2d variant "tiled": the local-memory and register tiled direct kernel of
   kernels/conv2d_tiled.cl, for devices where local memory is fast (GPUs). */
#include <stdio.h>
#include <string.h>

#include "variant_util.h"

/* Tunables: every one is a kernel define (the work-group shape too: it sizes the local tile);
   324 combinations. */
static const int tile_co_choices[] = {4, 8, 16};
static const int tile_x_choices[] = {1, 4, 16};
static const int tile_y_choices[] = {1, 2};
static const int ci_block_choices[] = {4, 16};
static const int wg_x_choices[] = {4, 8, 16};
static const int wg_y_choices[] = {1, 2, 4};
enum { P_TILE_CO, P_TILE_X, P_TILE_Y, P_CI_BLOCK, P_WG_X, P_WG_Y, N_PARAMS };
static const variant_param params[N_PARAMS] = {
    {"TILE_CO", 8, tile_co_choices, CLSEG_ARRAY_LEN(tile_co_choices), PARAM_DEFINE},
    {"TILE_X", 4, tile_x_choices, CLSEG_ARRAY_LEN(tile_x_choices), PARAM_DEFINE},
    {"TILE_Y", 2, tile_y_choices, CLSEG_ARRAY_LEN(tile_y_choices), PARAM_DEFINE},
    {"CI_BLOCK", 4, ci_block_choices, CLSEG_ARRAY_LEN(ci_block_choices), PARAM_DEFINE},
    {"WG_X", 8, wg_x_choices, CLSEG_ARRAY_LEN(wg_x_choices), PARAM_LOCAL_X},
    {"WG_Y", 4, wg_y_choices, CLSEG_ARRAY_LEN(wg_y_choices), PARAM_LOCAL_Y},
};

/* Kernel sides and strides it takes: the taps loop at run time, and the local tile grows with
   both. */
#define MAX_K      7
#define MAX_STRIDE 2
/* Accumulators of a whole work-group, at most a GPU compute unit's register file. PoCL keeps
   them on its worker thread's stack and crashed at 2 MiB. */
#define MAX_GROUP_ACC_BYTES (256 * 1024)

/* Local memory of one work-group, the input tile with halo and the weight block, in floats:
   [0] input, [1] weights. */
static void local_floats(const op_config *cfg, int k, int stride, size_t out[2]) {
    const size_t out_w = (size_t)cfg->v[P_WG_X] * (size_t)cfg->v[P_TILE_X];
    const size_t out_h = (size_t)cfg->v[P_WG_Y] * (size_t)cfg->v[P_TILE_Y];
    const size_t in_w = (out_w - 1) * (size_t)stride + (size_t)k;
    const size_t in_h = (out_h - 1) * (size_t)stride + (size_t)k;
    out[0] = (size_t)cfg->v[P_CI_BLOCK] * in_h * in_w;
    out[1] = (size_t)cfg->v[P_CI_BLOCK] * (size_t)k * (size_t)k * (size_t)cfg->v[P_TILE_CO];
}

static int supports(const clseg_device_info *dev, const op_call *call, const op_config *cfg,
                    char *why, size_t why_len) {
    const conv2d_params *p = &call->p.conv;
    const int tx = cfg->v[P_TILE_X];
    if (!conv2d_dense_only(call, why, why_len)) return 0;
    for (int i = 0; i < N_PARAMS; i++)
        if (cfg->v[i] < 1 || cfg->v[i] > 64)
            return op_refuse(why, why_len, "%s %d outside 1..64", params[i].name, cfg->v[i]);
    if (tx > 16 || (tx & (tx - 1)) != 0)
        return op_refuse(why, why_len, "TILE_X %d is not a power of 2 up to 16", tx);
    if (p->k < 1 || p->k > MAX_K)
        return op_refuse(why, why_len, "kernel size %d outside 1..%d", p->k, MAX_K);
    if (p->stride < 1 || p->stride > MAX_STRIDE)
        return op_refuse(why, why_len, "stride %d outside 1..%d", p->stride, MAX_STRIDE);
    const size_t wg[2] = {(size_t)cfg->v[P_WG_X], (size_t)cfg->v[P_WG_Y]};
    for (int d = 0; d < 2; d++)
        if (dev->max_work_item_sizes[d] && wg[d] > dev->max_work_item_sizes[d])
            return op_refuse(why, why_len, "work-group dimension %d is %zu > %zu", d, wg[d],
                             dev->max_work_item_sizes[d]);
    const size_t acc_bytes = sizeof(float) * (size_t)cfg->v[P_TILE_CO] * (size_t)tx *
                             (size_t)cfg->v[P_TILE_Y] * wg[0] * wg[1];
    size_t local[2];
    local_floats(cfg, p->k, p->stride, local);
    if (wg[0] * wg[1] > dev->max_work_group_size)
        return op_refuse(why, why_len, "work-group of %zu > %zu", wg[0] * wg[1],
                         dev->max_work_group_size);
    if (acc_bytes > MAX_GROUP_ACC_BYTES)
        return op_refuse(why, why_len, "%zu accumulator bytes per group > %d", acc_bytes,
                         (int)MAX_GROUP_ACC_BYTES);
    if ((local[0] + local[1]) * sizeof(float) > dev->local_mem_bytes)
        return op_refuse(why, why_len, "needs %zu bytes of local memory, the device has %llu",
                         (local[0] + local[1]) * sizeof(float),
                         (unsigned long long)dev->local_mem_bytes);
    return 1;
}

/* 3x3, by far the commonest side, gets a build (per stride) whose tap loops unroll; other sides
   share one build with run-time tap loops. */
static void defines_for(clseg_context *ctx, const op_call *call, const op_config *cfg, char *buf,
                        size_t len) {
    variant_defines(ctx, &conv2d_tiled, cfg, buf, len);
    size_t used = strlen(buf);
    snprintf(buf + used, len - used, " -DWG_X=%d -DWG_Y=%d", cfg->v[P_WG_X], cfg->v[P_WG_Y]);
    used = strlen(buf);
    if (call->p.conv.k == 3)
        snprintf(buf + used, len - used, " -DKSIZE=3 -DSTRIDE=%d", call->p.conv.stride);
}

/* The kernel with the work-group size checked against what the compiled kernel allows, which
   can be less than the device's maximum (register pressure on GPUs). */
static clseg_status get_kernel(clseg_context *ctx, const op_call *call, const op_config *cfg,
                               cl_kernel *kernel) {
    char defines[256];
    defines_for(ctx, call, cfg, defines, sizeof defines);
    clseg_status st = ctx_kernel(ctx, "conv2d_tiled", defines, "conv2d_tiled", kernel);
    if (st != CLSEG_OK) return st;
    const size_t wg = (size_t)cfg->v[P_WG_X] * (size_t)cfg->v[P_WG_Y];
    const size_t max_wg = ctx_kernel_max_group(ctx, *kernel);
    if (max_wg < wg)
        return ctx_fail(ctx, CLSEG_ERR_UNSUPPORTED,
                        "conv2d tiled: work-group of %zu exceeds the kernel's limit of %zu", wg,
                        max_wg);
    return CLSEG_OK;
}

static clseg_status prepare(clseg_context *ctx, const op_call *call, const op_config *cfg) {
    cl_kernel kernel;
    return get_kernel(ctx, call, cfg, &kernel);
}

static clseg_status run(clseg_context *ctx, const op_call *call, const op_config *cfg) {
    shape4 ys;
    clseg_status st = conv2d_check_call(ctx, call, &ys);
    if (st != CLSEG_OK) return st;
    if (!supports(&ctx->info, call, cfg, NULL, 0))
        return ctx_fail(ctx, CLSEG_ERR_UNSUPPORTED, "conv2d tiled: unsupported call");
    cl_kernel kernel;
    if ((st = get_kernel(ctx, call, cfg, &kernel)) != CLSEG_OK) return st;
    const conv2d_params *p = &call->p.conv;
    const shape4 xs = call->in[0].s;
    const size_t out_w = (size_t)cfg->v[P_WG_X] * (size_t)cfg->v[P_TILE_X];
    const size_t out_h = (size_t)cfg->v[P_WG_Y] * (size_t)cfg->v[P_TILE_Y];
    const size_t co_block = (size_t)cfg->v[P_TILE_CO];
    const size_t lws[3] = {(size_t)cfg->v[P_WG_X], (size_t)cfg->v[P_WG_Y], 1};
    const size_t gws[3] = {(ys.w + out_w - 1) / out_w * lws[0], (ys.h + out_h - 1) / out_h * lws[1],
                           (size_t)ys.n * ((ys.c + co_block - 1) / co_block) * lws[2]};
    size_t local[2];
    local_floats(cfg, p->k, p->stride, local);
    return CTX_RUN(ctx, kernel, 3, gws, lws, KARG_MEM(call->in[0].mem), KARG_MEM(call->in[1].mem),
                   KARG_MEM(call->in[2].mem), KARG_MEM(call->out[0].mem),
                   KARG_LOCAL(local[0] * sizeof(float)), KARG_LOCAL(local[1] * sizeof(float)),
                   KARG_INT(xs.c), KARG_INT(xs.h), KARG_INT(xs.w), KARG_INT(ys.c), KARG_INT(ys.h),
                   KARG_INT(ys.w), KARG_INT(p->k), KARG_INT(p->stride), KARG_INT(p->pad),
                   KARG_INT(p->act));
}

/* Kernel sides up to 7 and strides up to 2, where the work-group and its local tile fit the
   device. */
const op_variant conv2d_tiled = {.name = "tiled",
                                 .kind = OP_CONV2D,
                                 .params = params,
                                 .n_params = N_PARAMS,
                                 .supports = supports,
                                 .prepare = prepare,
                                 .run = run};
