/* conv2d_bwd_flat.c - weight-gradient variant "flat" of conv2d and deconv2d: per image, both
   operands packed into the scratch with zero borders (kernels/backward_conv_flat.cl), then one
   contiguous dot product per tap and channel pair, accumulated over the images. */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "backward.h"
#include "launch_helpers.h"
#include "variant_util.h"
#include "wgrad.h"

/* Tunables: the channel block of one work-item and the vector width. Defaults for CPUs: on PoCL
   (AVX-512) 4 x 4 blocks of float16 keep all 16 accumulators and the 8 operand vectors in
   registers. */
static const int tile_choices[] = {1, 2, 4, 8};
static const int vw_choices[] = {4, 8, 16};
enum { P_TILE_CO, P_TILE_CI, P_VW, N_PARAMS };
static const variant_param params[N_PARAMS] = {
    {"TILE_CO", 4, tile_choices, CLSEG_ARRAY_LEN(tile_choices), PARAM_DEFINE},
    {"TILE_CI", 4, tile_choices, CLSEG_ARRAY_LEN(tile_choices), PARAM_DEFINE},
    {"VW", 16, vw_choices, CLSEG_ARRAY_LEN(vw_choices), PARAM_VECTOR_WIDTH},
};

/* Packed planes of one image (see the kernel's comment), all counts in floats. */
typedef struct flat_plan {
    size_t wq, len, a_plane, b_plane, b_off;
    size_t bytes;
} flat_plan;

static int make_plan(const op_call *call, const op_config *cfg, flat_plan *pl) {
    shape4 as, bs;
    int k, stride;
    if (!wgrad_geometry(call, &as, &bs, &k, &stride) || k < 1 || stride < 1) return 0;
    if (!launch_fits_int(as) || !launch_fits_int(bs)) return 0;
    const size_t s = (size_t)stride, dmax = ((size_t)k - 1) / s, vw = (size_t)cfg->v[P_VW];
    pl->wq = (size_t)bs.w + dmax;
    pl->len = round_up((size_t)bs.h * pl->wq, vw);
    pl->b_plane = pl->len;
    /* Every read t + off, t < len, off <= dmax * (wq + 1); the image's rows come first. */
    pl->a_plane = round_up(pl->len + dmax * (pl->wq + 1), vw);
    const size_t a_floats = (size_t)as.c * s * s * pl->a_plane;
    pl->b_off = round_up(a_floats, 16);
    const size_t total = pl->b_off + (size_t)bs.c * pl->b_plane;
    if (total > (size_t)INT_MAX) return 0;
    pl->bytes = total * sizeof(float);
    return 1;
}

static int supports(const clseg_device_info *dev, const op_call *call, const op_config *cfg,
                    char *why, size_t why_len) {
    flat_plan pl;
    const int vw = cfg->v[P_VW];
    if (cfg->v[P_TILE_CO] < 1 || cfg->v[P_TILE_CI] < 1)
        return op_refuse(why, why_len, "channel tiles must be >= 1");
    if (vw != 4 && vw != 8 && vw != 16)
        return op_refuse(why, why_len, "VW %d is not 4, 8 or 16", vw);
    if (!make_plan(call, cfg, &pl)) return op_refuse(why, why_len, "invalid parameters or shapes");
    if (pl.bytes > scratch_budget(dev))
        return op_refuse(why, why_len, "needs %zu bytes of scratch, over the budget of %zu",
                         (size_t)pl.bytes, scratch_budget(dev));
    return 1;
}

static size_t scratch_bytes(const clseg_device_info *dev, const op_call *call,
                            const op_config *cfg) {
    (void)dev;
    flat_plan pl;
    return make_plan(call, cfg, &pl) ? pl.bytes : 0;
}

static clseg_status kernels(clseg_context *ctx, const op_call *call, const op_config *cfg,
                            cl_kernel k[3]) {
    char defines[160];
    variant_defines(ctx, &conv2d_bwd_weight_flat, cfg, defines, sizeof defines);
    size_t used = strlen(defines);
    const int stride =
        call->kind == OP_CONV2D_BWD_WEIGHT ? call->p.conv.stride : call->p.deconv.stride;
    snprintf(defines + used, sizeof defines - used, " -DSTRIDE=%d", stride);
    static const char *const names[3] = {"wgrad_pack_a", "wgrad_pack_b", "wgrad_flat"};
    for (int i = 0; i < 3; i++) {
        clseg_status st = ctx_kernel(ctx, "backward_conv_flat", defines, names[i], &k[i]);
        if (st != CLSEG_OK) return st;
    }
    return CLSEG_OK;
}

static clseg_status prepare(clseg_context *ctx, const op_call *call, const op_config *cfg) {
    cl_kernel k[3];
    clseg_status st = kernels(ctx, call, cfg, k);
    if (st == CLSEG_OK && call->out[1].mem)
        st = ctx_kernel(ctx, "backward", NULL, "channel_sum", &k[0]);
    return st;
}

static clseg_status run(clseg_context *ctx, const op_call *call, const op_config *cfg) {
    wgrad g;
    clseg_status st = wgrad_problem(ctx, call, &g);
    if (st != CLSEG_OK) return st;
    flat_plan pl;
    if (!supports(&ctx->info, call, cfg, NULL, 0) || !make_plan(call, cfg, &pl))
        return ctx_fail(ctx, CLSEG_ERR_UNSUPPORTED, "%s flat: unsupported call",
                        op_kind_name(call->kind));
    cl_kernel k[3];
    if ((st = kernels(ctx, call, cfg, k)) != CLSEG_OK) return st;
    cl_mem s;
    if ((st = scratch_get(ctx, pl.bytes, &s)) != CLSEG_OK) return st;
    const int phases = g.stride * g.stride;
    const size_t tco = (size_t)cfg->v[P_TILE_CO], tci = (size_t)cfg->v[P_TILE_CI];
    size_t g_a[3] = {pl.a_plane, (size_t)g.as.c * (size_t)phases, 1}, l_a[3];
    size_t g_b[3] = {pl.b_plane, (size_t)g.bs.c, 1}, l_b[3];
    size_t g_w[3] = {(size_t)g.k * (size_t)g.k, ((size_t)g.as.c + tci - 1) / tci,
                     ((size_t)g.bs.c + tco - 1) / tco};
    size_t l_w[3] = {1, 1, 1};
    launch_local_size(&ctx->info, g_a, l_a);
    launch_local_size(&ctx->info, g_b, l_b);
    for (int n = 0; n < g.as.n && st == CLSEG_OK; n++) {
        st = CTX_RUN(ctx, k[0], 2, g_a, l_a, KARG_MEM(g.a), KARG_MEM(s), KARG_INT(g.as.c),
                     KARG_INT(g.as.h), KARG_INT(g.as.w), KARG_INT((int)pl.wq),
                     KARG_INT((int)pl.a_plane), KARG_INT(g.pad), KARG_INT(n));
        if (st == CLSEG_OK)
            st = CTX_RUN(ctx, k[1], 2, g_b, l_b, KARG_MEM(g.b), KARG_MEM(s), KARG_INT(g.bs.c),
                         KARG_INT(g.bs.h), KARG_INT(g.bs.w), KARG_INT((int)pl.wq),
                         KARG_INT((int)pl.b_plane), KARG_INT((int)pl.b_off), KARG_INT(n));
        if (st == CLSEG_OK)
            st = CTX_RUN(ctx, k[2], 3, g_w, l_w, KARG_MEM(s), KARG_MEM(g.dw), KARG_INT(g.as.c),
                         KARG_INT(g.bs.c), KARG_INT(g.k), KARG_INT((int)pl.wq),
                         KARG_INT((int)pl.a_plane), KARG_INT((int)pl.b_plane),
                         KARG_INT((int)pl.b_off), KARG_INT((int)pl.len), KARG_INT(n > 0));
    }
    if (st != CLSEG_OK || !g.db) return st;
    return wgrad_bias(ctx, &g);
}

/* Any side and stride whose packed image fits the scratch budget; work-items of one (a CPU runs
   each as a stream of vector loads; GPUs get the lane-parallel "tiled" kernel by class rules). */
const op_variant conv2d_bwd_weight_flat = {.name = "flat",
                                           .kind = OP_CONV2D_BWD_WEIGHT,
                                           .params = params,
                                           .n_params = N_PARAMS,
                                           .supports = supports,
                                           .prepare = prepare,
                                           .run = run,
                                           .scratch_bytes = scratch_bytes};
const op_variant deconv2d_bwd_weight_flat = {.name = "flat",
                                             .kind = OP_DECONV2D_BWD_WEIGHT,
                                             .params = params,
                                             .n_params = N_PARAMS,
                                             .supports = supports,
                                             .prepare = prepare,
                                             .run = run,
                                             .scratch_bytes = scratch_bytes};
