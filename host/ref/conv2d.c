/* conv2d.c - reference 2-D convolution (zero padding, square kernel, groups, dilation, fused
   bias and activation). */
#include "ref.h"

#include <string.h>

/* The indices o in [0, count) whose tap position o * stride + offset lies inside [0, size).
   Clipping the loop bounds once keeps the inner loops free of branches, so they vectorise. */
static void tap_range(int count, int size, int stride, int offset, int *lo, int *hi) {
    *lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
    *hi = size - offset <= 0 ? 0 : CLSEG_MIN(count, (size - offset + stride - 1) / stride);
    if (*lo > *hi) *lo = *hi;
}

/* One output row of one output channel: the (cin x k) input rows it needs stay in cache while
   the loop over output channels reuses them, because the row loop is outside the channel loop. */
/* x points at the first channel of the output channel's group, which has cin_g channels. */
static void conv_row(const float *x, shape4 xs, int cin_g, const float *w_co,
                     const conv2d_params *p, int oy, int out_w, float *restrict acc) {
    const int k = p->k, s = p->stride, d = conv2d_dil(p);
    for (int ci = 0; ci < cin_g; ci++) {
        const float *xc = x + (size_t)ci * shape4_plane(xs);
        const float *wc = w_co + (size_t)ci * k * k;
        for (int ky = 0; ky < k; ky++) {
            int iy = oy * s + ky * d - p->pad;
            if (iy < 0 || iy >= xs.h) continue;
            const float *restrict xr = xc + (size_t)iy * xs.w;
            for (int kx = 0; kx < k; kx++) {
                const float wv = wc[ky * k + kx];
                const int off = kx * d - p->pad;
                int lo, hi;
                tap_range(out_w, xs.w, s, off, &lo, &hi);
                if (s == 1) {
                    for (int ox = lo; ox < hi; ox++) acc[ox] += wv * xr[ox + off];
                } else {
                    for (int ox = lo; ox < hi; ox++) acc[ox] += wv * xr[ox * s + off];
                }
            }
        }
    }
}

void ref_conv2d(const float *x, shape4 xs, const float *weight, const float *bias,
                const conv2d_params *p, float *y) {
    shape4 ys;
    if (!conv2d_out_shape(xs, p, &ys)) return;
    const int g = conv2d_groups(p), cin_g = p->cin / g, cout_g = p->cout / g;
    const size_t w_per_co = (size_t)cin_g * p->k * p->k;
    for (int n = 0; n < xs.n; n++) {
        const float *xn = x + (size_t)n * xs.c * shape4_plane(xs);
        float *yn = y + (size_t)n * ys.c * shape4_plane(ys);
        for (int oy = 0; oy < ys.h; oy++) {
            for (int co = 0; co < ys.c; co++) {
                float *acc = yn + ((size_t)co * ys.h + oy) * ys.w;
                const float b = bias ? bias[co] : 0.0f;
                for (int ox = 0; ox < ys.w; ox++) acc[ox] = b;
                const float *xg = xn + (size_t)(co / cout_g) * cin_g * shape4_plane(xs);
                conv_row(xg, xs, cin_g, weight + co * w_per_co, p, oy, ys.w, acc);
                if (p->act)
                    for (int ox = 0; ox < ys.w; ox++) acc[ox] = ref_act_value(acc[ox], p->act);
            }
        }
    }
}
