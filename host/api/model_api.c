/* model_api.c - public model calls beyond loading: a new model from a network description,
   saving it, and what the tools ask of a model (network name, layers, inputs, parameters). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/model.h"
#include "net/plan.h"
#ifdef CLSEG_HAVE_ONNX
#include "net/onnx_export.h"
#endif

void clseg_model_init_options_init(clseg_model_init_options *opts) {
    if (!opts) return;
    memset(opts, 0, sizeof *opts);
    opts->struct_size = sizeof *opts;
}

clseg_status clseg_model_init(clseg_model **out, const char *spec_path,
                              const clseg_model_init_options *opts, char *errbuf,
                              size_t errbuf_size) {
    if (out) *out = NULL;
    if (!out || !spec_path || !opts)
        return clseg_fail(errbuf, errbuf_size, CLSEG_ERR_INVALID_ARGUMENT, "NULL argument");
    if (opts->struct_size == 0)
        return clseg_fail(errbuf, errbuf_size, CLSEG_ERR_INVALID_ARGUMENT,
                          "options struct_size is 0: start from CLSEG_MODEL_INIT_OPTIONS_INIT or "
                          "clseg_model_init_options_init()");
    clseg_model_init_options o;
    clseg_model_init_options_init(&o);
    memcpy(&o, opts, opts->struct_size < sizeof o ? opts->struct_size : sizeof o);

    uint8_t *text;
    size_t size;
    clseg_status st =
        clseg_read_file(spec_path, MODEL_MAX_SPEC_BYTES, &text, &size, errbuf, errbuf_size);
    if (st != CLSEG_OK) return st;
    char err[1024];
    st = model_init((const char *)text, o.classes, o.seed, o.class_names, o.palette, out, err,
                    sizeof err);
    free(text);
    if (st != CLSEG_OK) return clseg_fail(errbuf, errbuf_size, st, "%s: %s", spec_path, err);
    return CLSEG_OK;
}

clseg_status clseg_model_save(const clseg_model *model, const char *path, char *errbuf,
                              size_t errbuf_size) {
    if (!model) return clseg_fail(errbuf, errbuf_size, CLSEG_ERR_INVALID_ARGUMENT, "NULL model");
    return model_save(model, path, errbuf, errbuf_size);
}

void clseg_model_export_options_init(clseg_model_export_options *opts) {
    if (!opts) return;
    memset(opts, 0, sizeof *opts);
    opts->struct_size = sizeof *opts;
}

clseg_status clseg_model_export_onnx(const clseg_model *model, const char *path,
                                     const clseg_model_export_options *opts, char *errbuf,
                                     size_t errbuf_size) {
    if (!model || !path)
        return clseg_fail(errbuf, errbuf_size, CLSEG_ERR_INVALID_ARGUMENT, "NULL argument");
    clseg_model_export_options o;
    clseg_model_export_options_init(&o);
    if (opts) {
        if (opts->struct_size == 0)
            return clseg_fail(errbuf, errbuf_size, CLSEG_ERR_INVALID_ARGUMENT,
                              "options struct_size is 0: start from "
                              "CLSEG_MODEL_EXPORT_OPTIONS_INIT or "
                              "clseg_model_export_options_init()");
        memcpy(&o, opts, opts->struct_size < sizeof o ? opts->struct_size : sizeof o);
    }
    if (!o.input_width && !o.input_height) o.input_width = 480, o.input_height = 360;
    if (o.input_width < 1 || o.input_height < 1 || o.input_width > CLSEG_MAX_DIM ||
        o.input_height > CLSEG_MAX_DIM)
        return clseg_fail(errbuf, errbuf_size, CLSEG_ERR_INVALID_ARGUMENT,
                          "bad export input size %dx%d", o.input_width, o.input_height);
#ifdef CLSEG_HAVE_ONNX
    uint8_t *data = NULL;
    size_t size = 0;
    char msg[512];
    clseg_status st =
        onnx_export(model, o.input_width, o.input_height, &data, &size, msg, sizeof msg);
    if (st != CLSEG_OK) return clseg_fail(errbuf, errbuf_size, st, "%s: %s", path, msg);
    st = clseg_write_file_atomic(path, data, size, errbuf, errbuf_size);
    free(data);
    return st;
#else
    return clseg_fail(errbuf, errbuf_size, CLSEG_ERR_UNSUPPORTED,
                      "this clseg was built without ONNX support (CLSEG_ONNX; it needs "
                      "protobuf-c: Debian libprotobuf-c-dev protobuf-c-compiler)");
#endif
}

const char *clseg_model_network_name(const clseg_model *model) {
    return model ? model->spec.name : "";
}

int clseg_model_layer_count(const clseg_model *model) {
    return model ? model->spec.n_layers : 0;
}

int clseg_model_input_channels(const clseg_model *model) {
    return model ? model->channels : 0;
}

size_t clseg_model_parameter_count(const clseg_model *model) {
    size_t n = 0;
    for (int i = 0; model && i < model->n_tensors; i++) n += model->tensors[i].count;
    return n;
}

int clseg_model_input_sizes(const clseg_model *model, int near, char *buf, size_t len) {
    if (!model || !buf || !len) return -1;
    return net_accepted_sizes(&model->spec, model->classes, model->channels, near, buf, len);
}
