/* onnx_import.h - an ONNX model (protobuf) turned into a clseg model: spec text + named tensors. */
#ifndef CLSEG_ONNX_IMPORT_H
#define CLSEG_ONNX_IMPORT_H

#include "model.h"

/* 1 when the bytes look like an ONNX ModelProto rather than a .clsm file: exporters write the
   ir_version field (tag 0x08) first. A guess for clseg_model_load; the parse decides. */
static inline int onnx_sniff(const uint8_t *data, size_t size) {
    return size > 2 && data[0] == 0x08;
}

/* Builds a model from ONNX bytes (docs/onnx.md): the graph's layers mapped onto clseg's layer
   types, checked against ONNX's shapes for the graph's (or opts') input size, then validated as a
   .clsm would be. Unsupported ops and attributes, and malformed input, are CLSEG_ERR_FORMAT
   (CLSEG_ERR_UNSUPPORTED for a valid graph clseg cannot run) with a one-line message naming the
   node, its op type and the opset. opts may not be NULL (all-zero fields = defaults). */
clseg_status onnx_import(const uint8_t *data, size_t size, const clseg_model_import_options *opts,
                         clseg_model **out, char *err, size_t errlen);

#endif
