/* batchnorm_backward.c - reference BatchNorm in training mode (batch statistics, running
   statistics update) and its gradient. */
#include <math.h>

#include "ref_backward.h"

void ref_batchnorm_train(const float *x, shape4 xs, const float *gamma, const float *beta, int relu,
                         float *y, float *saved, float *running_mean, float *running_var) {
    const int C = xs.c;
    const size_t plane = shape4_plane(xs), m = (size_t)xs.n * plane;
    for (int c = 0; c < C; c++) {
        /* Two passes in double: the oracle should not suffer the cancellation of E[x^2]-E[x]^2. */
        double sum = 0, sq = 0;
        for (int n = 0; n < xs.n; n++) {
            const float *xp = x + ((size_t)n * C + c) * plane;
            for (size_t i = 0; i < plane; i++) sum += xp[i];
        }
        const double mean = sum / (double)m;
        for (int n = 0; n < xs.n; n++) {
            const float *xp = x + ((size_t)n * C + c) * plane;
            for (size_t i = 0; i < plane; i++) sq += (xp[i] - mean) * (xp[i] - mean);
        }
        const double var = sq / (double)m;
        const float meanf = (float)mean, istd = (float)(1.0 / sqrt(var + BN_EPS));
        const float scale = gamma[c] * istd;
        saved[c] = meanf;
        saved[C + c] = istd;
        saved[2 * C + c] = scale;
        saved[3 * C + c] = beta[c];
        for (int n = 0; n < xs.n; n++) {
            const float *xp = x + ((size_t)n * C + c) * plane;
            float *yp = y + ((size_t)n * C + c) * plane;
            for (size_t i = 0; i < plane; i++) {
                float v = fmaf(xp[i] - meanf, scale, beta[c]);
                yp[i] = relu && !(v > 0.0f) ? 0.0f : v;
            }
        }
        if (running_mean)
            running_mean[c] = (1.0f - BN_MOMENTUM) * running_mean[c] + BN_MOMENTUM * meanf;
        if (running_var) {
            double unbiased = m > 1 ? var * (double)m / (double)(m - 1) : var;
            running_var[c] = (1.0f - BN_MOMENTUM) * running_var[c] + BN_MOMENTUM * (float)unbiased;
        }
    }
}

/* With y = gamma * xhat + beta: dbeta = sum dy, dgamma = sum dy * xhat, and
   dx = gamma * istd * (dy - dbeta / M - xhat * dgamma / M), dy masked by the ReLU first. */
void ref_batchnorm_train_bwd(const float *dy, const float *x, shape4 xs, const float *saved,
                             int relu, float *dx, float *dgamma, float *dbeta) {
    const int C = xs.c;
    const size_t plane = shape4_plane(xs), m = (size_t)xs.n * plane;
    for (int c = 0; c < C; c++) {
        const float mean = saved[c], istd = saved[C + c], scale = saved[2 * C + c],
                    beta = saved[3 * C + c];
        double sdy = 0, sdyx = 0;
        for (int n = 0; n < xs.n; n++) {
            const size_t off = ((size_t)n * C + c) * plane;
            for (size_t i = 0; i < plane; i++) {
                float t = x[off + i] - mean;
                float g = relu && !(fmaf(t, scale, beta) > 0.0f) ? 0.0f : dy[off + i];
                sdy += g;
                sdyx += (double)g * (t * istd);
            }
        }
        dbeta[c] = (float)sdy;
        dgamma[c] = (float)sdyx;
        const float mdy = (float)(sdy / (double)m), mdyx = (float)(sdyx / (double)m);
        for (int n = 0; n < xs.n; n++) {
            const size_t off = ((size_t)n * C + c) * plane;
            for (size_t i = 0; i < plane; i++) {
                float t = x[off + i] - mean;
                float g = relu && !(fmaf(t, scale, beta) > 0.0f) ? 0.0f : dy[off + i];
                dx[off + i] = scale * (g - mdy - t * istd * mdyx);
            }
        }
    }
}
