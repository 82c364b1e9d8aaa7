/* test_grad_ops.c - BatchNorm in training mode, the gradients of ReLU, add, concat, max-pool,
   max-unpool and upsampling, and the softmax cross-entropy loss on every device, through op_run
   and every variant, against the C reference at awkward shapes with guarded outputs. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/backward.h"
#include "ops/desc.h"
#include "ref/ref.h"
#include "ref/ref_backward.h"
#include "testutil.h"
#include "tune/select.h"

/* Outputs of one configuration: fresh guarded buffers (NaN before the run) read back after. */
typedef struct outs {
    int n;
    size_t count[4];
    tu_guarded g[4];
    float *got[4];
} outs;

static int run_into(clseg_context *ctx, const tu_config *cfg, op_call *call, outs *o,
                    const char *what) {
    for (int i = 0; i < o->n; i++) {
        o->got[i] = NULL;
        memset(&o->g[i], 0, sizeof o->g[i]);
        if (!o->count[i]) continue; /* this output is left NULL */
        CHECK(tu_guarded_create(ctx, o->count[i], NULL, &o->g[i]), "%s: guarded", what);
        call->out[i].mem = o->g[i].mem;
    }
    clseg_status st = tu_run_config(ctx, cfg, call);
    CHECK(st == CLSEG_OK, "%s %s: %s: %s", what, cfg->label, clseg_status_str(st),
          clseg_context_error(ctx));
    for (int i = 0; i < o->n; i++) {
        if (!o->count[i]) continue;
        o->got[i] = malloc(o->count[i] * sizeof(float));
        CHECK(tu_guarded_read(ctx, &o->g[i], o->got[i]), "%s %s out[%d]: guard regions", what,
              cfg->label, i);
    }
    return st == CLSEG_OK;
}

static void outs_free(outs *o) {
    for (int i = 0; i < o->n; i++) {
        free(o->got[i]);
        o->got[i] = NULL;
        if (o->count[i]) tu_guarded_free(&o->g[i]);
    }
}

static cl_mem upload(clseg_context *ctx, const void *host, size_t bytes) {
    cl_mem m = NULL;
    CHECK_OK(ctx_buffer(ctx, bytes, host, &m));
    return m;
}

/* ---- BatchNorm ---- */

/* Compares n values with the reference at the tolerance of c's out[k] (the op's description). */
static int close_to(const op_call *c, int k, const char *what, const float *got, const float *want,
                    size_t n) {
    const op_tolerance t = op_desc_get(c->kind)->tolerance(c, k);
    return tu_allclose(what, got, want, n, t.atol, t.rtol);
}

/* The backward is fed the reference's `saved`, so its ReLU mask is the reference's exactly. */

static void check_bn(clseg_context *ctx, shape4 s, int relu, uint64_t seed) {
    const size_t n = shape4_count(s), C = (size_t)s.c, S = BN_SAVED_PER_CHANNEL * C;
    float *x = malloc(n * sizeof *x), *gamma = malloc(C * sizeof *gamma);
    float *beta = malloc(C * sizeof *beta), *dy = malloc(n * sizeof *dy);
    float *y = malloc(n * sizeof *y), *saved = malloc(S * sizeof *saved);
    float *rm0 = malloc(C * sizeof *rm0), *rv0 = malloc(C * sizeof *rv0);
    float *rm = malloc(C * sizeof *rm), *rv = malloc(C * sizeof *rv);
    float *dx = malloc(n * sizeof *dx), *dgamma = malloc(C * sizeof *dgamma);
    float *dbeta = malloc(C * sizeof *dbeta);
    tu_fill_uniform(x, n, seed, -1, 3);
    tu_fill_uniform(gamma, C, seed + 1, 0.5f, 1.5f);
    tu_fill_uniform(beta, C, seed + 2, -0.5f, 0.5f);
    tu_fill_uniform(dy, n, seed + 3, -1, 1);
    tu_fill_uniform(rm0, C, seed + 4, -1, 1);
    tu_fill_uniform(rv0, C, seed + 5, 0.5f, 2);
    memcpy(rm, rm0, C * sizeof *rm);
    memcpy(rv, rv0, C * sizeof *rv);
    ref_batchnorm_train(x, s, gamma, beta, relu, y, saved, rm, rv);
    ref_batchnorm_train_bwd(dy, x, s, saved, relu, dx, dgamma, dbeta);

    char what[128];
    snprintf(what, sizeof what, "bn %dx%dx%dx%d relu%d", s.n, s.c, s.h, s.w, relu);
    cl_mem xm = upload(ctx, x, n * 4), gm = upload(ctx, gamma, C * 4),
           bm = upload(ctx, beta, C * 4);
    cl_mem dym = upload(ctx, dy, n * 4), sm = upload(ctx, saved, S * 4);

    op_call call = {.kind = OP_BATCHNORM_TRAIN, .p.bn.relu = relu};
    call.in[0] = (dtensor){xm, s};
    call.in[1].mem = gm;
    call.in[2].mem = bm;
    call.out[0].s = s;
    tu_config cfgs[8];
    int nc = tu_op_configs(ctx, &call, cfgs, 8);
    CHECK(nc >= 2, "%s: no variant", what);
    for (int i = 0; i < nc; i++) {
        /* running stats are read-modify-write: they start from rm0 / rv0 */
        outs o = {4, {n, S, C, C}, {{0}}, {0}};
        op_call c = call;
        if (run_into(ctx, &cfgs[i], &c, &o, what)) {
            CHECK_OK(ctx_write(ctx, o.g[2].mem, 0, C * 4, rm0));
            CHECK_OK(ctx_write(ctx, o.g[3].mem, 0, C * 4, rv0));
            CHECK_OK(tu_run_config(ctx, &cfgs[i], &c));
            for (int k = 0; k < 4; k++) tu_guarded_read(ctx, &o.g[k], o.got[k]);
            CHECK(close_to(&c, 0, what, o.got[0], y, n), "%s %s y", what, cfgs[i].label);
            CHECK(close_to(&c, 1, what, o.got[1], saved, S), "%s %s saved", what, cfgs[i].label);
            CHECK(close_to(&c, 2, what, o.got[2], rm, C), "%s %s running mean", what,
                  cfgs[i].label);
            CHECK(close_to(&c, 3, what, o.got[3], rv, C), "%s %s running var", what, cfgs[i].label);
        }
        outs_free(&o);
    }
    /* Without running statistics (NULL) it still normalises. */
    {
        outs o = {2, {n, S}, {{0}}, {0}};
        op_call c = call;
        if (run_into(ctx, &cfgs[0], &c, &o, what))
            CHECK(close_to(&c, 0, what, o.got[0], y, n), "%s: no running stats", what);
        outs_free(&o);
    }

    call = (op_call){.kind = OP_BATCHNORM_TRAIN_BWD, .p.bn.relu = relu};
    call.in[0] = (dtensor){dym, s};
    call.in[1] = (dtensor){xm, s};
    call.in[2].mem = sm;
    call.out[0].s = s;
    nc = tu_op_configs(ctx, &call, cfgs, 8);
    CHECK(nc >= 2, "%s: no backward variant", what);
    for (int i = 0; i < nc; i++) {
        outs o = {3, {n, C, C}, {{0}}, {0}};
        op_call c = call;
        if (run_into(ctx, &cfgs[i], &c, &o, what)) {
            CHECK(close_to(&c, 0, what, o.got[0], dx, n), "%s %s dx", what, cfgs[i].label);
            CHECK(close_to(&c, 1, what, o.got[1], dgamma, C), "%s %s dgamma", what, cfgs[i].label);
            CHECK(close_to(&c, 2, what, o.got[2], dbeta, C), "%s %s dbeta", what, cfgs[i].label);
        }
        outs_free(&o);
    }
    /* dx may overwrite dy. */
    {
        cl_mem inplace = upload(ctx, dy, n * 4), dg = upload(ctx, NULL, C * 4),
               dbm = upload(ctx, NULL, C * 4);
        op_call c = call;
        c.in[0].mem = inplace;
        c.out[0].mem = inplace;
        c.out[1].mem = dg;
        c.out[2].mem = dbm;
        CHECK_OK(tune_run_call(ctx, &c));
        float *got = malloc(n * sizeof *got);
        CHECK_OK(ctx_read(ctx, inplace, 0, n * 4, got));
        CHECK(close_to(&c, 0, what, got, dx, n), "%s: in place", what);
        free(got);
        clReleaseMemObject(inplace), clReleaseMemObject(dg), clReleaseMemObject(dbm);
    }
    clReleaseMemObject(xm), clReleaseMemObject(gm), clReleaseMemObject(bm);
    clReleaseMemObject(dym), clReleaseMemObject(sm);
    free(x), free(gamma), free(beta), free(dy), free(y), free(saved), free(rm0), free(rv0),
        free(rm), free(rv), free(dx), free(dgamma), free(dbeta);
}

/* ---- ReLU, add, concat: copies and masks, compared exactly ---- */

static void check_elementwise(clseg_context *ctx, shape4 s, uint64_t seed) {
    const size_t n = shape4_count(s);
    float *dy = malloc(n * sizeof *dy), *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    float *want = malloc(n * sizeof *want);
    tu_fill_uniform(dy, n, seed, -1, 1);
    tu_fill_uniform(x, n, seed + 1, -1, 1);
    ref_relu(x, n, y);
    ref_relu_bwd(dy, y, n, want);
    cl_mem dym = upload(ctx, dy, n * 4), ym = upload(ctx, y, n * 4);
    char what[96];
    snprintf(what, sizeof what, "elementwise %dx%dx%dx%d", s.n, s.c, s.h, s.w);

    op_call call = {.kind = OP_RELU_BWD};
    call.in[0] = (dtensor){dym, s};
    call.in[1] = (dtensor){ym, s};
    call.out[0].s = s;
    tu_config cfgs[8];
    int nc = tu_op_configs(ctx, &call, cfgs, 8);
    for (int i = 0; i < nc; i++) {
        outs o = {1, {n}, {{0}}, {0}};
        op_call c = call;
        if (run_into(ctx, &cfgs[i], &c, &o, what))
            CHECK(memcmp(o.got[0], want, n * 4) == 0, "%s %s: relu_bwd", what, cfgs[i].label);
        outs_free(&o);
    }

    for (int relu = 0; relu <= 1; relu++) {
        call = (op_call){.kind = OP_ADD_BWD, .p.add.relu = relu};
        call.in[0] = (dtensor){dym, s};
        call.in[1] = (dtensor){relu ? ym : NULL, s};
        call.out[0].s = call.out[1].s = s;
        const float *w = relu ? want : dy;
        nc = tu_op_configs(ctx, &call, cfgs, 8);
        for (int i = 0; i < nc; i++) {
            for (int which = 0; which < 3; which++) { /* both, only da, only db */
                outs o = {2, {which != 2 ? n : 0, which != 1 ? n : 0}, {{0}}, {0}};
                op_call c = call;
                if (run_into(ctx, &cfgs[i], &c, &o, what))
                    for (int k = 0; k < 2; k++)
                        if (o.got[k])
                            CHECK(memcmp(o.got[k], w, n * 4) == 0, "%s %s: add_bwd relu%d out%d",
                                  what, cfgs[i].label, relu, k);
                outs_free(&o);
            }
        }
    }

    /* concat_bwd: split dy's channels at every point, including 0 and all. */
    for (int ca = 0; ca <= s.c; ca++) {
        shape4 as = {s.n, ca, s.h, s.w}, bs = {s.n, s.c - ca, s.h, s.w};
        size_t an = shape4_count(as), bn = shape4_count(bs);
        float *wa = malloc((an ? an : 1) * 4), *wb = malloc((bn ? bn : 1) * 4);
        ref_concat_bwd(dy, as, bs, wa, wb);
        call = (op_call){.kind = OP_CONCAT_BWD};
        call.in[0] = (dtensor){dym, s};
        call.out[0].s = as;
        call.out[1].s = bs;
        nc = tu_op_configs(ctx, &call, cfgs, 8);
        for (int i = 0; i < nc; i++) {
            outs o = {2, {an, bn}, {{0}}, {0}};
            op_call c = call;
            if (run_into(ctx, &cfgs[i], &c, &o, what)) {
                CHECK(!an || memcmp(o.got[0], wa, an * 4) == 0, "%s %s: concat_bwd a (ca %d)", what,
                      cfgs[i].label, ca);
                CHECK(!bn || memcmp(o.got[1], wb, bn * 4) == 0, "%s %s: concat_bwd b (ca %d)", what,
                      cfgs[i].label, ca);
            }
            outs_free(&o);
        }
        free(wa), free(wb);
    }
    clReleaseMemObject(dym), clReleaseMemObject(ym);
    free(dy), free(x), free(y), free(want);
}

/* ---- max-pool, max-unpool, upsampling ---- */

static void run_pool_like(clseg_context *ctx, op_call call, const float *want, size_t n,
                          const char *what) {
    tu_config cfgs[8];
    int nc = tu_op_configs(ctx, &call, cfgs, 8);
    CHECK(nc >= 2, "%s: no variant", what);
    for (int i = 0; i < nc; i++) {
        outs o = {1, {n}, {{0}}, {0}};
        op_call c = call;
        if (run_into(ctx, &cfgs[i], &c, &o, what))
            CHECK(close_to(&c, 0, what, o.got[0], want, n), "%s %s", what, cfgs[i].label);
        outs_free(&o);
    }
}

static void check_pool(clseg_context *ctx, shape4 xs, pool_params p, int tied, uint64_t seed) {
    shape4 ys;
    if (!pool_out_shape(xs, &p, &ys)) return;
    size_t xn = shape4_count(xs), yn = shape4_count(ys);
    float *x = malloc(xn * 4), *y = malloc(yn * 4), *dy = malloc(yn * 4), *dx = malloc(xn * 4);
    int32_t *idx = malloc(yn * 4);
    tu_fill_uniform(x, xn, seed, 0, tied ? 2.0f : 1.0f);
    if (tied)
        for (size_t i = 0; i < xn; i++) x[i] = floorf(x[i]);
    tu_fill_uniform(dy, yn, seed + 1, -1, 1);
    ref_maxpool(x, xs, &p, y, idx);
    ref_maxpool_bwd(dy, idx, xs, &p, dx);
    cl_mem dym = upload(ctx, dy, yn * 4), im = upload(ctx, idx, yn * 4);
    char what[128];
    snprintf(what, sizeof what, "maxpool_bwd %dx%dx%dx%d k%d s%d ceil%d", xs.n, xs.c, xs.h, xs.w,
             p.k, p.stride, p.ceil_mode);
    op_call call = {.kind = OP_MAXPOOL_BWD, .p.pool = p};
    call.in[0] = (dtensor){dym, ys};
    call.in[1] = (dtensor){im, ys};
    call.out[0].s = xs;
    run_pool_like(ctx, call, dx, xn, what);

    if (p.stride >= p.k) {
        /* Unpool: the pooled tensor's gradient gathers dy of the unpooled size at the indices. */
        float *big_dy = malloc(xn * 4), *small_dx = malloc(yn * 4);
        tu_fill_uniform(big_dy, xn, seed + 2, -1, 1);
        unpool_params up = {xs.h, xs.w};
        ref_maxunpool_bwd(big_dy, idx, ys, &up, small_dx);
        cl_mem bm = upload(ctx, big_dy, xn * 4);
        snprintf(what, sizeof what, "maxunpool_bwd %dx%dx%dx%d", xs.n, xs.c, xs.h, xs.w);
        call = (op_call){.kind = OP_MAXUNPOOL_BWD, .p.unpool = up};
        call.in[0] = (dtensor){bm, xs};
        call.in[1] = (dtensor){im, ys};
        call.out[0].s = ys;
        run_pool_like(ctx, call, small_dx, yn, what);
        clReleaseMemObject(bm);
        free(big_dy), free(small_dx);
    }
    clReleaseMemObject(dym), clReleaseMemObject(im);
    free(x), free(y), free(dy), free(dx), free(idx);
}

static void check_upsample(clseg_context *ctx, shape4 xs, upsample_params p, uint64_t seed) {
    shape4 ys;
    if (!upsample_out_shape(xs, &p, &ys)) return;
    size_t xn = shape4_count(xs), yn = shape4_count(ys);
    float *dy = malloc(yn * 4), *dx = malloc(xn * 4);
    tu_fill_uniform(dy, yn, seed, -1, 1);
    ref_upsample_bwd(dy, xs, &p, dx);
    cl_mem dym = upload(ctx, dy, yn * 4);
    char what[128];
    snprintf(what, sizeof what, "upsample_bwd %dx%dx%dx%d f%d mode%d", xs.n, xs.c, xs.h, xs.w,
             p.factor, (int)p.mode);
    op_call call = {.kind = OP_UPSAMPLE_BWD, .p.up = p};
    call.in[0] = (dtensor){dym, ys};
    call.out[0].s = xs;
    run_pool_like(ctx, call, dx, xn, what);
    clReleaseMemObject(dym);
    free(dy), free(dx);
}

/* ---- softmax cross-entropy ---- */

static void check_xent(clseg_context *ctx, shape4 s, int weighted, int mode, uint64_t seed) {
    /* mode 0: random labels with ignored ones; 1: everything ignored; 2: logits of +-80;
       3: a NaN logit in row 1 of image 0; 4: image 0 entirely ignored, the others not. */
    const size_t n = shape4_count(s), pix = (size_t)s.n * shape4_plane(s);
    const size_t rows = softmax_xent_partials(s);
    float *logits = malloc(n * 4), *r = malloc(pix * 4), *d = malloc(n * 4);
    int32_t *labels = malloc(pix * 4);
    float scale = mode == 2 ? 80.0f : 4.0f;
    tu_fill_uniform(logits, n, seed, -scale, scale);
    tu_fill_uniform(r, pix, seed + 1, 0, 1);
    int64_t count = 0;
    for (size_t i = 0; i < pix; i++) {
        labels[i] = mode == 1 || (mode == 4 && i < shape4_plane(s))
                        ? (i % 2 ? -1 : s.c)
                        : (int32_t)(r[i] * (float)(s.c + 2)) - 1;
        count += labels[i] >= 0 && labels[i] < s.c;
    }
    if (mode == 3 && s.h > 1) logits[(size_t)s.w] = NAN; /* class 0 of row 1, column 0 */
    float *factors = malloc((size_t)s.c * 4);
    for (int c = 0; c < s.c; c++)
        factors[c] = count ? (weighted ? 0.5f + (float)c : 1.0f) / (float)count : 0.0f;
    double L = mode == 3 ? 0 : ref_softmax_xent(logits, s, labels, factors, d, NULL);

    cl_mem lm = upload(ctx, logits, n * 4), ym = upload(ctx, labels, pix * 4);
    cl_mem fm = upload(ctx, factors, (size_t)s.c * 4);
    char what[128];
    snprintf(what, sizeof what, "softmax_xent %dx%dx%dx%d w%d mode%d", s.n, s.c, s.h, s.w, weighted,
             mode);
    op_call call = {.kind = OP_SOFTMAX_XENT};
    call.in[0] = (dtensor){lm, s};
    call.in[1] = (dtensor){ym, {s.n, 1, s.h, s.w}};
    call.in[2].mem = fm;
    call.out[0].s = s;
    call.out[1].s = (shape4){1, 1, 1, (int)(2 * rows)};
    tu_config cfgs[8];
    int nc = tu_op_configs(ctx, &call, cfgs, 8);
    CHECK(nc >= 2, "%s: no variant", what);
    for (int i = 0; i < nc; i++) {
        outs o = {2, {n, 2 * rows}, {{0}}, {0}};
        op_call c = call;
        if (run_into(ctx, &cfgs[i], &c, &o, what)) {
            double got_L = 0, got_count = 0;
            for (size_t k = 0; k < rows; k++) {
                got_L += o.got[1][2 * k];
                got_count += o.got[1][2 * k + 1];
            }
            CHECK(got_count == (double)count, "%s %s: count %g want %lld", what, cfgs[i].label,
                  got_count, (long long)count);
            if (mode == 3) {
                CHECK(s.h < 2 || !isfinite(got_L), "%s %s: NaN logit not flagged", what,
                      cfgs[i].label);
            } else {
                /* exp and log are within a few ulp; the loss sums per row, then in double */
                CHECK(fabs(got_L - L) <= 1e-5 * (1 + fabs(L)), "%s %s: loss %g want %g", what,
                      cfgs[i].label, got_L, L);
                CHECK(close_to(&c, 0, what, o.got[0], d, n), "%s %s dlogits", what, cfgs[i].label);
            }
        }
        outs_free(&o);
    }
    if (mode == 0) {
        /* dlogits may overwrite logits */
        cl_mem inplace = upload(ctx, logits, n * 4), pm = upload(ctx, NULL, 2 * rows * 4);
        op_call c = call;
        c.in[0].mem = c.out[0].mem = inplace;
        c.out[1].mem = pm;
        CHECK_OK(tune_run_call(ctx, &c));
        float *got = malloc(n * 4);
        CHECK_OK(ctx_read(ctx, inplace, 0, n * 4, got));
        CHECK(close_to(&c, 0, what, got, d, n), "%s: in place", what);
        free(got);
        clReleaseMemObject(inplace), clReleaseMemObject(pm);
    }
    clReleaseMemObject(lm), clReleaseMemObject(ym), clReleaseMemObject(fm);
    free(logits), free(r), free(d), free(labels), free(factors);
}

int main(void) {
    clseg_context **ctxs;
    int n_ctx = tu_contexts(&ctxs);
    static const shape4 shapes[] = {{1, 1, 1, 1}, {1, 3, 3, 5},    {2, 5, 7, 4},
                                    {2, 3, 9, 7}, {1, 17, 33, 17}, {3, 2, 1, 6}};
    static const pool_params pools[] = {
        {2, 2, 0, 0}, {2, 2, 1, 0}, {3, 2, 1, 0}, {3, 1, 0, 0}, {2, 3, 1, 0}};
    for (int d = 0; d < n_ctx; d++) {
        clseg_context *ctx = ctxs[d];
        uint64_t seed = 7;
        for (size_t i = 0; i < CLSEG_ARRAY_LEN(shapes); i++) {
            shape4 s = shapes[i];
            if (s.h * s.w * s.n > 1) /* M = 1 is a degenerate BatchNorm; test_grad_ref has it */
                for (int relu = 0; relu <= 1; relu++) check_bn(ctx, s, relu, seed += 8);
            check_elementwise(ctx, s, seed += 8);
            for (size_t j = 0; j < CLSEG_ARRAY_LEN(pools); j++)
                check_pool(ctx, s, pools[j], (int)(j % 2), seed += 8);
            for (int f = 1; f <= 3; f++)
                for (int mode = 0; mode <= 1; mode++)
                    check_upsample(ctx, s, (upsample_params){f, (upsample_mode)mode}, seed += 8);
            for (int mode = 0; mode <= 4; mode++) check_xent(ctx, s, mode % 2, mode, seed += 8);
        }
        check_xent(ctx, (shape4){2, 12, 20, 37}, 1, 0, seed += 8);
        check_bn(ctx, (shape4){3, 4, 30, 37}, 1, seed += 8);
    }
    tu_contexts_free(ctxs, n_ctx);
    return tu_finish("test_grad_ops");
}
