/* plan.h - a network spec resolved for one input shape: per layer the op, its parameters, its
   inputs and its output shape. Shared by the device executor and the C reference forward. */
#ifndef CLSEG_PLAN_H
#define CLSEG_PLAN_H

#include "../core/op_params.h"
#include "spec.h"

typedef struct layer_step {
    op_kind op;
    op_params p;
    int in[SPEC_MAX_INPUTS]; /* layer indices, SPEC_INPUT = the network input */
    int n_in;
    int pool_layer; /* unpool: the maxpool whose indices it reads */
    shape4 out;
} layer_step;

/* A max-pool whose indices some unpool reads: it has a second output tensor. */
static inline int step_writes_indices(const layer_step *s) {
    return s->op == OP_MAXPOOL && s->p.pool.with_indices;
}

/* Which square input sizes from 1 to NET_SIZE_PROBE_MAX the network takes, as a phrase for
   people ("any size from 8x8", "sides that are multiples of 3", "sides 5, 9, 13, ..."), and the
   accepted side nearest `near` (0 if none). Sides are probed on square inputs. */
#define NET_SIZE_PROBE_MAX 256
int net_accepted_sizes(const net_spec *spec, int classes, int channels, int near, char *buf,
                       size_t len);

/* Fills steps[0 .. spec->n_layers) for input shape `in`. A size the network cannot take fails
   with CLSEG_ERR_INVALID_ARGUMENT and the sizes it can (net_accepted_sizes) in err. */
clseg_status net_plan(const net_spec *spec, int classes, shape4 in, layer_step *steps, char *err,
                      size_t errlen);

#endif
