/* exec.h - helpers shared by the device executor, the C reference forward and the tools:
   input normalisation and the whole-network reference forward (the end-to-end oracle). */
#ifndef CLSEG_EXEC_H
#define CLSEG_EXEC_H

#include "model.h"
#include "plan.h"

/* Interleaved 8-bit RGB -> planar float (pixel / 255 - mean) / std. */
void net_normalize_rgb(const uint8_t *rgb, int width, int height, const float *mean,
                       const float *std, float *chw);

/* The model's forward pass with the plain C reference ops (BatchNorm folded the same way the
   device path folds it). logits must hold as many floats as the last layer's output at this
   input shape (n * classes * h * w for a network that keeps the input size). */
clseg_status net_reference_forward(const clseg_model *m, const float *input, shape4 in,
                                   float *logits, char *err, size_t errlen);

/* What net_reference_forward_observed shows of each layer once it has run; every pointer is
   valid during the call only. */
typedef struct net_ref_layer {
    int index;
    const layer_step *step;
    const float *in[SPEC_MAX_INPUTS]; /* the layer's inputs (in[1] for concat and add only) */
    shape4 in_shape[SPEC_MAX_INPUTS];
    const float *weight, *bias; /* conv / deconv: the folded weights; else NULL */
    const float *out;
    const int32_t *indices; /* a max-pool that an unpool reads: its argmax; else NULL */
} net_ref_layer;

/* net_reference_forward that calls observe(user, layer) after each layer, in order: for oracles
   that need the intermediate tensors (the execution fuzzer's error bounds and near-ties). */
clseg_status net_reference_forward_observed(const clseg_model *m, const float *input, shape4 in,
                                            float *logits,
                                            void (*observe)(void *user, const net_ref_layer *l),
                                            void *user, char *err, size_t errlen);

/* The tuning-database signature (op_signature) of the call layer i of net runs at the current
   input size; CLSEG_ERR_INVALID_ARGUMENT before clseg_net_prepare or for a bad index. */
clseg_status net_layer_signature(const clseg_net *net, int i, char *buf, size_t len);

#endif
