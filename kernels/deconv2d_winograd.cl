/* deconv2d_winograd.cl - 3x3 stride-2 transposed convolution by Winograd transforms of its
   stride-decomposed form: weight and input tile transforms, ALPHA^2 independent channel GEMMs
   (winograd_gemm.cl) and an output transform with bias and ReLU.

   In coordinates shifted by the padding, o' = o + pad, the even outputs o' = 2q receive taps 0
   and 2 from inputs q and q - 1, the odd ones o' = 2q + 1 tap 1 from input q: per axis, a 2-tap
   correlation (Winograd F(M,2): M + 1 products for M outputs) and a 1-tap one (M products).
   Both read the M + 1 inputs q0 - 1 .. q0 + M - 1 of a tile of M positions q0 .. q0 + M - 1, so
   one transformed tile of ALPHA = 2M + 1 elements per axis holds both phases: elements 0 .. M
   the F(M,2) domain, elements M + 1 .. 2M the inputs q0 .. q0 + M - 1 themselves. In 2-D the four
   phases (2x2, 2x1, 1x2 and 1x1 taps) are the four blocks of the ALPHA x ALPHA tile: ALPHA^2
   products for the 2M x 2M outputs where the direct form takes 9 M^2 (M = 4: 81 for 144, 1.78x
   fewer). The odd phases' weights are the same at each of their elements, so only
   (M + 2)^2 transformed weights are distinct (winograd_gemm.cl maps the rest onto them). */

/* Tunables (a tuned variant is the same source with other -D values):
   WINO_M   q positions per tile and axis: 2 (ALPHA 5, 1.44x fewer multiplications than
            direct), 3 (ALPHA 7, 1.65x) or 4 (ALPHA 9, 1.78x; transform constants up to 8)
   TRANS_T  tiles per work-item of the input and output transforms, one float vector along a
            tile row: 1, 2, 4 or 8 (neighbouring tiles' inputs and outputs are contiguous) */
#ifndef WINO_M
#define WINO_M 4
#endif
#ifndef TRANS_T
#define TRANS_T 4
#endif

#define TV             FLOATN(TRANS_T)
#define TV_LOAD(p)     VLOADN(TRANS_T, p)
#define TV_STORE(v, p) VSTOREN(TRANS_T, v, p)

#define ALPHA  (2 * WINO_M + 1)
#define NE     (ALPHA * ALPHA)
#define U_SIDE (WINO_M + 2) /* distinct transformed weights per axis */
#define D_SIDE (WINO_M + 1) /* inputs per tile and axis */
#define O_SIDE (2 * WINO_M) /* outputs per tile and axis */

/* The one-dimensional transforms, from Toom-Cook with interpolation points 0, -1 (M = 2),
   0, +-1 (M = 3) or 0, +-1, 2 (M = 4) and infinity, the input transform's rows scaled to
   integers (the weight transform takes the inverse factors). Each 2-D transform applies one
   along columns, then along rows.
   INPUT_1D:  d[0 .. M] (inputs q0 - 1 .. q0 + M - 1) -> v[0 .. 2M]
   WEIGHT_1D: taps g0, g1, g2 -> u[0 .. M + 1] (u[M + 1] serves elements M + 1 .. 2M)
   OUTPUT_1D: mm[0 .. 2M] -> o[0 .. 2M - 1], outputs o' = 2 q0 .. 2 q0 + 2M - 1 in order */
#if WINO_M == 2
#define INPUT_1D(d, v, S)                                                                          \
    do {                                                                                           \
        v[0 * S] = d[0 * S] + d[1 * S];                                                            \
        v[1 * S] = d[1 * S];                                                                       \
        v[2 * S] = d[1 * S] + d[2 * S];                                                            \
        v[3 * S] = d[1 * S];                                                                       \
        v[4 * S] = d[2 * S];                                                                       \
    } while (0)
#define WEIGHT_1D(g0, g1, g2, u, S)                                                                \
    do {                                                                                           \
        u[0 * S] = g2;                                                                             \
        u[1 * S] = -g2 + g0;                                                                       \
        u[2 * S] = g0;                                                                             \
        u[3 * S] = g1;                                                                             \
    } while (0)
#define OUTPUT_1D(mm, o, S)                                                                        \
    do {                                                                                           \
        o[0 * S] = mm[0 * S] + mm[1 * S];                                                          \
        o[1 * S] = mm[3 * S];                                                                      \
        o[2 * S] = -mm[1 * S] + mm[2 * S];                                                         \
        o[3 * S] = mm[4 * S];                                                                      \
    } while (0)
#elif WINO_M == 3
#define INPUT_1D(d, v, S)                                                                          \
    do {                                                                                           \
        v[0 * S] = d[0 * S] - d[2 * S];                                                            \
        v[1 * S] = d[1 * S] + d[2 * S];                                                            \
        v[2 * S] = d[1 * S] - d[2 * S];                                                            \
        v[3 * S] = d[1 * S] - d[3 * S];                                                            \
        v[4 * S] = d[1 * S];                                                                       \
        v[5 * S] = d[2 * S];                                                                       \
        v[6 * S] = d[3 * S];                                                                       \
    } while (0)
#define WEIGHT_1D(g0, g1, g2, u, S)                                                                \
    do {                                                                                           \
        u[0 * S] = g2;                                                                             \
        u[1 * S] = (1.0f / 2.0f) * g2 + (1.0f / 2.0f) * g0;                                        \
        u[2 * S] = -(1.0f / 2.0f) * g2 + (1.0f / 2.0f) * g0;                                       \
        u[3 * S] = -g0;                                                                            \
        u[4 * S] = g1;                                                                             \
    } while (0)
#define OUTPUT_1D(mm, o, S)                                                                        \
    do {                                                                                           \
        o[0 * S] = mm[0 * S] + mm[1 * S] + mm[2 * S];                                              \
        o[1 * S] = mm[4 * S];                                                                      \
        o[2 * S] = mm[1 * S] - mm[2 * S];                                                          \
        o[3 * S] = mm[5 * S];                                                                      \
        o[4 * S] = mm[1 * S] + mm[2 * S] + mm[3 * S];                                              \
        o[5 * S] = mm[6 * S];                                                                      \
    } while (0)
#elif WINO_M == 4
#define INPUT_1D(d, v, S)                                                                          \
    do {                                                                                           \
        v[0 * S] = 2.0f * d[0 * S] - d[1 * S] - 2.0f * d[2 * S] + d[3 * S];                        \
        v[1 * S] = 2.0f * d[1 * S] + d[2 * S] - d[3 * S];                                          \
        v[2 * S] = 2.0f * d[1 * S] - 3.0f * d[2 * S] + d[3 * S];                                   \
        v[3 * S] = d[1 * S] - d[3 * S];                                                            \
        v[4 * S] = 2.0f * d[1 * S] - d[2 * S] - 2.0f * d[3 * S] + d[4 * S];                        \
        v[5 * S] = d[1 * S];                                                                       \
        v[6 * S] = d[2 * S];                                                                       \
        v[7 * S] = d[3 * S];                                                                       \
        v[8 * S] = d[4 * S];                                                                       \
    } while (0)
#define WEIGHT_1D(g0, g1, g2, u, S)                                                                \
    do {                                                                                           \
        u[0 * S] = (1.0f / 2.0f) * g2;                                                             \
        u[1 * S] = (1.0f / 2.0f) * g2 + (1.0f / 2.0f) * g0;                                        \
        u[2 * S] = -(1.0f / 6.0f) * g2 + (1.0f / 6.0f) * g0;                                       \
        u[3 * S] = -(1.0f / 6.0f) * g2 - (1.0f / 3.0f) * g0;                                       \
        u[4 * S] = g0;                                                                             \
        u[5 * S] = g1;                                                                             \
    } while (0)
#define OUTPUT_1D(mm, o, S)                                                                        \
    do {                                                                                           \
        o[0 * S] = mm[0 * S] + mm[1 * S] + mm[2 * S] + mm[3 * S];                                  \
        o[1 * S] = mm[5 * S];                                                                      \
        o[2 * S] = mm[1 * S] - mm[2 * S] + 2.0f * mm[3 * S];                                       \
        o[3 * S] = mm[6 * S];                                                                      \
        o[4 * S] = mm[1 * S] + mm[2 * S] + 4.0f * mm[3 * S];                                       \
        o[5 * S] = mm[7 * S];                                                                      \
        o[6 * S] = mm[1 * S] - mm[2 * S] + 8.0f * mm[3 * S] + mm[4 * S];                           \
        o[7 * S] = mm[8 * S];                                                                      \
    } while (0)
#else
#error "WINO_M must be 2, 3 or 4"
#endif

/* The transformed tensors share one scratch buffer, at float offsets (winograd_gemm.cl):
     U[ue][ci][cout_pad]  ue < U_SIDE^2    V[e][ci][tc_pad]    M[e][cout_pad][tc_pad]
   Tiles: tile (ty, tx) of an image covers q = q_first + WINO_M * (ty, tx) onwards, q_first =
   pad / 2 (the first q whose outputs o = 2q - pad, 2q + 1 - pad reach o >= 0). A chunk is `rows`
   whole tile rows r0 .. r0 + rows - 1 of the batch (tile row r is row r % th of image r / th);
   its tile (rl, tx) is column rl * tw + tx. Columns tc .. tc_pad - 1 hold whatever was there:
   they only feed the same columns of M, which nobody reads. */

/* weight: [cin][cout][3][3]. Global size (cout_pad, cin). */
__kernel void dwino_weights(__global const float *restrict weight, __global float *restrict s,
                            int u_off, int cin, int cout, int cout_pad) {
    const int co = (int)get_global_id(0), ci = (int)get_global_id(1);
    if (co >= cout_pad || ci >= cin) return;
    float g[9];
#pragma unroll
    for (int j = 0; j < 9; j++) g[j] = co < cout ? weight[((size_t)ci * cout + co) * 9 + j] : 0.0f;
    float t[U_SIDE * 3], u[U_SIDE * U_SIDE];
#pragma unroll
    for (int j = 0; j < 3; j++) WEIGHT_1D(g[j], g[3 + j], g[6 + j], (t + j), 3);
#pragma unroll
    for (int i = 0; i < U_SIDE; i++)
        WEIGHT_1D(t[3 * i], t[3 * i + 1], t[3 * i + 2], (u + U_SIDE * i), 1);
    __global float *up = s + u_off + (size_t)ci * cout_pad + co;
    const size_t plane = (size_t)cin * cout_pad;
#pragma unroll
    for (int e = 0; e < U_SIDE * U_SIDE; e++) up[e * plane] = u[e];
}

/* The input columns of TRANS_T neighbouring tiles: WINO_M * TRANS_T + 1 of them. */
#define SPAN (WINO_M * TRANS_T + 1)

/* x: [n][cin][h][w]. Work-item: tiles tx0 .. tx0 + TRANS_T - 1 of one tile row, each vector
   lane one tile. Global size (ceil(tw / TRANS_T), rows, cin). */
__kernel void dwino_input(__global const float *restrict x, __global float *restrict s, int v_off,
                          int cin, int h, int w, int pad, int th, int tw, int r0, int rows,
                          int tc_pad) {
    const int tx0 = (int)get_global_id(0) * TRANS_T, rl = (int)get_global_id(1);
    const int ci = (int)get_global_id(2);
    if (tx0 >= tw || rl >= rows || ci >= cin) return;
    const int r = r0 + rl, n = r / th, ty = r - n * th;
    const int q_first = pad / 2;
    const int y0 = q_first + ty * WINO_M - 1, x0 = q_first + tx0 * WINO_M - 1;
    __global const float *xc = x + ((size_t)n * cin + ci) * h * w;
    const int inside = y0 >= 0 && y0 + D_SIDE <= h && x0 >= 0 && x0 + SPAN <= w;
    /* d[D_SIDE * a + b], lane j = input (y0 + a, x0 + WINO_M * j + b). */
    TV d[D_SIDE * D_SIDE];
#pragma unroll
    for (int a = 0; a < D_SIDE; a++) {
        float span[SPAN];
        const int iy = y0 + a;
        if (inside) {
            __global const float *xr = xc + (size_t)iy * w + x0;
#pragma unroll
            for (int i = 0; i < WINO_M; i++)
                TV_STORE(TV_LOAD(xr + i * TRANS_T), span + i * TRANS_T);
            span[SPAN - 1] = xr[SPAN - 1];
        } else {
#pragma unroll
            for (int i = 0; i < SPAN; i++) {
                const int ix = x0 + i;
                span[i] = (iy >= 0 && iy < h && ix >= 0 && ix < w) ? xc[(size_t)iy * w + ix] : 0.0f;
            }
        }
#pragma unroll
        for (int b = 0; b < D_SIDE; b++) {
            float lanes[TRANS_T];
#pragma unroll
            for (int j = 0; j < TRANS_T; j++) lanes[j] = span[WINO_M * j + b];
            d[D_SIDE * a + b] = TV_LOAD(lanes);
        }
    }
    TV t[ALPHA * D_SIDE], v[NE];
#pragma unroll
    for (int b = 0; b < D_SIDE; b++) INPUT_1D((d + b), (t + b), D_SIDE);
#pragma unroll
    for (int a = 0; a < ALPHA; a++) INPUT_1D((t + D_SIDE * a), (v + ALPHA * a), 1);
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
__kernel void dwino_output(__global const float *restrict s, __global const float *restrict bias,
                           __global float *restrict y, int m_off, int cout, int cout_pad, int oh,
                           int ow, int pad, int th, int tw, int r0, int rows, int tc_pad,
                           int relu) {
    const int tx0 = (int)get_global_id(0) * TRANS_T, rl = (int)get_global_id(1);
    const int co = (int)get_global_id(2);
    if (tx0 >= tw || rl >= rows || co >= cout) return;
    __global const float *mp = s + m_off + (size_t)co * tc_pad + rl * tw + tx0;
    const size_t plane = (size_t)cout_pad * tc_pad;
    const int lanes_ok = min(TRANS_T, tw - tx0);
    TV m[NE], t[O_SIDE * ALPHA], o[O_SIDE * O_SIDE];
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
    for (int b = 0; b < ALPHA; b++) OUTPUT_1D((m + b), (t + b), ALPHA);
#pragma unroll
    for (int a = 0; a < O_SIDE; a++) OUTPUT_1D((t + ALPHA * a), (o + O_SIDE * a), 1);
    const float bv = bias ? bias[co] : 0.0f;
    const int r = r0 + rl, n = r / th, ty = r - n * th;
    const int q_first = pad / 2;
    const int oy0 = 2 * (q_first + ty * WINO_M) - pad, ox0 = 2 * (q_first + tx0 * WINO_M) - pad;
    __global float *yc = y + ((size_t)n * cout + co) * oh * ow;
    /* Each output row of the tiles: O_SIDE * TRANS_T consecutive pixels from ox0 (which is -1
       for the first tile when pad is odd). */
    const int full_x = ox0 >= 0 && ox0 + O_SIDE * TRANS_T <= ow;
#pragma unroll
    for (int a = 0; a < O_SIDE; a++) {
        const int oy = oy0 + a;
        if (oy < 0 || oy >= oh) continue;
        float row[O_SIDE * TRANS_T];
#pragma unroll
        for (int b = 0; b < O_SIDE; b++) {
            TV val = o[O_SIDE * a + b] + bv;
            if (relu) val = fmax(val, (TV)0.0f);
            float l[TRANS_T];
            TV_STORE(val, l);
#pragma unroll
            for (int j = 0; j < TRANS_T; j++) row[O_SIDE * j + b] = l[j];
        }
        __global float *yr = yc + (size_t)oy * ow;
        if (full_x) {
#pragma unroll
            for (int i = 0; i < O_SIDE; i++)
                TV_STORE(TV_LOAD(row + i * TRANS_T), yr + ox0 + i * TRANS_T);
        } else {
            for (int i = 0; i < O_SIDE * TRANS_T; i++)
                if (ox0 + i >= 0 && ox0 + i < ow) yr[ox0 + i] = row[i];
        }
    }
}
