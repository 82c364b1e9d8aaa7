/* elementwise.c - reference concat, add(+ReLU), softmax and argmax over channels. */
#include <math.h>
#include <string.h>

#include "ref.h"

void ref_concat(const float *a, shape4 as, const float *b, shape4 bs, float *y) {
    size_t plane = shape4_plane(as);
    for (int n = 0; n < as.n; n++) {
        size_t a_bytes = (size_t)as.c * plane * sizeof *a,
               b_bytes = (size_t)bs.c * plane * sizeof *b;
        float *yn = y + (size_t)n * (size_t)(as.c + bs.c) * plane;
        memcpy(yn, a + (size_t)n * as.c * plane, a_bytes);
        memcpy(yn + (size_t)as.c * plane, b + (size_t)n * bs.c * plane, b_bytes);
    }
}

void ref_add(const float *a, const float *b, shape4 s, const add_params *p, float *y) {
    size_t count = shape4_count(s);
    for (size_t i = 0; i < count; i++) {
        float v = a[i] + b[i];
        y[i] = p->relu && v < 0 ? 0.0f : v;
    }
}

void ref_softmax(const float *x, shape4 xs, float *y) {
    size_t plane = shape4_plane(xs);
    for (int n = 0; n < xs.n; n++) {
        const float *xn = x + (size_t)n * xs.c * plane;
        float *yn = y + (size_t)n * xs.c * plane;
        for (size_t i = 0; i < plane; i++) {
            /* Subtracting the max keeps expf from overflowing on large logits. */
            float max = xn[i];
            for (int c = 1; c < xs.c; c++) max = fmaxf(max, xn[c * plane + i]);
            float sum = 0;
            for (int c = 0; c < xs.c; c++) {
                float e = expf(xn[c * plane + i] - max);
                yn[c * plane + i] = e;
                sum += e;
            }
            float inv = 1.0f / sum;
            for (int c = 0; c < xs.c; c++) yn[c * plane + i] *= inv;
        }
    }
}

void ref_argmax(const float *x, shape4 xs, int32_t *labels) {
    size_t plane = shape4_plane(xs);
    for (int n = 0; n < xs.n; n++) {
        const float *xn = x + (size_t)n * xs.c * plane;
        int32_t *ln = labels + (size_t)n * plane;
        for (size_t i = 0; i < plane; i++) {
            float best = xn[i];
            int32_t best_c = 0;
            for (int c = 1; c < xs.c; c++)
                if (xn[c * plane + i] > best) {
                    best = xn[c * plane + i];
                    best_c = c;
                }
            ln[i] = best_c;
        }
    }
}
