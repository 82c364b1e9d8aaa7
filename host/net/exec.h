/* exec.h - helpers shared by the device executor, the C reference forward and the tools:
   input normalisation and the whole-network reference forward (the end-to-end oracle). */
#ifndef CLSEG_EXEC_H
#define CLSEG_EXEC_H

#include "model.h"

/* Interleaved 8-bit RGB -> planar float (pixel / 255 - mean) / std. */
void net_normalize_rgb(const uint8_t *rgb, int width, int height, const float *mean,
                       const float *std, float *chw);

/* The model's forward pass with the plain C reference ops (BatchNorm folded the same way the
   device path folds it). logits must hold n * classes * h * w floats. */
clseg_status net_reference_forward(const clseg_model *m, const float *input, shape4 in,
                                   float *logits, char *err, size_t errlen);

/* The tuning-database signature (op_signature) of the call layer i of net runs at the current
   input size; CLSEG_ERR_INVALID_ARGUMENT before clseg_net_prepare or for a bad index. */
clseg_status net_layer_signature(const clseg_net *net, int i, char *buf, size_t len);

#endif
