/* model_init.c - a fresh model from a spec, with seeded He-initialised weights. */
#include "model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "camvid.h"

/* ImageNet statistics: what pretrained encoders and most CamVid training code expect. */
static const float default_mean[4] = {0.485f, 0.456f, 0.406f, 0.5f};
static const float default_std[4] = {0.229f, 0.224f, 0.225f, 0.25f};

/* splitmix64 feeding Box-Muller: small, portable and identical on every platform. */
typedef struct normal_rng {
    uint64_t state;
    int has_spare;
    double spare;
} normal_rng;

static uint64_t splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in (0, 1): never 0, so log() is finite. */
static double uniform_open(normal_rng *r) {
    return ((double)(splitmix64(&r->state) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

static double normal(normal_rng *r) {
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    double radius = sqrt(-2.0 * log(uniform_open(r)));
    double angle = 6.283185307179586 * uniform_open(r);
    r->spare = radius * sin(angle);
    r->has_spare = 1;
    return radius * cos(angle);
}

/* Pascal VOC's colour map: the bits of the class index spread over the high bits of R, G and B,
   so all 256 indices get distinct colours and small indices get strong ones. */
static void generated_color(int index, uint8_t rgb[3]) {
    int r = 0, g = 0, b = 0, c = index;
    for (int bit = 7; bit >= 0; bit--) {
        r |= (c & 1) << bit;
        g |= ((c >> 1) & 1) << bit;
        b |= ((c >> 2) & 1) << bit;
        c >>= 3;
    }
    rgb[0] = (uint8_t)r;
    rgb[1] = (uint8_t)g;
    rgb[2] = (uint8_t)b;
}

static clseg_status set_classes(clseg_model *m, const char *const *names,
                                const uint8_t (*palette)[3], char *err, size_t errlen) {
    int k = m->classes;
    m->class_names = clseg_calloc((size_t)k, sizeof *m->class_names);
    m->palette = clseg_calloc((size_t)k, sizeof *m->palette);
    if (!m->class_names || !m->palette)
        return clseg_fail(err, errlen, CLSEG_ERR_OUT_OF_MEMORY, "out of memory");
    for (int i = 0; i < k; i++) {
        if (names) {
            size_t n = names[i] ? strlen(names[i]) : 0;
            int ok = n >= 1 && n < MODEL_CLASS_NAME_MAX;
            for (size_t j = 0; ok && j < n; j++)
                ok = (unsigned char)names[i][j] >= 0x20 && names[i][j] != 0x7f;
            if (!ok)
                return clseg_fail(err, errlen, CLSEG_ERR_INVALID_ARGUMENT,
                                  "class name %d must be 1..%d printable characters", i,
                                  MODEL_CLASS_NAME_MAX - 1);
            memcpy(m->class_names[i], names[i], n);
        } else if (k == CAMVID_CLASSES) {
            snprintf(m->class_names[i], MODEL_CLASS_NAME_MAX, "%s", camvid_class_names[i]);
        } else {
            snprintf(m->class_names[i], MODEL_CLASS_NAME_MAX, "class%d", i);
        }
        if (palette)
            memcpy(m->palette[i], palette[i], 3);
        else if (k == CAMVID_CLASSES)
            memcpy(m->palette[i], camvid_palette[i], 3);
        else
            generated_color(i, m->palette[i]);
    }
    return CLSEG_OK;
}

static int has_suffix(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* Fills one tensor. Each tensor has its own stream, seeded by the model seed and the tensor's
   name, so that editing one layer of a spec leaves the other layers' initial weights alone. */
static void init_tensor(const clseg_model *m, model_tensor *t, uint64_t seed) {
    float fill = 0.0f;
    if (has_suffix(t->name, ".bn.weight") || has_suffix(t->name, ".bn.running_var")) fill = 1.0f;
    if (!has_suffix(t->name, ".weight") || has_suffix(t->name, ".bn.weight")) {
        for (size_t i = 0; i < t->count; i++) t->data[i] = fill;
        return;
    }
    char layer[MODEL_TENSOR_NAME_MAX];
    snprintf(layer, sizeof layer, "%.*s", (int)(strlen(t->name) - strlen(".weight")), t->name);
    int li = spec_find_layer(&m->spec, layer);
    int cin = t->dims[1]; /* conv [cout][cin][k][k] */
    if (li >= 0 && m->spec.layers[li].type == LAYER_DECONV) cin = t->dims[0]; /* [cin][cout].. */
    double fan_in = (double)cin * t->dims[2] * t->dims[3];
    double std = sqrt(2.0 / fan_in);
    normal_rng rng = {seed ^ clseg_fnv1a64(CLSEG_FNV1A64_INIT, t->name, strlen(t->name)), 0, 0};
    for (size_t i = 0; i < t->count; i++) t->data[i] = (float)(std * normal(&rng));
}

clseg_status model_init(const char *spec_text, int classes, uint64_t seed,
                        const char *const *class_names, const uint8_t (*palette)[3],
                        clseg_model **out, char *err, size_t errlen) {
    if (!out || !spec_text)
        return clseg_fail(err, errlen, CLSEG_ERR_INVALID_ARGUMENT, "NULL argument");
    *out = NULL;
    if (classes < 1 || classes > MODEL_MAX_CLASSES)
        return clseg_fail(err, errlen, CLSEG_ERR_INVALID_ARGUMENT,
                          "class count %d is outside 1..%d", classes, MODEL_MAX_CLASSES);
    if (strlen(spec_text) > MODEL_MAX_SPEC_BYTES)
        return clseg_fail(err, errlen, CLSEG_ERR_TOO_LARGE, "spec text is larger than %u bytes",
                          MODEL_MAX_SPEC_BYTES);
    clseg_model *m = clseg_calloc(1, sizeof *m);
    if (!m) return clseg_fail(err, errlen, CLSEG_ERR_OUT_OF_MEMORY, "out of memory");
    clseg_status st = CLSEG_OK;
    m->spec_text = clseg_strdup(spec_text);
    if (!m->spec_text) st = clseg_fail(err, errlen, CLSEG_ERR_OUT_OF_MEMORY, "out of memory");
    if (st == CLSEG_OK) st = spec_parse(spec_text, &m->spec, err, errlen);
    int channels[SPEC_MAX_LAYERS];
    m->classes = classes;
    if (st == CLSEG_OK) st = model_check_output(&m->spec, classes, channels, err, errlen);
    if (st == CLSEG_OK) st = set_classes(m, class_names, palette, err, errlen);
    if (st == CLSEG_OK) {
        m->channels = m->spec.input_channels;
        memcpy(m->mean, default_mean, sizeof m->mean);
        memcpy(m->std, default_std, sizeof m->std);
        m->tensors = clseg_calloc(MODEL_MAX_TENSORS, sizeof *m->tensors);
        if (!m->tensors) st = clseg_fail(err, errlen, CLSEG_ERR_OUT_OF_MEMORY, "out of memory");
    }
    if (st == CLSEG_OK) {
        m->n_tensors =
            model_expected_tensors(&m->spec, channels, m->channels, m->tensors, MODEL_MAX_TENSORS);
        model_tensor *fit = clseg_realloc(m->tensors, (size_t)m->n_tensors * sizeof *m->tensors);
        if (fit) m->tensors = fit;
    }
    /* All of it before allocating any: 256 legal layers of 4096x4096x11x11 would be 2 TB, and a
       .clsm file is read whole (at most 4 GiB). 2^29 values is 2 GiB, 100x the seed net. */
    size_t total = 0;
    for (int i = 0; st == CLSEG_OK && i < m->n_tensors; i++) total += m->tensors[i].count;
    if (st == CLSEG_OK && total > ((size_t)1 << 29))
        st = clseg_fail(err, errlen, CLSEG_ERR_TOO_LARGE,
                        "the network has %zu parameters; a model holds at most 2^29", total);
    for (int i = 0; st == CLSEG_OK && i < m->n_tensors; i++) {
        model_tensor *t = &m->tensors[i];
        if (t->count > CLSEG_MAX_ELEMENTS) {
            st = clseg_fail(err, errlen, CLSEG_ERR_TOO_LARGE, "tensor '%s' has %zu values", t->name,
                            t->count);
            break;
        }
        t->data = clseg_malloc(t->count * sizeof(float));
        if (!t->data) {
            st =
                clseg_fail(err, errlen, CLSEG_ERR_OUT_OF_MEMORY, "out of memory for '%s'", t->name);
            break;
        }
        init_tensor(m, t, seed);
    }
    if (st != CLSEG_OK) {
        clseg_model_free(m);
        return st;
    }
    *out = m;
    return CLSEG_OK;
}
