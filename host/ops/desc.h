/* desc.h - one description per op kind: its name, tensor layout, shape rule, tuning signature,
   cost, C reference and test tolerance, read by the tuner, the plan, the executor and the tests. */
#ifndef CLSEG_OP_DESC_H
#define CLSEG_OP_DESC_H

#include "ops.h"

/* What a tensor slot holds. */
typedef enum op_elem {
    OP_ELEM_NONE = 0, /* slot unused */
    OP_ELEM_F32,
    OP_ELEM_I32, /* indices, labels */
} op_elem;

/* got passes when |got - want| <= atol + rtol * |want| (NaN fails); 0, 0 = exact. */
typedef struct op_tolerance {
    float atol, rtol;
} op_tolerance;

typedef struct op_desc {
    const char *name; /* "conv2d": in plans, signatures, messages, tuning files */
    const char *io; /* the tensor slots in order, "x, weight, bias? -> y" (? = .mem may be NULL) */
    op_elem in[OP_IO_MAX], out[OP_IO_MAX];
    unsigned optional_in, optional_out; /* bit i: slot i's .mem may be NULL (not read / written) */
    unsigned inout_out;                 /* bit i: out[i] is updated in place (read, then written) */
    int training;                       /* 1 for the training ops (host/ops/backward.h) */
    int inference_only; /* 1 for the ops of imported models that have no backward: the trainer
                           refuses them (as it refuses grouped, dilated and act > relu convs) */

    /* The shape of every slot of c from its parameters and the shapes that determine the others:
       in[0].s, plus in[1].s for concat (b) and maxunpool_bwd (the indices), plus out[0].s where
       several outputs are legal for one input (the data gradients of strided convs and pools:
       dx; concat_bwd: da, whose channels set the split). Plain arrays ("[c]", .s not read by
       the op) get (1, 1, 1, count); unused slots (0, 0, 0, 0). 0 if the call makes no valid
       output. in[k] and out[k] of the result are what the op's variants check c against. */
    int (*shapes)(const op_call *c, shape4 in[OP_IO_MAX], shape4 out[OP_IO_MAX]);
    /* The part of the tuning-database signature after "name n= c= h= w=" (op_signature); NULL
       for an op without parameters. Changing what this writes orphans existing tuning files. */
    void (*signature)(const op_call *c, char *buf, size_t len);
    /* FLOPs (conv and deconv; 0 elsewhere) and bytes read + written (inputs, weights, outputs as
       stored) of c. */
    void (*cost)(const op_call *c, double *flops, double *bytes);
    /* The C reference (host/ref) on host buffers laid out as c's slots (c's shapes complete, as
       from shapes()); in[k] / out[k] NULL where c's .mem is NULL (an optional slot). Outputs in
       inout_out hold their old values on entry. 0 on out of memory. */
    int (*reference)(const op_call *c, const void *const *in, void *const *out);
    /* How far a device result for out[k] may be from the reference's: the one tolerance the op
       tests and the tuner's verification use (docs/ops.md explains each). */
    op_tolerance (*tolerance)(const op_call *c, int out);
    /* Makes inputs that must be consistent (indices, labels, saved statistics) valid, after
       every float slot was filled with uniform [-1, 1) data and int slots with 0. NULL = any
       data will do. */
    void (*make_valid)(const op_call *c, uint64_t *seed, void *const *in);
} op_desc;

/* The description of kind; NULL when kind is not an op. */
const op_desc *op_desc_get(op_kind kind);

/* shapes() of c's description with the arrays zeroed first; 0 for an unknown kind too. */
int op_shapes(const op_call *c, shape4 in[OP_IO_MAX], shape4 out[OP_IO_MAX]);

/* Host inputs for c (shapes complete): in[k] is a new buffer (free()) of shape4_count(in shape)
   elements for every used slot, NULL otherwise, filled with seeded data the op accepts (see
   make_valid). CLSEG_ERR_OUT_OF_MEMORY leaves nothing allocated. */
clseg_status op_make_inputs(const op_call *c, uint64_t seed, void *in[OP_IO_MAX]);

#endif
