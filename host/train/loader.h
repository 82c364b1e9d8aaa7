/* loader.h - a background thread that loads and augments the minibatches of one epoch, in
   order, into a small bounded queue, so the device does not wait for PNG decoding. */
#ifndef CLSEG_LOADER_H
#define CLSEG_LOADER_H

#include <stdint.h>

#include "augment.h"
#include "dataset.h"

typedef struct batch {
    int step;     /* index of this batch within the epoch */
    float *x;     /* [batch][3][crop_h][crop_w], normalised */
    int32_t *y;   /* [batch][crop_h][crop_w] class indices, `ignore` for unlabelled */
    int *samples; /* dataset indices of the batch's images */
} batch;

typedef struct loader loader;

/* Starts producing the batches first_step .. steps-1 of epoch `epoch`: the shuffled order of
   shuffle_epoch(seed, epoch), full batches only, each sample augmented with
   rng_stream(seed, epoch, sample). The result is a pure function of the arguments, whatever the
   thread timing. Data-parallel: a step's global batch is ranks x batch_size images of that
   order, of which rank `rank` takes its batch_size consecutive ones (rank 0 the first); a
   sample's augmentation does not depend on which rank takes it, so ranks x b images reproduce
   one process's batch of ranks*b exactly. One process: ranks 1, rank 0. */
clseg_status loader_start(loader **out, const dataset *ds, int classes, const augment_opts *aug,
                          int batch_size, int ranks, int rank, uint64_t seed, int epoch,
                          int first_step, char *err, size_t errlen);
/* Blocks until the next batch is ready; *b stays valid until the next loader_next/loader_stop.
   A load error (bad PNG, ...) is returned here with its message. */
clseg_status loader_next(loader *l, const batch **b, char *err, size_t errlen);
/* Stops the thread (also mid-epoch) and frees everything. NULL is fine. */
void loader_stop(loader *l);

/* Full (global) batches per epoch. */
static inline int loader_steps(int count, int global_batch) {
    return count / global_batch;
}

#endif
