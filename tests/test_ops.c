/* test_ops.c - every op from one table of cases, on every device, through the selector and
   every variant and configuration, against its description's C reference (host/ops/desc.h).
   Outputs lie between guard regions and start as NaN, so out-of-bounds and missing writes
   fail. Modes (argument or $CLSEG_TEST_OPS): check (default, what ctest runs: the forward ops),
   grad (the training ops), perf (time every case per configuration; prints a table). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/backward.h"
#include "ops/desc.h"
#include "ref/ref.h"
#include "testutil.h"
#include "tune/select.h"
#include "tune/tunedb.h"

enum {
    OPT = 1 << 0,  /* the optional slots but out[0] (bias, db, running stats, ...) left NULL */
    TIED = 1 << 1, /* in[0] from {0, 1, 2}: many exact ties for maxima */
    BIG = 1 << 2,  /* in[0] x 100: exp() overflows unless the max is subtracted */
    /* the call is wrong (no valid output for its parameters, or out[0].s is not the shape the
       op makes: .out0 replaces it) and must be refused with CLSEG_ERR_INVALID_ARGUMENT */
    REJECT = 1 << 3,
};

typedef struct op_case {
    op_kind kind;
    shape4 x; /* in[0].s */
    op_params p;
    shape4 in1;  /* in[1].s where the description's shapes() reads it (concat b, unpool bwd) */
    shape4 out0; /* out[0].s where shapes() reads it (data gradients, concat_bwd); REJECT */
    unsigned flags;
} op_case;

#define S(n, c, h, w) ((shape4){n, c, h, w})
#define CASE(kind_, x_, ...)                                                                       \
    { .kind = kind_, .x = x_, __VA_ARGS__ }
#define CONV(n, ci, h, w, co, k, s, pad, relu, fl)                                                 \
    CASE(OP_CONV2D, S(n, ci, h, w), .p.conv = {ci, co, k, s, pad, relu, 1, 1}, .flags = fl)
/* groups g, dilation d, activation a (act_kind) */
#define CONVG(n, ci, h, w, co, k, s, pad, a, g, d)                                                 \
    CASE(OP_CONV2D, S(n, ci, h, w), .p.conv = {ci, co, k, s, pad, a, g, d})
#define DECONV(n, ci, h, w, co, k, s, pad, oph, opw, relu, fl)                                     \
    CASE(OP_DECONV2D, S(n, ci, h, w), .p.deconv = {ci, co, k, s, pad, oph, opw, relu}, .flags = fl)
#define POOL(kind, n, c, h, w, k, s, ceil, idx, fl)                                                \
    CASE(kind, S(n, c, h, w), .p.pool = {k, s, ceil, idx}, .flags = fl)
#define MAXPOOL(...)                    POOL(OP_MAXPOOL, __VA_ARGS__)
#define AVGPOOL(n, c, h, w, k, s, ceil) POOL(OP_AVGPOOL, n, c, h, w, k, s, ceil, 0, 0)
#define UP(n, c, h, w, f, mode)         CASE(OP_UPSAMPLE, S(n, c, h, w), .p.up = {f, mode})
#define UNPOOL(n, c, h, w, oh, ow)      CASE(OP_MAXUNPOOL, S(n, c, h, w), .p.unpool = {oh, ow})
#define CONCAT(n, ca, h, w, cb)         CASE(OP_CONCAT, S(n, ca, h, w), .in1 = S(n, cb, h, w))
#define ADD(n, c, h, w, relu)           CASE(OP_ADD, S(n, c, h, w), .p.add = {relu})
#define PLAIN(kind, n, c, h, w, fl)     CASE(kind, S(n, c, h, w), .flags = fl)
#define ACTV(n, c, h, w, a)             CASE(OP_ACT, S(n, c, h, w), .p.act = {a})
#define MUL(n, c, h, w, bh, bw)         CASE(OP_MUL, S(n, c, h, w), .in1 = S(n, c, bh, bw))
/* resize to oh x ow, linear l, coord co, rounding r, scales sh, sw (0: oh / h) */
#define RESIZE(n, c, h, w, oh, ow, l, co, r, sh, sw)                                               \
    CASE(OP_RESIZE, S(n, c, h, w), .p.resize = {oh, ow, l, co, r, sh, sw})
#define NEAREST  UPSAMPLE_NEAREST
#define BILINEAR UPSAMPLE_BILINEAR

/* Awkward shapes: sizes that are no multiple of any tile (1x1, 2x3, 9x7, 33x17, 21x70, 5x71),
   channels 1, 3, 5, 7, 16 and the deep 64 / 256, batch 1 and 3, strides 1-3, pads from 0 past
   k/2, ceil mode, ties. */
static const op_case cases[] = {
    /* conv2d; 3x3 stride 1 is Winograd's domain: pad 0 and 2, odd sizes that split its output
       tiles, and a deep input for the F(4x4) transforms' rounding. */
    CONV(1, 1, 1, 1, 1, 1, 1, 0, 0, 0),
    CONV(1, 3, 1, 1, 7, 3, 1, 1, 1, 0),
    CONV(1, 1, 9, 7, 16, 3, 1, 1, 0, 0),
    CONV(3, 3, 9, 7, 7, 5, 2, 2, 1, 0),
    CONV(1, 7, 33, 17, 3, 7, 1, 3, 0, 0),
    CONV(1, 16, 33, 17, 64, 3, 1, 1, 1, 0),
    CONV(3, 64, 9, 7, 16, 3, 2, 1, 0, 0),
    CONV(1, 16, 2, 3, 1, 1, 2, 0, 0, 0),
    CONV(1, 7, 2, 3, 16, 3, 1, 1, 1, 0),
    CONV(1, 64, 33, 17, 64, 3, 1, 1, 1, 0),
    CONV(1, 3, 33, 17, 16, 7, 2, 3, 1, 0),
    CONV(3, 16, 9, 7, 3, 1, 1, 0, 1, 0),
    CONV(1, 1, 9, 7, 1, 5, 1, 0, 0, 0),
    CONV(1, 7, 9, 7, 7, 7, 2, 1, 0, 0),
    CONV(1, 3, 17, 33, 5, 4, 2, 1, 0, 0),
    CONV(1, 2, 10, 11, 3, 3, 3, 1, 0, OPT),
    CONV(3, 7, 2, 3, 64, 5, 1, 2, 0, 0),
    CONV(1, 64, 1, 1, 7, 1, 1, 0, 1, OPT),
    CONV(1, 5, 11, 13, 9, 3, 1, 0, 1, 0),
    CONV(3, 9, 13, 10, 20, 3, 1, 1, 1, 0),
    CONV(1, 3, 6, 6, 5, 3, 1, 2, 0, OPT),
    CONV(1, 256, 9, 7, 8, 3, 1, 1, 1, 0),
    CONV(1, 8, 21, 70, 17, 3, 1, 1, 0, 0),
    /* every fused activation on the dense variants */
    CONVG(1, 7, 9, 7, 16, 3, 1, 1, ACT_RELU6, 1, 1),
    CONVG(3, 16, 33, 17, 5, 1, 1, 0, ACT_HARDSWISH, 1, 1),
    CONVG(1, 5, 11, 13, 9, 3, 2, 1, ACT_HARDSIGMOID, 1, 1),
    CONVG(1, 64, 9, 7, 7, 3, 1, 1, ACT_SIGMOID, 1, 1),
    /* grouped, depthwise (groups = channels, with a channel multiplier), dilated (MobileNetV3's
       dilated 5x5 depthwise, DeepLab's dilated 3x3), at sizes no tile divides */
    CONVG(1, 16, 33, 17, 16, 3, 1, 1, ACT_HARDSWISH, 16, 1),
    CONVG(3, 7, 9, 7, 7, 3, 2, 1, ACT_RELU, 7, 1),
    CONVG(1, 5, 21, 70, 10, 5, 2, 2, ACT_NONE, 5, 1),
    CONVG(1, 64, 9, 7, 64, 5, 1, 4, ACT_HARDSWISH, 64, 2),
    CONVG(1, 12, 17, 33, 18, 3, 1, 2, ACT_RELU6, 3, 2),
    CONVG(1, 8, 2, 3, 8, 3, 1, 3, ACT_SIGMOID, 2, 3),
    CONVG(3, 6, 9, 7, 4, 3, 1, 2, ACT_NONE, 1, 2),
    CONVG(1, 3, 5, 71, 5, 3, 3, 2, ACT_RELU, 1, 2),
    CONVG(1, 1, 1, 1, 1, 1, 1, 0, ACT_HARDSIGMOID, 1, 2),
    /* deconv2d: every k in 2-4 x stride 1-3 x pad 0-1 with an output padding legal for the
       stride (the axes differ where they can), then 1x1 kernels whose stride leaves outputs no
       tap reaches (bias only), a kernel smaller than the stride, pad past k/2, the largest
       output padding, and SegNet's k=2 s=2 at a size no tile divides. */
    DECONV(1, 1, 1, 1, 1, 2, 1, 0, 0, 0, 0, 0),
    DECONV(1, 3, 9, 7, 7, 2, 1, 1, 0, 0, 1, 0),
    DECONV(3, 16, 33, 17, 3, 2, 2, 0, 1, 0, 0, 0),
    DECONV(1, 7, 2, 3, 16, 2, 2, 1, 0, 1, 1, OPT),
    DECONV(1, 64, 7, 9, 16, 2, 3, 0, 2, 0, 0, 0),
    DECONV(3, 16, 1, 1, 64, 2, 3, 0, 0, 1, 1, 0),
    DECONV(1, 1, 9, 7, 1, 3, 1, 0, 0, 0, 0, 0),
    DECONV(1, 3, 33, 17, 7, 3, 1, 1, 0, 0, 1, 0),
    DECONV(3, 16, 2, 3, 3, 3, 2, 0, 1, 0, 0, 0),
    DECONV(1, 7, 7, 9, 16, 3, 2, 1, 0, 1, 1, 0),
    DECONV(1, 64, 1, 1, 16, 3, 3, 0, 2, 0, 0, OPT),
    DECONV(3, 16, 9, 7, 64, 3, 3, 1, 0, 1, 1, 0),
    DECONV(1, 1, 33, 17, 1, 4, 1, 0, 0, 0, 0, 0),
    DECONV(1, 3, 2, 3, 7, 4, 1, 1, 0, 0, 1, 0),
    DECONV(1, 16, 7, 9, 3, 4, 2, 0, 1, 0, 0, 0),
    DECONV(1, 3, 9, 7, 5, 1, 2, 0, 1, 1, 0, 0),
    DECONV(1, 7, 9, 7, 3, 2, 3, 0, 2, 1, 1, 0),
    DECONV(1, 3, 9, 7, 2, 3, 1, 2, 0, 0, 0, 0),
    DECONV(3, 16, 33, 17, 7, 4, 3, 1, 2, 2, 0, 0),
    DECONV(1, 64, 9, 7, 64, 2, 2, 0, 0, 0, 1, 0),
    DECONV(1, 1, 1, 1, 1, 4, 2, 1, 1, 0, 0, 0),
    DECONV(1, 7, 2, 3, 16, 3, 2, 1, 1, 1, 1, OPT),
    DECONV(1, 3, 7, 9, 4, 5, 3, 2, 0, 2, 0, 0),
    /* 3x3 stride 2, the Winograd deconv's domain: sizes that split its tiles and transform
       vectors, pads 0-3 (odd pads start the first tile's outputs at -1), every output padding, a
       channel count no GEMM tile divides, and a deep input for the F(4,2) transforms' rounding */
    DECONV(1, 5, 21, 35, 9, 3, 2, 1, 1, 0, 1, 0),
    DECONV(3, 3, 11, 13, 7, 3, 2, 2, 0, 1, 0, 0),
    DECONV(1, 9, 17, 10, 20, 3, 2, 3, 1, 1, 1, OPT),
    DECONV(1, 256, 9, 7, 8, 3, 2, 1, 1, 1, 1, 0),
    DECONV(1, 16, 1, 1, 5, 3, 2, 0, 0, 1, 0, 0),
    /* max-pool with and without indices, ties; the window that would start past the input in
       ceil mode (k1 s4 on 4 rows) is dropped, as PyTorch does */
    MAXPOOL(1, 1, 1, 1, 2, 2, 1, 1, 0),
    MAXPOOL(1, 1, 1, 1, 1, 1, 0, 0, 0),
    MAXPOOL(3, 3, 9, 7, 2, 2, 0, 1, TIED),
    MAXPOOL(1, 7, 9, 7, 3, 2, 1, 1, 0),
    MAXPOOL(1, 16, 33, 17, 2, 2, 1, 1, TIED),
    MAXPOOL(3, 16, 33, 17, 2, 2, 1, 0, 0),
    MAXPOOL(1, 3, 2, 3, 3, 3, 1, 1, 0),
    MAXPOOL(3, 5, 8, 8, 2, 1, 0, 1, TIED),
    MAXPOOL(1, 7, 5, 71, 3, 2, 0, 0, TIED),
    MAXPOOL(1, 1, 4, 5, 1, 4, 1, 1, 0),
    MAXPOOL(1, 64, 33, 17, 2, 2, 1, 1, 0),
    MAXPOOL(3, 64, 9, 7, 2, 2, 0, 0, 0),
    MAXPOOL(1, 3, 5, 71, 3, 3, 1, 1, TIED),
    MAXPOOL(3, 1, 8, 8, 2, 2, 0, 1, 0),
    /* average pooling over partial windows (ceil) counts only the elements inside */
    AVGPOOL(1, 1, 1, 1, 2, 2, 1),
    AVGPOOL(3, 3, 9, 7, 2, 2, 1),
    AVGPOOL(1, 7, 33, 17, 3, 2, 1),
    AVGPOOL(1, 16, 2, 3, 2, 1, 0),
    AVGPOOL(3, 5, 8, 8, 3, 3, 1),
    AVGPOOL(1, 64, 9, 7, 2, 2, 0),
    AVGPOOL(1, 3, 5, 71, 1, 4, 1),
    /* upsampling by 1-4, nearest and bilinear */
    UP(1, 1, 1, 1, 2, NEAREST),
    UP(1, 1, 1, 1, 3, BILINEAR),
    UP(3, 3, 9, 7, 1, BILINEAR),
    UP(3, 3, 9, 7, 2, NEAREST),
    UP(1, 7, 33, 17, 2, BILINEAR),
    UP(1, 16, 2, 3, 3, NEAREST),
    UP(1, 16, 2, 3, 4, BILINEAR),
    UP(3, 5, 8, 8, 4, NEAREST),
    UP(1, 3, 3, 37, 3, BILINEAR),
    UP(1, 64, 9, 7, 2, BILINEAR),
    UP(3, 64, 8, 8, 2, NEAREST),
    /* max-unpooling to the size that was pooled (even, odd from ceil mode, k3 s3) */
    UNPOOL(1, 1, 1, 1, 1, 1),
    UNPOOL(3, 3, 5, 4, 9, 7),
    UNPOOL(1, 16, 17, 9, 33, 17),
    UNPOOL(1, 7, 3, 3, 8, 8),
    UNPOOL(3, 64, 4, 4, 8, 8),
    UNPOOL(1, 5, 1, 2, 2, 3),
    /* concat, add, softmax (max subtracted: huge logits), argmax (ties pick the lowest) */
    CONCAT(1, 1, 1, 1, 1),
    CONCAT(3, 3, 9, 7, 7),
    CONCAT(1, 16, 33, 17, 64),
    CONCAT(1, 7, 2, 3, 16),
    CONCAT(3, 5, 8, 8, 5),
    ADD(1, 1, 1, 1, 1),
    ADD(3, 3, 9, 7, 0),
    ADD(1, 16, 33, 17, 1),
    ADD(3, 7, 2, 3, 1),
    ADD(1, 64, 8, 8, 0),
    PLAIN(OP_SOFTMAX, 1, 1, 1, 1, 0),
    PLAIN(OP_SOFTMAX, 3, 3, 9, 7, 0),
    PLAIN(OP_SOFTMAX, 1, 16, 33, 17, BIG),
    PLAIN(OP_SOFTMAX, 3, 7, 2, 3, BIG),
    PLAIN(OP_SOFTMAX, 1, 64, 8, 8, 0),
    PLAIN(OP_ARGMAX, 1, 1, 1, 1, 0),
    PLAIN(OP_ARGMAX, 3, 3, 9, 7, TIED),
    PLAIN(OP_ARGMAX, 1, 16, 33, 17, 0),
    PLAIN(OP_ARGMAX, 3, 7, 2, 3, TIED),
    PLAIN(OP_ARGMAX, 1, 64, 8, 8, TIED),
    /* the inference-only ops of imported models: activations, global average pooling,
       squeeze-excite's broadcast multiply, Resize to any size in every coordinate mode */
    ACTV(1, 1, 1, 1, ACT_RELU),
    ACTV(3, 7, 9, 7, ACT_RELU6),
    ACTV(1, 16, 33, 17, ACT_HARDSWISH),
    ACTV(1, 5, 2, 3, ACT_HARDSIGMOID),
    ACTV(3, 3, 21, 70, ACT_SIGMOID),
    PLAIN(OP_GAP, 1, 1, 1, 1, 0),
    PLAIN(OP_GAP, 3, 7, 9, 7, 0),
    PLAIN(OP_GAP, 1, 64, 33, 17, 0),
    PLAIN(OP_GAP, 1, 5, 5, 71, 0),
    MUL(1, 1, 1, 1, 1, 1),
    MUL(3, 7, 9, 7, 1, 1),
    MUL(1, 64, 33, 17, 1, 1),
    MUL(1, 5, 2, 3, 2, 3),
    RESIZE(1, 1, 1, 1, 3, 2, 1, RESIZE_HALF_PIXEL, 0, 0, 0),
    RESIZE(3, 7, 9, 7, 33, 17, 1, RESIZE_HALF_PIXEL, 0, 0, 0),
    RESIZE(1, 5, 23, 30, 45, 60, 1, RESIZE_PYTORCH_HALF_PIXEL, 0, 0, 0),
    RESIZE(1, 16, 5, 8, 38, 57, 1, RESIZE_HALF_PIXEL, 0, 0, 0),
    RESIZE(1, 3, 9, 7, 4, 3, 1, RESIZE_PYTORCH_HALF_PIXEL, 0, 0, 0),
    RESIZE(1, 3, 9, 7, 21, 5, 1, RESIZE_ALIGN_CORNERS, 0, 0, 0),
    RESIZE(1, 3, 2, 2, 4, 6, 0, RESIZE_ASYMMETRIC, RESIZE_FLOOR, 2, 3),
    RESIZE(1, 3, 2, 2, 7, 8, 0, RESIZE_HALF_PIXEL, RESIZE_ROUND_PREFER_FLOOR, 0, 0),
    RESIZE(3, 7, 9, 7, 4, 13, 0, RESIZE_HALF_PIXEL, RESIZE_ROUND_PREFER_CEIL, 0, 0),
    RESIZE(1, 5, 4, 4, 3, 2, 0, RESIZE_TF_HALF_PIXEL_NN, RESIZE_CEIL, 0, 0),
    RESIZE(1, 1, 2, 4, 1, 2, 1, RESIZE_ASYMMETRIC, 0, 0.6f, 0.6f),
    RESIZE(1, 2, 7, 9, 13, 20, 0, RESIZE_ALIGN_CORNERS, RESIZE_FLOOR, 0, 0),
    /* refused: a wrong output shape, parameters that make no output */
    CASE(OP_CONV2D, S(1, 1, 4, 4), .p.conv = {1, 1, 3, 1, 1, 0, 1, 1}, .out0 = S(1, 1, 4, 3),
         .flags = REJECT),
    CASE(OP_CONV2D, S(1, 2, 4, 4), .p.conv = {1, 1, 3, 1, 1, 0, 1, 1}, .out0 = S(1, 1, 4, 4),
         .flags = REJECT),
    CASE(OP_CONV2D, S(1, 1, 2, 2), .p.conv = {1, 1, 5, 1, 0, 0, 1, 1}, .out0 = S(1, 1, 1, 1),
         .flags = REJECT),
    CASE(OP_DECONV2D, S(1, 1, 4, 4), .p.deconv = {1, 1, 2, 2, 0, 0, 0, 0}, .out0 = S(1, 1, 9, 8),
         .flags = REJECT),
    CASE(OP_DECONV2D, S(1, 1, 4, 4), .p.deconv = {1, 1, 2, 2, 0, 2, 0, 0}, .out0 = S(1, 1, 10, 8),
         .flags = REJECT),
    CASE(OP_MAXPOOL, S(1, 1, 4, 4), .p.pool = {2, 2, 0, 1}, .out0 = S(1, 1, 2, 3), .flags = REJECT),
    CASE(OP_AVGPOOL, S(1, 1, 4, 4), .p.pool = {0, 2, 0, 0}, .out0 = S(1, 1, 2, 2), .flags = REJECT),
    CASE(OP_UPSAMPLE, S(1, 1, 4, 4), .p.up = {2, NEAREST}, .out0 = S(1, 1, 8, 7), .flags = REJECT),
    CASE(OP_CONCAT, S(1, 1, 4, 4), .in1 = S(1, 1, 4, 3), .out0 = S(1, 2, 4, 4), .flags = REJECT),
    CASE(OP_SOFTMAX, S(1, 3, 4, 4), .out0 = S(1, 3, 4, 5), .flags = REJECT),
    CASE(OP_ARGMAX, S(1, 3, 4, 4), .out0 = S(1, 3, 4, 4), .flags = REJECT),
    CASE(OP_CONV2D, S(1, 6, 4, 4), .p.conv = {6, 4, 3, 1, 1, 0, 4, 1}, .out0 = S(1, 4, 4, 4),
         .flags = REJECT),
    CASE(OP_CONV2D, S(1, 2, 4, 4), .p.conv = {2, 2, 3, 1, 1, 0, 2, 3}, .out0 = S(1, 2, 2, 2),
         .flags = REJECT),
    CASE(OP_GAP, S(1, 3, 4, 4), .out0 = S(1, 3, 4, 4), .flags = REJECT),
    CASE(OP_MUL, S(1, 3, 4, 4), .in1 = S(1, 3, 4, 1), .out0 = S(1, 3, 4, 4), .flags = REJECT),
    /* ---- training ops (grad) ---- */
    CASE(OP_CONV2D_BWD_DATA, S(2, 6, 10, 20), .p.conv = {4, 6, 3, 2, 1, 0, 1, 1},
         .out0 = S(2, 4, 20, 40)),
    CASE(OP_CONV2D_BWD_DATA, S(1, 5, 1, 1), .p.conv = {3, 5, 3, 2, 1, 0, 1, 1},
         .out0 = S(1, 3, 1, 1)),
    CASE(OP_CONV2D_BWD_DATA, S(2, 3, 4, 2), .p.conv = {5, 3, 3, 2, 1, 0, 1, 1},
         .out0 = S(2, 5, 7, 4)),
    CASE(OP_CONV2D_BWD_DATA, S(1, 3, 2, 1), .p.conv = {2, 3, 4, 3, 2, 0, 1, 1},
         .out0 = S(1, 2, 3, 2)),
    CASE(OP_CONV2D_BWD_WEIGHT, S(2, 4, 20, 40), .p.conv = {4, 6, 3, 2, 1, 0, 1, 1}),
    CASE(OP_CONV2D_BWD_WEIGHT, S(1, 3, 3, 5), .p.conv = {3, 5, 3, 1, 1, 0, 1, 1}, .flags = OPT),
    CASE(OP_CONV2D_BWD_WEIGHT, S(2, 17, 5, 6), .p.conv = {17, 5, 3, 2, 1, 0, 1, 1}),
    CASE(OP_DECONV2D_BWD_DATA, S(2, 3, 14, 8), .p.deconv = {5, 3, 3, 2, 1, 1, 1, 0},
         .out0 = S(2, 5, 7, 4)),
    CASE(OP_DECONV2D_BWD_DATA, S(1, 8, 20, 40), .p.deconv = {9, 8, 3, 2, 1, 1, 1, 0},
         .out0 = S(1, 9, 10, 20)),
    CASE(OP_DECONV2D_BWD_WEIGHT, S(2, 5, 7, 4), .p.deconv = {5, 3, 3, 2, 1, 1, 1, 0}),
    CASE(OP_DECONV2D_BWD_WEIGHT, S(1, 2, 3, 2), .p.deconv = {2, 3, 4, 3, 2, 2, 2, 0}, .flags = OPT),
    CASE(OP_BATCHNORM_TRAIN, S(1, 3, 3, 5), .p.bn = {0}),
    CASE(OP_BATCHNORM_TRAIN, S(2, 5, 7, 4), .p.bn = {1}, .flags = OPT),
    CASE(OP_BATCHNORM_TRAIN, S(3, 4, 30, 37), .p.bn = {1}),
    CASE(OP_BATCHNORM_TRAIN_BWD, S(1, 3, 3, 5), .p.bn = {1}),
    CASE(OP_BATCHNORM_TRAIN_BWD, S(2, 5, 7, 4), .p.bn = {0}),
    CASE(OP_BATCHNORM_TRAIN_BWD, S(3, 4, 30, 37), .p.bn = {1}),
    PLAIN(OP_RELU_BWD, 1, 1, 1, 1, 0),
    PLAIN(OP_RELU_BWD, 2, 17, 33, 17, 0),
    CASE(OP_ADD_BWD, S(2, 5, 7, 4), .p.add = {0}),
    CASE(OP_ADD_BWD, S(2, 5, 7, 4), .p.add = {0}, .flags = OPT),
    CASE(OP_ADD_BWD, S(3, 2, 1, 6), .p.add = {1}),
    CASE(OP_CONCAT_BWD, S(2, 5, 7, 4), .out0 = S(2, 0, 7, 4)),
    CASE(OP_CONCAT_BWD, S(2, 5, 7, 4), .out0 = S(2, 2, 7, 4)),
    CASE(OP_CONCAT_BWD, S(1, 17, 33, 17), .out0 = S(1, 17, 33, 17)),
    CASE(OP_MAXPOOL_BWD, S(1, 3, 2, 3), .p.pool = {2, 2, 1, 1}, .out0 = S(1, 3, 3, 5)),
    CASE(OP_MAXPOOL_BWD, S(2, 5, 3, 2), .p.pool = {3, 2, 1, 1}, .out0 = S(2, 5, 7, 4)),
    CASE(OP_MAXPOOL_BWD, S(2, 3, 7, 5), .p.pool = {3, 1, 0, 1}, .out0 = S(2, 3, 9, 7)),
    CASE(OP_MAXPOOL_BWD, S(3, 2, 1, 2), .p.pool = {2, 3, 1, 1}, .out0 = S(3, 2, 1, 6)),
    CASE(OP_MAXUNPOOL_BWD, S(1, 3, 3, 5), .p.unpool = {3, 5}, .in1 = S(1, 3, 2, 3)),
    CASE(OP_MAXUNPOOL_BWD, S(1, 17, 33, 17), .p.unpool = {33, 17}, .in1 = S(1, 17, 17, 9)),
    CASE(OP_UPSAMPLE_BWD, S(2, 5, 7, 4), .p.up = {1, BILINEAR}),
    CASE(OP_UPSAMPLE_BWD, S(2, 3, 18, 14), .p.up = {2, NEAREST}),
    CASE(OP_UPSAMPLE_BWD, S(3, 2, 3, 18), .p.up = {3, BILINEAR}),
    CASE(OP_UPSAMPLE_BWD, S(1, 17, 66, 34), .p.up = {2, BILINEAR}),
    PLAIN(OP_SOFTMAX_XENT, 1, 1, 1, 1, 0),
    PLAIN(OP_SOFTMAX_XENT, 2, 5, 7, 4, 0),
    PLAIN(OP_SOFTMAX_XENT, 2, 12, 20, 37, 0),
};

typedef enum mode { MODE_CHECK, MODE_GRAD, MODE_PERF } mode;

static int in_mode(const op_case *k, mode m) {
    return m == MODE_PERF ? !(k->flags & REJECT)
                          : op_desc_get(k->kind)->training == (m == MODE_GRAD);
}

static void case_label(const op_call *c, unsigned flags, char *buf, size_t len) {
    const op_desc *d = op_desc_get(c->kind);
    if (!d->training) {
        op_signature(c, buf, len);
    } else {
        const shape4 x = c->in[0].s, y = c->out[0].s;
        snprintf(buf, len, "%s %dx%dx%dx%d -> %dx%dx%dx%d", d->name, x.n, x.c, x.h, x.w, y.n, y.c,
                 y.h, y.w);
    }
    size_t o = strlen(buf);
    snprintf(buf + o, len - o, "%s%s%s", flags & OPT ? " opt" : "", flags & TIED ? " tied" : "",
             flags & BIG ? " huge" : "");
}

/* A case made runnable: host inputs and reference outputs, device inputs. */
typedef struct prepared {
    op_call call; /* shapes complete, inputs set, outputs' .mem set per run */
    void *in[OP_IO_MAX], *want[OP_IO_MAX], *init[OP_IO_MAX];
    size_t out_count[OP_IO_MAX];
    cl_mem in_mem[OP_IO_MAX];
    char label[200];
} prepared;

static void prepared_free(prepared *q) {
    for (int i = 0; i < OP_IO_MAX; i++) {
        free(q->in[i]), free(q->want[i]), free(q->init[i]);
        if (q->in_mem[i]) clReleaseMemObject(q->in_mem[i]);
    }
    memset(q, 0, sizeof *q);
}

static int prepare(clseg_context *ctx, const op_case *k, uint64_t seed, prepared *q) {
    memset(q, 0, sizeof *q);
    const op_desc *d = op_desc_get(k->kind);
    op_call *c = &q->call;
    c->kind = k->kind;
    c->p = k->p;
    c->in[0].s = k->x;
    c->in[1].s = k->in1;
    c->out[0].s = k->out0;
    shape4 ins[OP_IO_MAX], outs[OP_IO_MAX];
    if (!op_shapes(c, ins, outs)) {
        CHECK(0, "%s case %dx%dx%dx%d has no valid output", d->name, k->x.n, k->x.c, k->x.h,
              k->x.w);
        return 0;
    }
    for (int i = 0; i < OP_IO_MAX; i++) {
        c->in[i].s = ins[i];
        c->out[i].s = outs[i];
    }
    case_label(c, k->flags, q->label, sizeof q->label);
    CHECK_OK(op_make_inputs(c, seed, q->in));
    if (k->flags & (TIED | BIG)) {
        float *x = q->in[0];
        for (size_t j = 0; j < shape4_count(ins[0]); j++)
            x[j] = k->flags & TIED ? floorf(1.5f * (x[j] + 1)) : 100 * x[j];
    }
    for (int i = 0; i < OP_IO_MAX; i++) {
        const int dropped = (k->flags & OPT) && (d->optional_in >> i & 1);
        if (q->in[i] && !dropped)
            CHECK_OK(
                ctx_buffer(ctx, CLSEG_MAX(shape4_count(ins[i]), 1) * 4, q->in[i], &q->in_mem[i]));
        c->in[i].mem = q->in_mem[i];
        if (!d->out[i] || !outs[i].n || (i && (k->flags & OPT) && (d->optional_out >> i & 1)))
            continue;
        q->out_count[i] = shape4_count(outs[i]);
        q->want[i] = calloc(CLSEG_MAX(q->out_count[i], 1), 4);
        if (d->inout_out >> i & 1) {
            q->init[i] = malloc(CLSEG_MAX(q->out_count[i], 1) * 4);
            tu_fill_uniform(q->init[i], q->out_count[i], seed + 100 + (uint64_t)i, 0.5f, 2);
            memcpy(q->want[i], q->init[i], q->out_count[i] * 4);
        }
    }
    const void *ref_in[OP_IO_MAX];
    for (int i = 0; i < OP_IO_MAX; i++) ref_in[i] = c->in[i].mem ? q->in[i] : NULL;
    CHECK(d->reference(c, ref_in, q->want), "%s: reference", q->label);
    return 1;
}

/* Guarded outputs for one run: NaN (or the old values of in-place outputs) between guards. */
static void outputs_create(clseg_context *ctx, prepared *q, tu_guarded g[OP_IO_MAX]) {
    for (int i = 0; i < OP_IO_MAX; i++) {
        memset(&g[i], 0, sizeof g[i]);
        q->call.out[i].mem = NULL;
        if (!q->out_count[i]) continue;
        CHECK(tu_guarded_create(ctx, q->out_count[i], q->init[i], &g[i]), "%s: guarded out[%d]",
              q->label, i);
        q->call.out[i].mem = g[i].mem;
    }
}

static void outputs_free(tu_guarded g[OP_IO_MAX]) {
    for (int i = 0; i < OP_IO_MAX; i++)
        if (g[i].parent) tu_guarded_free(&g[i]);
}

static void check_config(clseg_context *ctx, prepared *q, const tu_config *cfg) {
    const op_desc *d = op_desc_get(q->call.kind);
    tu_guarded g[OP_IO_MAX];
    outputs_create(ctx, q, g);
    clseg_status st = tu_run_config(ctx, cfg, &q->call);
    CHECK(st == CLSEG_OK, "%s %s: %s: %s", q->label, cfg->label, clseg_status_str(st),
          clseg_context_error(ctx));
    for (int i = 0; st == CLSEG_OK && i < OP_IO_MAX; i++) {
        if (!q->out_count[i]) continue;
        void *got = malloc(q->out_count[i] * 4);
        char what[320];
        snprintf(what, sizeof what, "%s %s out[%d]", q->label, cfg->label, i);
        CHECK(tu_guarded_read(ctx, &g[i], got), "%s: guard regions", what);
        if (d->out[i] == OP_ELEM_I32) {
            CHECK(!memcmp(got, q->want[i], q->out_count[i] * 4), "%s: int32 values differ", what);
        } else {
            op_tolerance t = d->tolerance(&q->call, i);
            CHECK(tu_allclose(what, got, q->want[i], q->out_count[i], t.atol, t.rtol), "%s", what);
        }
        free(got);
    }
    outputs_free(g);
}

/* The call is refused before anything runs; buffers are large enough that a call that is not
   refused writes nothing out of bounds either. */
static void check_reject(clseg_context *ctx, const op_case *k) {
    op_call c = {.kind = k->kind, .p = k->p};
    shape4 ins[OP_IO_MAX], outs[OP_IO_MAX];
    c.in[0].s = k->x;
    c.in[1].s = k->in1;
    c.out[0].s = k->out0;
    if (op_shapes(&c, ins, outs))
        for (int i = 0; i < OP_IO_MAX; i++) {
            c.in[i].s = ins[i];
            if (i) c.out[i].s = outs[i];
        }
    cl_mem m = NULL;
    CHECK_OK(ctx_buffer(ctx, 1 << 16, NULL, &m));
    for (int i = 0; i < OP_IO_MAX; i++) {
        c.in[i].mem = op_desc_get(k->kind)->in[i] ? m : NULL;
        c.out[i].mem = op_desc_get(k->kind)->out[i] ? m : NULL;
    }
    clseg_status st = tune_run_call(ctx, &c);
    char label[200];
    case_label(&c, 0, label, sizeof label);
    CHECK(st == CLSEG_ERR_INVALID_ARGUMENT, "%s -> %dx%dx%dx%d accepted (%s)", label, k->out0.n,
          k->out0.c, k->out0.h, k->out0.w, clseg_status_str(st));
    ctx_finish(ctx);
    clReleaseMemObject(m);
}

static void perf_config(clseg_context *ctx, prepared *q, const tu_config *cfg) {
    tu_guarded g[OP_IO_MAX];
    outputs_create(ctx, q, g);
    clseg_status st = tu_run_config(ctx, cfg, &q->call); /* compiles, warms up */
    if (st == CLSEG_OK) st = ctx_finish(ctx);
    int reps = 0;
    double t0 = clseg_now_ms(), t = 0;
    while (st == CLSEG_OK && (reps < 3 || t < 100) && reps < 1000) {
        st = tu_run_config(ctx, cfg, &q->call);
        if (st == CLSEG_OK) st = ctx_finish(ctx);
        t = clseg_now_ms() - t0;
        reps++;
    }
    double flops, bytes;
    op_desc_get(q->call.kind)->cost(&q->call, &flops, &bytes);
    if (st == CLSEG_OK) {
        double ms = t / reps;
        printf("%-64s %-44s %10.4f %8.2f %8.2f\n", q->label, cfg->label, ms, flops / ms * 1e-6,
               bytes / ms * 1e-6);
    } else {
        printf("%-64s %-44s %10s\n", q->label, cfg->label, clseg_status_str(st));
    }
    outputs_free(g);
}

/* ---- the references by hand: values PyTorch documents or that follow from the definitions ---- */

static int near(float a, float b) {
    return fabsf(a - b) <= 1e-6f;
}

/* The imported ops' references on values worked out by hand. */
static void check_imported_references_by_hand(void) {
    /* depthwise 3x3 with dilation 2 and pad 2 on two 3x3 planes (1..9 and 10..18), all-ones
       weights: each output sums the taps at (y + 2i - 2, x + 2j - 2) inside its plane, so the
       centre output reads only the centre (5) and a corner output the four corners (1 + 3 + 7 +
       9 = 20; plane 2: 10 + 12 + 16 + 18 = 56); hardswish leaves values >= 3 alone */
    float x[18], w[18], y[18];
    for (int i = 0; i < 18; i++) x[i] = (float)(i + 1), w[i] = 1.0f;
    const conv2d_params dw = {2, 2, 3, 1, 2, ACT_HARDSWISH, 2, 2};
    ref_conv2d(x, S(1, 2, 3, 3), w, NULL, &dw, y);
    CHECK(y[4] == 5 && y[0] == 20 && y[9] == 56, "depthwise dilated %g %g %g", y[4], y[0], y[9]);
    CHECK(ref_act_value(-3, ACT_HARDSWISH) == 0 && ref_act_value(1.5f, ACT_HARDSWISH) == 1.125f &&
              ref_act_value(3, ACT_HARDSIGMOID) == 1 && ref_act_value(7, ACT_RELU6) == 6 &&
              ref_act_value(0, ACT_SIGMOID) == 0.5f,
          "activations");
    /* bilinear half_pixel 2 -> 4 on [0, 1]: sources -0.25 (clamped to 0), 0.25, 0.75, 1.25
       (clamped to 1) give 0, 0.25, 0.75, 1; align_corners 2 -> 3 gives 0, 0.5, 1; nearest
       asymmetric floor by 3 repeats each pixel three times */
    const float two[2] = {0, 1};
    resize_params hp = {1, 4, 1, RESIZE_HALF_PIXEL, 0, 0, 0};
    ref_resize(two, S(1, 1, 1, 2), &hp, y);
    CHECK(y[0] == 0 && y[1] == 0.25f && y[2] == 0.75f && y[3] == 1, "half_pixel %g %g %g %g", y[0],
          y[1], y[2], y[3]);
    resize_params ac = {1, 3, 1, RESIZE_ALIGN_CORNERS, 0, 0, 0};
    ref_resize(two, S(1, 1, 1, 2), &ac, y);
    CHECK(y[0] == 0 && y[1] == 0.5f && y[2] == 1, "align_corners %g %g %g", y[0], y[1], y[2]);
    resize_params nn = {1, 6, 0, RESIZE_ASYMMETRIC, RESIZE_FLOOR, 3, 3};
    ref_resize(two, S(1, 1, 1, 2), &nn, y);
    CHECK(y[2] == 0 && y[3] == 1 && y[5] == 1, "nearest %g %g %g", y[2], y[3], y[5]);
    /* squeeze-excite: one factor per channel over the plane; the mean of 1..9 */
    const float s2[2] = {2, -1};
    ref_mul(x, S(1, 2, 3, 3), s2, S(1, 2, 1, 1), y);
    CHECK(y[8] == 18 && y[9] == -10, "mul broadcast %g %g", y[8], y[9]);
    ref_gap(x, S(1, 2, 3, 3), y);
    CHECK(y[0] == 5 && y[1] == 14, "gap %g %g", y[0], y[1]);
}

static void check_references_by_hand(void) {
    check_imported_references_by_hand();
    /* pooling: 3x3 input 1..9; ceil mode makes 2x2 with partial windows, floor mode 1x1 */
    const float x9[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    shape4 xs = {1, 1, 3, 3}, ys;
    pool_params ceil_on = {2, 2, 1, 1}, ceil_off = {2, 2, 0, 1};
    CHECK(pool_out_shape(xs, &ceil_on, &ys) && ys.h == 2 && ys.w == 2, "ceil shape %dx%d", ys.h,
          ys.w);
    CHECK(pool_out_shape(xs, &ceil_off, &ys) && ys.h == 1 && ys.w == 1, "floor shape %dx%d", ys.h,
          ys.w);
    float y[18];
    int32_t idx[4];
    ref_maxpool(x9, xs, &ceil_on, y, idx);
    const float max_want[4] = {5, 6, 8, 9};
    const int32_t idx_want[4] = {4, 5, 7, 8};
    CHECK(!memcmp(y, max_want, sizeof max_want), "max %g %g %g %g", y[0], y[1], y[2], y[3]);
    CHECK(!memcmp(idx, idx_want, sizeof idx), "idx %d %d %d %d", idx[0], idx[1], idx[2], idx[3]);
    ref_avgpool(x9, xs, &ceil_on, y);
    const float avg_want[4] = {3.0f, 4.5f, 7.5f, 9.0f}; /* partial windows: 2, 2 and 1 element */
    CHECK(!memcmp(y, avg_want, sizeof avg_want), "avg %g %g %g %g", y[0], y[1], y[2], y[3]);
    ref_maxpool(x9, xs, &ceil_off, y, idx);
    CHECK(y[0] == 5 && idx[0] == 4, "floor max %g at %d", y[0], idx[0]);
    /* all equal: every window reports its first (top-left) element */
    const float flat[9] = {0};
    ref_maxpool(flat, xs, &ceil_on, y, idx);
    CHECK(idx[0] == 0 && idx[1] == 2 && idx[2] == 6 && idx[3] == 8, "tie idx %d %d %d %d", idx[0],
          idx[1], idx[2], idx[3]);
    /* PyTorch drops a window that would start outside the input: k=1, s=4, ceil on 4 rows
       would otherwise start a second window at row 4 */
    pool_params k1s4 = {1, 4, 1, 0}, k2s2 = {2, 2, 1, 0};
    CHECK(pool_out_shape(S(1, 1, 4, 5), &k1s4, &ys) && ys.h == 1 && ys.w == 2,
          "k1s4 ceil shape %dx%d", ys.h, ys.w);
    CHECK(pool_out_shape(S(1, 1, 4, 5), &k2s2, &ys) && ys.h == 2 && ys.w == 3,
          "4x5 ceil shape %dx%d", ys.h, ys.w);

    /* torch.nn.Upsample(scale_factor=2, mode='bilinear', align_corners=False) on [[1,2],[3,4]],
       as printed in PyTorch's documentation */
    const float x4[4] = {1, 2, 3, 4};
    const float bilinear_want[16] = {1.00f, 1.25f, 1.75f, 2.00f, 1.50f, 1.75f, 2.25f, 2.50f,
                                     2.50f, 2.75f, 3.25f, 3.50f, 3.00f, 3.25f, 3.75f, 4.00f};
    const float nearest_want[16] = {1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4};
    ref_upsample(x4, S(1, 1, 2, 2), &(upsample_params){2, UPSAMPLE_BILINEAR}, y);
    for (int i = 0; i < 16; i++)
        CHECK(near(y[i], bilinear_want[i]), "bilinear[%d] = %g, want %g", i, y[i],
              bilinear_want[i]);
    ref_upsample(x4, S(1, 1, 2, 2), &(upsample_params){2, UPSAMPLE_NEAREST}, y);
    CHECK(!memcmp(y, nearest_want, sizeof nearest_want), "nearest 2x2 x2");
    /* x3 of the row [1, 2]: sources 0 (clamped), 0, 1/3, 2/3, 1, 1 (edge) */
    const float row_want[6] = {1.0f, 1.0f, 4.0f / 3.0f, 5.0f / 3.0f, 2.0f, 2.0f};
    ref_upsample(x4, S(1, 1, 1, 2), &(upsample_params){3, UPSAMPLE_BILINEAR}, y);
    for (int i = 0; i < 6; i++)
        CHECK(near(y[i], row_want[i]), "bilinear x3 [%d] = %g, want %g", i, y[i], row_want[i]);
    /* 3x3 of 1..9 pooled 2x2/2 in ceil mode keeps 5, 6, 8, 9 at their positions */
    const float unpool_want[9] = {0, 0, 0, 0, 5, 6, 0, 8, 9};
    ref_maxunpool(max_want, idx_want, S(1, 1, 2, 2), &(unpool_params){3, 3}, y);
    CHECK(!memcmp(y, unpool_want, sizeof unpool_want), "unpool 2x2 -> 3x3");

    /* softmax of logits 0 and ln 3 is 1/4, 3/4; of equal huge logits 1/2 each (no overflow) */
    const float x2[2] = {0.0f, logf(3.0f)}, big[2] = {1000.0f, 1000.0f};
    ref_softmax(x2, S(1, 2, 1, 1), y);
    CHECK(near(y[0], 0.25f) && near(y[1], 0.75f), "softmax %g %g", y[0], y[1]);
    ref_softmax(big, S(1, 2, 1, 1), y);
    CHECK(y[0] == 0.5f && y[1] == 0.5f, "softmax of huge logits %g %g", y[0], y[1]);
    /* three classes over two pixels (channel-major): pixel 0 ties classes 1 and 2, pixel 1 ties
       all three */
    const float logits[6] = {1, 0, 3, 0, 3, 0};
    int32_t labels[2];
    ref_argmax(logits, S(1, 3, 1, 2), labels);
    CHECK(labels[0] == 1 && labels[1] == 0, "argmax ties %d %d", labels[0], labels[1]);
    const float a[2] = {1, -2}, b[2] = {0.5f, 1};
    ref_add(a, b, S(1, 1, 1, 2), &(add_params){1}, y);
    CHECK(y[0] == 1.5f && y[1] == 0.0f, "add relu %g %g", y[0], y[1]);
    /* batch 2, a with 1 channel, b with 2, 1 pixel: per image a then b */
    const float ca[2] = {1, 2}, cb[4] = {10, 11, 20, 21}, cy_want[6] = {1, 10, 11, 2, 20, 21};
    ref_concat(ca, S(2, 1, 1, 1), cb, S(2, 2, 1, 1), y);
    CHECK(!memcmp(y, cy_want, sizeof cy_want), "concat order");
}

/* Every op kind has a complete description. */
static void check_descriptions(void) {
    for (int k = 0; k < OP_KIND_COUNT; k++) {
        const op_desc *d = op_desc_get((op_kind)k);
        CHECK(d && d->name && d->io && d->shapes && d->cost && d->reference && d->tolerance &&
                  d->in[0] && d->out[0],
              "op kind %d: incomplete description", k);
    }
    CHECK(!op_desc_get(OP_KIND_COUNT) && !strcmp(op_kind_name(OP_KIND_COUNT), "?"), "unknown kind");
}

int main(int argc, char **argv) {
    const char *arg = argc > 1 ? argv[1] : getenv("CLSEG_TEST_OPS");
    mode m = MODE_CHECK;
    if (arg && !strcmp(arg, "grad"))
        m = MODE_GRAD;
    else if (arg && !strcmp(arg, "perf"))
        m = MODE_PERF;
    else if (arg && *arg && strcmp(arg, "check")) {
        fprintf(stderr, "usage: test_ops [check | grad | perf]\n");
        return 2;
    }
    if (m == MODE_CHECK) {
        check_descriptions();
        check_references_by_hand();
    }
    clseg_context **ctxs;
    int n_ctx = tu_contexts(&ctxs);
    if (m == MODE_PERF)
        printf("%-64s %-44s %10s %8s %8s\n", "case", "configuration", "ms", "GFLOP/s", "GB/s");
    for (int dv = 0; dv < n_ctx; dv++)
        for (size_t i = 0; i < CLSEG_ARRAY_LEN(cases); i++) {
            const op_case *k = &cases[i];
            if (!in_mode(k, m)) continue;
            if (k->flags & REJECT) {
                check_reject(ctxs[dv], k);
                continue;
            }
            prepared q;
            if (!prepare(ctxs[dv], k, 1000 + 16 * (uint64_t)i, &q)) continue;
            tu_config cfgs[16];
            int nc = tu_op_configs(ctxs[dv], &q.call, cfgs, 16);
            CHECK(nc >= 2, "%s: no variant supports it", q.label);
            for (int j = 0; j < nc; j++) {
                if (m == MODE_PERF)
                    perf_config(ctxs[dv], &q, &cfgs[j]);
                else
                    check_config(ctxs[dv], &q, &cfgs[j]);
            }
            prepared_free(&q);
        }
    tu_contexts_free(ctxs, n_ctx);
    return tu_finish("test_ops");
}
