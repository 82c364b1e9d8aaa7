/* workload.h - op calls as the tuner sees them: their FLOPs and bytes, and (for timing and
   verification) device buffers filled with data plus the C reference's output. The calls of a
   network come from its builder (host/net/calls.h). */
#ifndef CLSEG_WORKLOAD_H
#define CLSEG_WORKLOAD_H

#include "../ops/desc.h"

/* 1 if the tuner can make data for, and verify, calls of this kind (the forward ops). */
int workload_kind_supported(op_kind kind);

/* A call made runnable: device buffers with seeded data, and the reference output. */
typedef struct workload {
    op_call call; /* buffers filled in */
    cl_mem in_mem[OP_IO_MAX], out_mem[OP_IO_MAX];
    void *host_in[OP_IO_MAX];
    void *want[OP_IO_MAX];       /* reference outputs */
    size_t out_count[OP_IO_MAX]; /* 0 = slot unused */
    int out_is_int[OP_IO_MAX];
    op_tolerance tol[OP_IO_MAX]; /* the op's tolerance (its description) */
} workload;

/* Allocates and fills buffers for `shape_call` (only kind, parameters and shapes are read; a
   maxpool gets indices when shape_call->p.pool.with_indices) and computes the reference output
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
