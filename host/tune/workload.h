/* workload.h - op calls as the selector, `clseg plan` and the tuner see them: the calls of a
   network at one input size, their FLOPs and bytes, and (for timing and verification) device
   buffers filled with data plus the C reference's output. */
#ifndef CLSEG_WORKLOAD_H
#define CLSEG_WORKLOAD_H

#include "../net/spec.h"
#include "../ops/ops.h"

/* Stands in for every buffer of a call that is only being chosen for, never run: supports()
   looks at shapes and at which buffers are present (a maxpool whose indices some unpool reads),
   never inside them. */
#define WORKLOAD_PLACEHOLDER ((cl_mem)(uintptr_t)1)

typedef struct net_call {
    op_call call;
    char name[SPEC_NAME_MAX]; /* the spec's layer name; "(argmax)" for the final label op */
} net_call;

/* The calls of spec's layers for input `in`, in order, plus the argmax that segmentation runs
   after the last layer: n_layers + 1 entries in calls (SPEC_MAX_LAYERS + 1 suffice). Buffers are
   WORKLOAD_PLACEHOLDER, as in the executor (bias included). */
clseg_status workload_net_calls(const net_spec *spec, int classes, shape4 in, net_call *calls,
                                int *count, char *err, size_t errlen);

/* Room for workload_train_calls: every layer, the argmax, and a data gradient per layer. */
#define WORKLOAD_MAX_CALLS (2 * SPEC_MAX_LAYERS + 1)

/* workload_net_calls, then the forward calls a training step runs for the data gradients of
   the conv and transposed-conv layers (op_data_grad_adjoint; none for a layer that reads the
   network input, whose gradient is not needed), named "LAYER dx". */
clseg_status workload_train_calls(const net_spec *spec, int classes, shape4 in, net_call *calls,
                                  int *count, char *err, size_t errlen);

/* Floating-point operations (conv and deconv; 0 elsewhere) and bytes read + written (inputs,
   weights, outputs as stored). */
void workload_cost(const op_call *call, double *flops, double *bytes);

/* 1 if the tuner can make data for, and verify, calls of this kind. */
int workload_kind_supported(op_kind kind);

/* A call made runnable: device buffers with seeded data, and the reference output. */
typedef struct workload {
    op_call call; /* buffers filled in */
    cl_mem mems[5];
    void *host_in[3];
    void *want[2]; /* reference outputs */
    size_t out_count[2];
    int out_is_int[2];
    float atol, rtol; /* the op tests' tolerance for this call */
} workload;

/* Allocates and fills buffers for `shape_call` (only kind, parameters and shapes are read; a
   maxpool gets indices when shape_call->out[1].mem is set) and computes the reference output
   when want_reference. */
clseg_status workload_create(clseg_context *ctx, const op_call *shape_call, uint64_t seed,
                             int want_reference, workload *w);
void workload_free(workload *w);

/* Fills the outputs with NaN (int outputs with -1), so that an unwritten element fails. */
clseg_status workload_poison(clseg_context *ctx, workload *w);
/* Reads the outputs back and compares them with the reference: 1 if within tolerance. msg
   receives the worst mismatch. */
int workload_verify(clseg_context *ctx, workload *w, char *msg, size_t len);

#endif
