/* fuzz_onnx.c - libFuzzer target: ONNX bytes through the importer (onnx_import). */
#include <stdlib.h>
#include <string.h>

#include "net/model.h"
#include "net/onnx_export.h"
#include "net/onnx_import.h"

/* An imported model is an ordinary model: it must serialise to a .clsm that parses again. */
static void fz_onnx_round_trip(const clseg_model *m) {
    uint8_t *a = NULL;
    size_t na = 0;
    clseg_model *back = NULL;
    char err[256];
    if (model_serialize(m, &a, &na, err, sizeof err) != CLSEG_OK) __builtin_trap();
    if (model_parse(a, na, &back, err, sizeof err) != CLSEG_OK) __builtin_trap();
    clseg_model_free(back);
    free(a);
}

/* The layers the exporter does not write yet (docs/onnx.md, "Not yet"): the inference-only
   layer types and activations other than ReLU. */
static int fz_has_unexported(const clseg_model *m) {
    for (int i = 0; i < m->spec.n_layers; i++) {
        const spec_layer *L = &m->spec.layers[i];
        if (L->act > ACT_RELU || L->type == LAYER_ACT || L->type == LAYER_GAP ||
            L->type == LAYER_MUL || L->type == LAYER_RESIZE)
            return 1;
    }
    return 0;
}

/* A model imported for width x height exports for that size (or is refused as unsupported when
   it has layers the exporter lacks), and the export imports again with the same layer count. */
static void fz_onnx_export(const clseg_model *m, int width, int height) {
    uint8_t *bytes = NULL;
    size_t n = 0;
    char err[256];
    clseg_status st = onnx_export(m, width, height, &bytes, &n, err, sizeof err);
    if (st == CLSEG_ERR_UNSUPPORTED && fz_has_unexported(m)) return;
    if (st != CLSEG_OK) __builtin_trap();
    clseg_model_import_options opts;
    clseg_model_import_options_init(&opts);
    clseg_model *back = NULL;
    if (onnx_import(bytes, n, &opts, &back, err, sizeof err) != CLSEG_OK) __builtin_trap();
    if (back->spec.n_layers != m->spec.n_layers) __builtin_trap();
    clseg_model_free(back);
    free(bytes);
}

static void fz_onnx_one(const uint8_t *data, size_t size, int width, int height) {
    clseg_model_import_options opts;
    clseg_model_import_options_init(&opts);
    opts.input_width = width, opts.input_height = height;
    clseg_model *m = NULL;
    char err[256];
    err[0] = '\0';
    clseg_status st = onnx_import(data, size, &opts, &m, err, sizeof err);
    if ((st == CLSEG_OK) != (m != NULL) || (st != CLSEG_OK && !err[0])) __builtin_trap();
    if (m) fz_onnx_round_trip(m);
    if (m && width) fz_onnx_export(m, width, height);
    clseg_model_free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* The graph's own input size, and a pinned one (a dynamic graph needs it; a static graph of
       another size must be refused with a message, not mapped). */
    fz_onnx_one(data, size, 0, 0);
    fz_onnx_one(data, size, 24, 16);
    return 0;
}
