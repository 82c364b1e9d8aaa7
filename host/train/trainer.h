/* trainer.h - the training graph executor: a model's parameters on the device, the forward in
   training mode (BatchNorm on batch statistics, keeping what the backward needs), the fused
   softmax cross-entropy loss, the backward through the ops of host/ops/backward.h, the gradient
   check and the optimiser update. */
#ifndef CLSEG_TRAINER_H
#define CLSEG_TRAINER_H

#include "clseg_train.h"
#include "net/model.h"
#include "optim.h"

typedef struct trainer trainer;

typedef struct trainer_config {
    int batch, height, width;   /* the training input size (crop) */
    int ignore;                 /* label that is not scored (-1 = none) */
    const float *class_weights; /* model->classes entries; NULL = all 1 */
    optim_config optim;
    /* Data-parallel (docs/distributed.md): this rank's batch is its share of the global batch;
       the loss is normalised by the global labelled count, the gradient summed over the ranks
       before the update, and with sync_bn BatchNorm uses the global batch's statistics. NULL
       or size 1 = one process. */
    const clseg_reducer *reducer;
    int sync_bn;
} trainer_config;

/* Uploads a copy of the model's parameters and BatchNorm running statistics, allocates the
   activations, gradients and optimiser state for cfg's input size, and compiles every kernel.
   Fails cleanly (CLSEG_ERR_UNSUPPORTED) for layers that have no backward. Errors are in
   clseg_context_error(ctx). */
clseg_status trainer_create(trainer **out, clseg_context *ctx, const clseg_model *model,
                            const trainer_config *cfg);
void trainer_free(trainer *t);

typedef struct step_stats {
    double loss;       /* mean weighted cross-entropy over the labelled pixels */
    double grad_sumsq; /* squared L2 norm of the whole gradient */
    int64_t labelled;  /* labelled pixels in the batch (N_total) */
    int finite;        /* 0: loss or gradient is NaN/Inf; the update was not applied */
} step_stats;

/* One training step on a batch: x is [batch][C][height][width] normalised input, labels
   [batch][height][width] class indices (ignore or anything outside [0, K) is not scored).
   update = 0 computes loss and gradient without changing anything (benchmarks). The update
   (with learning rate lr) is applied only when loss and gradient are finite. With a reducer the
   loss and gradient are the global batch's and `finite` is 0 when any rank's are not; a rank
   that has no batch (its loader failed) calls it with x = NULL to stop every rank: it then
   returns CLSEG_ERR_IO, and the others CLSEG_ERR_IO with *peer_failed = 1. */
clseg_status trainer_step(trainer *t, const float *x, const int32_t *labels, double lr, int update,
                          step_stats *out);
/* Set by trainer_step when another rank stopped the step (see above). */
int trainer_peer_failed(const trainer *t);

/* Data-parallel: replaces this rank's parameters (params = 1) and BatchNorm running statistics
   by rank 0's. Nothing without a reducer. */
clseg_status trainer_broadcast(trainer *t, int params);

/* Benchmarks: when ms is not NULL, every later step waits for each op call and adds its wall
   time to ms[op kind] (OP_KIND_COUNT entries; the optimiser and gradient check go to
   ms[OP_KIND_COUNT]). Slows training down a little. */
void trainer_profile(trainer *t, double *ms);

/* The model with the current parameters and running statistics (read back from the device).
   Owned by the trainer; valid until the next trainer call. */
clseg_status trainer_sync_model(trainer *t, const clseg_model **out);

/* Optimiser state, for checkpoints: the trainable tensors (model tensor names, in a fixed
   order), and their moment buffers packed in that order (slot 0: momentum / Adam's first
   moment; slot 1: Adam's second moment). */
int trainer_param_tensors(const trainer *t);
const char *trainer_param_name(const trainer *t, int i);
size_t trainer_param_count(const trainer *t, int i);
size_t trainer_param_total(const trainer *t);
int trainer_moment_slots(const trainer *t);
clseg_status trainer_read_moments(trainer *t, int slot, float *packed);
clseg_status trainer_write_moments(trainer *t, int slot, const float *packed);
/* The gradient of the last step, packed in the same order (tests, debugging). */
clseg_status trainer_read_grads(trainer *t, float *packed);
/* Updates applied so far (Adam's bias correction step). */
long trainer_updates(const trainer *t);
void trainer_set_updates(trainer *t, long updates);

/* The context the trainer runs on (its error text explains a failed call). */
clseg_context *trainer_context(const trainer *t);

/* Device memory held by the trainer, in bytes. */
uint64_t trainer_device_bytes(const trainer *t);

#endif
