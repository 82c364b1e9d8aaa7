/* conv_backward.c - reference gradients of conv2d and deconv2d (data and weight). */
#include "ref.h"
#include "ref_backward.h"

/* The data gradient of a conv is the transposed conv of dy with the same weight tensor (conv's
   [cout][cin] layout is the deconv's [cin][cout] with the roles swapped), with the
   output_padding that restores x's size; and the other way round for deconv. Both forwards are
   checked against PyTorch elsewhere, and the gradient tests check these against finite
   differences. */
void ref_conv2d_bwd_data(const float *dy, const float *weight, const conv2d_params *p, shape4 xs,
                         float *dx) {
    shape4 ys;
    if (!conv2d_out_shape(xs, p, &ys)) return;
    deconv2d_params d = {p->cout, p->cin, p->k, p->stride, p->pad, 0, 0, 0};
    d.out_pad_h = deconv2d_out_pad_for(ys.h, p->k, p->stride, p->pad, xs.h);
    d.out_pad_w = deconv2d_out_pad_for(ys.w, p->k, p->stride, p->pad, xs.w);
    ref_deconv2d(dy, ys, weight, NULL, &d, dx);
}

void ref_deconv2d_bwd_data(const float *dy, const float *weight, const deconv2d_params *p,
                           shape4 xs, float *dx) {
    shape4 ys;
    if (!deconv2d_out_shape(xs, p, &ys)) return;
    conv2d_params c = {p->cout, p->cin, p->k, p->stride, p->pad, 0, 1, 1};
    ref_conv2d(dy, ys, weight, NULL, &c, dx);
}

/* dw[co][ci][ky][kx] = sum over n, oy, ox of dy[n][co][oy][ox] * x[n][ci][oy*s-pad+ky][ox*s-pad+kx]
   for a conv from x (xs) to dy (ys). Sums in double: this is the oracle for long reductions. */
static void weight_grad(const float *x, shape4 xs, const float *dy, shape4 ys, int k, int stride,
                        int pad, float *dw) {
    for (int co = 0; co < ys.c; co++)
        for (int ci = 0; ci < xs.c; ci++)
            for (int ky = 0; ky < k; ky++)
                for (int kx = 0; kx < k; kx++) {
                    double acc = 0;
                    for (int n = 0; n < xs.n; n++) {
                        const float *xp = x + ((size_t)n * xs.c + ci) * shape4_plane(xs);
                        const float *dp = dy + ((size_t)n * ys.c + co) * shape4_plane(ys);
                        for (int oy = 0; oy < ys.h; oy++) {
                            int iy = oy * stride - pad + ky;
                            if (iy < 0 || iy >= xs.h) continue;
                            for (int ox = 0; ox < ys.w; ox++) {
                                int ix = ox * stride - pad + kx;
                                if (ix >= 0 && ix < xs.w)
                                    acc += (double)dp[(size_t)oy * ys.w + ox] *
                                           xp[(size_t)iy * xs.w + ix];
                            }
                        }
                    }
                    dw[(((size_t)co * xs.c + ci) * k + ky) * k + kx] = (float)acc;
                }
}

static void bias_grad(const float *dy, shape4 ys, float *db) {
    for (int co = 0; co < ys.c; co++) {
        double s = 0;
        for (int n = 0; n < ys.n; n++) {
            const float *dp = dy + ((size_t)n * ys.c + co) * shape4_plane(ys);
            for (size_t i = 0; i < shape4_plane(ys); i++) s += dp[i];
        }
        db[co] = (float)s;
    }
}

void ref_conv2d_bwd_weight(const float *x, shape4 xs, const float *dy, const conv2d_params *p,
                           float *dw, float *db) {
    shape4 ys;
    if (!conv2d_out_shape(xs, p, &ys)) return;
    weight_grad(x, xs, dy, ys, p->k, p->stride, p->pad, dw);
    if (db) bias_grad(dy, ys, db);
}

/* The deconv from x to y is the adjoint of a conv from y to x with the same weight tensor, so
   its weight gradient is that conv's with x and dy swapped: dw[ci][co] pairs the conv's
   "output" channel ci (x) with its "input" channel co (dy). */
void ref_deconv2d_bwd_weight(const float *x, shape4 xs, const float *dy, const deconv2d_params *p,
                             float *dw, float *db) {
    shape4 ys;
    if (!deconv2d_out_shape(xs, p, &ys)) return;
    weight_grad(dy, ys, x, xs, p->k, p->stride, p->pad, dw);
    if (db) bias_grad(dy, ys, db);
}
