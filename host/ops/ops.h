/* ops.h - op calls and their OpenCL variants: each op has variants in preference order, each
   declaring its parameters (with roles), requirements and what it supports (and why not); the
   selection policy is above, in host/tune (the plain kernel is last and supports everything). */
#ifndef CLSEG_OPS_H
#define CLSEG_OPS_H

#include "../core/op_params.h"
#include "../device/runtime.h"

/* A float32 NCHW tensor on the device (indices / labels tensors hold int32). */
typedef struct dtensor {
    cl_mem mem;
    shape4 s;
} dtensor;

#define OP_IO_MAX 4 /* tensor slots of a call, each way */

typedef struct op_call {
    op_kind kind;
    op_params p;
    /* conv2d / deconv2d: x, weight, bias (weight and bias use only .mem)
       maxunpool: x, indices     concat / add: a, b     others: x */
    dtensor in[OP_IO_MAX];
    /* maxpool: y, indices (indices.mem may be NULL)    argmax: labels (shape n,1,h,w)
       others: y */
    dtensor out[OP_IO_MAX];
} op_call;

/* A call with a name for people: the network layer it runs ("enc1", "enc2 dx", "(argmax)"). */
#define OP_CALL_NAME_MAX 64
typedef struct op_named_call {
    op_call call;
    char name[OP_CALL_NAME_MAX];
} op_named_call;

/* What a variant's parameter is; the legality checks, the defines and the plain configuration
   read the role, never the name. */
typedef enum param_role {
    PARAM_DEFINE = 0,   /* a kernel compile-time define, -DNAME=value */
    PARAM_VECTOR_WIDTH, /* a define that is an OpenCL vector width: 1, 2, 3, 4, 8 or 16 */
    PARAM_LOCAL_X,      /* a work-group dimension (several along one axis multiply) */
    PARAM_LOCAL_Y,
    PARAM_LOCAL_Z,
    PARAM_HOST, /* read by the host code only (a chunk size, a split): no define, no launch size */
} param_role;

/* A tunable parameter of a variant. */
#define OP_MAX_PARAMS 8
typedef struct variant_param {
    const char *name;   /* "TILE_X" */
    int def;            /* the generic default */
    const int *choices; /* candidate values the tuner tries */
    int n_choices;
    param_role role;
} variant_param;

/* Device capabilities a variant needs (op_variant.requires). */
enum { VARIANT_NEEDS_FP16 = 1u << 0, VARIANT_NEEDS_SUBGROUPS = 1u << 1 };

struct op_variant;
/* Values of a variant's parameters, in the order of its params table. */
typedef struct op_config {
    int v[OP_MAX_PARAMS];
    /* A composite variant (op_variant.inner_call): the variant and parameters its inner call runs
       with, chosen by the selector together with the outer call and kept with it, so running
       it repeats no selection. NULL otherwise. */
    const struct op_variant *inner;
    int inner_v[OP_MAX_PARAMS];
} op_config;

typedef struct op_variant {
    const char *name; /* "direct", "tiled", ... unique within its op */
    op_kind kind;
    const variant_param *params; /* may be NULL when n_params == 0 */
    int n_params;
    /* 1 if this variant with parameters cfg can run `call` on `dev` (work-group and local memory
       within the device's limits, extensions present, shape handled); 0 with the reason in
       why (one line, for `clseg plan --why`; why may be NULL) if not. NULL = supports all. */
    int (*supports)(const clseg_device_info *dev, const op_call *call, const op_config *cfg,
                    char *why, size_t why_len);
    /* Compiles (or fetches from the cache) the kernels the call will need, so that the first
       run does not pay for it. NULL = nothing to prepare. */
    clseg_status (*prepare)(clseg_context *ctx, const op_call *call, const op_config *cfg);
    /* Enqueues the op; does not wait. */
    clseg_status (*run)(clseg_context *ctx, const op_call *call, const op_config *cfg);
    /* The scratch bytes run asks for (host/ops/scratch.c), so that a caller can count them
       before allocating anything. NULL = none. */
    size_t (*scratch_bytes)(const clseg_device_info *dev, const op_call *call,
                            const op_config *cfg);
    unsigned requires; /* VARIANT_NEEDS_* */
    /* A composite variant runs another op's call: this makes it from the outer call (0 if the
       outer call is malformed). NULL for a variant with kernels of its own. */
    int (*inner_call)(const op_call *call, op_call *inner);
} op_variant;

/* Where a choice came from (clseg plan prints it). */
typedef enum choice_source {
    CHOICE_TUNED,         /* the tuning database, for this exact device + driver */
    CHOICE_CLASS_DEFAULT, /* the defaults table, for this device class */
    CHOICE_GENERIC,       /* the first supporting variant with its generic defaults */
} choice_source;

typedef struct op_choice {
    const op_variant *variant;
    op_config cfg;
    choice_source source;
} op_choice;

/* Every variant of every op, in preference order within an op. */
extern const op_variant *const op_variant_table[];
extern const size_t op_variant_table_len;

/* The generic defaults of a variant's parameters. */
op_config op_default_config(const op_variant *v);
/* 1 if v (with cfg) supports call on dev; op_variant_refuses also says why not (returns 1 and
   fills why when v refuses). */
int op_variant_supports(const op_variant *v, const clseg_device_info *dev, const op_call *call,
                        const op_config *cfg);
int op_variant_refuses(const op_variant *v, const clseg_device_info *dev, const op_call *call,
                       const op_config *cfg, char *why, size_t why_len);
/* For supports(): writes the printf-style reason into why (if not NULL) and returns 0. */
int op_refuse(char *why, size_t why_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The device memory the scratch buffer will hold once c has run call on dev (0 if c needs
   none): what scratch_get allocates for the variant's request. */
size_t op_choice_scratch_bytes(const clseg_device_info *dev, const op_call *call,
                               const op_choice *c);
/* The choice a composite's cfg keeps for its inner call (source CHOICE_GENERIC: the outer
   choice's source is the one reported). */
void op_choice_inner(const op_config *cfg, op_choice *out);
/* Prepare / run a choice made earlier. */
clseg_status op_prepare_choice(clseg_context *ctx, const op_call *call, const op_choice *c);
clseg_status op_run_choice(clseg_context *ctx, const op_call *call, const op_choice *c);

/* "-DTILE_X=4 -DTILE_CO=8" from the parameters whose role is a define (PARAM_DEFINE,
   PARAM_VECTOR_WIDTH); launch sizes and host-side parameters are left out. */
void op_config_defines(const op_variant *v, const op_config *cfg, char *buf, size_t len);

/* The variants, one per op file (host/ops/<op>.c). */
extern const op_variant conv2d_winograd;
extern const op_variant conv2d_tiled;
extern const op_variant conv2d_im2col_gemm;
extern const op_variant conv2d_grouped;
extern const op_variant conv2d_direct;
extern const op_variant deconv2d_winograd;
extern const op_variant deconv2d_stride_decomposed;
extern const op_variant deconv2d_gemm_col2im;
extern const op_variant deconv2d_gather;
extern const op_variant maxpool_vec;
extern const op_variant maxpool_direct;
extern const op_variant avgpool_vec;
extern const op_variant avgpool_direct;
extern const op_variant upsample_vec;
extern const op_variant upsample_direct;
extern const op_variant maxunpool_direct;
extern const op_variant concat_direct;
extern const op_variant add_direct;
extern const op_variant softmax_direct;
extern const op_variant argmax_direct;
extern const op_variant act_direct; /* inference-only ops of imported models */
extern const op_variant gap_direct;
extern const op_variant mul_direct;
extern const op_variant resize_direct;
/* Training ops (host/ops/backward.h). */
extern const op_variant conv2d_bwd_data_via_deconv;
extern const op_variant conv2d_bwd_weight_gemm;
extern const op_variant conv2d_bwd_weight_flat;
extern const op_variant conv2d_bwd_weight_tiled;
extern const op_variant deconv2d_bwd_data_via_conv;
extern const op_variant deconv2d_bwd_weight_gemm;
extern const op_variant deconv2d_bwd_weight_flat;
extern const op_variant deconv2d_bwd_weight_tiled;
extern const op_variant batchnorm_train_direct;
extern const op_variant batchnorm_train_bwd_direct;
extern const op_variant relu_bwd_direct;
extern const op_variant add_bwd_direct;
extern const op_variant concat_bwd_direct;
extern const op_variant maxpool_bwd_direct;
extern const op_variant maxunpool_bwd_direct;
extern const op_variant upsample_bwd_direct;
extern const op_variant softmax_xent_direct;

/* "conv2d": the name in the op's description (host/ops/desc.h); "?" for an unknown kind. */
const char *op_kind_name(op_kind kind);

/* 1 if the parameter with this role is a kernel define. */
static inline int param_is_define(param_role r) {
    return r == PARAM_DEFINE || r == PARAM_VECTOR_WIDTH;
}
static inline int param_is_local_size(param_role r) {
    return r == PARAM_LOCAL_X || r == PARAM_LOCAL_Y || r == PARAM_LOCAL_Z;
}

/* Global work size helper: rounds n up to a multiple of m. */
static inline size_t round_up(size_t n, size_t m) {
    return (n + m - 1) / m * m;
}

#endif
