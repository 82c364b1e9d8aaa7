/* winograd.c - the chunk plan and the channel GEMMs shared by the Winograd variants. */
#include "winograd.h"

#include <limits.h>
#include <stdio.h>

#include "launch_helpers.h"
#include "variant_util.h"

size_t wino_chunk_cols(const wino_plan *pl, int rows) {
    return round_up((size_t)rows * (size_t)pl->tw, WINO_TILE_ALIGN);
}

int wino_plan_make(const clseg_device_info *dev, int n, int th, int tw, int cin, int cout,
                   int tile_co, int alpha, int u_side, wino_plan *pl) {
    if (n < 1 || th < 1 || tw < 1 || cin < 1 || cout < 1 || tile_co < 1 || alpha < 1 ||
        u_side < 1 || u_side > alpha)
        return 0;
    if ((size_t)n * (size_t)th > (size_t)1 << 30) return 0;
    pl->alpha = alpha;
    pl->u_side = u_side;
    pl->th = th;
    pl->tw = tw;
    pl->rows = n * th;
    pl->cin = cin;
    pl->cout_pad = (int)round_up((size_t)cout, (size_t)tile_co);
    const size_t ne = (size_t)alpha * (size_t)alpha, nu = (size_t)u_side * (size_t)u_side;
    const size_t floats = scratch_budget(dev) / sizeof(float);
    const size_t u = nu * (size_t)cin * (size_t)pl->cout_pad;
    const size_t per_col = ne * ((size_t)cin + (size_t)pl->cout_pad);
    /* As many whole tile rows as fit; at least one. */
    if (floats < u || (floats - u) / per_col < wino_chunk_cols(pl, 1)) return 0;
    size_t fit = ((floats - u) / per_col - WINO_TILE_ALIGN) / (size_t)tw;
    pl->chunk_rows = (int)CLSEG_MIN(CLSEG_MAX(fit, (size_t)1), (size_t)pl->rows);
    const size_t cols = wino_chunk_cols(pl, pl->chunk_rows);
    /* The kernels take float offsets into the scratch as int. */
    if (u + per_col * cols > floats || u + per_col * cols > (size_t)INT_MAX) return 0;
    pl->u = 0;
    pl->v = u;
    pl->mm = u + ne * (size_t)cin * cols;
    pl->bytes = (pl->mm + ne * (size_t)pl->cout_pad * cols) * sizeof(float);
    return 1;
}

int wino_gemm_supports(int tile_co, int tile_t, char *why, size_t why_len) {
    if (tile_co < 1) return op_refuse(why, why_len, "TILE_CO %d < 1", tile_co);
    if (tile_t < 1 || tile_t > WINO_TILE_ALIGN || (tile_t & (tile_t - 1)))
        return op_refuse(why, why_len, "TILE_T %d is not a power of 2 up to %d", tile_t,
                         WINO_TILE_ALIGN);
    return 1;
}

/* Only the register tile is compiled in: the conv and deconv variants share one program. */
clseg_status wino_gemm_kernel(clseg_context *ctx, int tile_co, int tile_t, cl_kernel *k) {
    char defines[96];
    snprintf(defines, sizeof defines, "-DTILE_CO=%d -DTILE_T=%d%s", tile_co, tile_t,
             ctx_has_fma(ctx) ? " -DUSE_FMA=1" : "");
    return ctx_kernel(ctx, "winograd_gemm", defines, "wino_gemm", k);
}

clseg_status wino_gemm_run(clseg_context *ctx, cl_kernel k, cl_mem s, const wino_plan *pl,
                           size_t cols, int tile_co, int tile_t, int wg_x, int wg_y) {
    size_t gws[3] = {(size_t)pl->cout_pad / (size_t)tile_co, cols / (size_t)tile_t,
                     (size_t)pl->alpha * (size_t)pl->alpha},
           lws[3];
    const size_t want[3] = {(size_t)wg_x, (size_t)wg_y, 1};
    launch_clamp_local(&ctx->info, ctx_kernel_max_group(ctx, k), want, gws, lws);
    return CTX_RUN(ctx, k, 3, gws, lws, KARG_MEM(s), KARG_MEM(s), KARG_INT(pl->u), KARG_INT(pl->v),
                   KARG_INT(pl->mm), KARG_INT(pl->cin), KARG_INT(pl->cout_pad), KARG_INT(cols),
                   KARG_INT(pl->alpha), KARG_INT(pl->u_side));
}

clseg_status wino_kernels(clseg_context *ctx, const op_variant *v, const op_config *cfg,
                          const char *program, const char *const names[3], int tile_co, int tile_t,
                          cl_kernel k[4]) {
    char defines[160];
    variant_defines(ctx, v, cfg, defines, sizeof defines);
    clseg_status st = wino_gemm_kernel(ctx, tile_co, tile_t, &k[2]);
    for (int i = 0; i < 3 && st == CLSEG_OK; i++)
        st = ctx_kernel(ctx, program, defines, names[i], &k[i < 2 ? i : 3]);
    return st;
}
