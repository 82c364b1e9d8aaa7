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

typedef struct conv2d_params {
    int cin, cout, k, stride, pad;
    int relu; /* 1 = ReLU fused after bias */
} conv2d_params;

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
} op_params;

/* Output shapes; return 0 (and leave *out alone) when the parameters make no valid output. */
int conv2d_out_shape(shape4 in, const conv2d_params *p, shape4 *out);
int deconv2d_out_shape(shape4 in, const deconv2d_params *p, shape4 *out);
int pool_out_shape(shape4 in, const pool_params *p, shape4 *out);
int upsample_out_shape(shape4 in, const upsample_params *p, shape4 *out);

/* output_padding that makes a transposed conv of input size `in` produce exactly `want`
   (PyTorch's output_size rule); -1 if no legal output_padding does. */
int deconv2d_out_pad_for(int in, int k, int stride, int pad, int want);

/* Multiply-adds x2 and bytes moved (inputs + weights + outputs, float32) for benchmarks. */
double conv2d_flops(shape4 in, const conv2d_params *p);
double deconv2d_flops(shape4 in, const deconv2d_params *p);

#endif
