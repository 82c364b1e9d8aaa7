/* workload.c - the cost of an op call, and runnable copies of calls with seeded data and
   reference outputs for the tuner's timing and verification. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../ops/backward.h"
#include "../ref/ref.h"
#include "workload.h"

int workload_kind_supported(op_kind kind) {
    switch (kind) {
    case OP_CONV2D:
    case OP_DECONV2D:
    case OP_MAXPOOL:
    case OP_AVGPOOL:
    case OP_UPSAMPLE:
    case OP_MAXUNPOOL:
    case OP_CONCAT:
    case OP_ADD:
    case OP_SOFTMAX:
    case OP_ARGMAX:
        return 1;
    default:
        return 0;
    }
}

/* splitmix64: deterministic data from the seed, no shared state. */
static uint64_t next_u64(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static float *uniform(size_t n, uint64_t *s) {
    float *x = clseg_malloc((n ? n : 1) * sizeof *x);
    if (x)
        for (size_t i = 0; i < n; i++) x[i] = (float)((next_u64(s) >> 40) * (2.0 / 16777216.0) - 1);
    return x;
}

/* Indices an unpool reads: one position per input element inside its own window of the output
   plane (windows of ceil(out / in) rows and columns never overlap), as a max-pool writes them. */
static int32_t *unpool_indices(shape4 xs, const unpool_params *p, uint64_t *s) {
    int32_t *idx = clseg_malloc((shape4_count(xs) ? shape4_count(xs) : 1) * sizeof *idx);
    if (!idx) return NULL;
    int sh = (p->out_h + xs.h - 1) / xs.h, sw = (p->out_w + xs.w - 1) / xs.w;
    size_t i = 0;
    for (int pl = 0; pl < xs.n * xs.c; pl++)
        for (int h = 0; h < xs.h; h++)
            for (int w = 0; w < xs.w; w++, i++) {
                int r = CLSEG_MIN(h * sh + (int)(next_u64(s) % (uint64_t)sh), p->out_h - 1);
                int c = CLSEG_MIN(w * sw + (int)(next_u64(s) % (uint64_t)sw), p->out_w - 1);
                idx[i] = r * p->out_w + c;
            }
    return idx;
}

void workload_free(workload *w) {
    for (int i = 0; i < 5; i++)
        if (w->mems[i]) clReleaseMemObject(w->mems[i]);
    for (int i = 0; i < 3; i++) free(w->host_in[i]);
    for (int i = 0; i < 2; i++) free(w->want[i]);
    memset(w, 0, sizeof *w);
}

static void reference(workload *w) {
    const op_call *c = &w->call;
    const shape4 x = c->in[0].s;
    float *const *in = (float *const *)w->host_in;
    float *y = w->want[0];
    switch (c->kind) {
    case OP_CONV2D:
        ref_conv2d(in[0], x, in[1], in[2], &c->p.conv, y);
        break;
    case OP_DECONV2D:
        ref_deconv2d(in[0], x, in[1], in[2], &c->p.deconv, y);
        break;
    case OP_MAXPOOL:
        ref_maxpool(in[0], x, &c->p.pool, y, w->want[1]);
        break;
    case OP_AVGPOOL:
        ref_avgpool(in[0], x, &c->p.pool, y);
        break;
    case OP_UPSAMPLE:
        ref_upsample(in[0], x, &c->p.up, y);
        break;
    case OP_MAXUNPOOL:
        ref_maxunpool(in[0], w->host_in[1], x, &c->p.unpool, y);
        break;
    case OP_CONCAT:
        ref_concat(in[0], x, in[1], c->in[1].s, y);
        break;
    case OP_ADD:
        ref_add(in[0], in[1], x, &c->p.add, y);
        break;
    case OP_SOFTMAX:
        ref_softmax(in[0], x, y);
        break;
    case OP_ARGMAX:
        ref_argmax(in[0], x, w->want[0]);
        break;
    default:
        break;
    }
}

/* The op tests' tolerances (tests/test_<op>.c): sums of n products in another order than the
   reference get 3e-5 * sqrt(n) absolute and 1e-4 relative; interpolation and averages 1e-6 and
   1e-5; copies and maxima are exact. */
static void tolerance(workload *w) {
    const op_call *c = &w->call;
    w->atol = w->rtol = 0;
    if (c->kind == OP_CONV2D || c->kind == OP_DECONV2D) {
        int n = c->kind == OP_CONV2D ? c->p.conv.cin * c->p.conv.k * c->p.conv.k
                                     : c->p.deconv.cin * c->p.deconv.k * c->p.deconv.k;
        w->atol = 3e-5f * sqrtf((float)n);
        w->rtol = 1e-4f;
    } else if (c->kind == OP_AVGPOOL || c->kind == OP_SOFTMAX ||
               (c->kind == OP_UPSAMPLE && c->p.up.mode == UPSAMPLE_BILINEAR)) {
        w->atol = 1e-6f;
        w->rtol = 1e-5f;
    }
}

clseg_status workload_create(clseg_context *ctx, const op_call *shape_call, uint64_t seed,
                             int want_reference, workload *w) {
    memset(w, 0, sizeof *w);
    w->call = *shape_call;
    op_call *c = &w->call;
    if (!workload_kind_supported(c->kind))
        return ctx_fail(ctx, CLSEG_ERR_UNSUPPORTED, "no test data for %s", op_kind_name(c->kind));
    uint64_t s = seed;
    const shape4 x = c->in[0].s;
    size_t in_count[3] = {shape4_count(x), 0, 0};
    int n_in = 1;
    if (c->kind == OP_CONV2D || c->kind == OP_DECONV2D) {
        const int cout = c->kind == OP_CONV2D ? c->p.conv.cout : c->p.deconv.cout;
        const int k = c->kind == OP_CONV2D ? c->p.conv.k : c->p.deconv.k;
        in_count[1] = (size_t)cout * (size_t)x.c * (size_t)k * (size_t)k;
        in_count[2] = (size_t)cout;
        n_in = 3;
    } else if (c->kind == OP_MAXUNPOOL || c->kind == OP_CONCAT || c->kind == OP_ADD) {
        in_count[1] = shape4_count(c->in[1].s);
        n_in = 2;
    }
    clseg_status st = CLSEG_OK;
    for (int i = 0; i < n_in && st == CLSEG_OK; i++) {
        w->host_in[i] = (c->kind == OP_MAXUNPOOL && i == 1)
                            ? (void *)unpool_indices(x, &c->p.unpool, &s)
                            : (void *)uniform(in_count[i], &s);
        if (!w->host_in[i]) st = ctx_fail(ctx, CLSEG_ERR_OUT_OF_MEMORY, "out of memory");
        if (st == CLSEG_OK) st = ctx_buffer(ctx, in_count[i] * 4, w->host_in[i], &w->mems[i]);
        if (st == CLSEG_OK) c->in[i].mem = w->mems[i];
    }
    int n_out = (c->kind == OP_MAXPOOL && c->p.pool.with_indices) ? 2 : 1;
    if (c->kind == OP_MAXPOOL && n_out == 1) c->out[1].mem = NULL;
    for (int i = 0; i < n_out && st == CLSEG_OK; i++) {
        w->out_count[i] = shape4_count(c->out[0].s);
        w->out_is_int[i] = i == 1 || c->kind == OP_ARGMAX;
        st = ctx_buffer(ctx, w->out_count[i] * 4, NULL, &w->mems[3 + i]);
        if (st == CLSEG_OK) c->out[i].mem = w->mems[3 + i];
        if (st == CLSEG_OK && want_reference) {
            w->want[i] = clseg_malloc((w->out_count[i] ? w->out_count[i] : 1) * 4);
            if (!w->want[i]) st = ctx_fail(ctx, CLSEG_ERR_OUT_OF_MEMORY, "out of memory");
        }
    }
    if (st != CLSEG_OK) {
        workload_free(w);
        return st;
    }
    tolerance(w);
    if (want_reference) reference(w);
    return CLSEG_OK;
}

clseg_status workload_poison(clseg_context *ctx, workload *w) {
    for (int i = 0; i < 2; i++) {
        if (!w->out_count[i]) continue;
        const uint32_t pattern = w->out_is_int[i] ? 0xffffffffu : 0x7fc00000u; /* -1 / NaN */
        cl_int e = clEnqueueFillBuffer(ctx->queue, w->mems[3 + i], &pattern, sizeof pattern, 0,
                                       w->out_count[i] * 4, 0, NULL, NULL);
        if (e != CL_SUCCESS) return ctx_cl_fail(ctx, e, "clEnqueueFillBuffer");
    }
    return CLSEG_OK;
}

int workload_verify(clseg_context *ctx, workload *w, char *msg, size_t len) {
    for (int i = 0; i < 2; i++) {
        if (!w->out_count[i] || !w->want[i]) continue;
        void *got = clseg_malloc(w->out_count[i] * 4);
        if (!got || ctx_read(ctx, w->mems[3 + i], 0, w->out_count[i] * 4, got) != CLSEG_OK) {
            snprintf(msg, len, "cannot read the output back");
            free(got);
            return 0;
        }
        size_t bad = 0, worst = 0;
        double worst_excess = -1;
        for (size_t j = 0; j < w->out_count[i]; j++) {
            double g, want, excess;
            if (w->out_is_int[i]) {
                g = ((const int32_t *)got)[j];
                want = ((const int32_t *)w->want[i])[j];
                excess = g != want ? 1 : -1;
            } else {
                g = ((const float *)got)[j];
                want = ((const float *)w->want[i])[j];
                excess = isnan(g) ? INFINITY : fabs(g - want) - (w->atol + w->rtol * fabs(want));
            }
            if (excess > 0) bad++;
            if (excess > worst_excess) {
                worst_excess = excess;
                worst = j;
            }
        }
        if (bad) {
            double g =
                w->out_is_int[i] ? ((const int32_t *)got)[worst] : ((const float *)got)[worst];
            double want = w->out_is_int[i] ? ((const int32_t *)w->want[i])[worst]
                                           : ((const float *)w->want[i])[worst];
            snprintf(msg, len, "%zu of %zu %s differ from the reference, e.g. [%zu] %g vs %g", bad,
                     w->out_count[i], i ? "indices" : "outputs", worst, g, want);
        }
        free(got);
        if (bad) return 0;
    }
    return 1;
}
