/* op_params.c - output-shape rules and FLOP counts of the ops (PyTorch conventions). */
#include "op_params.h"

int conv2d_out_shape(shape4 in, const conv2d_params *p, shape4 *out) {
    if (p->k < 1 || p->stride < 1 || p->pad < 0 || in.c != p->cin || p->cout < 1) return 0;
    int h = (in.h + 2 * p->pad - p->k) / p->stride + 1;
    int w = (in.w + 2 * p->pad - p->k) / p->stride + 1;
    if (in.h + 2 * p->pad < p->k || in.w + 2 * p->pad < p->k || h < 1 || w < 1) return 0;
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

double conv2d_flops(shape4 in, const conv2d_params *p) {
    shape4 o;
    if (!conv2d_out_shape(in, p, &o)) return 0;
    return 2.0 * (double)shape4_count(o) * p->cin * p->k * p->k;
}

double deconv2d_flops(shape4 in, const deconv2d_params *p) {
    return 2.0 * (double)shape4_count(in) * p->cout * p->k * p->k;
}
