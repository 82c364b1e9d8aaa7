/* conv2d.cl - direct 2-D convolution: each work-item computes a register tile of TILE_CO output
   channels x TILE_X consecutive output pixels of one row, with bias and optional ReLU. */

/* Tunables (a tuned variant is the same source with other -D values):
   TILE_CO  output channels per work-item (any value >= 1)
   TILE_X   output pixels per work-item along x: 1, 2, 4, 8 or 16 (one float vector) */
#ifndef TILE_CO
#define TILE_CO 16
#endif
#ifndef TILE_X
#define TILE_X 16
#endif

#define VEC          FLOATN(TILE_X)
#define VLOAD(p)     VLOADN(TILE_X, p)
#define VSTORE(v, p) VSTOREN(TILE_X, v, p)

/* x: [n][cin][h][w]   weight: [cout][cin][k][k]   bias: [cout] or NULL   y: [n][cout][oh][ow]
   Global size: (ceil(ow / TILE_X), oh, n * ceil(cout / TILE_CO)); extra work-items return. */
__kernel void conv2d_direct(__global const float *restrict x, __global const float *restrict weight,
                            __global const float *restrict bias, __global float *restrict y,
                            int cin, int h, int w, int cout, int oh, int ow, int k, int stride,
                            int pad, int act, int batch) {
    const int ox0 = (int)get_global_id(0) * TILE_X;
    const int oy = (int)get_global_id(1);
    const int co_groups = (cout + TILE_CO - 1) / TILE_CO;
    const int nz = (int)get_global_id(2);
    if (ox0 >= ow || oy >= oh || nz >= batch * co_groups) return;
    const int n = nz / co_groups;
    const int co0 = (nz - n * co_groups) * TILE_CO;

    const int kk = k * k;
    const size_t in_plane = (size_t)h * w;
    __global const float *xn = x + (size_t)n * cin * in_plane;

    /* Channels past cout read the last real channel's weights (always in bounds) and are never
       stored, which keeps the inner loop free of channel checks. */
    __global const float *wco[TILE_CO];
    VEC acc[TILE_CO];
#pragma unroll
    for (int c = 0; c < TILE_CO; c++) {
        const int co = min(co0 + c, cout - 1);
        wco[c] = weight + (size_t)co * cin * kk;
        acc[c] = (VEC)(bias ? bias[co] : 0.0f);
    }

    const int ix0 = ox0 * stride - pad;
    /* Whether every tap of this tile lies inside the row: then one vector load per tap. */
    const int interior = stride == 1 && ix0 >= 0 && ix0 + TILE_X - 1 + k - 1 < w;

    for (int ci = 0; ci < cin; ci++) {
        __global const float *xc = xn + (size_t)ci * in_plane;
        const int woff_c = ci * kk;
        for (int ky = 0; ky < k; ky++) {
            const int iy = oy * stride - pad + ky;
            if (iy < 0 || iy >= h) continue;
            __global const float *xr = xc + (size_t)iy * w;
            const int woff = woff_c + ky * k;
            for (int kx = 0; kx < k; kx++) {
                VEC xv;
                if (interior) {
                    xv = VLOAD(xr + ix0 + kx);
                } else {
                    float xs[TILE_X];
#pragma unroll
                    for (int j = 0; j < TILE_X; j++) {
                        const int ix = ix0 + j * stride + kx;
                        xs[j] = (ix >= 0 && ix < w) ? xr[ix] : 0.0f;
                    }
                    xv = VLOAD(xs);
                }
#pragma unroll
                for (int c = 0; c < TILE_CO; c++) acc[c] = MAD((VEC)wco[c][woff + kx], xv, acc[c]);
            }
        }
    }

    __global float *yp = y + ((size_t)n * cout + co0) * oh * ow + (size_t)oy * ow + ox0;
    const size_t out_plane = (size_t)oh * ow;
    const int full_x = ox0 + TILE_X <= ow;
#pragma unroll
    for (int c = 0; c < TILE_CO; c++) {
        if (co0 + c >= cout) continue;
        VEC v = ACT(acc[c], act);
        __global float *yc = yp + (size_t)c * out_plane;
        if (full_x) {
            VSTORE(v, yc);
        } else {
            float vs[TILE_X];
            VSTORE(v, vs);
            for (int j = 0; j < TILE_X && ox0 + j < ow; j++) yc[j] = vs[j];
        }
    }
}
