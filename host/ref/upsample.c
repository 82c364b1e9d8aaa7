/* upsample.c - reference nearest / bilinear (align_corners=False) upsampling and unpooling. */
#include <string.h>

#include "ref.h"

/* PyTorch's source coordinate for align_corners=False, src = (dst + 0.5) / factor - 0.5, clamped
   at 0 (the far neighbour is clamped to the edge instead, so the last outputs copy the edge).
   Written as the exact fraction (2 dst + 1 - factor) / (2 factor) so that its integer part is
   exact and the weight's rounding does not grow with the coordinate; the kernel does the same. */
static void bilinear_source(int dst, int factor, int size, int *i0, int *i1, float *lambda1) {
    int num = CLSEG_MAX(2 * dst + 1 - factor, 0), den = 2 * factor;
    *i0 = num / den;
    *i1 = *i0 + (*i0 < size - 1 ? 1 : 0);
    *lambda1 = (float)(num % den) / (float)den;
}

void ref_upsample(const float *x, shape4 xs, const upsample_params *p, float *y) {
    shape4 ys;
    if (!upsample_out_shape(xs, p, &ys)) return;
    for (int plane = 0; plane < xs.n * xs.c; plane++) {
        const float *xp = x + (size_t)plane * shape4_plane(xs);
        float *yp = y + (size_t)plane * shape4_plane(ys);
        for (int oh = 0; oh < ys.h; oh++) {
            if (p->mode == UPSAMPLE_NEAREST) {
                const float *row = xp + (size_t)(oh / p->factor) * xs.w;
                for (int ow = 0; ow < ys.w; ow++) yp[oh * ys.w + ow] = row[ow / p->factor];
                continue;
            }
            int h0, h1;
            float lh1;
            bilinear_source(oh, p->factor, xs.h, &h0, &h1, &lh1);
            float lh0 = 1.0f - lh1;
            for (int ow = 0; ow < ys.w; ow++) {
                int w0, w1;
                float lw1;
                bilinear_source(ow, p->factor, xs.w, &w0, &w1, &lw1);
                float lw0 = 1.0f - lw1;
                yp[oh * ys.w + ow] = lh0 * (lw0 * xp[h0 * xs.w + w0] + lw1 * xp[h0 * xs.w + w1]) +
                                     lh1 * (lw0 * xp[h1 * xs.w + w0] + lw1 * xp[h1 * xs.w + w1]);
            }
        }
    }
}

void ref_maxunpool(const float *x, const int32_t *indices, shape4 xs, const unpool_params *p,
                   float *y) {
    size_t out_plane = (size_t)p->out_h * (size_t)p->out_w;
    memset(y, 0, (size_t)xs.n * xs.c * out_plane * sizeof *y);
    for (int plane = 0; plane < xs.n * xs.c; plane++) {
        const float *xp = x + (size_t)plane * shape4_plane(xs);
        const int32_t *ip = indices + (size_t)plane * shape4_plane(xs);
        float *yp = y + (size_t)plane * out_plane;
        for (size_t i = 0; i < shape4_plane(xs); i++)
            /* A corrupt index is dropped rather than written out of bounds. */
            if (ip[i] >= 0 && (size_t)ip[i] < out_plane) yp[ip[i]] = xp[i];
    }
}
