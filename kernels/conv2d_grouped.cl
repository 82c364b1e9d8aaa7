/* conv2d_grouped.cl - grouped (depthwise when every group has one channel) and dilated 2-D
   convolution: each work-item computes TILE_X consecutive output pixels of one row of one output
   channel, reading only its group's input channels, with bias and a fused activation. */

/* Tunable: TILE_X, output pixels per work-item along x: 1, 2, 4, 8 or 16 (one float vector). */
#ifndef TILE_X
#define TILE_X 8
#endif

#define VEC          FLOATN(TILE_X)
#define VLOAD(p)     VLOADN(TILE_X, p)
#define VSTORE(v, p) VSTOREN(TILE_X, v, p)

/* x: [n][cin][h][w]   weight: [cout][cin / groups][k][k]   bias: [cout] or NULL
   y: [n][cout][oh][ow]. Global size (ceil(ow / TILE_X), oh, n * cout). */
__kernel void conv2d_grouped(__global const float *restrict x,
                             __global const float *restrict weight,
                             __global const float *restrict bias, __global float *restrict y,
                             int cin, int h, int w, int cout, int oh, int ow, int k, int stride,
                             int pad, int dil, int groups, int act, int batch) {
    const int ox0 = (int)get_global_id(0) * TILE_X;
    const int oy = (int)get_global_id(1);
    const int nz = (int)get_global_id(2);
    if (ox0 >= ow || oy >= oh || nz >= batch * cout) return;
    const int n = nz / cout, co = nz - n * cout;
    const int cin_g = cin / groups, g = co / (cout / groups);
    const size_t in_plane = (size_t)h * w;
    __global const float *xg = x + ((size_t)n * cin + (size_t)g * cin_g) * in_plane;
    __global const float *wc = weight + (size_t)co * cin_g * k * k;
    VEC acc = (VEC)(bias ? bias[co] : 0.0f);

    const int ix0 = ox0 * stride - pad;
    /* every tap of the tile inside the row: one vector load per tap */
    const int interior = stride == 1 && ix0 >= 0 && ix0 + TILE_X - 1 + (k - 1) * dil < w;
    for (int ci = 0; ci < cin_g; ci++, wc += k * k) {
        __global const float *xc = xg + (size_t)ci * in_plane;
        for (int ky = 0; ky < k; ky++) {
            const int iy = oy * stride - pad + ky * dil;
            if (iy < 0 || iy >= h) continue;
            __global const float *xr = xc + (size_t)iy * w;
            for (int kx = 0; kx < k; kx++) {
                VEC xv;
                if (interior) {
                    xv = VLOAD(xr + ix0 + kx * dil);
                } else {
                    float xs[TILE_X];
#pragma unroll
                    for (int j = 0; j < TILE_X; j++) {
                        const int ix = ix0 + j * stride + kx * dil;
                        xs[j] = (ix >= 0 && ix < w) ? xr[ix] : 0.0f;
                    }
                    xv = VLOAD(xs);
                }
                acc = MAD((VEC)wc[ky * k + kx], xv, acc);
            }
        }
    }
    VEC v = ACT(acc, act);
    __global float *yc = y + ((size_t)n * cout + co) * oh * ow + (size_t)oy * ow + ox0;
    if (ox0 + TILE_X <= ow) {
        VSTORE(v, yc);
    } else {
        float vs[TILE_X];
        VSTORE(v, vs);
        for (int j = 0; j < TILE_X && ox0 + j < ow; j++) yc[j] = vs[j];
    }
}
