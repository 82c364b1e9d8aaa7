/* onnx_export.h - a clseg model written as an ONNX graph (protobuf), BatchNorm folded. */
#ifndef CLSEG_ONNX_EXPORT_H
#define CLSEG_ONNX_EXPORT_H

#include "model.h"

/* The ONNX bytes (opset 13) of model m for a 1 x channels x height x width input: one node per
   layer (+ Relu), max-unpool as MaxUnpool, BatchNorm folded into the conv weights, the deconvs'
   output_padding resolved for that size. The graph takes the normalised input ("data") and gives
   the class scores. *data is malloc'd (caller frees). Fails with CLSEG_ERR_INVALID_ARGUMENT when
   the network cannot take that size. */
clseg_status onnx_export(const clseg_model *m, int width, int height, uint8_t **data, size_t *size,
                         char *err, size_t errlen);

#endif
