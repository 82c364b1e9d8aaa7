/* conv2d_winograd.c - conv2d variant "winograd": Winograd F(2x2,3x3) or F(4x4,3x3) for 3x3
   stride-1 convolution (kernels/conv2d_winograd.cl), 2.25x or 4x fewer multiplications than the
   direct form. */
#include <limits.h>
#include <stdio.h>

#include "launch_helpers.h"
#include "variant_util.h"

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
    {"TILE_CO", 8, tile_co_choices, CLSEG_ARRAY_LEN(tile_co_choices), PARAM_DEFINE},
    {"TILE_T", 16, tile_t_choices, CLSEG_ARRAY_LEN(tile_t_choices), PARAM_DEFINE},
    {"WG_X", 4, wg_choices, CLSEG_ARRAY_LEN(wg_choices), PARAM_LOCAL_X},
    {"WG_Y", 4, wg_choices, CLSEG_ARRAY_LEN(wg_choices), PARAM_LOCAL_Y},
};

/* Chunk columns are padded to a multiple of this, so that every TILE_T divides them. */
#define TILE_ALIGN 16

/* The split of the call's tile rows into chunks whose transformed data fits the scratch. */
typedef struct wino_plan {
    int m, ne;        /* output tile side, transformed tile elements (m + 2)^2 */
    int th, tw, rows; /* tile rows and columns per image, tile rows of the whole batch */
    int chunk_rows;   /* tile rows per chunk */
    int cout_pad;     /* cout rounded up to a multiple of TILE_CO */
    size_t u, v, mm;  /* float offsets of U, V and M in the scratch buffer */
    size_t bytes;     /* scratch needed */
} wino_plan;

static size_t chunk_cols(const wino_plan *pl, int rows) {
    return round_up((size_t)rows * (size_t)pl->tw, TILE_ALIGN);
}

static int make_plan(const clseg_device_info *dev, const op_call *call, const op_config *cfg,
                     wino_plan *pl) {
    const conv2d_params *p = &call->p.conv;
    shape4 ys;
    if (!conv2d_out_shape(call->in[0].s, p, &ys)) return 0;
    pl->m = cfg->v[P_WINO_M];
    pl->ne = (pl->m + 2) * (pl->m + 2);
    pl->th = (ys.h + pl->m - 1) / pl->m;
    pl->tw = (ys.w + pl->m - 1) / pl->m;
    pl->cout_pad = (int)round_up((size_t)p->cout, (size_t)cfg->v[P_TILE_CO]);
    if ((size_t)ys.n * (size_t)pl->th > (size_t)1 << 30) return 0;
    pl->rows = ys.n * pl->th;
    const size_t ne = (size_t)pl->ne, floats = scratch_budget(dev) / sizeof(float);
    const size_t u = ne * (size_t)p->cin * (size_t)pl->cout_pad;
    const size_t per_col = ne * ((size_t)p->cin + (size_t)pl->cout_pad);
    /* As many whole tile rows as fit; at least one. */
    if (floats < u || (floats - u) / per_col < chunk_cols(pl, 1)) return 0;
    size_t fit = ((floats - u) / per_col - TILE_ALIGN) / (size_t)pl->tw;
    pl->chunk_rows = (int)CLSEG_MIN(CLSEG_MAX(fit, (size_t)1), (size_t)pl->rows);
    const size_t cols = chunk_cols(pl, pl->chunk_rows);
    /* The kernels take float offsets into the scratch as int. */
    if (u + per_col * cols > floats || u + per_col * cols > (size_t)INT_MAX) return 0;
    pl->u = 0;
    pl->v = u;
    pl->mm = u + ne * (size_t)p->cin * cols;
    pl->bytes = (pl->mm + ne * (size_t)pl->cout_pad * cols) * sizeof(float);
    return 1;
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
    if (cfg->v[P_TILE_CO] < 1) return op_refuse(why, why_len, "TILE_CO %d < 1", cfg->v[P_TILE_CO]);
    if (tt < 1 || tt > TILE_ALIGN || (tt & (tt - 1)))
        return op_refuse(why, why_len, "TILE_T %d is not a power of 2 up to %d", tt, TILE_ALIGN);
    if (!make_plan(dev, call, cfg, &pl))
        return op_refuse(why, why_len,
                         "the transformed tiles do not fit the scratch budget or the device");
    return 1;
}

static clseg_status kernels(clseg_context *ctx, const op_config *cfg, cl_kernel k[4]) {
    char defines[160];
    variant_defines(ctx, &conv2d_winograd, cfg, defines, sizeof defines);
    static const char *const names[4] = {"wino_weights", "wino_input", "wino_gemm", "wino_output"};
    for (int i = 0; i < 4; i++) {
        clseg_status st = ctx_kernel(ctx, "conv2d_winograd", defines, names[i], &k[i]);
        if (st != CLSEG_OK) return st;
    }
    return CLSEG_OK;
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
        const size_t cols = chunk_cols(&pl, rows);
        const size_t tr = (size_t)cfg->v[P_TRANS_T];
        size_t g_in[3] = {((size_t)pl.tw + tr - 1) / tr, (size_t)rows, (size_t)p->cin}, l_in[3];
        launch_local_size(&ctx->info, g_in, l_in);
        st = CTX_RUN(ctx, k[1], 3, g_in, l_in, KARG_MEM(call->in[0].mem), KARG_MEM(s),
                     KARG_INT(pl.v), KARG_INT(p->cin), KARG_INT(xs.h), KARG_INT(xs.w),
                     KARG_INT(p->pad), KARG_INT(pl.th), KARG_INT(pl.tw), KARG_INT(r0),
                     KARG_INT(rows), KARG_INT(cols));
        if (st != CLSEG_OK) break;
        size_t g_mm[3] = {(size_t)pl.cout_pad / (size_t)cfg->v[P_TILE_CO],
                          cols / (size_t)cfg->v[P_TILE_T], (size_t)pl.ne},
               l_mm[3];
        const size_t want[3] = {(size_t)cfg->v[P_WG_X], (size_t)cfg->v[P_WG_Y], 1};
        launch_clamp_local(&ctx->info, ctx_kernel_max_group(ctx, k[2]), want, g_mm, l_mm);
        st = CTX_RUN(ctx, k[2], 3, g_mm, l_mm, KARG_MEM(s), KARG_MEM(s), KARG_INT(pl.u),
                     KARG_INT(pl.v), KARG_INT(pl.mm), KARG_INT(p->cin), KARG_INT(pl.cout_pad),
                     KARG_INT(cols));
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
