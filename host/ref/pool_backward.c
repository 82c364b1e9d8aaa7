/* pool_backward.c - reference gradients of max-pooling, max-unpooling and upsampling, written as
   the plain scatter (the transpose of each forward) that the gather kernels must agree with. */
#include <string.h>

#include "ref_backward.h"

void ref_maxpool_bwd(const float *dy, const int32_t *indices, shape4 xs, const pool_params *p,
                     float *dx) {
    shape4 ys;
    if (!pool_out_shape(xs, p, &ys)) return;
    memset(dx, 0, shape4_count(xs) * sizeof *dx);
    const size_t in_plane = shape4_plane(xs), out_plane = shape4_plane(ys);
    for (size_t plane = 0; plane < (size_t)xs.n * xs.c; plane++)
        for (size_t o = 0; o < out_plane; o++) {
            int32_t at = indices[plane * out_plane + o];
            if (at >= 0 && (size_t)at < in_plane)
                dx[plane * in_plane + at] += dy[plane * out_plane + o];
        }
}

void ref_maxunpool_bwd(const float *dy, const int32_t *indices, shape4 xs, const unpool_params *p,
                       float *dx) {
    const size_t in_plane = shape4_plane(xs), out_plane = (size_t)p->out_h * (size_t)p->out_w;
    for (size_t plane = 0; plane < (size_t)xs.n * xs.c; plane++)
        for (size_t i = 0; i < in_plane; i++) {
            int32_t at = indices[plane * in_plane + i];
            dx[plane * in_plane + i] =
                at >= 0 && (size_t)at < out_plane ? dy[plane * out_plane + at] : 0.0f;
        }
}

/* Same source rule as ref_upsample (see host/ref/upsample.c). */
static void bilinear_source(int dst, int factor, int size, int *i0, int *i1, float *lambda1) {
    int num = CLSEG_MAX(2 * dst + 1 - factor, 0), den = 2 * factor;
    *i0 = num / den;
    *i1 = *i0 + (*i0 < size - 1 ? 1 : 0);
    *lambda1 = (float)(num % den) / (float)den;
}

void ref_upsample_bwd(const float *dy, shape4 xs, const upsample_params *p, float *dx) {
    shape4 ys;
    if (!upsample_out_shape(xs, p, &ys)) return;
    memset(dx, 0, shape4_count(xs) * sizeof *dx);
    for (size_t plane = 0; plane < (size_t)xs.n * xs.c; plane++) {
        float *xp = dx + plane * shape4_plane(xs);
        const float *yp = dy + plane * shape4_plane(ys);
        for (int oh = 0; oh < ys.h; oh++) {
            int h0, h1;
            float lh1;
            bilinear_source(oh, p->factor, xs.h, &h0, &h1, &lh1);
            for (int ow = 0; ow < ys.w; ow++) {
                float g = yp[(size_t)oh * ys.w + ow];
                if (p->mode == UPSAMPLE_NEAREST) {
                    xp[(size_t)(oh / p->factor) * xs.w + ow / p->factor] += g;
                    continue;
                }
                int w0, w1;
                float lw1;
                bilinear_source(ow, p->factor, xs.w, &w0, &w1, &lw1);
                float lh0 = 1.0f - lh1, lw0 = 1.0f - lw1;
                xp[(size_t)h0 * xs.w + w0] += lh0 * lw0 * g;
                xp[(size_t)h0 * xs.w + w1] += lh0 * lw1 * g;
                xp[(size_t)h1 * xs.w + w0] += lh1 * lw0 * g;
                xp[(size_t)h1 * xs.w + w1] += lh1 * lw1 * g;
            }
        }
    }
}
