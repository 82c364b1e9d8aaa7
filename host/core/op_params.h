/* op_params.h - parameters and output-shape rules of every op, shared by the C reference,
   the OpenCL variants, the network executor and the tests. */
#ifndef CLSEG_OP_PARAMS_H
#define CLSEG_OP_PARAMS_H

#include "common.h"

typedef enum op_kind {
    OP_CONV2D,    /* x, weight[cout][cin][k][k], bias[cout] -> y; optional fused ReLU */
    OP_DECONV2D,  /* x, weight[cin][cout][k][k] (PyTorch ConvTranspose2d layout), bias -> y */
    OP_MAXPOOL,   /* x -> y [, argmax indices as int32, h*W_in+w within the plane, when
                     p.pool.with_indices] */
    OP_AVGPOOL,   /* x -> y */
    OP_UPSAMPLE,  /* x -> y, nearest or bilinear (align_corners=False) by integer factor */
    OP_MAXUNPOOL, /* x, indices -> y of a given size (SegNet-style) */
    OP_CONCAT,    /* a, b -> y along channels */
    OP_ADD,       /* a, b -> y elementwise; optional fused ReLU */
    OP_SOFTMAX,   /* x -> y, softmax over channels per pixel */
    OP_ARGMAX,    /* x -> labels (int32) over channels per pixel */
    /* Inference-only ops (imported models; no backward): */
    OP_ACT,    /* x -> y, an elementwise activation (act_kind) */
    OP_GAP,    /* x -> y (n, c, 1, 1): global average pooling */
    OP_MUL,    /* a, b -> y = a * b; b has a's shape or (n, c, 1, 1) (broadcast over h, w) */
    OP_RESIZE, /* x -> y of any size: nearest or linear, ONNX's coordinate modes */
    /* Training ops; their op_call layouts are in host/ops/backward.h. */
    OP_CONV2D_BWD_DATA,
    OP_CONV2D_BWD_WEIGHT,
    OP_DECONV2D_BWD_DATA,
    OP_DECONV2D_BWD_WEIGHT,
    OP_BATCHNORM_TRAIN,
    OP_BATCHNORM_TRAIN_BWD,
    OP_RELU_BWD,
    OP_ADD_BWD,
    OP_CONCAT_BWD,
    OP_MAXPOOL_BWD,
    OP_MAXUNPOOL_BWD,
    OP_UPSAMPLE_BWD,
    OP_SOFTMAX_XENT,
    OP_KIND_COUNT
} op_kind;

/* Activations, fused after a conv's bias or standalone (OP_ACT). ACT_RELU is 1 so that the
   conv's former `relu = 1` keeps its meaning. kernels/prelude.cl's ACT() mirrors this list. */
typedef enum act_kind {
    ACT_NONE = 0,
    ACT_RELU = 1,
    ACT_RELU6 = 2,       /* min(max(x, 0), 6): ONNX Clip(0, 6) */
    ACT_HARDSWISH = 3,   /* x * hardsigmoid(x) */
    ACT_HARDSIGMOID = 4, /* min(max(x / 6 + 1/2, 0), 1): PyTorch's, ONNX alpha 1/6, beta 0.5 */
    ACT_SIGMOID = 5,
    ACT_KIND_COUNT
} act_kind;

const char *act_kind_name(int act);   /* "relu", ..., NULL for none or an unknown value */
int act_kind_parse(const char *name); /* ACT_* from a name ("linear" = ACT_NONE), -1 if none */

typedef struct conv2d_params {
    int cin, cout, k, stride, pad;
    int act;    /* act_kind applied after bias (ACT_RELU = 1) */
    int groups; /* 0 or 1: dense; else cin and cout are multiples of it, weight [cout][cin/g] */
    int dil;    /* dilation, 0 or 1: none */
} conv2d_params;

static inline int conv2d_groups(const conv2d_params *p) {
    return p->groups > 1 ? p->groups : 1;
}
static inline int conv2d_dil(const conv2d_params *p) {
    return p->dil > 1 ? p->dil : 1;
}

typedef struct deconv2d_params {
    int cin, cout, k, stride, pad;
    int out_pad_h, out_pad_w; /* PyTorch output_padding per axis, each < max(stride, 1) */
    int relu;
} deconv2d_params;

typedef struct pool_params {
    int k, stride;    /* 2, 2 in the seed net */
    int ceil_mode;    /* 1 = a partial window at the right/bottom edge produces an output */
    int with_indices; /* maxpool: also write the argmax indices to out[1] (a different call,
                         kernel and tuning signature than without) */
} pool_params;

typedef enum upsample_mode { UPSAMPLE_NEAREST = 0, UPSAMPLE_BILINEAR = 1 } upsample_mode;

typedef struct upsample_params {
    int factor;
    upsample_mode mode;
} upsample_params;

typedef struct unpool_params {
    int out_h, out_w; /* size of the tensor that was pooled */
} unpool_params;

typedef struct add_params {
    int relu;
} add_params;

typedef struct act_params {
    int act; /* act_kind */
} act_params;

typedef enum resize_coord {
    RESIZE_HALF_PIXEL = 0,     /* (x + 0.5) / scale - 0.5 */
    RESIZE_PYTORCH_HALF_PIXEL, /* the same, but 0 for an output of size 1 */
    RESIZE_ALIGN_CORNERS,      /* x * (in - 1) / (out - 1) */
    RESIZE_ASYMMETRIC,         /* x / scale */
    RESIZE_TF_HALF_PIXEL_NN,   /* (x + 0.5) / scale */
    RESIZE_COORD_COUNT
} resize_coord;

typedef enum resize_round {
    RESIZE_ROUND_PREFER_FLOOR = 0,
    RESIZE_ROUND_PREFER_CEIL,
    RESIZE_FLOOR,
    RESIZE_CEIL,
    RESIZE_ROUND_COUNT
} resize_round;

/* ONNX Resize on height and width: output out_h x out_w; scale_h / scale_w the scales the
   coordinate transform divides by (0: out / in, what ONNX uses when sizes are given). */
typedef struct resize_params {
    int out_h, out_w;
    int linear; /* 0 = nearest (with `round`), 1 = linear (bilinear) */
    int coord;  /* resize_coord */
    int round;  /* resize_round, nearest only */
    float scale_h, scale_w;
} resize_params;

/* The source coordinate of output index x on one axis (before rounding or clamping), computed
   in float as ONNX Runtime does; the C reference and the kernels use the same formula. */
float resize_source(int coord, int x, int in, int out, float scale);
/* The input index nearest resizing reads for that coordinate (clamped into 0 .. in - 1). */
int resize_nearest_index(int round, float s, int in);

/* BatchNorm in training mode (OP_BATCHNORM_TRAIN and its backward, host/ops/backward.h):
   PyTorch's BatchNorm2d with these fixed constants, and its ReLU fused. */
#define BN_EPS               1e-5f
#define BN_MOMENTUM          0.1f
#define BN_SAVED_PER_CHANNEL 4 /* floats per channel the forward keeps for the backward */
typedef struct batchnorm_params {
    int relu; /* 1 = y = relu(bn(x)) */
} batchnorm_params;

/* The parameters of any op, by kind: one union for op calls and network plan steps. */
typedef union op_params {
    conv2d_params conv;
    deconv2d_params deconv;
    pool_params pool;
    upsample_params up;
    unpool_params unpool;
    add_params add;
    batchnorm_params bn;
    act_params act;
    resize_params resize;
} op_params;

/* Output shapes; return 0 (and leave *out alone) when the parameters make no valid output. */
int conv2d_out_shape(shape4 in, const conv2d_params *p, shape4 *out);
int deconv2d_out_shape(shape4 in, const deconv2d_params *p, shape4 *out);
int pool_out_shape(shape4 in, const pool_params *p, shape4 *out);
int upsample_out_shape(shape4 in, const upsample_params *p, shape4 *out);
int resize_out_shape(shape4 in, const resize_params *p, shape4 *out);

/* output_padding that makes a transposed conv of input size `in` produce exactly `want`
   (PyTorch's output_size rule); -1 if no legal output_padding does. */
int deconv2d_out_pad_for(int in, int k, int stride, int pad, int want);

/* Multiply-adds x2 and bytes moved (inputs + weights + outputs, float32) for benchmarks. */
double conv2d_flops(shape4 in, const conv2d_params *p);
double deconv2d_flops(shape4 in, const deconv2d_params *p);

#endif
