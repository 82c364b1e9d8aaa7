/* model.h - the in-memory form of a .clsm model file (see docs/model-format.md). */
#ifndef CLSEG_MODEL_H
#define CLSEG_MODEL_H

#include "spec.h"

#define MODEL_MAX_CLASSES     255
#define MODEL_TENSOR_NAME_MAX 96
#define MODEL_CLASS_NAME_MAX  64 /* including the NUL */
/* conv/deconv weight + bias + 4 BatchNorm tensors per layer */
#define MODEL_MAX_TENSORS    (6 * SPEC_MAX_LAYERS)
#define MODEL_FORMAT_VERSION 1
#define MODEL_MAX_SPEC_BYTES (1u << 20)
/* File magic: PNG-style, so that text-mode transfers and truncation to 7 bits are detected. */
#define MODEL_MAGIC     "\211CLSM\r\n\032" /* 89 43 4C 53 4D 0D 0A 1A */
#define MODEL_MAGIC_LEN 8

typedef enum tensor_dtype { DTYPE_F32 = 0 } tensor_dtype;

typedef struct model_tensor {
    char name[MODEL_TENSOR_NAME_MAX]; /* "<layer>.weight", "<layer>.bias", "<layer>.bn.weight",
                                         "<layer>.bn.bias", "<layer>.bn.running_mean",
                                         "<layer>.bn.running_var" */
    tensor_dtype dtype;
    int ndim;
    int dims[4];
    size_t count; /* product of dims */
    float *data;  /* owned */
} model_tensor;

struct clseg_model {
    char *spec_text; /* owned, NUL-terminated */
    net_spec spec;
    int classes;
    char (*class_names)[64]; /* classes entries */
    uint8_t (*palette)[3];   /* classes entries */
    int channels;            /* input channels = spec.input_channels */
    float mean[4], std[4];   /* per input channel, applied to pixel/255 */
    int n_tensors;
    model_tensor *tensors; /* owned */
};

/* Tensors each layer needs with their shapes, in file order; used by init, load validation and
   the executor. Returns the count written (<= max). */
int model_expected_tensors(const net_spec *spec, const int *channels, int input_channels,
                           model_tensor *out, int max);

/* spec_channels() plus the model-level rule that the last layer yields one score channel per
   class. channels has SPEC_MAX_LAYERS entries. */
clseg_status model_check_output(const net_spec *spec, int classes, int *channels, char *err,
                                size_t errlen);

const model_tensor *model_find_tensor(const clseg_model *m, const char *name);

/* Serialises m to .clsm bytes (caller frees *data). */
clseg_status model_serialize(const clseg_model *m, uint8_t **data, size_t *size, char *err,
                             size_t errlen);
/* Parses .clsm bytes; every structural problem is CLSEG_ERR_FORMAT with a clear message. */
clseg_status model_parse(const uint8_t *data, size_t size, clseg_model **out, char *err,
                         size_t errlen);
clseg_status model_save(const clseg_model *m, const char *path, char *err, size_t errlen);

/* A model with He-initialised (kaiming normal, fan_in, ReLU gain) conv weights, zero biases and
   identity BatchNorm, from spec text; deterministic for a given seed. class_names / palette may
   be NULL: the CamVid ones are used when classes == 12, generated names/colours otherwise. */
clseg_status model_init(const char *spec_text, int classes, uint64_t seed,
                        const char *const *class_names, const uint8_t (*palette)[3],
                        clseg_model **out, char *err, size_t errlen);

#endif
