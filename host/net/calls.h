/* calls.h - the one layer -> op_call builder: the executor, the trainer, the tuner and `plan` all
   make a layer's call here, so they agree on its parameters and its tuning signature. */
#ifndef CLSEG_CALLS_H
#define CLSEG_CALLS_H

#include "../ops/ops.h"
#include "plan.h"

/* The device buffers of one layer; any may be NULL when a call is only being chosen for
   (selection reads kinds, parameters and shapes, never buffers). */
typedef struct layer_buffers {
    cl_mem out;          /* the layer's output */
    cl_mem indices;      /* a max-pool with indices: the indices */
    cl_mem weight, bias; /* conv / deconv */
} layer_buffers;

/* Layer i's forward call for network input `in` held in `input`; bufs: one entry per layer, or
   NULL for a call without buffers. */
op_call net_layer_call(const layer_step *steps, int i, shape4 in, cl_mem input,
                       const layer_buffers *bufs);

/* The argmax segmentation runs after the last of n_layers layers, into `labels`. */
op_call net_argmax_call(const layer_step *steps, int n_layers, const layer_buffers *bufs,
                        cl_mem labels);

/* The calls of spec's layers for input `in`, without buffers, in order, plus the argmax that
   segmentation runs after the last layer: n_layers + 1 entries (SPEC_MAX_LAYERS + 1 suffice). */
clseg_status net_calls(const net_spec *spec, int classes, shape4 in, op_named_call *calls,
                       int *count, char *err, size_t errlen);

/* Room for net_train_calls: every layer, the argmax, and a data gradient per layer. */
#define NET_MAX_TRAIN_CALLS (2 * SPEC_MAX_LAYERS + 1)

/* net_calls, then the forward calls a training step runs for the data gradients of the conv and
   transposed-conv layers (op_data_grad_adjoint; none for a layer that reads the network input,
   whose gradient is not needed), named "LAYER dx". */
clseg_status net_train_calls(const net_spec *spec, int classes, shape4 in, op_named_call *calls,
                             int *count, char *err, size_t errlen);

#endif
