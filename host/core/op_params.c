/* op_params.c - output-shape rules and FLOP counts of the ops (PyTorch conventions). */
#include "op_params.h"

#include <math.h>
#include <string.h>

static const char *const act_names[ACT_KIND_COUNT] = {
    [ACT_RELU] = "relu",           [ACT_RELU6] = "relu6",
    [ACT_HARDSWISH] = "hardswish", [ACT_HARDSIGMOID] = "hardsigmoid",
    [ACT_SIGMOID] = "sigmoid",
};

const char *act_kind_name(int act) {
    return act > 0 && act < ACT_KIND_COUNT ? act_names[act] : NULL;
}

int act_kind_parse(const char *name) {
    if (!strcmp(name, "linear")) return ACT_NONE;
    for (int a = 1; a < ACT_KIND_COUNT; a++)
        if (!strcmp(name, act_names[a])) return a;
    return -1;
}

int conv2d_out_shape(shape4 in, const conv2d_params *p, shape4 *out) {
    if (p->k < 1 || p->stride < 1 || p->pad < 0 || in.c != p->cin || p->cout < 1) return 0;
    if (p->act < 0 || p->act >= ACT_KIND_COUNT || p->groups < 0 || p->dil < 0) return 0;
    const int g = conv2d_groups(p), ke = (p->k - 1) * conv2d_dil(p) + 1; /* dilated extent */
    if (p->cin % g || p->cout % g) return 0;
    int h = (in.h + 2 * p->pad - ke) / p->stride + 1;
    int w = (in.w + 2 * p->pad - ke) / p->stride + 1;
    if (in.h + 2 * p->pad < ke || in.w + 2 * p->pad < ke || h < 1 || w < 1) return 0;
    *out = (shape4){in.n, p->cout, h, w};
    return 1;
}

int deconv2d_out_shape(shape4 in, const deconv2d_params *p, shape4 *out) {
    if (p->k < 1 || p->stride < 1 || p->pad < 0 || in.c != p->cin || p->cout < 1) return 0;
    if (p->out_pad_h < 0 || p->out_pad_w < 0 || p->out_pad_h >= p->stride ||
        p->out_pad_w >= p->stride)
        return 0;
    int h = (in.h - 1) * p->stride - 2 * p->pad + p->k + p->out_pad_h;
    int w = (in.w - 1) * p->stride - 2 * p->pad + p->k + p->out_pad_w;
    if (h < 1 || w < 1) return 0;
    *out = (shape4){in.n, p->cout, h, w};
    return 1;
}

int deconv2d_out_pad_for(int in, int k, int stride, int pad, int want) {
    int base = (in - 1) * stride - 2 * pad + k;
    int op = want - base;
    return (op >= 0 && op < stride) ? op : -1;
}

int pool_out_shape(shape4 in, const pool_params *p, shape4 *out) {
    if (p->k < 1 || p->stride < 1 || in.h < 1 || in.w < 1) return 0;
    int h, w;
    if (p->ceil_mode) {
        h = (in.h - p->k + p->stride - 1) / p->stride + 1;
        w = (in.w - p->k + p->stride - 1) / p->stride + 1;
        /* PyTorch: the last window must start inside the input */
        if ((h - 1) * p->stride >= in.h) h--;
        if ((w - 1) * p->stride >= in.w) w--;
        if (in.h < p->k) h = 1;
        if (in.w < p->k) w = 1;
    } else {
        if (in.h < p->k || in.w < p->k) return 0;
        h = (in.h - p->k) / p->stride + 1;
        w = (in.w - p->k) / p->stride + 1;
    }
    *out = (shape4){in.n, in.c, h, w};
    return 1;
}

int upsample_out_shape(shape4 in, const upsample_params *p, shape4 *out) {
    if (p->factor < 1) return 0;
    *out = (shape4){in.n, in.c, in.h * p->factor, in.w * p->factor};
    return 1;
}

int resize_out_shape(shape4 in, const resize_params *p, shape4 *out) {
    if (p->out_h < 1 || p->out_w < 1 || p->coord < 0 || p->coord >= RESIZE_COORD_COUNT ||
        p->round < 0 || p->round >= RESIZE_ROUND_COUNT || !(p->scale_h >= 0) ||
        !(p->scale_w >= 0) || in.h < 1 || in.w < 1)
        return 0;
    *out = (shape4){in.n, in.c, p->out_h, p->out_w};
    return 1;
}

float resize_source(int coord, int x, int in, int out, float scale) {
    const float s = scale > 0 ? scale : (float)out / (float)in;
    switch (coord) {
    case RESIZE_PYTORCH_HALF_PIXEL:
        return out > 1 ? ((float)x + 0.5f) / s - 0.5f : 0.0f;
    case RESIZE_ALIGN_CORNERS: /* ONNX: with scales, the unrounded in * scale is the length */
        return out > 1 ? (float)x * (float)(in - 1) / ((float)in * s - 1.0f) : 0.0f;
    case RESIZE_ASYMMETRIC:
        return (float)x / s;
    case RESIZE_TF_HALF_PIXEL_NN:
        return ((float)x + 0.5f) / s;
    default:
        return ((float)x + 0.5f) / s - 0.5f;
    }
}

int resize_nearest_index(int round, float s, int in) {
    float r;
    switch (round) {
    case RESIZE_FLOOR:
        r = floorf(s);
        break;
    case RESIZE_CEIL:
        r = ceilf(s);
        break;
    case RESIZE_ROUND_PREFER_CEIL:
        r = floorf(s + 0.5f);
        break;
    default: /* round_prefer_floor: halves go down */
        r = s - floorf(s) == 0.5f ? floorf(s) : floorf(s + 0.5f);
        break;
    }
    int i = r < 0 ? 0 : r > (float)(in - 1) ? in - 1 : (int)r;
    return i;
}

double conv2d_flops(shape4 in, const conv2d_params *p) {
    shape4 o;
    if (!conv2d_out_shape(in, p, &o)) return 0;
    return 2.0 * (double)shape4_count(o) * (p->cin / conv2d_groups(p)) * p->k * p->k;
}

double deconv2d_flops(shape4 in, const deconv2d_params *p) {
    return 2.0 * (double)shape4_count(in) * p->cout * p->k * p->k;
}
