/* checkpoint.h - training checkpoints: a complete .clsm model (so any checkpoint can be
   evaluated or used directly) plus two extra sections, TRST (training position and
   configuration, text) and OPTM (optimiser moments); format in docs/training.md. */
#ifndef CLSEG_CHECKPOINT_H
#define CLSEG_CHECKPOINT_H

#include "trainer.h"

#define TRAIN_CONFIG_MAX 8192

typedef struct train_state {
    int epoch;        /* the epoch in progress (0-based) */
    int step;         /* steps of that epoch already done */
    long global_step; /* steps done in the whole run */
    long updates;     /* optimiser updates applied (Adam's t) */
    double best_miou; /* best validation mIoU so far (-1 = none yet) */
    int best_epoch;   /* 1-based epoch that reached it (0 = none) */
    /* "key value" lines describing the run (seed, batch, crop, optimiser, ...); a resumed run
       must describe itself identically, apart from the keys train_config_compare skips. */
    char config[TRAIN_CONFIG_MAX];
} train_state;

/* Writes model + state + the trainer's optimiser moments to path atomically. */
clseg_status checkpoint_save(const char *path, trainer *t, const train_state *s, char *err,
                             size_t errlen);

/* Optimiser moments as read from a file, by tensor name. */
typedef struct ckpt_moments {
    int slots, n;
    char (*names)[MODEL_TENSOR_NAME_MAX];
    size_t *counts;
    float *data; /* slots x total floats: slot 0 packed in tensor order, then slot 1 */
    size_t total;
} ckpt_moments;

/* Reads a checkpoint: the model (validated as any .clsm), the state and the moments. */
clseg_status checkpoint_load(const char *path, clseg_model **model, train_state *s,
                             ckpt_moments *mo, char *err, size_t errlen);
/* Loads the moments into a trainer created from the checkpoint's model with the same optimiser;
   tensor names, sizes and slot count must match. */
clseg_status checkpoint_apply(trainer *t, const ckpt_moments *mo, char *err, size_t errlen);
void ckpt_moments_free(ckpt_moments *mo);

/* The value of `key` in a config text ("key value" lines), *vlen characters, not terminated;
   NULL if absent. */
const char *train_config_value(const char *text, const char *key, size_t *vlen);
/* Compares two config texts line by line, ignoring the keys in `skip` (NULL-terminated);
   on the first difference writes "key: A vs B" to msg and returns 0. */
int train_config_compare(const char *a, const char *b, const char *const *skip, char *msg,
                         size_t msglen);

#endif
