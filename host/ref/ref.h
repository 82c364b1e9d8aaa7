/* ref.h - plain C reference of every op: the oracle the tests compare OpenCL kernels with.
   Written for clarity first; loops are ordered so the compiler can vectorise the inner one. */
#ifndef CLSEG_REF_H
#define CLSEG_REF_H

#include <stdint.h>

#include "../core/op_params.h"

/* All tensors are NCHW float32, contiguous. Output shapes follow op_params.h. */

void ref_conv2d(const float *x, shape4 xs, const float *weight, const float *bias,
                const conv2d_params *p, float *y);
void ref_deconv2d(const float *x, shape4 xs, const float *weight, const float *bias,
                  const deconv2d_params *p, float *y);
/* indices may be NULL; otherwise receives, per output element, the argmax position
   h * xs.w + w inside its input plane (PyTorch's convention). Ties keep the first maximum in
   row-major window order. */
void ref_maxpool(const float *x, shape4 xs, const pool_params *p, float *y, int32_t *indices);
/* Average over the window's elements that lie inside the input (count_include_pad=False). */
void ref_avgpool(const float *x, shape4 xs, const pool_params *p, float *y);
void ref_upsample(const float *x, shape4 xs, const upsample_params *p, float *y);
/* y (xs.n, xs.c, p->out_h, p->out_w) is zeroed, then y[plane][indices[i]] = x[i]. */
void ref_maxunpool(const float *x, const int32_t *indices, shape4 xs, const unpool_params *p,
                   float *y);
void ref_concat(const float *a, shape4 as, const float *b, shape4 bs, float *y);
void ref_add(const float *a, const float *b, shape4 s, const add_params *p, float *y);
void ref_softmax(const float *x, shape4 xs, float *y);
/* labels has xs.n * xs.h * xs.w entries; ties pick the lowest class index. */
void ref_argmax(const float *x, shape4 xs, int32_t *labels);

/* Inference-only ops of imported models (host/ref/imported.c). */
float ref_act_value(float v, int act); /* act_kind */
void ref_act(const float *x, size_t count, int act, float *y);
void ref_gap(const float *x, shape4 xs, float *y); /* y: xs.n x xs.c x 1 x 1 */
/* y = a * b, b of a's shape or (a.n, a.c, 1, 1) */
void ref_mul(const float *a, shape4 as, const float *b, shape4 bs, float *y);
void ref_resize(const float *x, shape4 xs, const resize_params *p, float *y);

#endif
