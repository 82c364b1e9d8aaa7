/* elementwise_backward.c - reference ReLU, the gradients of ReLU, add and concat, and the fused
   softmax cross-entropy loss. */
#include <math.h>
#include <string.h>

#include "ref_backward.h"

void ref_relu(const float *x, size_t count, float *y) {
    for (size_t i = 0; i < count; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void ref_relu_bwd(const float *dy, const float *y, size_t count, float *dx) {
    for (size_t i = 0; i < count; i++) dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

void ref_add_bwd(const float *dy, const float *y, size_t count, int relu, float *da, float *db) {
    for (size_t i = 0; i < count; i++) {
        float g = relu && !(y[i] > 0.0f) ? 0.0f : dy[i];
        if (da) da[i] = g;
        if (db) db[i] = g;
    }
}

void ref_concat_bwd(const float *dy, shape4 as, shape4 bs, float *da, float *db) {
    const size_t plane = shape4_plane(as), a_img = (size_t)as.c * plane,
                 b_img = (size_t)bs.c * plane;
    for (int n = 0; n < as.n; n++) {
        const float *src = dy + (size_t)n * (a_img + b_img);
        if (da) memcpy(da + (size_t)n * a_img, src, a_img * sizeof *da);
        if (db) memcpy(db + (size_t)n * b_img, src + a_img, b_img * sizeof *db);
    }
}

double ref_softmax_xent(const float *logits, shape4 s, const int32_t *labels, const float *factors,
                        float *dlogits, int64_t *labelled) {
    const size_t plane = shape4_plane(s);
    const int K = s.c;
    double loss = 0;
    int64_t count = 0;
    for (int n = 0; n < s.n; n++)
        for (size_t i = 0; i < plane; i++) {
            const float *l = logits + (size_t)n * K * plane + i;
            float *d = dlogits + (size_t)n * K * plane + i;
            const int32_t y = labels[(size_t)n * plane + i];
            if (y < 0 || y >= K) {
                for (int c = 0; c < K; c++) d[(size_t)c * plane] = 0.0f;
                continue;
            }
            double mx = l[0], sum = 0;
            for (int c = 1; c < K; c++) mx = fmax(mx, l[(size_t)c * plane]);
            for (int c = 0; c < K; c++) sum += exp(l[(size_t)c * plane] - mx);
            const double f = factors[y];
            loss += f * (log(sum) - (l[(size_t)y * plane] - mx));
            count++;
            for (int c = 0; c < K; c++) {
                double pc = exp(l[(size_t)c * plane] - mx) / sum;
                d[(size_t)c * plane] = (float)((pc - (c == y)) * f);
            }
        }
    if (labelled) *labelled = count;
    return loss;
}
