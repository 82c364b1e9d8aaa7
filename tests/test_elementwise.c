/* test_elementwise.c - concat, add, softmax, argmax vs the C reference on every device. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/ops.h"
#include "ref/ref.h"
#include "testutil.h"

/* Every variant, awkward shapes, ties and huge logits; plus hand-computed reference checks. */

/* add: one IEEE addition, correctly rounded on every OpenCL device, so only a denormal result
   flushed to zero (allowed without CL_FP_DENORM) may differ: FLT_MIN absolute, nothing
   relative. softmax: OpenCL's exp() may be off by 3 ulp and its division by 2.5 ulp, and the
   sum may be reordered; 1e-6 absolute + 1e-5 relative on outputs in [0, 1]. Concat and argmax
   are exact. */
#define ADD_ATOL     1.17549435e-38f
#define ADD_RTOL     0.0f
#define SOFTMAX_ATOL 1e-6f
#define SOFTMAX_RTOL 1e-5f

static cl_mem upload(clseg_context *ctx, const float *x, size_t n) {
    cl_mem m = NULL;
    CHECK_OK(ctx_buffer(ctx, n * sizeof *x, x, &m));
    return m;
}

/* Runs every variant of `call` (inputs set) into a fresh guarded output of ys and compares it
   with want: bit-exact when exact, else within atol/rtol. Outputs are float or int32. */
static void run_and_compare(clseg_context *ctx, op_call *call, shape4 ys, const void *want,
                            int exact, float atol, float rtol, const char *label) {
    size_t yn = shape4_count(ys);
    float *got = malloc(yn * sizeof *got);
    tu_config vs[16];
    size_t nv = (size_t)tu_op_configs(ctx, call, vs, 16);
    for (size_t vi = 0; vi < nv; vi++) {
        tu_guarded y;
        CHECK(tu_guarded_create(ctx, yn, NULL, &y), "guarded y");
        call->out[0] = (dtensor){y.mem, ys};
        char what[200];
        snprintf(what, sizeof what, "%s/%s %s", op_kind_name(call->kind), vs[vi].label, label);
        clseg_status st = tu_run_config(ctx, &vs[vi], call);
        CHECK(st == CLSEG_OK, "%s: %s", what, clseg_context_error(ctx));
        CHECK_OK(ctx_finish(ctx));
        CHECK(tu_guarded_read(ctx, &y, got), "%s: guards", what);
        if (exact)
            CHECK(memcmp(got, want, yn * sizeof *got) == 0, "%s: values differ", what);
        else
            CHECK(tu_allclose(what, got, want, yn, atol, rtol), "%s", what);
        tu_guarded_free(&y);
    }
    free(got);
}

static void shape_label(char *buf, size_t len, shape4 s) {
    snprintf(buf, len, "%dx%dx%dx%d", s.n, s.c, s.h, s.w);
}

static void check_concat(clseg_context *ctx, shape4 as, int cb, uint64_t seed) {
    shape4 bs = {as.n, cb, as.h, as.w}, ys = {as.n, as.c + cb, as.h, as.w};
    size_t an = shape4_count(as), bn = shape4_count(bs);
    float *a = malloc(an * sizeof *a), *b = malloc(bn * sizeof *b);
    float *want = malloc(shape4_count(ys) * sizeof *want);
    tu_fill_uniform(a, an, seed, -1.0f, 1.0f);
    tu_fill_uniform(b, bn, seed + 1000, -1.0f, 1.0f);
    ref_concat(a, as, b, bs, want);
    op_call call = {.kind = OP_CONCAT};
    call.in[0] = (dtensor){upload(ctx, a, an), as};
    call.in[1] = (dtensor){upload(ctx, b, bn), bs};
    char label[64];
    shape_label(label, sizeof label, ys);
    run_and_compare(ctx, &call, ys, want, 1, 0, 0, label);
    clReleaseMemObject(call.in[0].mem);
    clReleaseMemObject(call.in[1].mem);
    free(a);
    free(b);
    free(want);
}

static void check_add(clseg_context *ctx, shape4 s, int relu, uint64_t seed) {
    size_t n = shape4_count(s);
    float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b), *want = malloc(n * sizeof *want);
    tu_fill_uniform(a, n, seed, -1.0f, 1.0f);
    tu_fill_uniform(b, n, seed + 1000, -1.0f, 1.0f);
    add_params p = {relu};
    ref_add(a, b, s, &p, want);
    op_call call = {.kind = OP_ADD, .p.add = p};
    call.in[0] = (dtensor){upload(ctx, a, n), s};
    call.in[1] = (dtensor){upload(ctx, b, n), s};
    char label[64];
    shape_label(label, sizeof label, s);
    strcat(label, relu ? " relu" : "");
    run_and_compare(ctx, &call, s, want, 0, ADD_ATOL, ADD_RTOL, label);
    clReleaseMemObject(call.in[0].mem);
    clReleaseMemObject(call.in[1].mem);
    free(a);
    free(b);
    free(want);
}

/* Logits in [lo, hi); a wide range checks that the max is subtracted (exp(150) overflows). */
static void check_softmax(clseg_context *ctx, shape4 s, float lo, float hi, uint64_t seed) {
    size_t n = shape4_count(s);
    float *x = malloc(n * sizeof *x), *want = malloc(n * sizeof *want);
    tu_fill_uniform(x, n, seed, lo, hi);
    ref_softmax(x, s, want);
    op_call call = {.kind = OP_SOFTMAX};
    call.in[0] = (dtensor){upload(ctx, x, n), s};
    char label[96];
    shape_label(label, sizeof label, s);
    snprintf(label + strlen(label), sizeof label - strlen(label), " logits [%g, %g)", lo, hi);
    run_and_compare(ctx, &call, s, want, 0, SOFTMAX_ATOL, SOFTMAX_RTOL, label);
    clReleaseMemObject(call.in[0].mem);
    free(x);
    free(want);
}

/* tied = logits from {0, 1, 2}, so most pixels have several maximal classes. */
static void check_argmax(clseg_context *ctx, shape4 s, int tied, uint64_t seed) {
    size_t n = shape4_count(s);
    shape4 ls = {s.n, 1, s.h, s.w};
    float *x = malloc(n * sizeof *x);
    int32_t *want = malloc(shape4_count(ls) * sizeof *want);
    tu_fill_uniform(x, n, seed, 0.0f, tied ? 3.0f : 1.0f);
    if (tied)
        for (size_t i = 0; i < n; i++) x[i] = floorf(x[i]);
    ref_argmax(x, s, want);
    op_call call = {.kind = OP_ARGMAX};
    call.in[0] = (dtensor){upload(ctx, x, n), s};
    char label[64];
    shape_label(label, sizeof label, s);
    strcat(label, tied ? " tied" : "");
    run_and_compare(ctx, &call, ls, want, 1, 0, 0, label);
    clReleaseMemObject(call.in[0].mem);
    free(x);
    free(want);
}

static void check_reference_by_hand(void) {
    /* Two classes, one pixel: logits 0 and ln 3 give 1/4 and 3/4; equal huge logits 1/2 each
       (no overflow). */
    float y[4];
    const float x[2] = {0.0f, logf(3.0f)}, big[2] = {1000.0f, 1000.0f};
    ref_softmax(x, (shape4){1, 2, 1, 1}, y);
    CHECK(fabsf(y[0] - 0.25f) < 1e-6f && fabsf(y[1] - 0.75f) < 1e-6f, "softmax %g %g", y[0], y[1]);
    ref_softmax(big, (shape4){1, 2, 1, 1}, y);
    CHECK(y[0] == 0.5f && y[1] == 0.5f, "softmax of huge logits %g %g", y[0], y[1]);

    /* Three classes over two pixels (channel-major): pixel 0 ties classes 1 and 2, pixel 1 ties
       all three. */
    const float logits[6] = {1, 0, 3, 0, 3, 0};
    int32_t labels[2];
    ref_argmax(logits, (shape4){1, 3, 1, 2}, labels);
    CHECK(labels[0] == 1 && labels[1] == 0, "argmax ties %d %d", labels[0], labels[1]);

    const float a[2] = {1, -2}, b[2] = {0.5f, 1};
    ref_add(a, b, (shape4){1, 1, 1, 2}, &(add_params){1}, y);
    CHECK(y[0] == 1.5f && y[1] == 0.0f, "add relu %g %g", y[0], y[1]);

    /* batch 2, a with 1 channel, b with 2, 1 pixel: per image a then b. */
    const float ca[2] = {1, 2}, cb[4] = {10, 11, 20, 21};
    float cy[6];
    const float cy_want[6] = {1, 10, 11, 2, 20, 21};
    ref_concat(ca, (shape4){2, 1, 1, 1}, cb, (shape4){2, 2, 1, 1}, cy);
    CHECK(memcmp(cy, cy_want, sizeof cy) == 0, "concat order");
}

int main(void) {
    check_reference_by_hand();

    clseg_context **ctxs;
    int n_ctx = tu_contexts(&ctxs);
    static const int sides[][2] = {{1, 1}, {9, 7}, {33, 17}, {2, 3}, {8, 8}};
    static const int channels[] = {1, 3, 7, 16, 64};
    const int nch = (int)CLSEG_ARRAY_LEN(channels);
    for (int ci = 0; ci < n_ctx; ci++) {
        uint64_t seed = 1;
        for (size_t si = 0; si < CLSEG_ARRAY_LEN(sides); si++)
            for (int ch = 0; ch < nch; ch++)
                for (int batch = 1; batch <= 3; batch += 2) {
                    shape4 s = {batch, channels[ch], sides[si][0], sides[si][1]};
                    check_concat(ctxs[ci], s, channels[(ch + 1) % nch], seed++);
                    check_concat(ctxs[ci], s, channels[ch], seed++);
                    check_add(ctxs[ci], s, 0, seed++);
                    check_add(ctxs[ci], s, 1, seed++);
                    check_softmax(ctxs[ci], s, -4.0f, 4.0f, seed++);
                    check_softmax(ctxs[ci], s, -50.0f, 150.0f, seed++);
                    check_argmax(ctxs[ci], s, 0, seed++);
                    check_argmax(ctxs[ci], s, 1, seed++);
                }
    }
    tu_contexts_free(ctxs, n_ctx);
    return tu_finish("test_elementwise");
}
