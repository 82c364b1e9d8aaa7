/* ops.h - op dispatch: each op has a table of OpenCL variants, each declaring what it supports;
   the selector runs the first variant that supports the call (the plain kernel is last and
   supports everything). */
#ifndef CLSEG_OPS_H
#define CLSEG_OPS_H

#include "../core/op_params.h"
#include "../device/runtime.h"

/* A float32 NCHW tensor on the device (indices / labels tensors hold int32). */
typedef struct dtensor {
    cl_mem mem;
    shape4 s;
} dtensor;

typedef struct op_call {
    op_kind kind;
    union {
        conv2d_params conv;
        deconv2d_params deconv;
        pool_params pool;
        upsample_params up;
        unpool_params unpool;
        add_params add;
    } p;
    /* conv2d / deconv2d: x, weight, bias (weight and bias use only .mem)
       maxunpool: x, indices     concat / add: a, b     others: x */
    dtensor in[3];
    /* maxpool: y, indices (indices.mem may be NULL)    argmax: labels (shape n,1,h,w)
       others: y */
    dtensor out[2];
} op_call;

typedef struct op_variant {
    const char *name; /* "direct", "tiled", ... unique within its op */
    op_kind kind;
    /* 1 if this variant can run `call` on `dev`. NULL = supports everything. */
    int (*supports)(const clseg_device_info *dev, const op_call *call);
    /* Compiles (or fetches from the cache) the kernels the call will need, so that the first
       run does not pay for it. NULL = nothing to prepare. */
    clseg_status (*prepare)(clseg_context *ctx, const op_call *call);
    /* Enqueues the op; does not wait. */
    clseg_status (*run)(clseg_context *ctx, const op_call *call);
} op_variant;

/* Every variant of every op, in preference order within an op. */
extern const op_variant *const op_variant_table[];
extern const size_t op_variant_table_len;

/* The preferred variant that supports call on ctx's device, or NULL (CLSEG_ERR_UNSUPPORTED). */
const op_variant *op_select(const clseg_context *ctx, const op_call *call);
/* op_select + prepare */
clseg_status op_prepare(clseg_context *ctx, const op_call *call);
/* op_select + run */
clseg_status op_run(clseg_context *ctx, const op_call *call);

/* The variants, one per op file (host/ops/<op>.c). */
extern const op_variant conv2d_direct;
extern const op_variant deconv2d_gather;
extern const op_variant maxpool_direct;
extern const op_variant avgpool_direct;
extern const op_variant upsample_direct;
extern const op_variant maxunpool_direct;
extern const op_variant concat_direct;
extern const op_variant add_direct;
extern const op_variant softmax_direct;
extern const op_variant argmax_direct;

/* Global work size helper: rounds n up to a multiple of m. */
static inline size_t round_up(size_t n, size_t m) {
    return (n + m - 1) / m * m;
}

#endif
