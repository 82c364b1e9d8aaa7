/* winograd_gemm.cl - the channel GEMMs of the Winograd variants (conv2d_winograd.cl,
   deconv2d_winograd.cl): one independent GEMM per element of the transformed tile. */

/* Tunables (a tuned variant is the same source with other -D values):
   TILE_CO  output channels per work-item (any value >= 1)
   TILE_T   tiles per work-item: 1, 2, 4, 8 or 16 (one float vector), or 32 (two of 16, so that
            each broadcast weight feeds two FMAs) */
#ifndef TILE_CO
#define TILE_CO 8
#endif
#ifndef TILE_T
#define TILE_T 16
#endif
#if TILE_T > 16
#define VW 16
#else
#define VW TILE_T
#endif
#define NV (TILE_T / VW) /* vectors per channel */

#define VEC          FLOATN(VW)
#define VLOAD(p)     VLOADN(VW, p)
#define VSTORE(v, p) VSTOREN(VW, v, p)

/* The operands share one scratch buffer, at float offsets:
     U[ue][ci][cout_pad]     transformed weights (zero past cout)
     V[e][ci][tc_pad]        transformed input tiles
     M[e][cout_pad][tc_pad]  their products, summed over ci
   e = alpha * row + column of the transformed tile (alpha x alpha elements). Rows and columns at
   or past u_side - 1 share the weights of u_side - 1 (ue = u_side * min(row, u_side - 1) +
   min(column, u_side - 1)): the transposed conv's odd phases, whose 1-tap filter is the same at
   every position; u_side = alpha maps e to itself.
   M[e] = U[ue]^T V[e]: each work-item a register tile of TILE_CO channels x TILE_T tiles.
   cout_pad is a multiple of TILE_CO and tc_pad of TILE_T, so the tile is always whole.
   Global size (cout_pad / TILE_CO, tc_pad / TILE_T, alpha^2). */
__kernel void wino_gemm(__global const float *restrict s_in, __global float *restrict s_out,
                        int u_off, int v_off, int m_off, int cin, int cout_pad, int tc_pad,
                        int alpha, int u_side) {
    const int co0 = (int)get_global_id(0) * TILE_CO, t0 = (int)get_global_id(1) * TILE_T;
    const int e = (int)get_global_id(2);
    if (co0 >= cout_pad || t0 >= tc_pad || e >= alpha * alpha) return;
    const int row = e / alpha, col = e - row * alpha;
    const int ue = u_side * min(row, u_side - 1) + min(col, u_side - 1);
    __global const float *u = s_in + u_off + (size_t)ue * cin * cout_pad + co0;
    __global const float *v = s_in + v_off + (size_t)e * cin * tc_pad + t0;
    VEC acc[TILE_CO][NV];
#pragma unroll
    for (int c = 0; c < TILE_CO; c++)
#pragma unroll
        for (int j = 0; j < NV; j++) acc[c][j] = (VEC)0.0f;
    for (int ci = 0; ci < cin; ci++) {
        VEC xv[NV];
#pragma unroll
        for (int j = 0; j < NV; j++) xv[j] = VLOAD(v + j * VW);
#pragma unroll
        for (int c = 0; c < TILE_CO; c++) {
            const VEC uc = (VEC)u[c];
#pragma unroll
            for (int j = 0; j < NV; j++) acc[c][j] = MAD(uc, xv[j], acc[c][j]);
        }
        u += cout_pad;
        v += tc_pad;
    }
    __global float *m = s_out + m_off + ((size_t)e * cout_pad + co0) * tc_pad + t0;
#pragma unroll
    for (int c = 0; c < TILE_CO; c++)
#pragma unroll
        for (int j = 0; j < NV; j++) VSTORE(acc[c][j], m + (size_t)c * tc_pad + j * VW);
}
