/* conv2d_tiled.cl - direct 2-D convolution tiled in local memory and registers: a work-group
   stages an input tile (with its halo) and the weights of CI_BLOCK input channels in local
   memory; each work-item accumulates TILE_CO output channels x TILE_Y rows x TILE_X pixels. */

/* Tunables (a tuned variant is the same source with other -D values):
   TILE_CO   output channels per work-item (any value >= 1)
   TILE_X    output pixels per work-item along x, one float vector: 1, 2, 4, 8 or 16
   TILE_Y    output rows per work-item (any value >= 1)
   CI_BLOCK  input channels staged per step (any value >= 1)
   WG_X, WG_Y  the work-group shape, which the host launches exactly
   Kernel side and stride are arguments, so one build serves every layer, and the host sizes the
   local buffers for them; the host builds 3x3 layers with KSIZE=3 and STRIDE=s, whose tap loops
   unroll. */
#ifndef TILE_CO
#define TILE_CO 8
#endif
#ifndef TILE_X
#define TILE_X 4
#endif
#ifndef TILE_Y
#define TILE_Y 2
#endif
#ifndef CI_BLOCK
#define CI_BLOCK 4
#endif
#ifndef WG_X
#define WG_X 8
#endif
#ifndef WG_Y
#define WG_Y 4
#endif

#define VEC          FLOATN(TILE_X)
#define VLOAD(p)     VLOADN(TILE_X, p)
#define VSTORE(v, p) VSTOREN(TILE_X, v, p)

#ifdef KSIZE
#define K_SIDE      KSIZE
#define UNROLL_TAPS _Pragma("unroll")
#else
#define K_SIDE k
#define UNROLL_TAPS
#endif
#ifdef STRIDE
#define S_STEP STRIDE
#else
#define S_STEP stride
#endif

#define OUT_W   (WG_X * TILE_X) /* output columns of a work-group */
#define OUT_H   (WG_Y * TILE_Y) /* output rows of a work-group */
#define WG_SIZE (WG_X * WG_Y)

/* x: [n][cin][h][w]   weight: [cout][cin][k][k]   bias: [cout] or NULL   y: [n][cout][oh][ow]
   xl: CI_BLOCK * in_h * in_w floats and wl: CI_BLOCK * k * k * TILE_CO floats of local memory,
   in_w = (OUT_W - 1) * stride + k, in_h = (OUT_H - 1) * stride + k.
   Global size (ceil(ow / OUT_W) * WG_X, ceil(oh / OUT_H) * WG_Y, n * ceil(cout / TILE_CO)),
   local size (WG_X, WG_Y, 1). */
__kernel __attribute__((reqd_work_group_size(WG_X, WG_Y, 1))) void
conv2d_tiled(__global const float *restrict x, __global const float *restrict weight,
             __global const float *restrict bias, __global float *restrict y,
             __local float *restrict xl, __local float *restrict wl, int cin, int h, int w,
             int cout, int oh, int ow, int k, int stride, int pad, int act) {
    const int in_w = (OUT_W - 1) * S_STEP + K_SIDE, in_h = (OUT_H - 1) * S_STEP + K_SIDE;
    const int in_tile = in_h * in_w, kk = K_SIDE * K_SIDE;
    const int lx = (int)get_local_id(0), ly = (int)get_local_id(1);
    const int lid = ly * WG_X + lx;
    const int co_groups = (cout + TILE_CO - 1) / TILE_CO;
    const int gz = (int)get_group_id(2);
    const int n = gz / co_groups, co0 = (gz - n * co_groups) * TILE_CO;
    const int oy_base = (int)get_group_id(1) * OUT_H, ox_base = (int)get_group_id(0) * OUT_W;
    const int iy_base = oy_base * S_STEP - pad, ix_base = ox_base * S_STEP - pad;
    const size_t in_plane = (size_t)h * w;
    __global const float *xn = x + (size_t)n * cin * in_plane;

    VEC acc[TILE_Y][TILE_CO];
#pragma unroll
    for (int c = 0; c < TILE_CO; c++) {
        const float b = bias ? bias[min(co0 + c, cout - 1)] : 0.0f;
#pragma unroll
        for (int t = 0; t < TILE_Y; t++) acc[t][c] = (VEC)b;
    }

    for (int ci0 = 0; ci0 < cin; ci0 += CI_BLOCK) {
        /* Input tile with zeros for padding and for channels past cin. */
        for (int i = lid; i < CI_BLOCK * in_tile; i += WG_SIZE) {
            const int c = i / in_tile, r = i - c * in_tile;
            const int yy = r / in_w, xx = r - yy * in_w;
            const int iy = iy_base + yy, ix = ix_base + xx, ci = ci0 + c;
            xl[i] = (ci < cin && iy >= 0 && iy < h && ix >= 0 && ix < w)
                        ? xn[(size_t)ci * in_plane + (size_t)iy * w + ix]
                        : 0.0f;
        }
        /* Weights as [ci][tap][co], so that a work-item's TILE_CO values are adjacent; zeros
           past cin and cout. */
        for (int i = lid; i < CI_BLOCK * kk * TILE_CO; i += WG_SIZE) {
            const int c = i / (kk * TILE_CO), r = i - c * (kk * TILE_CO);
            const int tap = r / TILE_CO, co = co0 + (r - tap * TILE_CO), ci = ci0 + c;
            wl[i] = (ci < cin && co < cout) ? weight[((size_t)co * cin + ci) * kk + tap] : 0.0f;
        }
        barrier(CLK_LOCAL_MEM_FENCE);

        for (int c = 0; c < CI_BLOCK; c++) {
            __local const float *xc =
                xl + c * in_tile + ly * TILE_Y * S_STEP * in_w + lx * TILE_X * S_STEP;
            __local const float *wc = wl + c * kk * TILE_CO;
            UNROLL_TAPS
            for (int ky = 0; ky < K_SIDE; ky++) {
                UNROLL_TAPS
                for (int kx = 0; kx < K_SIDE; kx++) {
                    __local const float *wt = wc + (ky * K_SIDE + kx) * TILE_CO;
                    float wv[TILE_CO];
#pragma unroll
                    for (int o = 0; o < TILE_CO; o++) wv[o] = wt[o];
#pragma unroll
                    for (int t = 0; t < TILE_Y; t++) {
                        __local const float *xr = xc + (t * S_STEP + ky) * in_w + kx;
                        VEC xv;
                        if (S_STEP == 1) {
                            xv = VLOAD(xr);
                        } else {
                            float xs[TILE_X];
#pragma unroll
                            for (int j = 0; j < TILE_X; j++) xs[j] = xr[j * S_STEP];
                            xv = VLOAD(xs);
                        }
#pragma unroll
                        for (int o = 0; o < TILE_CO; o++)
                            acc[t][o] = MAD((VEC)wv[o], xv, acc[t][o]);
                    }
                }
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }

    const int ox0 = ox_base + lx * TILE_X, oy0 = oy_base + ly * TILE_Y;
    if (ox0 >= ow) return;
    const size_t out_plane = (size_t)oh * ow;
    __global float *yp = y + ((size_t)n * cout + co0) * out_plane + (size_t)oy0 * ow + ox0;
    const int full_x = ox0 + TILE_X <= ow;
#pragma unroll
    for (int t = 0; t < TILE_Y; t++) {
        if (oy0 + t >= oh) continue;
#pragma unroll
        for (int o = 0; o < TILE_CO; o++) {
            if (co0 + o >= cout) continue;
            VEC v = ACT(acc[t][o], act);
            __global float *yc = yp + (size_t)o * out_plane + (size_t)t * ow;
            if (full_x) {
                VSTORE(v, yc);
            } else {
                float vs[TILE_X];
                VSTORE(v, vs);
                for (int j = 0; j < TILE_X && ox0 + j < ow; j++) yc[j] = vs[j];
            }
        }
    }
}
