/* optim.h - optimisers (SGD with momentum, Adam) over a flat parameter buffer on the device,
   learning-rate schedules, and the deterministic gradient sum of squares. */
#ifndef CLSEG_OPTIM_H
#define CLSEG_OPTIM_H

#include "device/runtime.h"

typedef enum optim_kind { OPTIM_SGD = 0, OPTIM_ADAM = 1 } optim_kind;

typedef struct optim_config {
    optim_kind kind;
    double lr;           /* base learning rate */
    double momentum;     /* SGD */
    double weight_decay; /* SGD: L2 added to the gradient; Adam: decoupled (AdamW) */
    double beta1, beta2, eps;
} optim_config;

typedef enum lr_schedule {
    SCHED_CONST = 0,
    SCHED_STEP = 1,   /* lr * gamma^floor(epoch / step_epochs) */
    SCHED_POLY = 2,   /* lr * (1 - t / T)^power, t = global step, T = total steps */
    SCHED_COSINE = 3, /* lr * (1 + cos(pi t / T)) / 2 */
} lr_schedule;

typedef struct schedule_config {
    lr_schedule kind;
    int step_epochs;  /* step */
    double gamma;     /* step */
    double power;     /* poly */
    int warmup_steps; /* linear ramp from lr/warmup to lr over the first steps (0 = none) */
} schedule_config;

/* Learning rate for global step t (0-based) of total_steps, in epoch t / steps_per_epoch. */
double schedule_lr(const schedule_config *s, double base_lr, long t, long total_steps,
                   int steps_per_epoch);

const char *optim_name(optim_kind k);
const char *schedule_name(lr_schedule s);

/* One update of params from grads. m is the momentum (SGD) or first moment (Adam), v the second
   moment (Adam; NULL for SGD). Elements [0, n_decay) get weight decay. t = 1-based update count
   (Adam's bias correction). */
clseg_status optim_update(clseg_context *ctx, const optim_config *o, cl_mem params, cl_mem grads,
                          cl_mem m, cl_mem v, size_t count, size_t n_decay, long t, double lr);

/* Work groups of the sum-of-squares reduction: the partial buffer holds this many floats. */
#define OPTIM_SUMSQ_GROUPS 64
/* Sum of the squares of x[0..count) (summed on the host in double, in a fixed order). NaN or
   Inf when any element is not finite. */
clseg_status optim_sum_squares(clseg_context *ctx, cl_mem x, size_t count, cl_mem partial,
                               double *out);

#endif
