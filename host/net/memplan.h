/* memplan.h - device memory planning for a network's activations: which intermediate tensors may
   share a device buffer because they are never live at the same time. */
#ifndef CLSEG_MEMPLAN_H
#define CLSEG_MEMPLAN_H

#include "plan.h"

/* Every layer output plus the argmax indices of every maxpool that an unpool reads. */
#define MEMPLAN_MAX_TENSORS (2 * SPEC_MAX_LAYERS)

typedef struct memplan_tensor {
    int layer;      /* the layer that produces it */
    int is_indices; /* 1 = the maxpool's indices, 0 = the layer's output */
    uint64_t bytes;
    /* Live from the step that writes it to the last step that reads it, inclusive. Step
       n_layers stands for the read-back (or argmax) after the last layer, so the network's
       output stays live to the end. A tensor nobody reads is live only at its own step. */
    int first, last;
    int slot; /* the buffer it lives in */
} memplan_tensor;

typedef struct memplan {
    int n_tensors, n_slots;
    memplan_tensor t[MEMPLAN_MAX_TENSORS];
    uint64_t slot_bytes[MEMPLAN_MAX_TENSORS]; /* each slot is one device buffer */
    int out_tensor[SPEC_MAX_LAYERS];          /* index into t of layer i's output */
    int idx_tensor[SPEC_MAX_LAYERS];          /* ... of its indices, -1 if none */
    uint64_t total_bytes;                     /* sum of slot_bytes: what gets allocated */
    uint64_t unplanned_bytes;                 /* sum of tensor sizes: one buffer per tensor */
    uint64_t live_peak_bytes; /* most bytes live at one step: no plan can do better */
} memplan;

/* Plans the tensors of steps[0 .. n_layers). With reuse = 0 every tensor gets its own slot.
   Otherwise tensors are placed largest first into the smallest existing slot that holds no
   tensor whose live range overlaps, else into a new slot of their size; so no slot is larger
   than its largest tensor (and never exceeds a size the caller already checked). */
void memplan_build(const layer_step *steps, int n_layers, int reuse, memplan *out);

/* 1 if tensors a and b of plan p are live at some common step. */
int memplan_overlap(const memplan *p, int a, int b);

#endif
