/* backward_conv_flat.cl - weight gradient of a 2-D convolution as one long contiguous dot product
   per tap, over copies of the operands padded so that no row boundary needs a check.

   For a conv from a (h x w) to b (oh x ow) with stride S, pad p and side k:
     dw[co][ci][ky][kx] = sum over n, oy, ox of b[co][oy][ox] * a[ci][oy*S - p + ky][ox*S - p + kx]
   The input, zero-bordered and split into its S x S phases, is
     ap[ci][py][px][I][J] = a[ci][I*S + py - p][J*S + px - p]   (0 outside a),
   so tap (ky, kx) reads phase (ky % S, kx % S) at row oy + ky / S and column ox + kx / S. With
   the phase planes and b's copy bp both WQ columns wide (bp zero past column ow, WQ >= ow +
   (k - 1) / S), the sum over (oy, ox) becomes a sum over t = oy * WQ + ox of
     bp[co][t] * ap[ci][phase][t + (ky / S) * WQ + kx / S]:
   the terms that would wrap into the next row meet bp's zero columns. One work-item computes a
   TILE_CO x TILE_CI block of one tap with vector multiply-adds over t, then sums the lanes.

   Tunables (a tuned variant is the same source with other -D values):
   TILE_CO  b channels per work-item (any value >= 1)
   TILE_CI  a channels per work-item (any value >= 1)
   VW       floats per vector: 4, 8 or 16
   STRIDE   the conv's stride (compiled in, any value >= 1) */
#ifndef TILE_CO
#define TILE_CO 4
#endif
#ifndef TILE_CI
#define TILE_CI 4
#endif
#ifndef VW
#define VW 16
#endif
#ifndef STRIDE
#define STRIDE 1
#endif

#define VEC      FLOATN(VW)
#define VLOAD(p) VLOADN(VW, p)
#define HSUM(v)  HSUMN(VW, v)

#define PHASES (STRIDE * STRIDE)

/* ap[z][t] for z = ci * PHASES + phase and t = I * wq + J < plane, from image n of
   a: [n][c][h][w]. Global size (plane, c * PHASES). */
__kernel void wgrad_pack_a(__global const float *restrict a, __global float *restrict ap, int c,
                           int h, int w, int wq, int plane, int pad, int n) {
    const int t = (int)get_global_id(0), z = (int)get_global_id(1);
    if (t >= plane || z >= c * PHASES) return;
    const int ci = z / PHASES, phase = z - ci * PHASES;
    const int py = phase / STRIDE, px = phase - py * STRIDE;
    const int row = t / wq, col = t - row * wq;
    const int iy = row * STRIDE + py - pad, ix = col * STRIDE + px - pad;
    ap[(size_t)z * plane + t] = (iy >= 0 && iy < h && ix >= 0 && ix < w)
                                    ? a[(((size_t)n * c + ci) * h + iy) * w + ix]
                                    : 0.0f;
}

/* bp[co][t] for t = oy * wq + ox < plane, at float b_off of the buffer: image n of
   b: [n][c][oh][ow], zero past column ow and row oh. Global size (plane, c). */
__kernel void wgrad_pack_b(__global const float *restrict b, __global float *restrict bp, int c,
                           int oh, int ow, int wq, int plane, int b_off, int n) {
    const int t = (int)get_global_id(0), co = (int)get_global_id(1);
    if (t >= plane || co >= c) return;
    const int oy = t / wq, ox = t - oy * wq;
    bp[(size_t)b_off + (size_t)co * plane + t] =
        (oy < oh && ox < ow) ? b[(((size_t)n * c + co) * oh + oy) * ow + ox] : 0.0f;
}

/* dw[co][ci][ky][kx] = (accumulate ? dw : 0) + sum over t < len of bp[co][t] * ap[ci, tap][t + off]
   with len a multiple of VW; packed holds ap at float 0 and bp at float b_off, a_plane and
   b_plane floats per plane. Global size (k * k, ceil(cin / TILE_CI), ceil(cout / TILE_CO)). */
__kernel void wgrad_flat(__global const float *restrict packed, __global float *restrict dw,
                         int cin, int cout, int k, int wq, int a_plane, int b_plane, int b_off,
                         int len, int accumulate) {
    __global const float *ap = packed, *bp = packed + b_off;
    const int tap = (int)get_global_id(0);
    const int ci0 = (int)get_global_id(1) * TILE_CI, co0 = (int)get_global_id(2) * TILE_CO;
    if (tap >= k * k || ci0 >= cin || co0 >= cout) return;
    const int ky = tap / k, kx = tap - (tap / k) * k;
    const int phase = (ky % STRIDE) * STRIDE + kx % STRIDE;
    const int off = (ky / STRIDE) * wq + kx / STRIDE;
    /* Channels past the end re-read the last real one and are never stored. */
    __global const float *ar[TILE_CI];
    __global const float *br[TILE_CO];
#pragma unroll
    for (int j = 0; j < TILE_CI; j++)
        ar[j] = ap + ((size_t)min(ci0 + j, cin - 1) * PHASES + phase) * a_plane + off;
#pragma unroll
    for (int c = 0; c < TILE_CO; c++) br[c] = bp + (size_t)min(co0 + c, cout - 1) * b_plane;

    VEC acc[TILE_CO][TILE_CI];
#pragma unroll
    for (int c = 0; c < TILE_CO; c++)
#pragma unroll
        for (int j = 0; j < TILE_CI; j++) acc[c][j] = (VEC)0.0f;
    for (int t = 0; t < len; t += VW) {
        VEC av[TILE_CI], bv[TILE_CO];
#pragma unroll
        for (int j = 0; j < TILE_CI; j++) av[j] = VLOAD(ar[j] + t);
#pragma unroll
        for (int c = 0; c < TILE_CO; c++) bv[c] = VLOAD(br[c] + t);
#pragma unroll
        for (int c = 0; c < TILE_CO; c++)
#pragma unroll
            for (int j = 0; j < TILE_CI; j++) acc[c][j] = MAD(bv[c], av[j], acc[c][j]);
    }
#pragma unroll
    for (int c = 0; c < TILE_CO; c++) {
        if (co0 + c >= cout) break;
#pragma unroll
        for (int j = 0; j < TILE_CI; j++) {
            if (ci0 + j >= cin) break;
            const size_t i = (((size_t)(co0 + c) * cin + ci0 + j) * k + ky) * k + kx;
            const float s = HSUM(acc[c][j]);
            dw[i] = accumulate ? dw[i] + s : s;
        }
    }
}
