/* test_grad_ref.c - every reference gradient against central finite differences of a
   double-precision forward, at small awkward shapes. */
/* ctest-label: host */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/backward.h"
#include "ref/ref.h"
#include "ref/ref_backward.h"
#include "testutil.h"

/* The scalar checked is L = sum(g * f(inputs)) for a fixed random g, so dL/dy = g and the
   reference gradients (computed in float from g) must equal the finite differences of L.
   Differences use step FD_H in double; for the (bi)linear ops they are exact up to rounding,
   for BatchNorm and softmax the O(h^2) error is ~1e-10. The float reference rounds each of its
   few hundred terms to ~6e-8 relative, so 1e-4 relative to the gradient's largest magnitude
   (plus 1e-5 absolute) is far above its error and far below any indexing mistake, which is
   O(1). */
#define FD_H   1e-6
#define FD_TOL 1e-4

/* A forward in double: returns L for the current (double) inputs in u. */
typedef double (*loss_fn)(void *u);

static double *to_double(const float *x, size_t n) {
    double *d = malloc(n * sizeof *d);
    for (size_t i = 0; i < n; i++) d[i] = x[i];
    return d;
}

static float *rand_floats(size_t n, uint64_t seed, float lo, float hi) {
    float *x = malloc((n ? n : 1) * sizeof *x);
    tu_fill_uniform(x, n, seed, lo, hi);
    return x;
}

/* Compares got (float) with the central differences of L with respect to param[0 .. n). */
static void check_fd(const char *what, const float *got, double *param, size_t n, loss_fn L,
                     void *u) {
    double max_ref = 0, max_err = 0;
    size_t worst = 0;
    double *fd = malloc((n ? n : 1) * sizeof *fd);
    for (size_t i = 0; i < n; i++) {
        double keep = param[i];
        param[i] = keep + FD_H;
        double lp = L(u);
        param[i] = keep - FD_H;
        double lm = L(u);
        param[i] = keep;
        fd[i] = (lp - lm) / (2 * FD_H);
        max_ref = fmax(max_ref, fabs(fd[i]));
    }
    for (size_t i = 0; i < n; i++) {
        double e = fabs(got[i] - fd[i]);
        if (!(e <= max_err)) {
            max_err = e;
            worst = i;
        }
    }
    CHECK(max_err <= 1e-5 + FD_TOL * max_ref, "%s: max err %g at %zu (got %g, fd %g, max |fd| %g)",
          what, max_err, worst, n ? got[worst] : 0.0, n ? fd[worst] : 0.0, max_ref);
    free(fd);
}

/* ---- conv2d / deconv2d ---- */

typedef struct conv_u {
    shape4 xs, ys;
    int k, stride, pad, deconv;
    double *x, *w, *b;
    const double *g;
} conv_u;

static double conv_loss(void *up) {
    const conv_u *u = up;
    const int k = u->k;
    double L = 0;
    for (size_t i = 0; i < shape4_count(u->ys); i++)
        L += u->g[i] * u->b[(i / shape4_plane(u->ys)) % (size_t)u->ys.c];
    for (int n = 0; n < u->xs.n; n++)
        for (int ci = 0; ci < u->xs.c; ci++)
            for (int co = 0; co < u->ys.c; co++)
                for (int ky = 0; ky < k; ky++)
                    for (int kx = 0; kx < k; kx++) {
                        /* conv: y[co] at (oy, ox) reads x[ci] at (oy*s-p+ky, ...); deconv:
                           x[ci] at (iy, ix) reaches y[co] at (iy*s-p+ky, ...). */
                        const shape4 src = u->deconv ? u->xs : u->ys; /* the strided side */
                        const shape4 dst = u->deconv ? u->ys : u->xs;
                        double wv = u->deconv
                                        ? u->w[(((size_t)ci * u->ys.c + co) * k + ky) * k + kx]
                                        : u->w[(((size_t)co * u->xs.c + ci) * k + ky) * k + kx];
                        for (int a = 0; a < src.h; a++) {
                            int b = a * u->stride - u->pad + ky;
                            if (b < 0 || b >= dst.h) continue;
                            for (int c = 0; c < src.w; c++) {
                                int d = c * u->stride - u->pad + kx;
                                if (d < 0 || d >= dst.w) continue;
                                size_t xi, yi;
                                if (u->deconv) {
                                    xi = (((size_t)n * u->xs.c + ci) * u->xs.h + a) * u->xs.w + c;
                                    yi = (((size_t)n * u->ys.c + co) * u->ys.h + b) * u->ys.w + d;
                                } else {
                                    xi = (((size_t)n * u->xs.c + ci) * u->xs.h + b) * u->xs.w + d;
                                    yi = (((size_t)n * u->ys.c + co) * u->ys.h + a) * u->ys.w + c;
                                }
                                L += u->g[yi] * wv * u->x[xi];
                            }
                        }
                    }
    return L;
}

static void check_conv(shape4 xs, int cout, int k, int stride, int pad, int deconv, int op,
                       uint64_t seed) {
    conv2d_params cp = {xs.c, cout, k, stride, pad, 0, 1, 1};
    deconv2d_params dp = {xs.c, cout, k, stride, pad, op, op, 0};
    shape4 ys;
    if (deconv ? !deconv2d_out_shape(xs, &dp, &ys) : !conv2d_out_shape(xs, &cp, &ys)) return;
    size_t xn = shape4_count(xs), yn = shape4_count(ys), wn = (size_t)xs.c * cout * k * k;
    float *x = rand_floats(xn, seed, -1, 1), *w = rand_floats(wn, seed + 1, -1, 1);
    float *b = rand_floats((size_t)cout, seed + 2, -1, 1), *g = rand_floats(yn, seed + 3, -1, 1);
    float *dx = malloc(xn * sizeof *dx), *dw = malloc(wn * sizeof *dw);
    float *db = malloc((size_t)cout * sizeof *db);
    if (deconv) {
        ref_deconv2d_bwd_data(g, w, &dp, xs, dx);
        ref_deconv2d_bwd_weight(x, xs, g, &dp, dw, db);
    } else {
        ref_conv2d_bwd_data(g, w, &cp, xs, dx);
        ref_conv2d_bwd_weight(x, xs, g, &cp, dw, db);
    }
    conv_u u = {xs,
                ys,
                k,
                stride,
                pad,
                deconv,
                to_double(x, xn),
                to_double(w, wn),
                to_double(b, (size_t)cout),
                NULL};
    double *gd = to_double(g, yn);
    u.g = gd;

    /* The double forward must agree with the float one, or the differences check nothing. */
    float *y = malloc(yn * sizeof *y);
    if (deconv)
        ref_deconv2d(x, xs, w, b, &dp, y);
    else
        ref_conv2d(x, xs, w, b, &cp, y);
    double Lf = 0;
    for (size_t i = 0; i < yn; i++) Lf += (double)g[i] * y[i];
    double Ld = conv_loss(&u);
    char what[128];
    snprintf(what, sizeof what, "%s %dx%dx%dx%d->%d k%d s%d p%d op%d", deconv ? "deconv" : "conv",
             xs.n, xs.c, xs.h, xs.w, cout, k, stride, pad, op);
    CHECK(fabs(Lf - Ld) <= 1e-4 * (1 + fabs(Ld)), "%s: forward %g vs double %g", what, Lf, Ld);

    char w2[160];
    snprintf(w2, sizeof w2, "%s dx", what);
    check_fd(w2, dx, u.x, xn, conv_loss, &u);
    snprintf(w2, sizeof w2, "%s dw", what);
    check_fd(w2, dw, u.w, wn, conv_loss, &u);
    snprintf(w2, sizeof w2, "%s db", what);
    check_fd(w2, db, u.b, (size_t)cout, conv_loss, &u);

    free(u.x), free(u.w), free(u.b), free(gd), free(y);
    free(x), free(w), free(b), free(g), free(dx), free(dw), free(db);
}

/* ---- BatchNorm (training mode) ---- */

typedef struct bn_u {
    shape4 s;
    int relu;
    double *x, *gamma, *beta;
    const double *g;
} bn_u;

static double bn_loss(void *up) {
    const bn_u *u = up;
    const size_t plane = shape4_plane(u->s), m = (size_t)u->s.n * plane;
    double L = 0;
    for (int c = 0; c < u->s.c; c++) {
        double mean = 0, var = 0;
        for (int n = 0; n < u->s.n; n++)
            for (size_t i = 0; i < plane; i++) mean += u->x[((size_t)n * u->s.c + c) * plane + i];
        mean /= (double)m;
        for (int n = 0; n < u->s.n; n++)
            for (size_t i = 0; i < plane; i++) {
                double d = u->x[((size_t)n * u->s.c + c) * plane + i] - mean;
                var += d * d;
            }
        var /= (double)m;
        for (int n = 0; n < u->s.n; n++)
            for (size_t i = 0; i < plane; i++) {
                size_t at = ((size_t)n * u->s.c + c) * plane + i;
                double y = u->gamma[c] * (u->x[at] - mean) / sqrt(var + BN_EPS) + u->beta[c];
                if (u->relu && y < 0) y = 0;
                L += u->g[at] * y;
            }
    }
    return L;
}

static void check_bn(shape4 s, int relu, uint64_t seed) {
    size_t n = shape4_count(s), C = (size_t)s.c;
    float *x = rand_floats(n, seed, -2, 3), *gamma = rand_floats(C, seed + 1, 0.5f, 1.5f);
    float *beta = rand_floats(C, seed + 2, -0.5f, 0.5f), *g = rand_floats(n, seed + 3, -1, 1);
    float *y = malloc(n * sizeof *y), *dx = malloc(n * sizeof *dx);
    float *saved = malloc(BN_SAVED_PER_CHANNEL * C * sizeof *saved);
    float *rm = malloc(C * sizeof *rm), *rv = malloc(C * sizeof *rv);
    float *dgamma = malloc(C * sizeof *dgamma), *dbeta = malloc(C * sizeof *dbeta);
    for (size_t c = 0; c < C; c++) rm[c] = 0.5f, rv[c] = 2.0f;
    ref_batchnorm_train(x, s, gamma, beta, relu, y, saved, rm, rv);
    ref_batchnorm_train_bwd(g, x, s, saved, relu, dx, dgamma, dbeta);

    bn_u u = {s, relu, to_double(x, n), to_double(gamma, C), to_double(beta, C), NULL};
    double *gd = to_double(g, n);
    u.g = gd;
    char what[128];
    snprintf(what, sizeof what, "bn %dx%dx%dx%d relu%d", s.n, s.c, s.h, s.w, relu);
    double Lf = 0;
    for (size_t i = 0; i < n; i++) Lf += (double)g[i] * y[i];
    double Ld = bn_loss(&u);
    CHECK(fabs(Lf - Ld) <= 1e-4 * (1 + fabs(Ld)), "%s: forward %g vs double %g", what, Lf, Ld);

    /* Running statistics: momentum 0.1 towards the batch mean and the unbiased variance. */
    const size_t plane = shape4_plane(s), m = (size_t)s.n * plane;
    for (int c = 0; c < s.c; c++) {
        double mean = 0, var = 0;
        for (int b = 0; b < s.n; b++)
            for (size_t i = 0; i < plane; i++) mean += x[((size_t)b * s.c + c) * plane + i];
        mean /= (double)m;
        for (int b = 0; b < s.n; b++)
            for (size_t i = 0; i < plane; i++) {
                double d = x[((size_t)b * s.c + c) * plane + i] - mean;
                var += d * d;
            }
        double unbiased = m > 1 ? var / (double)(m - 1) : 0.0;
        CHECK(fabs(rm[c] - (0.9 * 0.5 + 0.1 * mean)) < 1e-5, "%s: running mean %g", what, rm[c]);
        CHECK(fabs(rv[c] - (0.9 * 2.0 + 0.1 * unbiased)) < 1e-5 * (1 + unbiased),
              "%s: running var %g want %g", what, rv[c], 0.9 * 2.0 + 0.1 * unbiased);
    }

    char w2[160];
    snprintf(w2, sizeof w2, "%s dx", what);
    check_fd(w2, dx, u.x, n, bn_loss, &u);
    snprintf(w2, sizeof w2, "%s dgamma", what);
    check_fd(w2, dgamma, u.gamma, C, bn_loss, &u);
    snprintf(w2, sizeof w2, "%s dbeta", what);
    check_fd(w2, dbeta, u.beta, C, bn_loss, &u);
    free(u.x), free(u.gamma), free(u.beta), free(gd);
    free(x), free(gamma), free(beta), free(g), free(y), free(dx), free(saved), free(rm), free(rv),
        free(dgamma), free(dbeta);
}

/* ---- pooling, unpooling, upsampling ---- */

typedef struct pool_u {
    shape4 xs, ys;
    const pool_params *pool;
    const upsample_params *up;
    const unpool_params *unpool;
    const int32_t *indices; /* unpool */
    double *x;
    const double *g;
} pool_u;

static double pool_loss(void *up) {
    const pool_u *u = up;
    double L = 0;
    for (int plane = 0; plane < u->xs.n * u->xs.c; plane++) {
        const double *xp = u->x + (size_t)plane * shape4_plane(u->xs);
        const double *gp = u->g + (size_t)plane * shape4_plane(u->ys);
        if (u->unpool) {
            for (size_t i = 0; i < shape4_plane(u->xs); i++)
                L += gp[u->indices[(size_t)plane * shape4_plane(u->xs) + i]] * xp[i];
            continue;
        }
        for (int oh = 0; oh < u->ys.h; oh++)
            for (int ow = 0; ow < u->ys.w; ow++) {
                double y;
                if (u->pool) {
                    int h0 = oh * u->pool->stride, w0 = ow * u->pool->stride;
                    y = -INFINITY;
                    for (int h = h0; h < CLSEG_MIN(h0 + u->pool->k, u->xs.h); h++)
                        for (int w = w0; w < CLSEG_MIN(w0 + u->pool->k, u->xs.w); w++)
                            y = fmax(y, xp[h * u->xs.w + w]);
                } else if (u->up->mode == UPSAMPLE_NEAREST) {
                    y = xp[(oh / u->up->factor) * u->xs.w + ow / u->up->factor];
                } else {
                    /* PyTorch's align_corners=False source coordinate, straight from its
                       definition. */
                    double sh = fmax((oh + 0.5) / u->up->factor - 0.5, 0);
                    double sw = fmax((ow + 0.5) / u->up->factor - 0.5, 0);
                    int h0 = (int)sh, w0 = (int)sw;
                    int h1 = CLSEG_MIN(h0 + 1, u->xs.h - 1), w1 = CLSEG_MIN(w0 + 1, u->xs.w - 1);
                    double lh = sh - h0, lw = sw - w0;
                    y = (1 - lh) * ((1 - lw) * xp[h0 * u->xs.w + w0] + lw * xp[h0 * u->xs.w + w1]) +
                        lh * ((1 - lw) * xp[h1 * u->xs.w + w0] + lw * xp[h1 * u->xs.w + w1]);
                }
                L += gp[oh * u->ys.w + ow] * y;
            }
    }
    return L;
}

/* Distinct values at least 1e-3 apart (a shuffled ramp), so that a step of FD_H never changes
   which element of a window is the maximum. */
static float *distinct_floats(size_t n, uint64_t seed) {
    float *x = malloc(n * sizeof *x);
    float *r = rand_floats(n, seed, 0, 1);
    for (size_t i = 0; i < n; i++) x[i] = (float)i * 1e-3f;
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)(r[i - 1] * (float)i) % i;
        float t = x[i - 1];
        x[i - 1] = x[j];
        x[j] = t;
    }
    free(r);
    return x;
}

static void check_maxpool(shape4 xs, pool_params p, uint64_t seed) {
    shape4 ys;
    if (!pool_out_shape(xs, &p, &ys)) return;
    size_t xn = shape4_count(xs), yn = shape4_count(ys);
    float *x = distinct_floats(xn, seed), *g = rand_floats(yn, seed + 1, -1, 1);
    float *y = malloc(yn * sizeof *y), *dx = malloc(xn * sizeof *dx);
    int32_t *idx = malloc(yn * sizeof *idx);
    ref_maxpool(x, xs, &p, y, idx);
    ref_maxpool_bwd(g, idx, xs, &p, dx);
    double *gd = to_double(g, yn);
    pool_u u = {xs, ys, &p, NULL, NULL, NULL, to_double(x, xn), gd};
    char what[128];
    snprintf(what, sizeof what, "maxpool_bwd %dx%dx%dx%d k%d s%d ceil%d", xs.n, xs.c, xs.h, xs.w,
             p.k, p.stride, p.ceil_mode);
    check_fd(what, dx, u.x, xn, pool_loss, &u);
    free(u.x), free(gd), free(x), free(g), free(y), free(dx), free(idx);
}

static void check_upsample(shape4 xs, upsample_params p, uint64_t seed) {
    shape4 ys;
    if (!upsample_out_shape(xs, &p, &ys)) return;
    size_t xn = shape4_count(xs), yn = shape4_count(ys);
    float *x = rand_floats(xn, seed, -1, 1), *g = rand_floats(yn, seed + 1, -1, 1);
    float *y = malloc(yn * sizeof *y), *dx = malloc(xn * sizeof *dx);
    ref_upsample(x, xs, &p, y);
    ref_upsample_bwd(g, xs, &p, dx);
    double *gd = to_double(g, yn);
    pool_u u = {xs, ys, NULL, &p, NULL, NULL, to_double(x, xn), gd};
    char what[128];
    snprintf(what, sizeof what, "upsample_bwd %dx%dx%dx%d f%d %s", xs.n, xs.c, xs.h, xs.w, p.factor,
             p.mode == UPSAMPLE_BILINEAR ? "bilinear" : "nearest");
    double Lf = 0;
    for (size_t i = 0; i < yn; i++) Lf += (double)g[i] * y[i];
    double Ld = pool_loss(&u);
    CHECK(fabs(Lf - Ld) <= 1e-4 * (1 + fabs(Ld)), "%s: forward %g vs double %g", what, Lf, Ld);
    check_fd(what, dx, u.x, xn, pool_loss, &u);
    free(u.x), free(gd), free(x), free(g), free(y), free(dx);
}

/* Unpool indices from a real max-pool of the unpooled size (distinct per window). */
static void check_maxunpool(shape4 big, pool_params p, uint64_t seed) {
    shape4 xs;
    if (!pool_out_shape(big, &p, &xs)) return;
    size_t bn = shape4_count(big), xn = shape4_count(xs);
    float *src = distinct_floats(bn, seed), *x = rand_floats(xn, seed + 1, -1, 1);
    float *g = rand_floats(bn, seed + 2, -1, 1), *pooled = malloc(xn * sizeof *pooled);
    float *dx = malloc(xn * sizeof *dx);
    int32_t *idx = malloc(xn * sizeof *idx);
    ref_maxpool(src, big, &p, pooled, idx);
    unpool_params up = {big.h, big.w};
    ref_maxunpool_bwd(g, idx, xs, &up, dx);
    double *gd = to_double(g, bn);
    pool_u u = {xs, big, NULL, NULL, &up, idx, to_double(x, xn), gd};
    char what[128];
    snprintf(what, sizeof what, "maxunpool_bwd %dx%dx%dx%d", big.n, big.c, big.h, big.w);
    check_fd(what, dx, u.x, xn, pool_loss, &u);
    free(u.x), free(gd), free(src), free(x), free(g), free(pooled), free(dx), free(idx);
}

/* ---- ReLU, add, concat ---- */

static void check_elementwise(uint64_t seed) {
    const size_t n = 37;
    float *x = rand_floats(n, seed, -1, 1), *g = rand_floats(n, seed + 1, -1, 1);
    float *y = malloc(n * sizeof *y), *dx = malloc(n * sizeof *dx), *da = malloc(n * sizeof *da);
    float *db = malloc(n * sizeof *db);
    x[0] = 0.0f; /* ReLU'(0) = 0, as PyTorch */
    ref_relu(x, n, y);
    ref_relu_bwd(g, y, n, dx);
    for (size_t i = 0; i < n; i++)
        CHECK(dx[i] == (x[i] > 0 ? g[i] : 0.0f) && y[i] == (x[i] > 0 ? x[i] : 0.0f), "relu at %zu",
              i);
    ref_add_bwd(g, y, n, 1, da, db);
    CHECK(memcmp(da, dx, n * sizeof *da) == 0 && memcmp(db, dx, n * sizeof *db) == 0,
          "add_bwd relu");
    ref_add_bwd(g, NULL, n, 0, da, NULL);
    CHECK(memcmp(da, g, n * sizeof *da) == 0, "add_bwd");

    shape4 as = {2, 3, 2, 3}, bs = {2, 2, 2, 3};
    size_t an = shape4_count(as), bnn = shape4_count(bs);
    float *a = rand_floats(an, seed + 2, -1, 1), *b = rand_floats(bnn, seed + 3, -1, 1);
    float *cat = malloc((an + bnn) * sizeof *cat), *ga = malloc(an * sizeof *ga);
    float *gb = malloc(bnn * sizeof *gb);
    ref_concat(a, as, b, bs, cat);
    ref_concat_bwd(cat, as, bs, ga, gb); /* the split undoes the concat */
    CHECK(memcmp(ga, a, an * sizeof *a) == 0 && memcmp(gb, b, bnn * sizeof *b) == 0, "concat_bwd");
    free(x), free(g), free(y), free(dx), free(da), free(db), free(a), free(b), free(cat), free(ga),
        free(gb);
}

/* ---- softmax cross-entropy ---- */

typedef struct xent_u {
    shape4 s;
    double *logits;
    const int32_t *labels;
    const float *factors;
} xent_u;

static double xent_loss(void *up) {
    const xent_u *u = up;
    const size_t plane = shape4_plane(u->s);
    double L = 0;
    for (int n = 0; n < u->s.n; n++)
        for (size_t i = 0; i < plane; i++) {
            int y = u->labels[(size_t)n * plane + i];
            if (y < 0 || y >= u->s.c) continue;
            const double *l = u->logits + (size_t)n * u->s.c * plane + i;
            double mx = -INFINITY, sum = 0;
            for (int c = 0; c < u->s.c; c++) mx = fmax(mx, l[(size_t)c * plane]);
            for (int c = 0; c < u->s.c; c++) sum += exp(l[(size_t)c * plane] - mx);
            L += u->factors[y] * (mx + log(sum) - l[(size_t)y * plane]);
        }
    return L;
}

/* labels: uniform over [-1, K] (so -1 and K are ignored) unless all_ignored; factors w_c /
   N_total with class weights when weighted. */
static void check_xent(shape4 s, int weighted, int all_ignored, float scale, uint64_t seed) {
    const size_t n = shape4_count(s), pix = (size_t)s.n * shape4_plane(s);
    float *logits = rand_floats(n, seed, -scale, scale), *d = malloc(n * sizeof *d);
    float *r = rand_floats(pix, seed + 1, 0, 1);
    int32_t *labels = malloc(pix * sizeof *labels);
    int64_t count = 0;
    for (size_t i = 0; i < pix; i++) {
        labels[i] = all_ignored ? (i % 2 ? -1 : s.c) : (int32_t)(r[i] * (float)(s.c + 2)) - 1;
        count += labels[i] >= 0 && labels[i] < s.c;
    }
    float *factors = malloc((size_t)CLSEG_MAX(s.c, 1) * sizeof *factors);
    for (int c = 0; c < s.c; c++) {
        float w = weighted ? 0.5f + (float)c : 1.0f;
        factors[c] = count ? w / (float)count : 0.0f;
    }
    int64_t got_count = -1;
    double L = ref_softmax_xent(logits, s, labels, factors, d, &got_count);
    xent_u u = {s, to_double(logits, n), labels, factors};
    char what[128];
    snprintf(what, sizeof what, "softmax_xent %dx%dx%dx%d w%d ignored%d scale %g", s.n, s.c, s.h,
             s.w, weighted, all_ignored, scale);
    CHECK(got_count == count, "%s: count %lld want %lld", what, (long long)got_count,
          (long long)count);
    double Ld = xent_loss(&u);
    CHECK(isfinite(L) && fabs(L - Ld) <= 1e-5 * (1 + fabs(Ld)), "%s: loss %g want %g", what, L, Ld);
    if (all_ignored) {
        int zero = L == 0.0;
        for (size_t i = 0; i < n; i++) zero &= d[i] == 0.0f;
        CHECK(zero, "%s: nothing labelled must give loss 0 and zero gradient", what);
    }
    check_fd(what, d, u.logits, n, xent_loss, &u);
    free(u.logits), free(logits), free(d), free(r), free(labels), free(factors);
}

/* The loss by hand: two classes, logits (0, log 3) -> p = (1/4, 3/4). */
static void check_xent_by_hand(void) {
    const float logits[2] = {0.0f, logf(3.0f)};
    const int32_t label = 0;
    const float factors[2] = {1.0f, 1.0f};
    float d[2];
    double L = ref_softmax_xent(logits, (shape4){1, 2, 1, 1}, &label, factors, d, NULL);
    CHECK(fabs(L - log(4.0)) < 1e-6, "by hand: loss %g want log 4", L);
    CHECK(fabsf(d[0] + 0.75f) < 1e-6f && fabsf(d[1] - 0.75f) < 1e-6f, "by hand: d %g %g", d[0],
          d[1]);
}

int main(void) {
    uint64_t seed = 1;
    static const int sides[][2] = {{1, 1}, {3, 5}, {7, 4}};
    static const int chans[][2] = {{1, 1}, {3, 5}, {5, 3}};
    for (size_t si = 0; si < CLSEG_ARRAY_LEN(sides); si++)
        for (size_t ci = 0; ci < CLSEG_ARRAY_LEN(chans); ci++)
            for (int n = 1; n <= 2; n++)
                for (int k = 1; k <= 3; k += 2)
                    for (int stride = 1; stride <= 2; stride++)
                        for (int pad = 0; pad <= 1; pad++) {
                            shape4 xs = {n, chans[ci][0], sides[si][0], sides[si][1]};
                            /* Trim the product: batch 2 only on the middle channel pair. */
                            if (n == 2 && ci != 1) continue;
                            check_conv(xs, chans[ci][1], k, stride, pad, 0, 0, seed += 4);
                            for (int op = 0; op < stride; op++)
                                check_conv(xs, chans[ci][1], k, stride, pad, 1, op, seed += 4);
                        }
    /* Even kernel, stride 3 (output_padding 2), pad 2. */
    check_conv((shape4){1, 2, 5, 6}, 3, 4, 3, 2, 0, 0, seed += 4);
    check_conv((shape4){1, 2, 3, 2}, 3, 4, 3, 2, 1, 2, seed += 4);

    static const shape4 bn_shapes[] = {
        {1, 1, 1, 2}, {1, 3, 3, 5}, {2, 5, 7, 4}, {2, 1, 1, 1}, {3, 2, 1, 1}};
    for (size_t i = 0; i < CLSEG_ARRAY_LEN(bn_shapes); i++)
        for (int relu = 0; relu <= 1; relu++) check_bn(bn_shapes[i], relu, seed += 4);

    static const shape4 pool_shapes[] = {{1, 1, 1, 1}, {1, 3, 3, 5}, {2, 2, 7, 4}, {1, 1, 9, 7}};
    static const pool_params pools[] = {{2, 2, 0, 0}, {2, 2, 1, 0}, {3, 2, 1, 0},
                                        {3, 1, 0, 0}, {1, 1, 0, 0}, {2, 3, 1, 0}};
    for (size_t i = 0; i < CLSEG_ARRAY_LEN(pool_shapes); i++)
        for (size_t j = 0; j < CLSEG_ARRAY_LEN(pools); j++) {
            check_maxpool(pool_shapes[i], pools[j], seed += 4);
            if (pools[j].stride >= pools[j].k) check_maxunpool(pool_shapes[i], pools[j], seed += 4);
        }
    for (size_t i = 0; i < CLSEG_ARRAY_LEN(pool_shapes); i++)
        for (int f = 1; f <= 3; f++)
            for (int mode = 0; mode <= 1; mode++)
                check_upsample(pool_shapes[i], (upsample_params){f, (upsample_mode)mode},
                               seed += 4);

    check_elementwise(seed += 4);

    check_xent_by_hand();
    static const shape4 xent_shapes[] = {{1, 1, 1, 1}, {1, 3, 3, 5}, {2, 5, 7, 4}, {2, 12, 3, 2}};
    for (size_t i = 0; i < CLSEG_ARRAY_LEN(xent_shapes); i++)
        for (int weighted = 0; weighted <= 1; weighted++) {
            check_xent(xent_shapes[i], weighted, 0, 3.0f, seed += 4);
            check_xent(xent_shapes[i], weighted, 1, 3.0f, seed += 4);
        }
    /* Logits of +-80 overflow exp() in float without the max subtraction. */
    check_xent((shape4){2, 5, 3, 5}, 1, 0, 80.0f, seed += 4);
    return tu_finish("test_grad_ref");
}
