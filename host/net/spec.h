/* spec.h - network description: the parsed form of a .cfg text (see docs/network-spec.md). */
#ifndef CLSEG_SPEC_H
#define CLSEG_SPEC_H

#include "../core/op_params.h"

#define SPEC_NAME_MAX   64
#define SPEC_MAX_LAYERS 256
#define SPEC_MAX_INPUTS 2

typedef enum layer_type {
    LAYER_CONV,     /* [conv]: conv2d (+ BatchNorm) (+ ReLU) */
    LAYER_DECONV,   /* [deconv]: transposed conv (+ BatchNorm) (+ ReLU) */
    LAYER_MAXPOOL,  /* [maxpool] */
    LAYER_AVGPOOL,  /* [avgpool] */
    LAYER_UPSAMPLE, /* [upsample] */
    LAYER_UNPOOL,   /* [unpool]: max-unpool with the indices of a named [maxpool] */
    LAYER_CONCAT,   /* [concat]: two inputs along channels */
    LAYER_ADD,      /* [add]: two inputs elementwise (+ ReLU) */
    /* Inference only (imported models): */
    LAYER_ACT,    /* [act]: an activation */
    LAYER_GAP,    /* [gap]: global average pooling to 1x1 */
    LAYER_MUL,    /* [mul]: a * b, b of a's shape or c x 1 x 1 (squeeze-excite) */
    LAYER_RESIZE, /* [resize]: ONNX Resize to another layer's size, a fixed size or a scale */
    LAYER_TYPE_COUNT
} layer_type;

const char *layer_type_name(layer_type t);

typedef struct spec_layer {
    layer_type type;
    char name[SPEC_NAME_MAX];
    /* Inputs by layer index; -1 = the network input. Defaults to the previous layer. */
    int inputs[SPEC_MAX_INPUTS];
    int n_inputs;
    int line; /* line of the section header, for messages */

    /* conv / deconv */
    int filters; /* output channels; SPEC_FILTERS_CLASSES = the model's class count */
    int size;    /* kernel size */
    int stride;
    int pad;
    int batchnorm; /* 1 = BatchNorm after the conv, folded into it at load */
    float bn_eps;  /* default 1e-5 */
    int bias;      /* 1 = conv has a bias tensor (default 1; `bias = 0` drops it) */
    int act;       /* act_kind (core/op_params.h): relu and linear on every layer that has it */
    int groups;    /* conv: 1 = dense */
    int dilation;  /* conv: 1 = none */
    /* deconv: output_padding fixed per axis, or (match >= 0) chosen at run time so that the
       output has the height and width of layer `match` (PyTorch's output_size rule) */
    int out_pad_h, out_pad_w;
    int match; /* layer index, -1 = the network input, -2 = not used */

    /* pools */
    int ceil_mode; /* default 1 */
    /* upsample */
    int factor;
    int bilinear; /* 0 = nearest, 1 = bilinear */
    /* unpool: the [maxpool] layer whose indices (and input size) it uses */
    int pool_layer;
    /* resize: the output size is layer `match`'s (or the input's), else out_h x out_w when
       set, else floor(in * scale); coordinates by coord / round (op_params.h resize_*); mode
       by `bilinear` */
    int out_h, out_w;
    float scale_h, scale_w;
    int coord, round;
} spec_layer;

#define SPEC_FILTERS_CLASSES (-1)
#define SPEC_MATCH_NONE      (-2)
#define SPEC_INPUT           (-1)
#define SPEC_NOT_FOUND       (-3)

typedef struct net_spec {
    char name[SPEC_NAME_MAX];
    int input_channels; /* [net] channels, default 3 */
    int test_flip;      /* [net] test_flip: segment() averages the image and its mirror */
    int n_layers;
    spec_layer layers[SPEC_MAX_LAYERS];
    /* The output layer is the last one. */
} net_spec;

/* Parses spec text (NUL-terminated). On error returns CLSEG_ERR_FORMAT with
   "line N: message" in err. The result is fully validated (names unique, inputs exist and precede
   the layer, values in range). */
clseg_status spec_parse(const char *text, net_spec *out, char *err, size_t errlen);

/* Index of the layer called `name`, SPEC_INPUT for "data", SPEC_NOT_FOUND otherwise. */
int spec_find_layer(const net_spec *spec, const char *name);

/* Channel count of every layer's output for a model with `classes` classes; fails with
   "line N: ..." on an inconsistency (add of unequal channels, unpool/pool mismatch). out_channels
   has n_layers entries. */
clseg_status spec_channels(const net_spec *spec, int classes, int *out_channels, char *err,
                           size_t errlen);

/* Output shapes of every layer for an input of shape `in`. Fails with "line N: <type> '<name>':
   ..." when a layer has no valid output for that size (a kernel larger than its input, a deconv
   `match` that no output_padding satisfies, add/concat/unpool shapes that disagree):
   CLSEG_ERR_INVALID_ARGUMENT, or CLSEG_ERR_TOO_LARGE beyond CLSEG_MAX_DIM / CLSEG_MAX_ELEMENTS. */
clseg_status spec_shapes(const net_spec *spec, int classes, shape4 in, shape4 *out_shapes,
                         char *err, size_t errlen);

/* The op parameters of [resize] layer L for input x, with the shapes of the layers before it
   (out_shapes) and the network input `in`. */
void spec_resize_params(const net_spec *spec, const spec_layer *L, shape4 in,
                        const shape4 *out_shapes, shape4 x, resize_params *p);

#endif
