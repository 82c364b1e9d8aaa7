/* deconv2d.c - reference transposed 2-D convolution with PyTorch ConvTranspose2d semantics. */
#include "ref.h"

/* The input indices i in [0, count) whose output position i * stride + offset lies inside
   [0, size). */
static void scatter_range(int count, int size, int stride, int offset, int *lo, int *hi) {
    *lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
    *hi = size - offset <= 0 ? 0 : CLSEG_MIN(count, (size - offset + stride - 1) / stride);
    if (*lo > *hi) *lo = *hi;
}

/* Scatter form: input pixel (iy, ix) adds x * w[ci][co][ky][kx] to output pixel
   (iy * stride - pad + ky, ix * stride - pad + kx). This is the definition of the transposed
   convolution (the adjoint of conv2d), so it is the easiest form to trust; output_padding only
   adds rows/columns at the bottom/right that receive bias and whatever taps reach them. */
void ref_deconv2d(const float *x, shape4 xs, const float *weight, const float *bias,
                  const deconv2d_params *p, float *y) {
    shape4 ys;
    if (!deconv2d_out_shape(xs, p, &ys)) return;
    const int k = p->k, s = p->stride;
    const size_t out_plane = shape4_plane(ys);
    for (int n = 0; n < xs.n; n++) {
        for (int co = 0; co < ys.c; co++) {
            float *restrict yp = y + ((size_t)n * ys.c + co) * out_plane;
            const float b = bias ? bias[co] : 0.0f;
            for (size_t i = 0; i < out_plane; i++) yp[i] = b;
            for (int ci = 0; ci < xs.c; ci++) {
                const float *restrict xp = x + ((size_t)n * xs.c + ci) * shape4_plane(xs);
                const float *wk = weight + ((size_t)ci * ys.c + co) * k * k;
                for (int iy = 0; iy < xs.h; iy++) {
                    const float *restrict xr = xp + (size_t)iy * xs.w;
                    for (int ky = 0; ky < k; ky++) {
                        int oy = iy * s + ky - p->pad;
                        if (oy < 0 || oy >= ys.h) continue;
                        float *restrict yr = yp + (size_t)oy * ys.w;
                        for (int kx = 0; kx < k; kx++) {
                            const float wv = wk[ky * k + kx];
                            const int off = kx - p->pad;
                            int lo, hi;
                            scatter_range(xs.w, ys.w, s, off, &lo, &hi);
                            for (int ix = lo; ix < hi; ix++) yr[ix * s + off] += wv * xr[ix];
                        }
                    }
                }
            }
            if (p->relu)
                for (size_t i = 0; i < out_plane; i++) yp[i] = yp[i] > 0.0f ? yp[i] : 0.0f;
        }
    }
}
