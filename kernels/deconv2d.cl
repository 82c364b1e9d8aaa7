/* deconv2d.cl - transposed 2-D convolution (PyTorch ConvTranspose2d) in gather form: each
   work-item sums the input taps that reach its outputs, so no two work-items write one pixel. */

/* Tunables (a tuned variant is the same source with other -D values):
   TILE_CO  output channels per work-item (any value >= 1)
   TILE_X   output pixels per work-item: 1, 2, 4, 8 or 16, taken `stride` apart along x */
#ifndef TILE_CO
#define TILE_CO 16
#endif
#ifndef TILE_X
#define TILE_X 16
#endif

#define VEC          FLOATN(TILE_X)
#define VLOAD(p)     VLOADN(TILE_X, p)
#define VSTORE(v, p) VSTOREN(TILE_X, v, p)

/* Output column ox = px + stride * q has phase px = ox % stride. Only kernel columns
   kx = (px + pad) % stride + m * stride reach it, from input column ix = q + (px + pad - kx) /
   stride. A work-item takes TILE_X outputs of one phase (q = q0 .. q0 + TILE_X - 1), so they share
   the same taps and read TILE_X consecutive input pixels per tap.

   x: [n][cin][h][w]   weight: [cin][cout][k][k]   bias: [cout] or NULL   y: [n][cout][oh][ow]
   Global size: (stride * q_tiles, oh, n * ceil(cout / TILE_CO)) with
   q_tiles = ceil(ceil(ow / stride) / TILE_X); extra work-items return. */
__kernel void deconv2d_gather(__global const float *restrict x,
                              __global const float *restrict weight,
                              __global const float *restrict bias, __global float *restrict y,
                              int cin, int h, int w, int cout, int oh, int ow, int k, int stride,
                              int pad, int relu, int batch) {
    const int q_tiles = ((ow + stride - 1) / stride + TILE_X - 1) / TILE_X;
    const int gx = (int)get_global_id(0);
    const int oy = (int)get_global_id(1);
    const int co_groups = (cout + TILE_CO - 1) / TILE_CO;
    const int nz = (int)get_global_id(2);
    if (gx >= stride * q_tiles || oy >= oh || nz >= batch * co_groups) return;
    /* Neighbouring work-items share a phase, hence the same taps and control flow. */
    const int px = gx / q_tiles;
    const int q0 = (gx - px * q_tiles) * TILE_X;
    if (px + stride * q0 >= ow) return;
    const int n = nz / co_groups;
    const int co0 = (nz - n * co_groups) * TILE_CO;

    const int kk = k * k;
    const size_t in_plane = (size_t)h * w;
    __global const float *xn = x + (size_t)n * cin * in_plane;

    /* Channels past cout read the last real channel's weights and are never stored. */
    __global const float *wco[TILE_CO];
    VEC acc[TILE_CO];
#pragma unroll
    for (int c = 0; c < TILE_CO; c++) {
        const int co = min(co0 + c, cout - 1);
        wco[c] = weight + (size_t)co * kk;
        acc[c] = (VEC)(bias ? bias[co] : 0.0f);
    }
    const size_t w_per_ci = (size_t)cout * kk;
    const int ky0 = (oy + pad) % stride;
    const int kx0 = (px + pad) % stride;

    for (int ci = 0; ci < cin; ci++) {
        __global const float *xc = xn + (size_t)ci * in_plane;
        const size_t woff_c = (size_t)ci * w_per_ci;
        for (int ky = ky0; ky < k; ky += stride) {
            const int ty = oy + pad - ky;
            if (ty < 0) break;
            const int iy = ty / stride;
            if (iy >= h) continue;
            __global const float *xr = xc + (size_t)iy * w;
            const size_t woff = woff_c + (size_t)ky * k;
            for (int kx = kx0; kx < k; kx += stride) {
                /* px + pad - kx is a multiple of stride, so this division is exact. */
                const int ix0 = q0 + (px + pad - kx) / stride;
                VEC xv;
                if (ix0 >= 0 && ix0 + TILE_X <= w) {
                    xv = VLOAD(xr + ix0);
                } else {
                    float xs[TILE_X];
#pragma unroll
                    for (int j = 0; j < TILE_X; j++) {
                        const int ix = ix0 + j;
                        xs[j] = (ix >= 0 && ix < w) ? xr[ix] : 0.0f;
                    }
                    xv = VLOAD(xs);
                }
#pragma unroll
                for (int c = 0; c < TILE_CO; c++) acc[c] = MAD((VEC)wco[c][woff + kx], xv, acc[c]);
            }
        }
    }

    const size_t out_plane = (size_t)oh * ow;
    __global float *yp = y + ((size_t)n * cout + co0) * out_plane + (size_t)oy * ow + px;
#pragma unroll
    for (int c = 0; c < TILE_CO; c++) {
        if (co0 + c >= cout) continue;
        VEC v = relu ? fmax(acc[c], (VEC)0.0f) : acc[c];
        __global float *yc = yp + (size_t)c * out_plane;
        if (stride == 1 && q0 + TILE_X <= ow) {
            VSTORE(v, yc + q0);
            continue;
        }
        float vs[TILE_X];
        VSTORE(v, vs);
#pragma unroll
        for (int j = 0; j < TILE_X; j++) {
            const int ox = px + stride * (q0 + j);
            if (ox >= ow) continue;
            yc[stride * (q0 + j)] = vs[j];
        }
    }
}
