/* train_bench.c - clseg_train_session_benchmark: timed training steps of a session's model on
   random data, their FLOPs, and one step profiled per op kind. */
#include <stdlib.h>
#include <string.h>

#include "device/runtime.h"
#include "net/plan.h"
#include "ops/ops.h"
#include "session.h"

_Static_assert(OP_KIND_COUNT + 1 <= CLSEG_TRAIN_BENCHMARK_MAX_OPS, "room for every op kind");

static int cmp_double(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

/* Forward FLOPs of the convolutions from the plan; a training step is about three times that
   (forward, data gradient, weight gradient). */
static double forward_gflop(const clseg_model *model, shape4 in) {
    layer_step *steps = calloc(SPEC_MAX_LAYERS, sizeof *steps);
    double gflop = 0;
    char err[512];
    if (steps && net_plan(&model->spec, model->classes, in, steps, err, sizeof err) == CLSEG_OK)
        for (int i = 0; i < model->spec.n_layers; i++) {
            shape4 xs = steps[i].in[0] == SPEC_INPUT ? in : steps[steps[i].in[0]].out;
            if (steps[i].op == OP_CONV2D) gflop += conv2d_flops(xs, &steps[i].p.conv) / 1e9;
            if (steps[i].op == OP_DECONV2D) gflop += deconv2d_flops(xs, &steps[i].p.deconv) / 1e9;
        }
    free(steps);
    return gflop;
}

clseg_status clseg_train_session_benchmark(clseg_train_session *s, clseg_context *ctx, int n,
                                           clseg_train_benchmark_fn progress, void *user,
                                           clseg_train_benchmark *out) {
    if (!s) return CLSEG_ERR_INVALID_ARGUMENT;
    if (!ctx || !out)
        return session_fail(s, CLSEG_ERR_INVALID_ARGUMENT, "the benchmark needs a %s (NULL)",
                            ctx ? "result struct" : "context");
    if (n < 1)
        return session_fail(s, CLSEG_ERR_INVALID_ARGUMENT, "the benchmark needs steps >= 1, not %d",
                            n);
    memset(out, 0, sizeof *out);
    const clseg_train_options *o = &s->o;
    if (s->phase != SESSION_CREATED)
        return session_fail(s, CLSEG_ERR_INVALID_ARGUMENT,
                            "the benchmark needs a session that has not loaded data");
    if (!o->crop_width)
        return session_fail(s, CLSEG_ERR_INVALID_ARGUMENT, "--benchmark-steps needs --crop");
    s->phase = SESSION_SPENT;
    const clseg_model *model = s->model;
    trainer_config cfg = session_trainer_config(s, NULL);
    size_t px = (size_t)o->batch * o->crop_width * o->crop_height;
    float *x = malloc(px * (size_t)model->channels * sizeof *x);
    int32_t *y = malloc(px * sizeof *y);
    double *ms = calloc((size_t)n, sizeof *ms);
    trainer *t = NULL;
    clseg_status st = CLSEG_OK;
    if (!x || !y || !ms) {
        st = session_fail(s, CLSEG_ERR_OUT_OF_MEMORY, "out of memory");
        goto done;
    }
    uint64_t seed = o->seed;
    for (size_t i = 0; i < px * (size_t)model->channels; i++)
        x[i] = (float)(rng_uniform(&seed) * 4.0 - 2.0);
    for (size_t i = 0; i < px; i++) y[i] = (int32_t)(rng_uniform(&seed) * model->classes);
    double t0 = clseg_now_ms();
    st = trainer_create(&t, ctx, model, &cfg);
    if (st != CLSEG_OK) {
        session_fail(s, st, "%s", clseg_context_error(ctx));
        goto done;
    }
    out->setup_ms = clseg_now_ms() - t0;
    out->forward_gflop =
        forward_gflop(model, (shape4){o->batch, model->channels, o->crop_height, o->crop_width});
    step_stats ss;
    /* One warm-up step (first launches), then the timed ones; updates are applied, as in real
       training. */
    for (int i = -1; i < n; i++) {
        double t1 = clseg_now_ms();
        st = trainer_step(t, x, y, o->lr, 1, &ss);
        if (st == CLSEG_OK) st = ctx_finish(ctx);
        if (st != CLSEG_OK) {
            session_fail(s, st, "%s", clseg_context_error(ctx));
            goto done;
        }
        double step_ms = clseg_now_ms() - t1;
        if (i >= 0) ms[i] = step_ms;
        if (progress) progress(user, i + 1, step_ms, ss.loss);
    }
    /* One more step with a wait after every op: where the time goes. */
    double kind_ms[OP_KIND_COUNT + 1] = {0};
    trainer_profile(t, kind_ms);
    double tp = clseg_now_ms();
    st = trainer_step(t, x, y, o->lr, 1, &ss);
    if (st != CLSEG_OK) {
        session_fail(s, st, "%s", clseg_context_error(ctx));
        goto done;
    }
    out->profiled_step_ms = clseg_now_ms() - tp;
    trainer_profile(t, NULL);
    qsort(ms, (size_t)n, sizeof *ms, cmp_double);
    out->steps = n;
    out->median_ms = ms[n / 2];
    out->min_ms = ms[0];
    out->max_ms = ms[n - 1];
    out->device_bytes = trainer_device_bytes(t);
    for (int k = 0; k <= OP_KIND_COUNT && out->op_count < CLSEG_TRAIN_BENCHMARK_MAX_OPS; k++)
        if (kind_ms[k] > 0) {
            snprintf(out->op_name[out->op_count], sizeof out->op_name[0], "%s",
                     k < OP_KIND_COUNT ? op_kind_name((op_kind)k) : "optimizer+grad check");
            out->op_ms[out->op_count++] = kind_ms[k];
        }
done:
    trainer_free(t);
    free(x);
    free(y);
    free(ms);
    return st;
}
