/* deconv2d_winograd.c - deconv2d variant "winograd": 3x3 stride-2 transposed convolution as
   Winograd F(M,2) transforms of its stride-decomposed form (kernels/deconv2d_winograd.cl), 1.44x
   to 1.78x fewer multiplications than the direct form, on the Winograd conv's channel GEMMs. */

#include "launch_helpers.h"
#include "variant_util.h"
#include "winograd.h"

/* Tunables: the tile (the transforms' cost and the GEMMs' count), the tiles per work-item of the
   transforms, and the channel GEMMs' register tile and work-group shape
   (3 * 3 * 5 * 3 * 3 * 3 = 1215 combinations). The generic WINO_M is the middle one, so that the
   op test's default, first and last configurations cover all three transforms. */
static const int wino_m_choices[] = {2, 3, 4};
static const int trans_t_choices[] = {1, 4, 8};
static const int tile_co_choices[] = {4, 8, 12, 16, 32};
static const int tile_t_choices[] = {8, 16, 32};
static const int wg_choices[] = {1, 4, 8};
enum { P_WINO_M, P_TRANS_T, P_TILE_CO, P_TILE_T, P_WG_X, P_WG_Y, N_PARAMS };
static const variant_param params[N_PARAMS] = {
    {"WINO_M", 3, wino_m_choices, CLSEG_ARRAY_LEN(wino_m_choices), PARAM_DEFINE},
    {"TRANS_T", 4, trans_t_choices, CLSEG_ARRAY_LEN(trans_t_choices), PARAM_DEFINE},
    /* The GEMM's register tile: compiled into its own program (winograd.c), not the transforms'. */
    {"TILE_CO", 8, tile_co_choices, CLSEG_ARRAY_LEN(tile_co_choices), PARAM_HOST},
    {"TILE_T", 16, tile_t_choices, CLSEG_ARRAY_LEN(tile_t_choices), PARAM_HOST},
    {"WG_X", 4, wg_choices, CLSEG_ARRAY_LEN(wg_choices), PARAM_LOCAL_X},
    {"WG_Y", 4, wg_choices, CLSEG_ARRAY_LEN(wg_choices), PARAM_LOCAL_Y},
};

/* Tiles of WINO_M x WINO_M positions q, from q = pad / 2 to the last q with an output
   (kernels/deconv2d_winograd.cl); transformed tiles of 2 WINO_M + 1 elements per axis, of which
   WINO_M + 2 have distinct weights. */
static int make_plan(const clseg_device_info *dev, const op_call *call, const op_config *cfg,
                     wino_plan *pl) {
    const deconv2d_params *p = &call->p.deconv;
    shape4 ys;
    if (!deconv2d_out_shape(call->in[0].s, p, &ys) || p->stride != 2) return 0;
    const int m = cfg->v[P_WINO_M], q_first = p->pad / 2;
    if (m < 1) return 0;
    const int qh = (ys.h - 1 + p->pad) / 2 - q_first + 1,
              qw = (ys.w - 1 + p->pad) / 2 - q_first + 1;
    return wino_plan_make(dev, ys.n, (qh + m - 1) / m, (qw + m - 1) / m, p->cin, p->cout,
                          cfg->v[P_TILE_CO], 2 * m + 1, m + 2, pl);
}

static int supports(const clseg_device_info *dev, const op_call *call, const op_config *cfg,
                    char *why, size_t why_len) {
    const deconv2d_params *p = &call->p.deconv;
    const int m = cfg->v[P_WINO_M], tr = cfg->v[P_TRANS_T];
    wino_plan pl;
    if (p->k != 3 || p->stride != 2)
        return op_refuse(why, why_len,
                         "the phase transforms are for k 3 and stride 2 (a 2-tap and a 1-tap phase "
                         "per axis), not k %d stride %d",
                         p->k, p->stride);
    if (m < 2 || m > 4) return op_refuse(why, why_len, "WINO_M %d is not 2, 3 or 4", m);
    if (tr != 1 && tr != 2 && tr != 4 && tr != 8)
        return op_refuse(why, why_len, "TRANS_T %d is not 1, 2, 4 or 8", tr);
    if (!wino_gemm_supports(cfg->v[P_TILE_CO], cfg->v[P_TILE_T], why, why_len)) return 0;
    if (!launch_fits_int(call->in[0].s))
        return op_refuse(why, why_len, "input too large for int indexing");
    if (!make_plan(dev, call, cfg, &pl))
        return op_refuse(why, why_len,
                         "the transformed tiles do not fit the scratch budget or the device");
    return 1;
}

static clseg_status kernels(clseg_context *ctx, const op_config *cfg, cl_kernel k[4]) {
    static const char *const names[3] = {"dwino_weights", "dwino_input", "dwino_output"};
    return wino_kernels(ctx, &deconv2d_winograd, cfg, "deconv2d_winograd", names, cfg->v[P_TILE_CO],
                        cfg->v[P_TILE_T], k);
}

static clseg_status prepare(clseg_context *ctx, const op_call *call, const op_config *cfg) {
    (void)call;
    cl_kernel k[4];
    return kernels(ctx, cfg, k);
}

/* The weights once, then chunk by chunk: input transform, GEMMs, output transform. */
static clseg_status run(clseg_context *ctx, const op_call *call, const op_config *cfg) {
    shape4 ys;
    clseg_status st = deconv2d_check_call(ctx, call, &ys);
    if (st != CLSEG_OK) return st;
    wino_plan pl;
    if (!supports(&ctx->info, call, cfg, NULL, 0) || !make_plan(&ctx->info, call, cfg, &pl))
        return ctx_fail(ctx, CLSEG_ERR_UNSUPPORTED, "deconv2d winograd: unsupported call");
    cl_kernel k[4];
    if ((st = kernels(ctx, cfg, k)) != CLSEG_OK) return st;
    cl_mem s;
    if ((st = scratch_get(ctx, pl.bytes, &s)) != CLSEG_OK) return st;

    const deconv2d_params *p = &call->p.deconv;
    const shape4 xs = call->in[0].s;
    size_t gws[3] = {(size_t)pl.cout_pad, (size_t)p->cin, 1}, lws[3];
    launch_local_size(&ctx->info, gws, lws);
    st = CTX_RUN(ctx, k[0], 2, gws, lws, KARG_MEM(call->in[1].mem), KARG_MEM(s), KARG_INT(pl.u),
                 KARG_INT(p->cin), KARG_INT(p->cout), KARG_INT(pl.cout_pad));
    const size_t tr = (size_t)cfg->v[P_TRANS_T];
    for (int r0 = 0; st == CLSEG_OK && r0 < pl.rows; r0 += pl.chunk_rows) {
        const int rows = CLSEG_MIN(pl.chunk_rows, pl.rows - r0);
        const size_t cols = wino_chunk_cols(&pl, rows);
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
                     KARG_INT(pl.cout_pad), KARG_INT(ys.h), KARG_INT(ys.w), KARG_INT(p->pad),
                     KARG_INT(pl.th), KARG_INT(pl.tw), KARG_INT(r0), KARG_INT(rows), KARG_INT(cols),
                     KARG_INT(p->relu));
    }
    return st;
}

/* 3x3 stride-2 transposed convolutions only (any padding, output padding, batch and channel
   count). */
static size_t scratch_bytes(const clseg_device_info *dev, const op_call *call,
                            const op_config *cfg) {
    wino_plan pl;
    return make_plan(dev, call, cfg, &pl) ? pl.bytes : 0;
}

const op_variant deconv2d_winograd = {.name = "winograd",
                                      .kind = OP_DECONV2D,
                                      .params = params,
                                      .n_params = N_PARAMS,
                                      .supports = supports,
                                      .prepare = prepare,
                                      .run = run,
                                      .scratch_bytes = scratch_bytes};
