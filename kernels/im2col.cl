/* im2col.cl - the data movement around the CLBlast GEMMs: im2col for conv2d, col2im for
   deconv2d (gathering the GEMM's columns into the output, with bias and ReLU), and a bias + ReLU
   pass over conv2d's GEMM output. */

/* cols[ci * k * k + ky * k + kx][rl * ow + ox] = x[n][ci][oy * stride - pad + ky][ox * stride -
   pad + kx] (0 outside) for output rows oy = r0 + rl of image n. Global size (ow, rows, cin * k *
   k). */
__kernel void im2col(__global const float *restrict x, __global float *restrict cols, int cin,
                     int h, int w, int ow, int k, int stride, int pad, int n, int r0, int rows) {
    const int ox = (int)get_global_id(0), rl = (int)get_global_id(1), row = (int)get_global_id(2);
    if (ox >= ow || rl >= rows || row >= cin * k * k) return;
    const int ci = row / (k * k), tap = row - ci * k * k;
    const int ky = tap / k, kx = tap - ky * k;
    const int iy = (r0 + rl) * stride - pad + ky, ix = ox * stride - pad + kx;
    float v = 0.0f;
    if (iy >= 0 && iy < h && ix >= 0 && ix < w) v = x[(((size_t)n * cin + ci) * h + iy) * w + ix];
    cols[(size_t)row * rows * ow + (size_t)rl * ow + ox] = v;
}

/* y[n][c][i] = ACT(y[n][c][i] + bias[c], act), bias may be NULL. Global size (plane, c, n). */
__kernel void bias_relu(__global float *restrict y, __global const float *restrict bias, int c,
                        int plane, int batch, int act) {
    const int i = (int)get_global_id(0), ch = (int)get_global_id(1), n = (int)get_global_id(2);
    if (i >= plane || ch >= c || n >= batch) return;
    __global float *p = y + ((size_t)n * c + ch) * plane + i;
    float v = *p + (bias ? bias[ch] : 0.0f);
    *p = ACT(v, act);
}

/* Transposed conv from its GEMM columns: cols[cl * k * k + ky * k + kx][iy * w + ix] is input
   pixel (iy, ix)'s contribution to output channel c0 + cl at tap (ky, kx). Each output gathers the
   taps that reach it (oy + pad - ky = iy * stride), so no two work-items write one pixel.
   Global size (ow, oh, channels in this chunk). */
__kernel void col2im(__global const float *restrict cols, __global const float *restrict bias,
                     __global float *restrict y, int h, int w, int cout, int oh, int ow, int k,
                     int stride, int pad, int n, int c0, int cc, int act) {
    const int ox = (int)get_global_id(0), oy = (int)get_global_id(1), cl = (int)get_global_id(2);
    if (ox >= ow || oy >= oh || cl >= cc) return;
    const size_t plane = (size_t)h * w;
    __global const float *cp = cols + (size_t)cl * k * k * plane;
    float sum = bias ? bias[c0 + cl] : 0.0f;
    for (int ky = (oy + pad) % stride; ky < k; ky += stride) {
        const int iy = (oy + pad - ky) / stride;
        if (iy < 0) break;
        if (iy >= h) continue;
        for (int kx = (ox + pad) % stride; kx < k; kx += stride) {
            const int ix = (ox + pad - kx) / stride;
            if (ix < 0) break;
            if (ix >= w) continue;
            sum += cp[(size_t)(ky * k + kx) * plane + (size_t)iy * w + ix];
        }
    }
    y[(((size_t)n * cout + c0 + cl) * oh + oy) * ow + ox] = ACT(sum, act);
}
