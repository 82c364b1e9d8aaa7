/* conv2d_winograd.cl - 3x3 stride-1 convolution by Winograd F(MxM,3x3), M = 2 or 4: weight and
   input tile transforms, ALPHA^2 independent channel GEMMs (ALPHA = M + 2, winograd_gemm.cl), and
   an output transform with bias and ReLU. */

/* Tunables (a tuned variant is the same source with other -D values):
   WINO_M   output tile side: 2 (16 GEMMs, 2.25x fewer multiplications than direct) or 4 (36
            GEMMs, 4x fewer; transform constants up to 8 cost some float32 accuracy)
   TRANS_T  tiles per work-item of the input and output transforms, one float vector along a
            tile row: 1, 2, 4 or 8 (neighbouring tiles' inputs and outputs are contiguous) */
#ifndef WINO_M
#define WINO_M 2
#endif
#ifndef TRANS_T
#define TRANS_T 4
#endif

#define TV             FLOATN(TRANS_T)
#define TV_LOAD(p)     VLOADN(TRANS_T, p)
#define TV_STORE(v, p) VSTOREN(TRANS_T, v, p)

/* The one-dimensional transforms (Lavin & Gray, interpolation points 0, +-1 [, +-2]); each 2-D
   transform applies one along rows, then along columns. g: filter taps, d: input tile,
   m: product tile. */
#if WINO_M == 2
#define ALPHA 4
#define WEIGHT_1D(g0, g1, g2, u, S)                                                                \
    do {                                                                                           \
        u[0 * S] = g0;                                                                             \
        u[1 * S] = 0.5f * (g0 + g1 + g2);                                                          \
        u[2 * S] = 0.5f * (g0 - g1 + g2);                                                          \
        u[3 * S] = g2;                                                                             \
    } while (0)
#define INPUT_1D(d, v, S)                                                                          \
    do {                                                                                           \
        v[0 * S] = d[0 * S] - d[2 * S];                                                            \
        v[1 * S] = d[1 * S] + d[2 * S];                                                            \
        v[2 * S] = d[2 * S] - d[1 * S];                                                            \
        v[3 * S] = d[1 * S] - d[3 * S];                                                            \
    } while (0)
#define OUTPUT_1D(m, o, S, T)                                                                      \
    do {                                                                                           \
        o[0 * S] = m[0 * S] + m[1 * S] + m[2 * S];                                                 \
        o[1 * S] = m[1 * S] - m[2 * S] - m[3 * S];                                                 \
    } while (0)
#elif WINO_M == 4
#define ALPHA 6
#define WEIGHT_1D(g0, g1, g2, u, S)                                                                \
    do {                                                                                           \
        u[0 * S] = 0.25f * g0;                                                                     \
        u[1 * S] = (-1.0f / 6.0f) * (g0 + g1 + g2);                                                \
        u[2 * S] = (-1.0f / 6.0f) * (g0 - g1 + g2);                                                \
        u[3 * S] = (1.0f / 24.0f) * g0 + (1.0f / 12.0f) * g1 + (1.0f / 6.0f) * g2;                 \
        u[4 * S] = (1.0f / 24.0f) * g0 - (1.0f / 12.0f) * g1 + (1.0f / 6.0f) * g2;                 \
        u[5 * S] = g2;                                                                             \
    } while (0)
#define INPUT_1D(d, v, S)                                                                          \
    do {                                                                                           \
        v[0 * S] = 4.0f * d[0 * S] - 5.0f * d[2 * S] + d[4 * S];                                   \
        v[1 * S] = d[3 * S] + d[4 * S] - 4.0f * (d[1 * S] + d[2 * S]);                             \
        v[2 * S] = d[4 * S] - d[3 * S] + 4.0f * (d[1 * S] - d[2 * S]);                             \
        v[3 * S] = d[4 * S] - d[2 * S] + 2.0f * (d[3 * S] - d[1 * S]);                             \
        v[4 * S] = d[4 * S] - d[2 * S] + 2.0f * (d[1 * S] - d[3 * S]);                             \
        v[5 * S] = 4.0f * d[1 * S] - 5.0f * d[3 * S] + d[5 * S];                                   \
    } while (0)
#define OUTPUT_1D(m, o, S, T)                                                                      \
    do {                                                                                           \
        const T p12 = m[1 * S] + m[2 * S], n12 = m[1 * S] - m[2 * S];                              \
        const T p34 = m[3 * S] + m[4 * S], n34 = m[3 * S] - m[4 * S];                              \
        o[0 * S] = m[0 * S] + p12 + p34;                                                           \
        o[1 * S] = n12 + 2.0f * n34;                                                               \
        o[2 * S] = p12 + 4.0f * p34;                                                               \
        o[3 * S] = n12 + 8.0f * n34 + m[5 * S];                                                    \
    } while (0)
#else
#error "WINO_M must be 2 or 4"
#endif
#define NE (ALPHA * ALPHA)

/* The transformed tensors share one scratch buffer, at float offsets; e = ALPHA * row + column
   of the transformed tile:
     U[e][ci][cout_pad]      transformed weights (zero past cout)
     V[e][ci][tc_pad]        transformed input tiles of this chunk
     M[e][cout_pad][tc_pad]  their products, summed over ci
   A chunk is `rows` whole tile rows r0 .. r0 + rows - 1 of the batch (tile row r is row r % th of
   image r / th); its tile (rl, tx) is column rl * tw + tx. Columns tc .. tc_pad - 1 hold
   whatever was there: they only feed the same columns of M, which nobody reads. */

/* weight: [cout][cin][3][3]. Global size (cout_pad, cin). */
__kernel void wino_weights(__global const float *restrict weight, __global float *restrict s,
                           int u_off, int cin, int cout, int cout_pad) {
    const int co = (int)get_global_id(0), ci = (int)get_global_id(1);
    if (co >= cout_pad || ci >= cin) return;
    float g[9];
#pragma unroll
    for (int j = 0; j < 9; j++) g[j] = co < cout ? weight[((size_t)co * cin + ci) * 9 + j] : 0.0f;
    float t[ALPHA * 3], u[NE];
#pragma unroll
    for (int j = 0; j < 3; j++) WEIGHT_1D(g[j], g[3 + j], g[6 + j], (t + j), 3);
#pragma unroll
    for (int i = 0; i < ALPHA; i++)
        WEIGHT_1D(t[3 * i], t[3 * i + 1], t[3 * i + 2], (u + ALPHA * i), 1);
    __global float *up = s + u_off + (size_t)ci * cout_pad + co;
    const size_t plane = (size_t)cin * cout_pad;
#pragma unroll
    for (int e = 0; e < NE; e++) up[e * plane] = u[e];
}

/* The input columns of TRANS_T neighbouring tiles: WINO_M * TRANS_T + 2 of them. */
#define SPAN (WINO_M * TRANS_T + 2)

/* x: [n][cin][h][w]. Work-item: tiles tx0 .. tx0 + TRANS_T - 1 of one tile row, each vector
   lane one tile. Global size (ceil(tw / TRANS_T), rows, cin). */
__kernel void wino_input(__global const float *restrict x, __global float *restrict s, int v_off,
                         int cin, int h, int w, int pad, int th, int tw, int r0, int rows,
                         int tc_pad) {
    const int tx0 = (int)get_global_id(0) * TRANS_T, rl = (int)get_global_id(1);
    const int ci = (int)get_global_id(2);
    if (tx0 >= tw || rl >= rows || ci >= cin) return;
    const int r = r0 + rl, n = r / th, ty = r - n * th;
    const int y0 = ty * WINO_M - pad, x0 = tx0 * WINO_M - pad;
    __global const float *xc = x + ((size_t)n * cin + ci) * h * w;
    const int inside = y0 >= 0 && y0 + ALPHA <= h && x0 >= 0 && x0 + SPAN <= w;
    /* d[ALPHA * a + b], lane j = input (y0 + a, x0 + WINO_M * j + b). */
    TV d[NE];
#pragma unroll
    for (int a = 0; a < ALPHA; a++) {
        float span[SPAN];
        const int iy = y0 + a;
        if (inside) {
            __global const float *xr = xc + (size_t)iy * w + x0;
#pragma unroll
            for (int i = 0; i < WINO_M; i++)
                TV_STORE(TV_LOAD(xr + i * TRANS_T), span + i * TRANS_T);
            span[SPAN - 2] = xr[SPAN - 2];
            span[SPAN - 1] = xr[SPAN - 1];
        } else {
#pragma unroll
            for (int i = 0; i < SPAN; i++) {
                const int ix = x0 + i;
                span[i] = (iy >= 0 && iy < h && ix >= 0 && ix < w) ? xc[(size_t)iy * w + ix] : 0.0f;
            }
        }
#pragma unroll
        for (int b = 0; b < ALPHA; b++) {
            float lanes[TRANS_T];
#pragma unroll
            for (int j = 0; j < TRANS_T; j++) lanes[j] = span[WINO_M * j + b];
            d[ALPHA * a + b] = TV_LOAD(lanes);
        }
    }
    TV t[NE], v[NE];
#pragma unroll
    for (int b = 0; b < ALPHA; b++) INPUT_1D((d + b), (t + b), ALPHA);
#pragma unroll
    for (int a = 0; a < ALPHA; a++) INPUT_1D((t + ALPHA * a), (v + ALPHA * a), 1);
    __global float *vp = s + v_off + (size_t)ci * tc_pad + rl * tw + tx0;
    const size_t plane = (size_t)cin * tc_pad;
    /* Lanes past the tile row would land in the next row's columns. */
    const int lanes_ok = min(TRANS_T, tw - tx0);
#pragma unroll
    for (int e = 0; e < NE; e++) {
        if (lanes_ok == TRANS_T) {
            TV_STORE(v[e], vp + e * plane);
        } else {
            float l[TRANS_T];
            TV_STORE(v[e], l);
            for (int j = 0; j < lanes_ok; j++) vp[e * plane + j] = l[j];
        }
    }
}

/* y: [n][cout][oh][ow]; bias may be NULL. Work-item: tiles tx0 .. tx0 + TRANS_T - 1 of one tile
   row, each vector lane one tile, for one channel. Global size (ceil(tw / TRANS_T), rows,
   cout). */
__kernel void wino_output(__global const float *restrict s, __global const float *restrict bias,
                          __global float *restrict y, int m_off, int cout, int cout_pad, int oh,
                          int ow, int th, int tw, int r0, int rows, int tc_pad, int act) {
    const int tx0 = (int)get_global_id(0) * TRANS_T, rl = (int)get_global_id(1);
    const int co = (int)get_global_id(2);
    if (tx0 >= tw || rl >= rows || co >= cout) return;
    __global const float *mp = s + m_off + (size_t)co * tc_pad + rl * tw + tx0;
    const size_t plane = (size_t)cout_pad * tc_pad;
    const int lanes_ok = min(TRANS_T, tw - tx0);
    TV m[NE], t[WINO_M * ALPHA], o[WINO_M * WINO_M];
#pragma unroll
    for (int e = 0; e < NE; e++) {
        if (lanes_ok == TRANS_T) {
            m[e] = TV_LOAD(mp + e * plane);
        } else {
            float l[TRANS_T];
#pragma unroll
            for (int j = 0; j < TRANS_T; j++) l[j] = j < lanes_ok ? mp[e * plane + j] : 0.0f;
            m[e] = TV_LOAD(l);
        }
    }
#pragma unroll
    for (int b = 0; b < ALPHA; b++) OUTPUT_1D((m + b), (t + b), ALPHA, TV);
#pragma unroll
    for (int a = 0; a < WINO_M; a++) OUTPUT_1D((t + ALPHA * a), (o + WINO_M * a), 1, TV);
    const float bv = bias ? bias[co] : 0.0f;
    const int r = r0 + rl, n = r / th, ty = r - n * th;
    const int oy = ty * WINO_M, ox0 = tx0 * WINO_M;
    __global float *yp = y + (((size_t)n * cout + co) * oh + oy) * ow + ox0;
    /* Each output row of the tiles: WINO_M * TRANS_T consecutive pixels. */
    const int full_x = ox0 + WINO_M * TRANS_T <= ow;
#pragma unroll
    for (int a = 0; a < WINO_M; a++) {
        if (oy + a >= oh) continue;
        float row[WINO_M * TRANS_T];
#pragma unroll
        for (int b = 0; b < WINO_M; b++) {
            TV val = o[WINO_M * a + b] + bv;
            val = ACT(val, act);
            float l[TRANS_T];
            TV_STORE(val, l);
#pragma unroll
            for (int j = 0; j < TRANS_T; j++) row[WINO_M * j + b] = l[j];
        }
        __global float *yr = yp + (size_t)a * ow;
        if (full_x) {
#pragma unroll
            for (int i = 0; i < WINO_M; i++) TV_STORE(TV_LOAD(row + i * TRANS_T), yr + i * TRANS_T);
        } else {
            for (int i = 0; i < WINO_M * TRANS_T && ox0 + i < ow; i++) yr[i] = row[i];
        }
    }
}
