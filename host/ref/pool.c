/* pool.c - reference max and average pooling (no padding, optional PyTorch ceil mode). */
#include "ref.h"

/* The window of output row/column `o` clipped to the input: ceil mode may leave it partial. */
static void pool_window(int o, int k, int stride, int size, int *begin, int *end) {
    *begin = o * stride;
    *end = CLSEG_MIN(*begin + k, size);
}

void ref_maxpool(const float *x, shape4 xs, const pool_params *p, float *y, int32_t *indices) {
    shape4 ys;
    if (!pool_out_shape(xs, p, &ys)) return;
    for (int plane = 0; plane < xs.n * xs.c; plane++) {
        const float *xp = x + (size_t)plane * shape4_plane(xs);
        size_t out_base = (size_t)plane * shape4_plane(ys);
        for (int oh = 0; oh < ys.h; oh++) {
            int h0, h1;
            pool_window(oh, p->k, p->stride, xs.h, &h0, &h1);
            for (int ow = 0; ow < ys.w; ow++) {
                int w0, w1;
                pool_window(ow, p->k, p->stride, xs.w, &w0, &w1);
                /* The shape rule guarantees every window starts inside the input. */
                int best_at = h0 * xs.w + w0;
                float best = xp[best_at];
                for (int h = h0; h < h1; h++)
                    for (int w = w0; w < w1; w++)
                        if (xp[h * xs.w + w] > best) {
                            best = xp[h * xs.w + w];
                            best_at = h * xs.w + w;
                        }
                y[out_base + (size_t)oh * ys.w + ow] = best;
                if (indices) indices[out_base + (size_t)oh * ys.w + ow] = best_at;
            }
        }
    }
}

void ref_avgpool(const float *x, shape4 xs, const pool_params *p, float *y) {
    shape4 ys;
    if (!pool_out_shape(xs, p, &ys)) return;
    for (int plane = 0; plane < xs.n * xs.c; plane++) {
        const float *xp = x + (size_t)plane * shape4_plane(xs);
        float *yp = y + (size_t)plane * shape4_plane(ys);
        for (int oh = 0; oh < ys.h; oh++) {
            int h0, h1;
            pool_window(oh, p->k, p->stride, xs.h, &h0, &h1);
            for (int ow = 0; ow < ys.w; ow++) {
                int w0, w1;
                pool_window(ow, p->k, p->stride, xs.w, &w0, &w1);
                float sum = 0;
                for (int h = h0; h < h1; h++)
                    for (int w = w0; w < w1; w++) sum += xp[h * xs.w + w];
                yp[oh * ys.w + ow] = sum / (float)((h1 - h0) * (w1 - w0));
            }
        }
    }
}
