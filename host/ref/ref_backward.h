/* ref_backward.h - plain C reference of the training ops (host/ops/backward.h gives their exact
   semantics): the oracle the gradient tests check against finite differences and the OpenCL
   variants against. Every output is overwritten. */
#ifndef CLSEG_REF_BACKWARD_H
#define CLSEG_REF_BACKWARD_H

#include <stdint.h>

#include "../core/op_params.h"

/* xs is the forward input's shape (dy's follows from it and p). p->relu must be 0. */
void ref_conv2d_bwd_data(const float *dy, const float *weight, const conv2d_params *p, shape4 xs,
                         float *dx);
/* db may be NULL. */
void ref_conv2d_bwd_weight(const float *x, shape4 xs, const float *dy, const conv2d_params *p,
                           float *dw, float *db);
void ref_deconv2d_bwd_data(const float *dy, const float *weight, const deconv2d_params *p,
                           shape4 xs, float *dx);
void ref_deconv2d_bwd_weight(const float *x, shape4 xs, const float *dy, const deconv2d_params *p,
                             float *dw, float *db);

/* saved: BN_SAVED_PER_CHANNEL * xs.c floats; running_mean / running_var may be NULL. */
void ref_batchnorm_train(const float *x, shape4 xs, const float *gamma, const float *beta, int relu,
                         float *y, float *saved, float *running_mean, float *running_var);
void ref_batchnorm_train_bwd(const float *dy, const float *x, shape4 xs, const float *saved,
                             int relu, float *dx, float *dgamma, float *dbeta);

void ref_relu(const float *x, size_t count, float *y);
void ref_relu_bwd(const float *dy, const float *y, size_t count, float *dx);
/* da / db may be NULL; y is read only when relu. */
void ref_add_bwd(const float *dy, const float *y, size_t count, int relu, float *da, float *db);
void ref_concat_bwd(const float *dy, shape4 as, shape4 bs, float *da, float *db);

/* xs = the pooled input's shape. */
void ref_maxpool_bwd(const float *dy, const int32_t *indices, shape4 xs, const pool_params *p,
                     float *dx);
/* xs = the unpool input's (and indices') shape. */
void ref_maxunpool_bwd(const float *dy, const int32_t *indices, shape4 xs, const unpool_params *p,
                       float *dx);
void ref_upsample_bwd(const float *dy, shape4 xs, const upsample_params *p, float *dx);

/* Fused softmax cross-entropy over logits of shape s (see OP_SOFTMAX_XENT): writes dlogits,
   returns L = sum over labelled pixels of factors[label] * CE (in double) and the number of
   labelled pixels in *labelled (may be NULL). */
double ref_softmax_xent(const float *logits, shape4 s, const int32_t *labels, const float *factors,
                        float *dlogits, int64_t *labelled);

#endif
