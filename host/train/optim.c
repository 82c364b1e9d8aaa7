/* optim.c - host side of kernels/optim.cl and the learning-rate schedules. */
#include <math.h>

#include "optim.h"
#include "ops/launch_helpers.h"

double schedule_lr(const schedule_config *s, double base_lr, long t, long total_steps,
                   int steps_per_epoch) {
    double lr = base_lr;
    double frac = total_steps > 0 ? (double)t / (double)total_steps : 0.0;
    if (frac > 1) frac = 1;
    switch (s->kind) {
    case SCHED_STEP: {
        long epoch = steps_per_epoch > 0 ? t / steps_per_epoch : 0;
        if (s->step_epochs > 0) lr *= pow(s->gamma, (double)(epoch / s->step_epochs));
        break;
    }
    case SCHED_POLY:
        lr *= pow(1.0 - frac, s->power);
        break;
    case SCHED_COSINE:
        lr *= 0.5 * (1.0 + cos(3.14159265358979323846 * frac));
        break;
    case SCHED_CONST:
        break;
    }
    if (s->warmup_steps > 0 && t < s->warmup_steps) lr *= (double)(t + 1) / s->warmup_steps;
    return lr;
}

const char *optim_name(optim_kind k) {
    return k == OPTIM_ADAM ? "adam" : "sgd";
}

const char *schedule_name(lr_schedule s) {
    static const char *const names[] = {"const", "step", "poly", "cosine"};
    return (unsigned)s < 4 ? names[s] : "?";
}

clseg_status optim_update(clseg_context *ctx, const optim_config *o, cl_mem params, cl_mem grads,
                          cl_mem m, cl_mem v, size_t count, size_t n_decay, long t, double lr) {
    if (count > 0x7fffffff) return ctx_fail(ctx, CLSEG_ERR_TOO_LARGE, "too many parameters");
    cl_kernel k;
    size_t gws[3] = {count, 1, 1}, lws[3];
    launch_local_size(&ctx->info, gws, lws);
    if (o->kind == OPTIM_SGD) {
        clseg_status st = ctx_kernel(ctx, "optim", NULL, "sgd_momentum", &k);
        if (st != CLSEG_OK) return st;
        return CTX_RUN(ctx, k, 1, gws, lws, KARG_MEM(params), KARG_MEM(grads), KARG_MEM(m),
                       KARG_INT(count), KARG_INT(n_decay), KARG_FLOAT(lr), KARG_FLOAT(o->momentum),
                       KARG_FLOAT(o->weight_decay));
    }
    clseg_status st = ctx_kernel(ctx, "optim", NULL, "adam", &k);
    if (st != CLSEG_OK) return st;
    double bc1 = 1.0 - pow(o->beta1, (double)t), bc2 = 1.0 - pow(o->beta2, (double)t);
    return CTX_RUN(ctx, k, 1, gws, lws, KARG_MEM(params), KARG_MEM(grads), KARG_MEM(m), KARG_MEM(v),
                   KARG_INT(count), KARG_INT(n_decay), KARG_FLOAT(lr), KARG_FLOAT(o->beta1),
                   KARG_FLOAT(o->beta2), KARG_FLOAT(o->eps), KARG_FLOAT(o->weight_decay),
                   KARG_FLOAT(bc1), KARG_FLOAT(bc2));
}

clseg_status optim_sum_squares(clseg_context *ctx, cl_mem x, size_t count, cl_mem partial,
                               double *out) {
    if (count > 0x7fffffff) return ctx_fail(ctx, CLSEG_ERR_TOO_LARGE, "too many parameters");
    cl_kernel k;
    clseg_status st = ctx_kernel(ctx, "optim", NULL, "sum_squares", &k);
    if (st != CLSEG_OK) return st;
    /* SUMSQ_WG = 64 fits every OpenCL device (the minimum maximum work-group is 1 for CPUs in
       theory, but every device clseg supports takes 64). */
    size_t gws[3] = {64 * OPTIM_SUMSQ_GROUPS, 1, 1}, lws[3] = {64, 1, 1};
    st = CTX_RUN(ctx, k, 1, gws, lws, KARG_MEM(x), KARG_MEM(partial), KARG_INT(count));
    float part[OPTIM_SUMSQ_GROUPS];
    if (st == CLSEG_OK) st = ctx_read(ctx, partial, 0, sizeof part, part);
    if (st != CLSEG_OK) return st;
    double s = 0;
    for (int i = 0; i < OPTIM_SUMSQ_GROUPS; i++) s += part[i];
    *out = s;
    return CLSEG_OK;
}
