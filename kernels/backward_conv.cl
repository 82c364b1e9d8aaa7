/* backward_conv.cl - weight gradient of a 2-D convolution (also serves the transposed
   convolution, whose weight gradient is a conv's with x and dy swapped). */

/* Tunables (a tuned variant is the same source with other -D values):
   TILE_CO  dy channels per work-item (any value >= 1)
   TILE_CI  x channels per work-item (any value >= 1)
   TILE_X   pixels of a row per step: 1, 2, 4, 8 or 16 (one float vector per channel)
   STRIDE   1 or 2: the conv's stride, compiled in (the host sets it); 0 = any stride
   Each work-item keeps TILE_CO x TILE_CI vector accumulators for one tap (ky, kx): per step it
   loads TILE_CO + TILE_CI vectors and does TILE_CO * TILE_CI vector multiply-adds, and sums the
   lanes at the end. */
#ifndef TILE_CO
#define TILE_CO 4
#endif
#ifndef TILE_CI
#define TILE_CI 4
#endif
#ifndef TILE_X
#define TILE_X 16
#endif
#ifndef STRIDE
#define STRIDE 0
#endif

/* VLOAD_S2(p): p[0], p[2], ..., p[2 * TILE_X - 2], reading nothing past the last of them (two
   overlapping loads, even lanes of the first and odd lanes of the second), so it is in bounds
   wherever the values are. LANES: 0, 1, 2, ... HSUM: the sum of a vector's lanes. */
#define VEC      FLOATN(TILE_X)
#define VLOAD(p) VLOADN(TILE_X, p)
#define HSUM(v)  HSUMN(TILE_X, v)
#if TILE_X == 1
#define VMASK       int
#define VLOAD_S2(p) ((p)[0])
#define LANES       0.0f
#elif TILE_X == 2
#define VMASK       int2
#define VLOAD_S2(p) ((float2)((p)[0], (p)[2]))
#define LANES       ((float2)(0, 1))
#elif TILE_X == 4
#define VMASK       int4
#define VLOAD_S2(p) ((float4)(vload4(0, p).even, vload4(0, (p) + 3).odd))
#define LANES       ((float4)(0, 1, 2, 3))
#elif TILE_X == 8
#define VMASK       int8
#define VLOAD_S2(p) ((float8)(vload8(0, p).even, vload8(0, (p) + 7).odd))
#define LANES       ((float8)(0, 1, 2, 3, 4, 5, 6, 7))
#elif TILE_X == 16
#define VMASK       int16
#define VLOAD_S2(p) ((float16)(vload16(0, p).even, vload16(0, (p) + 15).odd))
#define LANES       ((float16)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15))
#else
#error "TILE_X must be 1, 2, 4, 8 or 16"
#endif

#if STRIDE == 1
#define LOAD_X(p) VLOAD(p)
#elif STRIDE == 2
#define LOAD_X(p) VLOAD_S2(p)
#endif

/* The output columns of tap column kx whose input column ox * stride - pad + kx lies inside
   [0, w): [*lo, *hi), possibly empty. */
inline void tap_columns(int kx, int stride, int pad, int w, int ow, int *lo, int *hi) {
    *lo = kx >= pad ? 0 : (pad - kx + stride - 1) / stride;
    *hi = min(ow, w - 1 + pad - kx < 0 ? 0 : (w - 1 + pad - kx) / stride + 1);
    if (*hi < *lo) *hi = *lo;
}

/* dw[co][ci][ky][kx] (+)= sum over the rows r = n * oh + oy in [row0, row1) and ox of
   dy[n][co][oy][ox] * x[n][ci][iy][ix] with iy = oy * stride - pad + ky,
   ix = ox * stride - pad + kx (taps outside x are zero); overwritten unless `accumulate`.
   x: [n][cin][h][w]   dy: [n][cout][oh][ow]   dw: [cout][cin][k][k]
   Grid: (lanes, ceil(cin / TILE_CI) * k * k, ceil(cout / TILE_CO)), local size (lanes, 1, 1);
   part: lanes * TILE_CO * TILE_CI floats of local memory. The lanes of a work-group split the
   rows and add their tiles up at the end, so a GPU can spread the reduction over a group while
   a CPU runs one lane per group. The host launches the kernels once per chunk of rows (small
   enough to stay in cache while every work-item reads it).

   Two kernels with the same arguments share the work: conv2d_bwd_weight takes the taps whose
   columns span at least one vector (with STRIDE 1 or 2): whole vector steps, then one
   overlapping step with its already-counted lanes masked off, every load in bounds.
   conv2d_bwd_weight_gather adds the other taps (narrow rows, other strides) element by element;
   the host runs it only when some tap needs it. With the gathers in the same kernel PoCL
   compiled the vector loop 2-3x slower. */
inline void weight_grad(__global const float *restrict x, __global const float *restrict dy,
                        __global float *restrict dw, int cin, int h, int w, int cout, int oh,
                        int ow, int k, int stride, int pad, int row0, int row1, int accumulate,
                        __local float *part, const int gather) {
    const int lane = (int)get_local_id(0), lanes = (int)get_local_size(0);
    const int kk = k * k;
    const int ci_groups = (cin + TILE_CI - 1) / TILE_CI;
    /* No early return before the barrier, even a uniform one: PoCL 3.1 miscompiles it (see
       batchnorm.cl). The grid is exact in dimensions 1 and 2, so `active` is a safeguard. */
    const int active =
        (int)get_global_id(1) < ci_groups * kk && (int)get_global_id(2) * TILE_CO < cout;
    const int g1 = active ? (int)get_global_id(1) : 0;
    const int co0 = active ? (int)get_global_id(2) * TILE_CO : 0;
    const int tap = g1 % kk;
    const int ci0 = (g1 / kk) * TILE_CI;
    const int ky = tap / k, kx = tap - (tap / k) * k;
    int ox_lo, ox_hi;
    tap_columns(kx, stride, pad, w, ow, &ox_lo, &ox_hi);
#if STRIDE == 1 || STRIDE == 2
    const int vector_tap = ox_hi - ox_lo >= TILE_X;
#else
    const int vector_tap = 0;
#endif
    /* This kernel's share of the taps. */
    const int mine = active && (gather ? !vector_tap : vector_tap);

    VEC acc[TILE_CO][TILE_CI];
    for (int c = 0; c < TILE_CO; c++)
        for (int j = 0; j < TILE_CI; j++) acc[c][j] = (VEC)0.0f;

    for (int r = row0 + lane; r < (mine ? row1 : 0); r += lanes) {
        const int n = r / oh, oy = r - (r / oh) * oh;
        const int iy = oy * stride - pad + ky;
        if (iy < 0 || iy >= h) continue;
        /* Channels past the end re-read the last real one and are never stored. */
        __global const float *dyr[TILE_CO];
        __global const float *xr[TILE_CI];
        for (int c = 0; c < TILE_CO; c++)
            dyr[c] = dy + (((size_t)n * cout + min(co0 + c, cout - 1)) * oh + oy) * ow;
        for (int j = 0; j < TILE_CI; j++)
            xr[j] = x + (((size_t)n * cin + min(ci0 + j, cin - 1)) * h + iy) * w - pad + kx;
        /* xr[j][ox * stride] is the tap of output column ox. */
        if (gather) {
            for (int ox = ox_lo; ox < ox_hi; ox++) {
                float xv[TILE_CI];
                for (int j = 0; j < TILE_CI; j++) xv[j] = xr[j][ox * stride];
                for (int c = 0; c < TILE_CO; c++) {
                    const float d = dyr[c][ox];
                    /* lane 0 of the accumulator collects the scalar products */
                    for (int j = 0; j < TILE_CI; j++)
#if TILE_X == 1
                        acc[c][j] = mad(d, xv[j], acc[c][j]);
#else
                        acc[c][j].s0 = mad(d, xv[j], acc[c][j].s0);
#endif
                }
            }
        } else {
#if STRIDE == 1 || STRIDE == 2
            int ox = ox_lo;
            for (; ox + TILE_X <= ox_hi; ox += TILE_X) {
                VEC dv[TILE_CO], xv[TILE_CI];
                for (int c = 0; c < TILE_CO; c++) dv[c] = VLOAD(dyr[c] + ox);
                for (int j = 0; j < TILE_CI; j++) xv[j] = LOAD_X(xr[j] + ox * STRIDE);
                for (int c = 0; c < TILE_CO; c++)
                    for (int j = 0; j < TILE_CI; j++) acc[c][j] = mad(dv[c], xv[j], acc[c][j]);
            }
            if (ox < ox_hi) {
                /* The last TILE_X columns, of which the first (ox - start) are counted. */
                const int start = ox_hi - TILE_X;
                const VMASK keep = LANES >= (VEC)(float)(ox - start);
                VEC dv[TILE_CO], xv[TILE_CI];
                for (int c = 0; c < TILE_CO; c++)
                    dv[c] = select((VEC)0.0f, VLOAD(dyr[c] + start), keep);
                for (int j = 0; j < TILE_CI; j++)
                    xv[j] = select((VEC)0.0f, LOAD_X(xr[j] + start * STRIDE), keep);
                for (int c = 0; c < TILE_CO; c++)
                    for (int j = 0; j < TILE_CI; j++) acc[c][j] = mad(dv[c], xv[j], acc[c][j]);
            }
#endif
        }
    }

    __local float *my_part = part + (size_t)lane * TILE_CO * TILE_CI;
    for (int c = 0; c < TILE_CO; c++)
        for (int j = 0; j < TILE_CI; j++) my_part[c * TILE_CI + j] = HSUM(acc[c][j]);
    barrier(CLK_LOCAL_MEM_FENCE);
    /* Lane e sums entry e (and e + lanes, ...) of the tile over all lanes. A kernel writes only
       its own taps, except that the first launch of conv2d_bwd_weight (accumulate = 0) also
       zeroes the gather kernel's, which that kernel then adds to. */
    for (int e = lane; e < TILE_CO * TILE_CI; e += lanes) {
        const int c = e / TILE_CI, j = e - (e / TILE_CI) * TILE_CI;
        if (!active || co0 + c >= cout || ci0 + j >= cin || (gather && !mine)) continue;
        float s = 0.0f;
        for (int l = 0; l < lanes; l++) s += part[(size_t)l * TILE_CO * TILE_CI + e];
        __global float *o = dw + ((size_t)(co0 + c) * cin + ci0 + j) * kk + tap;
        *o = accumulate ? *o + s : s;
    }
}

__kernel void conv2d_bwd_weight(__global const float *restrict x, __global const float *restrict dy,
                                __global float *restrict dw, int cin, int h, int w, int cout,
                                int oh, int ow, int k, int stride, int pad, int row0, int row1,
                                int accumulate, __local float *part) {
    weight_grad(x, dy, dw, cin, h, w, cout, oh, ow, k, stride, pad, row0, row1, accumulate, part,
                0);
}

/* Always adds to dw (after conv2d_bwd_weight's first launch has zeroed its taps). */
__kernel void conv2d_bwd_weight_gather(__global const float *restrict x,
                                       __global const float *restrict dy,
                                       __global float *restrict dw, int cin, int h, int w, int cout,
                                       int oh, int ow, int k, int stride, int pad, int row0,
                                       int row1, int accumulate, __local float *part) {
    (void)accumulate;
    weight_grad(x, dy, dw, cin, h, w, cout, oh, ow, k, stride, pad, row0, row1, 1, part, 1);
}
