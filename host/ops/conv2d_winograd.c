/* conv2d_winograd.c - conv2d variant "winograd": Winograd F(2x2,3x3) or F(4x4,3x3) for 3x3
   stride-1 convolution (kernels/conv2d_winograd.cl), 2.25x or 4x fewer multiplications than the
   direct form. */

#include "launch_helpers.h"
#include "variant_util.h"
#include "winograd.h"

/* Tunables: the output tile (the transforms' cost and the GEMMs' size), the tiles per
   work-item of the transforms, and the channel GEMMs' register tile and work-group shape
   (2 * 3 * 4 * 2 * 3 * 3 = 432 combinations). */
static const int wino_m_choices[] = {2, 4};
static const int trans_t_choices[] = {1, 4, 8};
static const int tile_co_choices[] = {4, 8, 16, 32};
static const int tile_t_choices[] = {8, 16};
static const int wg_choices[] = {1, 4, 8};
enum { P_WINO_M, P_TRANS_T, P_TILE_CO, P_TILE_T, P_WG_X, P_WG_Y, N_PARAMS };
static const variant_param params[N_PARAMS] = {
    {"WINO_M", 2, wino_m_choices, CLSEG_ARRAY_LEN(wino_m_choices), PARAM_DEFINE},
    {"TRANS_T", 4, trans_t_choices, CLSEG_ARRAY_LEN(trans_t_choices), PARAM_DEFINE},
    /* The GEMM's register tile: compiled into its own program (winograd.c), not the transforms'. */
    {"TILE_CO", 8, tile_co_choices, CLSEG_ARRAY_LEN(tile_co_choices), PARAM_HOST},
    {"TILE_T", 16, tile_t_choices, CLSEG_ARRAY_LEN(tile_t_choices), PARAM_HOST},
    {"WG_X", 4, wg_choices, CLSEG_ARRAY_LEN(wg_choices), PARAM_LOCAL_X},
    {"WG_Y", 4, wg_choices, CLSEG_ARRAY_LEN(wg_choices), PARAM_LOCAL_Y},
};

/* The call's tiles and their chunks (host/ops/winograd.c). */
static int make_plan(const clseg_device_info *dev, const op_call *call, const op_config *cfg,
                     wino_plan *pl) {
    const conv2d_params *p = &call->p.conv;
    shape4 ys;
    if (!conv2d_out_shape(call->in[0].s, p, &ys)) return 0;
    const int m = cfg->v[P_WINO_M];
    if (m < 1) return 0;
    return wino_plan_make(dev, ys.n, (ys.h + m - 1) / m, (ys.w + m - 1) / m, p->cin, p->cout,
                          cfg->v[P_TILE_CO], m + 2, m + 2, pl);
}

static int supports(const clseg_device_info *dev, const op_call *call, const op_config *cfg,
                    char *why, size_t why_len) {
    const conv2d_params *p = &call->p.conv;
    const int tt = cfg->v[P_TILE_T], tr = cfg->v[P_TRANS_T];
    wino_plan pl;
    if (!conv2d_dense_only(call, why, why_len)) return 0;
    if (p->k != 3 || p->stride != 1)
        return op_refuse(why, why_len,
                         "Winograd F(m x m, 3x3) needs k 3 and stride 1, not k %d stride %d", p->k,
                         p->stride);
    if (cfg->v[P_WINO_M] != 2 && cfg->v[P_WINO_M] != 4)
        return op_refuse(why, why_len, "WINO_M %d is not 2 or 4", cfg->v[P_WINO_M]);
    if (tr != 1 && tr != 2 && tr != 4 && tr != 8)
        return op_refuse(why, why_len, "TRANS_T %d is not 1, 2, 4 or 8", tr);
    if (!wino_gemm_supports(cfg->v[P_TILE_CO], tt, why, why_len)) return 0;
    if (!make_plan(dev, call, cfg, &pl))
        return op_refuse(why, why_len,
                         "the transformed tiles do not fit the scratch budget or the device");
    return 1;
}

static clseg_status kernels(clseg_context *ctx, const op_config *cfg, cl_kernel k[4]) {
    static const char *const names[3] = {"wino_weights", "wino_input", "wino_output"};
    return wino_kernels(ctx, &conv2d_winograd, cfg, "conv2d_winograd", names, cfg->v[P_TILE_CO],
                        cfg->v[P_TILE_T], k);
}

static clseg_status prepare(clseg_context *ctx, const op_call *call, const op_config *cfg) {
    (void)call;
    cl_kernel k[4];
    return kernels(ctx, cfg, k);
}

static clseg_status run(clseg_context *ctx, const op_call *call, const op_config *cfg) {
    shape4 ys;
    clseg_status st = conv2d_check_call(ctx, call, &ys);
    if (st != CLSEG_OK) return st;
    wino_plan pl;
    if (!supports(&ctx->info, call, cfg, NULL, 0))
        return ctx_fail(ctx, CLSEG_ERR_UNSUPPORTED, "conv2d winograd: unsupported call");
    make_plan(&ctx->info, call, cfg, &pl);
    cl_kernel k[4];
    if ((st = kernels(ctx, cfg, k)) != CLSEG_OK) return st;
    cl_mem s;
    if ((st = scratch_get(ctx, pl.bytes, &s)) != CLSEG_OK) return st;

    const conv2d_params *p = &call->p.conv;
    const shape4 xs = call->in[0].s;
    size_t gws[3] = {(size_t)pl.cout_pad, (size_t)p->cin, 1}, lws[3];
    launch_local_size(&ctx->info, gws, lws);
    st = CTX_RUN(ctx, k[0], 2, gws, lws, KARG_MEM(call->in[1].mem), KARG_MEM(s), KARG_INT(pl.u),
                 KARG_INT(p->cin), KARG_INT(p->cout), KARG_INT(pl.cout_pad));
    for (int r0 = 0; st == CLSEG_OK && r0 < pl.rows; r0 += pl.chunk_rows) {
        const int rows = CLSEG_MIN(pl.chunk_rows, pl.rows - r0);
        const size_t cols = wino_chunk_cols(&pl, rows);
        const size_t tr = (size_t)cfg->v[P_TRANS_T];
        size_t g_in[3] = {((size_t)pl.tw + tr - 1) / tr, (size_t)rows, (size_t)p->cin}, l_in[3];
        launch_local_size(&ctx->info, g_in, l_in);
        st = CTX_RUN(ctx, k[1], 3, g_in, l_in, KARG_MEM(call->in[0].mem), KARG_MEM(s),
                     KARG_INT(pl.v), KARG_INT(p->cin), KARG_INT(xs.h), KARG_INT(xs.w),
                     KARG_INT(p->pad), KARG_INT(pl.th), KARG_INT(pl.tw), KARG_INT(r0),
                     KARG_INT(rows), KARG_INT(cols));
        if (st != CLSEG_OK) break;
        st = wino_gemm_run(ctx, k[2], s, &pl, cols, cfg->v[P_TILE_CO], cfg->v[P_TILE_T],
                           cfg->v[P_WG_X], cfg->v[P_WG_Y]);
        if (st != CLSEG_OK) break;
        size_t g_out[3] = {((size_t)pl.tw + tr - 1) / tr, (size_t)rows, (size_t)p->cout}, l_out[3];
        launch_local_size(&ctx->info, g_out, l_out);
        st = CTX_RUN(ctx, k[3], 3, g_out, l_out, KARG_MEM(s), KARG_MEM(call->in[2].mem),
                     KARG_MEM(call->out[0].mem), KARG_INT(pl.mm), KARG_INT(p->cout),
                     KARG_INT(pl.cout_pad), KARG_INT(ys.h), KARG_INT(ys.w), KARG_INT(pl.th),
                     KARG_INT(pl.tw), KARG_INT(r0), KARG_INT(rows), KARG_INT(cols),
                     KARG_INT(p->act));
    }
    return st;
}

/* 3x3 stride-1 convolutions only (any padding, batch and channel count). */
static size_t scratch_bytes(const clseg_device_info *dev, const op_call *call,
                            const op_config *cfg) {
    wino_plan pl;
    return make_plan(dev, call, cfg, &pl) ? pl.bytes : 0;
}

const op_variant conv2d_winograd = {.name = "winograd",
                                    .kind = OP_CONV2D,
                                    .params = params,
                                    .n_params = N_PARAMS,
                                    .supports = supports,
                                    .prepare = prepare,
                                    .run = run,
                                    .scratch_bytes = scratch_bytes};
