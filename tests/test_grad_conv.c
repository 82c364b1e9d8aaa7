/* test_grad_conv.c - conv2d and deconv2d data and weight gradients on every device, through
   op_run and every variant at its default, smallest and largest parameters, against the C
   reference (itself checked against finite differences by test_grad_ref) at awkward shapes. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/backward.h"
#include "ops/desc.h"
#include "ref/ref_backward.h"
#include "testutil.h"
#include "tune/select.h"

typedef struct grad_case {
    int n, cin, h, w, cout, k, stride, pad, out_pad, deconv;
} grad_case;

/* Tiny and odd sizes (1x1, 3x5, 7x4, 9x7), channel counts that no tile divides (1, 3, 5, 17),
   batch 1 to 3, k 1 to 4, stride 1 to 3, pad 0 to 2, every output_padding; a few wider ones so
   that whole vector steps and several lanes' rows occur; and the seed net's stride-2 deconv. */
static const grad_case cases[] = {
    {1, 1, 1, 1, 1, 1, 1, 0, 0, 0},   {1, 3, 3, 5, 5, 3, 1, 1, 0, 0},
    {2, 5, 7, 4, 3, 3, 2, 1, 0, 0},   {1, 3, 7, 4, 5, 1, 2, 0, 0, 0},
    {2, 17, 9, 7, 5, 3, 1, 1, 0, 0},  {1, 5, 9, 7, 17, 3, 2, 0, 0, 0},
    {3, 3, 5, 6, 3, 4, 3, 2, 0, 0},   {1, 8, 19, 37, 9, 3, 1, 1, 0, 0},
    {2, 4, 20, 40, 6, 3, 2, 1, 0, 0}, {1, 1, 1, 1, 1, 1, 1, 0, 0, 1},
    {1, 3, 3, 5, 5, 3, 1, 1, 0, 1},   {2, 5, 7, 4, 3, 3, 2, 1, 1, 1},
    {2, 5, 7, 4, 3, 3, 2, 1, 0, 1},   {1, 3, 1, 1, 5, 3, 2, 1, 1, 1},
    {2, 17, 5, 6, 5, 3, 2, 1, 1, 1},  {1, 2, 3, 2, 3, 4, 3, 2, 2, 1},
    {2, 9, 10, 20, 8, 3, 2, 1, 1, 1}, {1, 3, 3, 5, 5, 1, 1, 0, 0, 1},
};

/* Runs one configuration into fresh guarded outputs (NaN before) and compares them at the op's
   tolerance (its description). */
static void check_config(clseg_context *ctx, const tu_config *cfg, op_call call, int n_out,
                         const size_t counts[2], float *const want[2], const char *what) {
    tu_guarded out[2] = {{0}, {0}};
    for (int i = 0; i < n_out; i++) {
        CHECK(tu_guarded_create(ctx, counts[i], NULL, &out[i]), "%s: guarded buffer", what);
        call.out[i].mem = out[i].mem;
    }
    clseg_status st = tu_run_config(ctx, cfg, &call);
    CHECK(st == CLSEG_OK, "%s %s: %s: %s", what, cfg->label, clseg_status_str(st),
          clseg_context_error(ctx));
    for (int i = 0; i < n_out; i++) {
        float *got = malloc(counts[i] * sizeof *got);
        char label[256];
        snprintf(label, sizeof label, "%s %s out[%d]", what, cfg->label, i);
        CHECK(tu_guarded_read(ctx, &out[i], got), "%s: guard regions", label);
        const op_tolerance tol = op_desc_get(call.kind)->tolerance(&call, i);
        CHECK(tu_allclose(label, got, want[i], counts[i], tol.atol, tol.rtol), "%s", label);
        free(got);
        tu_guarded_free(&out[i]);
    }
}

static void run_case(clseg_context *ctx, const grad_case *c, uint64_t seed) {
    shape4 xs = {c->n, c->cin, c->h, c->w}, ys;
    conv2d_params cp = {c->cin, c->cout, c->k, c->stride, c->pad, 0, 1, 1};
    deconv2d_params dp = {c->cin, c->cout, c->k, c->stride, c->pad, c->out_pad, c->out_pad, 0};
    int ok = c->deconv ? deconv2d_out_shape(xs, &dp, &ys) : conv2d_out_shape(xs, &cp, &ys);
    CHECK(ok, "case %d has no output", (int)seed);
    if (!ok) return;
    size_t xn = shape4_count(xs), yn = shape4_count(ys),
           wn = (size_t)c->cin * c->cout * c->k * c->k;
    float *x = malloc(xn * sizeof *x), *w = malloc(wn * sizeof *w), *dy = malloc(yn * sizeof *dy);
    float *dx = malloc(xn * sizeof *dx), *dw = malloc(wn * sizeof *dw);
    float *db = malloc((size_t)c->cout * sizeof *db);
    tu_fill_uniform(x, xn, seed, -1, 1);
    tu_fill_uniform(w, wn, seed + 1, -1, 1);
    tu_fill_uniform(dy, yn, seed + 2, -1, 1);
    if (c->deconv) {
        ref_deconv2d_bwd_data(dy, w, &dp, xs, dx);
        ref_deconv2d_bwd_weight(x, xs, dy, &dp, dw, db);
    } else {
        ref_conv2d_bwd_data(dy, w, &cp, xs, dx);
        ref_conv2d_bwd_weight(x, xs, dy, &cp, dw, db);
    }
    cl_mem xm = NULL, wm = NULL, dym = NULL;
    CHECK_OK(ctx_buffer(ctx, xn * sizeof *x, x, &xm));
    CHECK_OK(ctx_buffer(ctx, wn * sizeof *w, w, &wm));
    CHECK_OK(ctx_buffer(ctx, yn * sizeof *dy, dy, &dym));
    char what[160];
    snprintf(what, sizeof what, "%s n%d cin%d %dx%d cout%d k%d s%d p%d op%d",
             c->deconv ? "deconv" : "conv", c->n, c->cin, c->h, c->w, c->cout, c->k, c->stride,
             c->pad, c->out_pad);

    /* Data gradient: dy, weight -> dx. */
    op_call call = {.kind = c->deconv ? OP_DECONV2D_BWD_DATA : OP_CONV2D_BWD_DATA};
    if (c->deconv)
        call.p.deconv = dp;
    else
        call.p.conv = cp;
    call.in[0] = (dtensor){dym, ys};
    call.in[1].mem = wm;
    call.out[0].s = xs;
    tu_config cfgs[16];
    int nc = tu_op_configs(ctx, &call, cfgs, 16);
    CHECK(nc >= 2, "%s: data gradient has no variant", what);
    for (int i = 0; i < nc; i++)
        check_config(ctx, &cfgs[i], call, 1, (size_t[2]){xn, 0}, (float *[2]){dx, NULL}, what);

    /* Weight gradient: x, dy -> dw, db (and once without db). */
    call.kind = c->deconv ? OP_DECONV2D_BWD_WEIGHT : OP_CONV2D_BWD_WEIGHT;
    call.in[0] = (dtensor){xm, xs};
    call.in[1] = (dtensor){dym, ys};
    call.out[0].s = (shape4){1, 1, 1, (int)wn};
    call.out[1].s = (shape4){1, 1, 1, c->cout};
    nc = tu_op_configs(ctx, &call, cfgs, 16);
    CHECK(nc >= 2, "%s: weight gradient has no variant", what);
    for (int i = 0; i < nc; i++)
        check_config(ctx, &cfgs[i], call, 2, (size_t[2]){wn, (size_t)c->cout}, (float *[2]){dw, db},
                     what);
    call.out[1].mem = NULL;
    check_config(ctx, &cfgs[0], call, 1, (size_t[2]){wn, 0}, (float *[2]){dw, NULL}, what);

    clReleaseMemObject(xm);
    clReleaseMemObject(wm);
    clReleaseMemObject(dym);
    free(x), free(w), free(dy), free(dx), free(dw), free(db);
}

/* Fused ReLUs are the trainer's to undo (OP_RELU_BWD): a relu flag is refused, as is a dy of the
   wrong shape. */
static void check_rejects(clseg_context *ctx) {
    cl_mem m = NULL;
    CHECK_OK(ctx_buffer(ctx, 256 * sizeof(float), NULL, &m));
    op_call call = {.kind = OP_CONV2D_BWD_DATA, .p.conv = {1, 1, 3, 1, 1, 1, 1, 1}};
    call.in[0] = (dtensor){m, {1, 1, 4, 4}};
    call.in[1].mem = m;
    call.out[0] = (dtensor){m, {1, 1, 4, 4}};
    CHECK(tune_run_call(ctx, &call) == CLSEG_ERR_INVALID_ARGUMENT, "relu accepted");
    call.p.conv.act = 0;
    call.in[0].s.w = 3;
    CHECK(tune_run_call(ctx, &call) == CLSEG_ERR_INVALID_ARGUMENT, "wrong dy shape accepted");
    call = (op_call){.kind = OP_CONV2D_BWD_WEIGHT, .p.conv = {1, 1, 3, 1, 1, 0, 1, 1}};
    call.in[0] = (dtensor){m, {1, 1, 4, 4}};
    call.in[1] = (dtensor){m, {1, 1, 4, 5}};
    call.out[0].mem = m;
    CHECK(tune_run_call(ctx, &call) == CLSEG_ERR_INVALID_ARGUMENT, "wrong dy shape accepted");
    clReleaseMemObject(m);
}

int main(void) {
    clseg_context **ctxs;
    int n_ctx = tu_contexts(&ctxs);
    for (int d = 0; d < n_ctx; d++) {
        for (size_t i = 0; i < CLSEG_ARRAY_LEN(cases); i++)
            run_case(ctxs[d], &cases[i], 1000 + 10 * i);
        check_rejects(ctxs[d]);
    }
    tu_contexts_free(ctxs, n_ctx);
    return tu_finish("test_grad_conv");
}
