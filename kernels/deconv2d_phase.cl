/* deconv2d_phase.cl - transposed 2-D convolution decomposed by output phase. In coordinates
   shifted by the padding, o' = o + pad = STRIDE * q + p with phase p < STRIDE, output o' only
   receives the taps k = p + STRIDE * m (m >= 0), from input q - m. So each of the STRIDE^2 phases
   is a dense convolution of the input with a sub-kernel, and no inserted zero is ever
   multiplied. A work-item computes every phase of TILE_X consecutive q positions of one q row
   for TILE_CO output channels: the phases share their input loads, and their outputs interleave
   into STRIDE * TILE_X consecutive pixels of a row. */

/* Tunables (a tuned variant is the same source with other -D values):
   TILE_CO  output channels per work-item (any value >= 1)
   TILE_X   q positions per work-item, one float vector: 1, 2, 4, 8 or 16
   The call's KSIZE and STRIDE are compile-time, so every phase's taps unroll. */
#ifndef TILE_CO
#define TILE_CO 4
#endif
#ifndef TILE_X
#define TILE_X 8
#endif
#ifndef KSIZE
#define KSIZE 3
#endif
#ifndef STRIDE
#define STRIDE 2
#endif

#define VEC          FLOATN(TILE_X)
#define VLOAD(p)     VLOADN(TILE_X, p)
#define VSTORE(v, p) VSTOREN(TILE_X, v, p)

#define KK   (KSIZE * KSIZE)
#define TAPS ((KSIZE - 1) / STRIDE + 1) /* taps per phase and axis, at most */

/* The input of one image copied with zero borders: TAPS - 1 rows above and columns left, and
   enough below and right that every q of the grid reads inside (the host sizes it), so the
   convolution below needs no bounds checks. Rows outermost ([hp][cin][wp]), so that the
   channel loop below walks through memory in short strides. x: [n][cin][h][w] (image n).
   Global size (wp, hp, cin). */
__kernel void deconv2d_phase_pad(__global const float *restrict x, __global float *restrict xp,
                                 int cin, int h, int w, int hp, int wp, int n) {
    const int px = (int)get_global_id(0), py = (int)get_global_id(1), ci = (int)get_global_id(2);
    if (px >= wp || py >= hp || ci >= cin) return;
    const int iy = py - (TAPS - 1), ix = px - (TAPS - 1);
    xp[((size_t)py * cin + ci) * wp + px] = (iy >= 0 && iy < h && ix >= 0 && ix < w)
                                                ? x[(((size_t)n * cin + ci) * h + iy) * w + ix]
                                                : 0.0f;
}

/* xp: the padded input of image n (deconv2d_phase_pad)   weight: [cin][cout][KSIZE][KSIZE]
   bias: [cout] or NULL   y: [n][cout][oh][ow]. q runs from pad / STRIDE to (o_max + pad) /
   STRIDE on each axis. Global size (ceil(qw / TILE_X), ceil(cout / TILE_CO), qh), qw and qh
   those counts: a q row's channel groups run one after the other, while its input rows are in
   cache. */
__kernel void deconv2d_phase(__global const float *restrict xp,
                             __global const float *restrict weight,
                             __global const float *restrict bias, __global float *restrict y,
                             int cin, int hp, int wp, int cout, int oh, int ow, int pad, int relu,
                             int n) {
    const int q_first = pad / STRIDE;
    const int qx0 = q_first + (int)get_global_id(0) * TILE_X;
    const int qy = q_first + (int)get_global_id(2);
    const int co_groups = (cout + TILE_CO - 1) / TILE_CO;
    const int cg = (int)get_global_id(1);
    const int ox0 = STRIDE * qx0 - pad, oy0 = STRIDE * qy - pad;
    if (ox0 >= ow || oy0 >= oh || cg >= co_groups) return;
    /* The last block overlaps its neighbour instead of running past cout (cout >= TILE_CO): the
       shared channels get the same values from both, and every weight access below is one
       pointer plus a constant. */
    const int co0 = min(cg * TILE_CO, cout - TILE_CO);
    const size_t row_stride = (size_t)cin * wp;
    /* Input (q - my, q - mx) is padded element (q - my + TAPS - 1, q - mx + TAPS - 1). */
    __global const float *xq = xp + (size_t)qy * row_stride + qx0;

    VEC acc[STRIDE][STRIDE][TILE_CO];
#pragma unroll
    for (int c = 0; c < TILE_CO; c++) {
        const float b = bias ? bias[co0 + c] : 0.0f;
#pragma unroll
        for (int py = 0; py < STRIDE; py++)
#pragma unroll
            for (int px = 0; px < STRIDE; px++) acc[py][px][c] = (VEC)b;
    }
    __global const float *wp0 = weight + (size_t)co0 * KK;
    const size_t w_per_ci = (size_t)cout * KK;

    for (int ci = 0; ci < cin; ci++) {
        __global const float *xc = xq + (size_t)ci * wp;
        /* Input vectors at row offset -my and column offset -mx. */
        VEC xv[TAPS][TAPS];
#pragma unroll
        for (int my = 0; my < TAPS; my++)
#pragma unroll
            for (int mx = 0; mx < TAPS; mx++)
                xv[my][mx] = VLOAD(xc + (size_t)(TAPS - 1 - my) * row_stride + (TAPS - 1 - mx));
        __global const float *wc = wp0 + (size_t)ci * w_per_ci;
#pragma unroll
        for (int py = 0; py < STRIDE; py++)
#pragma unroll
            for (int my = 0; my < TAPS; my++) {
                const int ky = py + STRIDE * my;
                if (ky >= KSIZE) continue;
#pragma unroll
                for (int px = 0; px < STRIDE; px++)
#pragma unroll
                    for (int mx = 0; mx < TAPS; mx++) {
                        const int kx = px + STRIDE * mx;
                        if (kx >= KSIZE) continue;
#pragma unroll
                        for (int c = 0; c < TILE_CO; c++)
                            acc[py][px][c] =
                                MAD((VEC)wc[c * KK + ky * KSIZE + kx], xv[my][mx], acc[py][px][c]);
                    }
            }
    }

    const size_t out_plane = (size_t)oh * ow;
    const int full_x = ox0 >= 0 && ox0 + STRIDE * TILE_X <= ow;
#pragma unroll
    for (int c = 0; c < TILE_CO; c++) {
        __global float *yc = y + ((size_t)n * cout + co0 + c) * out_plane;
#pragma unroll
        for (int py = 0; py < STRIDE; py++) {
            const int oy = oy0 + py;
            if (oy < 0 || oy >= oh) continue;
            /* The phases' vectors interleaved into STRIDE * TILE_X consecutive outputs. */
            float row[STRIDE * TILE_X];
#pragma unroll
            for (int px = 0; px < STRIDE; px++) {
                VEC v = relu ? fmax(acc[py][px][c], (VEC)0.0f) : acc[py][px][c];
                float vs[TILE_X];
                VSTORE(v, vs);
#pragma unroll
                for (int j = 0; j < TILE_X; j++) row[j * STRIDE + px] = vs[j];
            }
            __global float *yr = yc + (size_t)oy * ow;
            if (full_x) {
#pragma unroll
                for (int s = 0; s < STRIDE; s++)
                    VSTORE(VLOAD(row + s * TILE_X), yr + ox0 + s * TILE_X);
            } else {
                for (int j = 0; j < STRIDE * TILE_X; j++)
                    if (ox0 + j >= 0 && ox0 + j < ow) yr[ox0 + j] = row[j];
            }
        }
    }
}
