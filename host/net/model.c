/* model.c - the .clsm model file: writer, validating reader, public model API. */
#include "model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx_import.h"

#define TAG_SPEC             "SPEC"
#define TAG_CLAS             "CLAS"
#define TAG_PALT             "PALT"
#define TAG_NORM             "NORM"
#define TAG_TENS             "TENS"
#define HEADER_BYTES         12 /* magic + version */
#define SECTION_HEADER_BYTES 12 /* tag + u64 length */
#define CRC_BYTES            4
/* Tensor data starts at a multiple of this many bytes from the start of the file. */
#define TENSOR_ALIGN 16
/* Larger files are refused by clseg_model_load before they are read. */
#define MODEL_MAX_FILE_BYTES ((size_t)UINT32_MAX)

/* ---- tensors the spec needs ---------------------------------------------------------------- */

static void expect(model_tensor *out, int max, int *n, const char *layer, const char *suffix,
                   int ndim, int d0, int d1, int d2, int d3) {
    if (*n < max) {
        model_tensor *t = &out[*n];
        memset(t, 0, sizeof *t);
        snprintf(t->name, sizeof t->name, "%s.%s", layer, suffix);
        t->dtype = DTYPE_F32;
        t->ndim = ndim;
        int dims[4] = {d0, d1, d2, d3};
        t->count = 1;
        for (int i = 0; i < ndim; i++) {
            t->dims[i] = dims[i];
            t->count *= (size_t)dims[i];
        }
        (*n)++;
    }
}

int model_expected_tensors(const net_spec *spec, const int *channels, int input_channels,
                           model_tensor *out, int max) {
    int n = 0;
    for (int i = 0; i < spec->n_layers; i++) {
        const spec_layer *L = &spec->layers[i];
        if (L->type != LAYER_CONV && L->type != LAYER_DECONV) continue;
        int cin = L->inputs[0] == SPEC_INPUT ? input_channels : channels[L->inputs[0]];
        int cout = channels[i], k = L->size;
        if (L->type == LAYER_CONV)
            expect(out, max, &n, L->name, "weight", 4, cout, cin / CLSEG_MAX(L->groups, 1), k, k);
        else
            expect(out, max, &n, L->name, "weight", 4, cin, cout, k, k);
        if (L->bias) expect(out, max, &n, L->name, "bias", 1, cout, 0, 0, 0);
        if (L->batchnorm) {
            expect(out, max, &n, L->name, "bn.weight", 1, cout, 0, 0, 0);
            expect(out, max, &n, L->name, "bn.bias", 1, cout, 0, 0, 0);
            expect(out, max, &n, L->name, "bn.running_mean", 1, cout, 0, 0, 0);
            expect(out, max, &n, L->name, "bn.running_var", 1, cout, 0, 0, 0);
        }
    }
    return n;
}

clseg_status model_check_output(const net_spec *spec, int classes, int *channels, char *err,
                                size_t errlen) {
    clseg_status st = spec_channels(spec, classes, channels, err, errlen);
    if (st != CLSEG_OK) return st;
    const spec_layer *last = &spec->layers[spec->n_layers - 1];
    if (channels[spec->n_layers - 1] != classes)
        return clseg_fail(err, errlen, CLSEG_ERR_FORMAT,
                          "line %d: the last layer '%s' has %d channels but the model has %d "
                          "classes (use filters = classes)",
                          last->line, last->name, channels[spec->n_layers - 1], classes);
    return CLSEG_OK;
}

const model_tensor *model_find_tensor(const clseg_model *m, const char *name) {
    if (!m || !name) return NULL;
    for (int i = 0; i < m->n_tensors; i++)
        if (strcmp(m->tensors[i].name, name) == 0) return &m->tensors[i];
    return NULL;
}

/* ---- public model API ---------------------------------------------------------------------- */

void clseg_model_free(clseg_model *m) {
    if (!m) return;
    if (m->tensors)
        for (int i = 0; i < m->n_tensors; i++) free(m->tensors[i].data);
    free(m->tensors);
    free(m->spec_text);
    free(m->class_names);
    free(m->palette);
    free(m);
}

int clseg_model_num_classes(const clseg_model *m) {
    return m ? m->classes : 0;
}

const char *clseg_model_class_name(const clseg_model *m, int i) {
    if (!m || i < 0 || i >= m->classes) return NULL;
    return m->class_names[i];
}

const uint8_t *clseg_model_class_color(const clseg_model *m, int i) {
    if (!m || i < 0 || i >= m->classes) return NULL;
    return m->palette[i];
}

/* ONNX import: the file is read here and handed to onnx_import (onnx_import.c, built only when
   protobuf-c is found). */
static clseg_status import_onnx_bytes(const uint8_t *data, size_t size,
                                      const clseg_model_import_options *opts, clseg_model **out,
                                      char *msg, size_t len) {
#ifdef CLSEG_HAVE_ONNX
    return onnx_import(data, size, opts, out, msg, len);
#else
    (void)data, (void)size, (void)opts, (void)out;
    return clseg_fail(msg, len, CLSEG_ERR_UNSUPPORTED,
                      "an ONNX model, but this clseg was built without ONNX import (CLSEG_ONNX; it "
                      "needs protobuf-c: Debian libprotobuf-c-dev protobuf-c-compiler)");
#endif
}

static int ends_with_onnx(const char *path) {
    size_t n = strlen(path);
    if (n < 5) return 0;
    const char *ext = path + n - 5;
    for (int i = 0; i < 5; i++)
        if ((ext[i] | 0x20) != ".onnx"[i]) return 0;
    return 1;
}

clseg_status clseg_model_load(clseg_model **out, const char *path, char *errbuf,
                              size_t errbuf_size) {
    if (out) *out = NULL;
    if (!out || !path)
        return clseg_fail(errbuf, errbuf_size, CLSEG_ERR_INVALID_ARGUMENT, "NULL argument");
    uint8_t *data = NULL;
    size_t size = 0;
    clseg_status st =
        clseg_read_file(path, MODEL_MAX_FILE_BYTES, &data, &size, errbuf, errbuf_size);
    if (st != CLSEG_OK) return st;
    char msg[768];
    int clsm = size >= MODEL_MAGIC_LEN && !memcmp(data, MODEL_MAGIC, MODEL_MAGIC_LEN);
    if (!clsm && (ends_with_onnx(path) || onnx_sniff(data, size))) {
        clseg_model_import_options o;
        clseg_model_import_options_init(&o);
        st = import_onnx_bytes(data, size, &o, out, msg, sizeof msg);
    } else {
        st = model_parse(data, size, out, msg, sizeof msg);
    }
    free(data);
    if (st != CLSEG_OK) return clseg_fail(errbuf, errbuf_size, st, "%s: %s", path, msg);
    return CLSEG_OK;
}

void clseg_model_import_options_init(clseg_model_import_options *opts) {
    if (!opts) return;
    memset(opts, 0, sizeof *opts);
    opts->struct_size = sizeof *opts;
}

clseg_status clseg_model_import_onnx(clseg_model **out, const char *path,
                                     const clseg_model_import_options *opts, char *errbuf,
                                     size_t errbuf_size) {
    if (out) *out = NULL;
    if (!out || !path)
        return clseg_fail(errbuf, errbuf_size, CLSEG_ERR_INVALID_ARGUMENT, "NULL argument");
    clseg_model_import_options o;
    clseg_model_import_options_init(&o);
    if (opts) {
        if (opts->struct_size == 0)
            return clseg_fail(errbuf, errbuf_size, CLSEG_ERR_INVALID_ARGUMENT,
                              "options struct_size is 0: start from "
                              "CLSEG_MODEL_IMPORT_OPTIONS_INIT or "
                              "clseg_model_import_options_init()");
        memcpy(&o, opts, opts->struct_size < sizeof o ? opts->struct_size : sizeof o);
        o.struct_size = sizeof o;
    }
    if (o.input_width < 0 || o.input_height < 0 || o.input_width > CLSEG_MAX_DIM ||
        o.input_height > CLSEG_MAX_DIM || o.classes < 0 || o.classes > MODEL_MAX_CLASSES ||
        (o.class_names && !o.classes) || (o.palette && !o.classes))
        return clseg_fail(errbuf, errbuf_size, CLSEG_ERR_INVALID_ARGUMENT,
                          "bad import options (input size, classes, or names without classes)");
    uint8_t *data = NULL;
    size_t size = 0;
    clseg_status st =
        clseg_read_file(path, MODEL_MAX_FILE_BYTES, &data, &size, errbuf, errbuf_size);
    if (st != CLSEG_OK) return st;
    char msg[768];
    st = import_onnx_bytes(data, size, &o, out, msg, sizeof msg);
    free(data);
    if (st != CLSEG_OK) return clseg_fail(errbuf, errbuf_size, st, "%s: %s", path, msg);
    return CLSEG_OK;
}

/* ---- writing ------------------------------------------------------------------------------- */

typedef struct bytebuf {
    uint8_t *p;
    size_t len, cap;
    int failed;
} bytebuf;

static void bb_put(bytebuf *b, const void *data, size_t n) {
    if (b->failed) return;
    if (n > b->cap - b->len) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap - b->len < n) {
            if (cap > SIZE_MAX / 2) {
                b->failed = 1;
                return;
            }
            cap *= 2;
        }
        uint8_t *p = clseg_realloc(b->p, cap);
        if (!p) {
            b->failed = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    if (data)
        memcpy(b->p + b->len, data, n);
    else
        memset(b->p + b->len, 0, n);
    b->len += n;
}

static void bb_u32(bytebuf *b, uint32_t v) {
    uint8_t le[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    bb_put(b, le, 4);
}

static void bb_u64(bytebuf *b, uint64_t v) {
    bb_u32(b, (uint32_t)v);
    bb_u32(b, (uint32_t)(v >> 32));
}

static void bb_f32(bytebuf *b, float f) {
    uint32_t v;
    memcpy(&v, &f, 4);
    bb_u32(b, v);
}

/* Opens a section; returns where its length goes so that bb_end_section can patch it. */
static size_t bb_begin_section(bytebuf *b, const char *tag) {
    bb_put(b, tag, 4);
    size_t at = b->len;
    bb_u64(b, 0);
    return at;
}

static void bb_end_section(bytebuf *b, size_t at) {
    if (b->failed) return;
    uint64_t len = b->len - (at + 8);
    for (int i = 0; i < 8; i++) b->p[at + i] = (uint8_t)(len >> (8 * i));
}

clseg_status model_serialize(const clseg_model *m, uint8_t **data, size_t *size, char *err,
                             size_t errlen) {
    if (!m || !data || !size || !m->spec_text || !m->class_names || !m->palette)
        return clseg_fail(err, errlen, CLSEG_ERR_INVALID_ARGUMENT, "NULL argument");
    *data = NULL;
    *size = 0;
    if (m->classes < 1 || m->classes > MODEL_MAX_CLASSES || m->channels < 1 || m->channels > 4 ||
        m->n_tensors < 0 || (m->n_tensors > 0 && !m->tensors))
        return clseg_fail(err, errlen, CLSEG_ERR_INVALID_ARGUMENT, "model is inconsistent");
    for (int i = 0; i < m->n_tensors; i++) {
        const model_tensor *t = &m->tensors[i];
        size_t count = 1;
        int ok = t->ndim >= 1 && t->ndim <= 4 && t->data && t->dtype == DTYPE_F32;
        for (int d = 0; ok && d < t->ndim; d++)
            ok = t->dims[d] >= 1 && clseg_mul_size(&count, count, (size_t)t->dims[d]);
        if (!ok || count != t->count)
            return clseg_fail(err, errlen, CLSEG_ERR_INVALID_ARGUMENT, "tensor %d is inconsistent",
                              i);
    }
    size_t spec_len = strlen(m->spec_text);
    if (spec_len == 0 || spec_len > MODEL_MAX_SPEC_BYTES)
        return clseg_fail(err, errlen, CLSEG_ERR_INVALID_ARGUMENT, "spec text length %zu",
                          spec_len);

    bytebuf b = {0};
    bb_put(&b, MODEL_MAGIC, MODEL_MAGIC_LEN);
    bb_u32(&b, MODEL_FORMAT_VERSION);

    size_t at = bb_begin_section(&b, TAG_SPEC);
    bb_put(&b, m->spec_text, spec_len);
    bb_end_section(&b, at);

    at = bb_begin_section(&b, TAG_CLAS);
    bb_u32(&b, (uint32_t)m->classes);
    for (int i = 0; i < m->classes; i++) {
        size_t n = strnlen(m->class_names[i], MODEL_CLASS_NAME_MAX - 1);
        bb_u32(&b, (uint32_t)n);
        bb_put(&b, m->class_names[i], n);
    }
    bb_end_section(&b, at);

    at = bb_begin_section(&b, TAG_PALT);
    bb_u32(&b, (uint32_t)m->classes);
    bb_put(&b, m->palette, (size_t)m->classes * 3);
    bb_end_section(&b, at);

    at = bb_begin_section(&b, TAG_NORM);
    bb_u32(&b, (uint32_t)m->channels);
    for (int c = 0; c < m->channels; c++) bb_f32(&b, m->mean[c]);
    for (int c = 0; c < m->channels; c++) bb_f32(&b, m->std[c]);
    bb_end_section(&b, at);

    at = bb_begin_section(&b, TAG_TENS);
    bb_u32(&b, (uint32_t)m->n_tensors);
    for (int i = 0; i < m->n_tensors && !b.failed; i++) {
        const model_tensor *t = &m->tensors[i];
        size_t n = strnlen(t->name, MODEL_TENSOR_NAME_MAX - 1);
        bb_u32(&b, (uint32_t)n);
        bb_put(&b, t->name, n);
        bb_u32(&b, (uint32_t)t->dtype);
        bb_u32(&b, (uint32_t)t->ndim);
        for (int d = 0; d < t->ndim; d++) bb_u32(&b, (uint32_t)t->dims[d]);
        bb_put(&b, NULL, (TENSOR_ALIGN - b.len % TENSOR_ALIGN) % TENSOR_ALIGN);
        for (size_t k = 0; k < t->count && !b.failed; k++) bb_f32(&b, t->data[k]);
    }
    bb_end_section(&b, at);

    if (!b.failed) bb_u32(&b, clseg_crc32(0, b.p, b.len));
    if (b.failed) {
        free(b.p);
        return clseg_fail(err, errlen, CLSEG_ERR_OUT_OF_MEMORY, "out of memory serialising model");
    }
    *data = b.p;
    *size = b.len;
    return CLSEG_OK;
}

clseg_status model_save(const clseg_model *m, const char *path, char *err, size_t errlen) {
    if (!path) return clseg_fail(err, errlen, CLSEG_ERR_INVALID_ARGUMENT, "NULL path");
    uint8_t *data = NULL;
    size_t size = 0;
    clseg_status st = model_serialize(m, &data, &size, err, errlen);
    if (st != CLSEG_OK) return st;
    st = clseg_write_file_atomic(path, data, size, err, errlen);
    free(data);
    return st;
}

/* ---- reading ------------------------------------------------------------------------------- */

static uint32_t le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p) {
    return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* A cursor over one section; positions are file offsets (tensor alignment depends on them). */
typedef struct reader {
    const uint8_t *file;
    size_t pos, end;
} reader;

static int rd_bytes(reader *r, size_t n, const uint8_t **out) {
    if (n > r->end - r->pos) return 0;
    *out = r->file + r->pos;
    r->pos += n;
    return 1;
}

static int rd_u32(reader *r, uint32_t *v) {
    const uint8_t *p;
    if (!rd_bytes(r, 4, &p)) return 0;
    *v = le32(p);
    return 1;
}

static int rd_f32(reader *r, float *f) {
    uint32_t v;
    if (!rd_u32(r, &v)) return 0;
    memcpy(f, &v, 4);
    return 1;
}

typedef struct section {
    const char *tag;
    size_t offset, length; /* of the payload */
    int count;
} section;

enum { SEC_SPEC, SEC_CLAS, SEC_PALT, SEC_NORM, SEC_TENS, SEC_COUNT };

static void printable_tag(const uint8_t *p, char out[5]) {
    for (int i = 0; i < 4; i++) out[i] = (p[i] >= 0x20 && p[i] < 0x7f) ? (char)p[i] : '?';
    out[4] = 0;
}

/* Names are free text but must not carry NULs or control characters. */
static int valid_text(const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i] < 0x20 || p[i] == 0x7f) return 0;
    return 1;
}

static clseg_status parse_spec(clseg_model *m, const section *s, const uint8_t *data, char *err,
                               size_t errlen) {
    if (s->length == 0 || s->length > MODEL_MAX_SPEC_BYTES)
        return clseg_fail(err, errlen, CLSEG_ERR_FORMAT, "SPEC: length %zu is out of range 1..%u",
                          s->length, MODEL_MAX_SPEC_BYTES);
    if (memchr(data + s->offset, 0, s->length))
        return clseg_fail(err, errlen, CLSEG_ERR_FORMAT, "SPEC: the network text holds a NUL byte");
    m->spec_text = clseg_malloc(s->length + 1);
    if (!m->spec_text) return clseg_fail(err, errlen, CLSEG_ERR_OUT_OF_MEMORY, "out of memory");
    memcpy(m->spec_text, data + s->offset, s->length);
    m->spec_text[s->length] = 0;
    char msg[256];
    clseg_status st = spec_parse(m->spec_text, &m->spec, msg, sizeof msg);
    if (st != CLSEG_OK) return clseg_fail(err, errlen, CLSEG_ERR_FORMAT, "SPEC: %s", msg);
    m->channels = m->spec.input_channels;
    return CLSEG_OK;
}

static clseg_status parse_classes(clseg_model *m, const section *s, const uint8_t *data, char *err,
                                  size_t errlen) {
    reader r = {data, s->offset, s->offset + s->length};
    uint32_t n;
    if (!rd_u32(&r, &n)) return clseg_fail(err, errlen, CLSEG_ERR_FORMAT, "CLAS: too short");
    if (n < 1 || n > MODEL_MAX_CLASSES)
        return clseg_fail(err, errlen, CLSEG_ERR_FORMAT, "CLAS: class count %u is outside 1..%d", n,
                          MODEL_MAX_CLASSES);
    m->classes = (int)n;
    m->class_names = clseg_calloc(n, sizeof *m->class_names);
    if (!m->class_names) return clseg_fail(err, errlen, CLSEG_ERR_OUT_OF_MEMORY, "out of memory");
    for (uint32_t i = 0; i < n; i++) {
        uint32_t len;
        const uint8_t *p;
        if (!rd_u32(&r, &len))
            return clseg_fail(err, errlen, CLSEG_ERR_FORMAT, "CLAS: ends inside class %u", i);
        if (len < 1 || len >= MODEL_CLASS_NAME_MAX)
            return clseg_fail(err, errlen, CLSEG_ERR_FORMAT,
                              "CLAS: class %u name length %u is outside 1..%d", i, len,
                              MODEL_CLASS_NAME_MAX - 1);
        if (!rd_bytes(&r, len, &p))
            return clseg_fail(err, errlen, CLSEG_ERR_FORMAT, "CLAS: ends inside class %u", i);
        if (!valid_text(p, len))
            return clseg_fail(err, errlen, CLSEG_ERR_FORMAT,
                              "CLAS: class %u name holds control characters", i);
        memcpy(m->class_names[i], p, len);
    }
    if (r.pos != r.end)
        return clseg_fail(err, errlen, CLSEG_ERR_FORMAT, "CLAS: %zu unexpected trailing bytes",
                          r.end - r.pos);
    return CLSEG_OK;
}

static clseg_status parse_palette(clseg_model *m, const section *s, const uint8_t *data, char *err,
                                  size_t errlen) {
    reader r = {data, s->offset, s->offset + s->length};
    uint32_t n;
    const uint8_t *p;
    if (!rd_u32(&r, &n)) return clseg_fail(err, errlen, CLSEG_ERR_FORMAT, "PALT: too short");
    if (n != (uint32_t)m->classes)
        return clseg_fail(err, errlen, CLSEG_ERR_FORMAT, "PALT: %u colours for %d classes", n,
                          m->classes);
    if (!rd_bytes(&r, (size_t)n * 3, &p) || r.pos != r.end)
        return clseg_fail(err, errlen, CLSEG_ERR_FORMAT, "PALT: length %zu, expected %zu",
                          s->length, 4 + (size_t)n * 3);
    m->palette = clseg_malloc((size_t)n * 3);
    if (!m->palette) return clseg_fail(err, errlen, CLSEG_ERR_OUT_OF_MEMORY, "out of memory");
    memcpy(m->palette, p, (size_t)n * 3);
    return CLSEG_OK;
}

static clseg_status parse_norm(clseg_model *m, const section *s, const uint8_t *data, char *err,
                               size_t errlen) {
    reader r = {data, s->offset, s->offset + s->length};
    uint32_t c;
    if (!rd_u32(&r, &c)) return clseg_fail(err, errlen, CLSEG_ERR_FORMAT, "NORM: too short");
    if (c != (uint32_t)m->channels)
        return clseg_fail(err, errlen, CLSEG_ERR_FORMAT,
                          "NORM: %u channels but the network takes %d", c, m->channels);
    for (uint32_t i = 0; i < c; i++)
        if (!rd_f32(&r, &m->mean[i]))
            return clseg_fail(err, errlen, CLSEG_ERR_FORMAT, "NORM: too short");
    for (uint32_t i = 0; i < c; i++)
        if (!rd_f32(&r, &m->std[i]))
            return clseg_fail(err, errlen, CLSEG_ERR_FORMAT, "NORM: too short");
    if (r.pos != r.end)
        return clseg_fail(err, errlen, CLSEG_ERR_FORMAT, "NORM: %zu unexpected trailing bytes",
                          r.end - r.pos);
    for (uint32_t i = 0; i < c; i++)
        if (!isfinite(m->mean[i]) || !isfinite(m->std[i]) || !(m->std[i] > 0))
            return clseg_fail(err, errlen, CLSEG_ERR_FORMAT,
                              "NORM: channel %u has mean %g, std %g (std must be > 0)", i,
                              (double)m->mean[i], (double)m->std[i]);
    return CLSEG_OK;
}

static void format_dims(char *buf, size_t len, const uint32_t *dims, int ndim) {
    size_t at = 0;
    buf[0] = 0;
    for (int i = 0; i < ndim && at < len; i++)
        at += (size_t)snprintf(buf + at, len - at, "%s%u", i ? "x" : "", dims[i]);
}

/* Reads one tensor record into its slot of m->tensors (which holds the expected tensors in
   spec order, data still NULL). */
static clseg_status parse_tensor(clseg_model *m, reader *r, uint32_t index, char *err,
                                 size_t errlen) {
    uint32_t name_len, dtype, ndim, dims[4];
    const uint8_t *p;
    if (!rd_u32(r, &name_len))
        return clseg_fail(err, errlen, CLSEG_ERR_FORMAT, "TENS: ends inside tensor %u", index);
    if (name_len < 1 || name_len >= MODEL_TENSOR_NAME_MAX)
        return clseg_fail(err, errlen, CLSEG_ERR_FORMAT,
                          "TENS: tensor %u name length %u is outside 1..%d", index, name_len,
                          MODEL_TENSOR_NAME_MAX - 1);
    if (!rd_bytes(r, name_len, &p))
        return clseg_fail(err, errlen, CLSEG_ERR_FORMAT, "TENS: ends inside tensor %u", index);
    if (!valid_text(p, name_len))
        return clseg_fail(err, errlen, CLSEG_ERR_FORMAT,
                          "TENS: tensor %u name holds control characters", index);
    char name[MODEL_TENSOR_NAME_MAX];
    memcpy(name, p, name_len);
    name[name_len] = 0;
    model_tensor *t = NULL;
    for (int i = 0; i < m->n_tensors && !t; i++)
        if (strcmp(m->tensors[i].name, name) == 0) t = &m->tensors[i];
    if (!t)
        return clseg_fail(err, errlen, CLSEG_ERR_FORMAT,
                          "TENS: unexpected tensor '%s' (the network has no such parameter)", name);
    if (t->data)
        return clseg_fail(err, errlen, CLSEG_ERR_FORMAT, "TENS: duplicate tensor '%s'", name);
    if (!rd_u32(r, &dtype) || !rd_u32(r, &ndim))
        return clseg_fail(err, errlen, CLSEG_ERR_FORMAT, "TENS: ends inside tensor '%s'", name);
    if (dtype != DTYPE_F32)
        return clseg_fail(err, errlen, CLSEG_ERR_FORMAT,
                          "TENS: tensor '%s' has unsupported dtype %u (only 0 = f32)", name, dtype);
    if (ndim < 1 || ndim > 4)
        return clseg_fail(err, errlen, CLSEG_ERR_FORMAT,
                          "TENS: tensor '%s' has %u dimensions (1..4 allowed)", name, ndim);
    size_t count = 1;
    for (uint32_t d = 0; d < ndim; d++) {
        if (!rd_u32(r, &dims[d]))
            return clseg_fail(err, errlen, CLSEG_ERR_FORMAT, "TENS: ends inside tensor '%s'", name);
        if (dims[d] == 0 || !clseg_mul_size(&count, count, dims[d]) || count > CLSEG_MAX_ELEMENTS) {
            char shape[64];
            format_dims(shape, sizeof shape, dims, (int)d + 1);
            return clseg_fail(err, errlen, CLSEG_ERR_FORMAT,
                              "TENS: tensor '%s' has an absurd shape (%s...)", name, shape);
        }
    }
    int same = (int)ndim == t->ndim;
    for (uint32_t d = 0; same && d < ndim; d++) same = dims[d] == (uint32_t)t->dims[d];
    if (!same) {
        char got[64], want[64];
        uint32_t wd[4];
        for (int d = 0; d < t->ndim; d++) wd[d] = (uint32_t)t->dims[d];
        format_dims(got, sizeof got, dims, (int)ndim);
        format_dims(want, sizeof want, wd, t->ndim);
        return clseg_fail(err, errlen, CLSEG_ERR_FORMAT,
                          "TENS: tensor '%s' has shape %s but the network needs %s", name, got,
                          want);
    }
    size_t pad = (TENSOR_ALIGN - r->pos % TENSOR_ALIGN) % TENSOR_ALIGN;
    if (!rd_bytes(r, pad, &p))
        return clseg_fail(err, errlen, CLSEG_ERR_FORMAT, "TENS: ends inside tensor '%s'", name);
    for (size_t i = 0; i < pad; i++)
        if (p[i])
            return clseg_fail(err, errlen, CLSEG_ERR_FORMAT,
                              "TENS: non-zero alignment padding before tensor '%s'", name);
    size_t bytes;
    /* The data must be in the file before anything is allocated for it. */
    if (!clseg_mul_size(&bytes, count, sizeof(float)) || !rd_bytes(r, bytes, &p))
        return clseg_fail(err, errlen, CLSEG_ERR_FORMAT,
                          "TENS: data of tensor '%s' (%zu values) runs past the section end", name,
                          count);
    float *values = clseg_malloc(bytes);
    if (!values)
        return clseg_fail(err, errlen, CLSEG_ERR_OUT_OF_MEMORY, "out of memory for tensor '%s'",
                          name);
    int is_var = strstr(name, ".bn.running_var") != NULL;
    for (size_t i = 0; i < count; i++) {
        uint32_t v = le32(p + 4 * i);
        memcpy(&values[i], &v, 4);
        if (!isfinite(values[i]) || (is_var && values[i] < 0)) {
            float bad = values[i];
            free(values);
            return clseg_fail(err, errlen, CLSEG_ERR_FORMAT,
                              "TENS: tensor '%s' holds %g at index %zu", name, (double)bad, i);
        }
    }
    t->data = values;
    return CLSEG_OK;
}

static clseg_status parse_tensors(clseg_model *m, const section *s, const uint8_t *data, char *err,
                                  size_t errlen) {
    int channels[SPEC_MAX_LAYERS];
    char msg[256];
    clseg_status st = model_check_output(&m->spec, m->classes, channels, msg, sizeof msg);
    if (st != CLSEG_OK) return clseg_fail(err, errlen, CLSEG_ERR_FORMAT, "SPEC: %s", msg);
    m->tensors = clseg_calloc(MODEL_MAX_TENSORS, sizeof *m->tensors);
    if (!m->tensors) return clseg_fail(err, errlen, CLSEG_ERR_OUT_OF_MEMORY, "out of memory");
    m->n_tensors =
        model_expected_tensors(&m->spec, channels, m->channels, m->tensors, MODEL_MAX_TENSORS);

    reader r = {data, s->offset, s->offset + s->length};
    uint32_t n;
    if (!rd_u32(&r, &n)) return clseg_fail(err, errlen, CLSEG_ERR_FORMAT, "TENS: too short");
    if (n > MODEL_MAX_TENSORS)
        return clseg_fail(err, errlen, CLSEG_ERR_FORMAT, "TENS: absurd tensor count %u", n);
    for (uint32_t i = 0; i < n; i++) {
        st = parse_tensor(m, &r, i, err, errlen);
        if (st != CLSEG_OK) return st;
    }
    if (r.pos != r.end)
        return clseg_fail(err, errlen, CLSEG_ERR_FORMAT,
                          "TENS: %zu unexpected bytes after the last tensor", r.end - r.pos);
    for (int i = 0; i < m->n_tensors; i++)
        if (!m->tensors[i].data)
            return clseg_fail(err, errlen, CLSEG_ERR_FORMAT, "TENS: missing tensor '%s'",
                              m->tensors[i].name);
    model_tensor *fit = clseg_realloc(m->tensors, (size_t)m->n_tensors * sizeof *m->tensors);
    if (fit) m->tensors = fit;
    return CLSEG_OK;
}

clseg_status model_parse(const uint8_t *data, size_t size, clseg_model **out, char *err,
                         size_t errlen) {
    if (!out || (!data && size))
        return clseg_fail(err, errlen, CLSEG_ERR_INVALID_ARGUMENT, "NULL argument");
    *out = NULL;
    if (memcmp(data ? (const void *)data : "", MODEL_MAGIC, CLSEG_MIN(size, MODEL_MAGIC_LEN)) != 0)
        return clseg_fail(err, errlen, CLSEG_ERR_FORMAT, "not a .clsm model (bad magic)");
    if (size < HEADER_BYTES + CRC_BYTES)
        return clseg_fail(err, errlen, CLSEG_ERR_FORMAT, "truncated: only %zu bytes", size);
    uint32_t version = le32(data + MODEL_MAGIC_LEN);
    if (version != MODEL_FORMAT_VERSION)
        return clseg_fail(err, errlen, CLSEG_ERR_FORMAT,
                          "unsupported .clsm version %u (this build reads version %d)", version,
                          MODEL_FORMAT_VERSION);

    section secs[SEC_COUNT] = {{TAG_SPEC, 0, 0, 0},
                               {TAG_CLAS, 0, 0, 0},
                               {TAG_PALT, 0, 0, 0},
                               {TAG_NORM, 0, 0, 0},
                               {TAG_TENS, 0, 0, 0}};
    size_t pos = HEADER_BYTES, end = size - CRC_BYTES;
    while (pos < end) {
        if (end - pos < SECTION_HEADER_BYTES)
            return clseg_fail(err, errlen, CLSEG_ERR_FORMAT,
                              "truncated or corrupt: incomplete section header at offset %zu", pos);
        char tag[5];
        printable_tag(data + pos, tag);
        uint64_t len = le64(data + pos + 4);
        size_t avail = end - pos - SECTION_HEADER_BYTES;
        if (len > avail)
            return clseg_fail(err, errlen, CLSEG_ERR_FORMAT,
                              "truncated or corrupt: section '%s' at offset %zu claims %llu bytes, "
                              "%zu remain",
                              tag, pos, (unsigned long long)len, avail);
        for (int k = 0; k < SEC_COUNT; k++) {
            if (memcmp(data + pos, secs[k].tag, 4) != 0) continue;
            if (secs[k].count++)
                return clseg_fail(err, errlen, CLSEG_ERR_FORMAT, "duplicate section '%s'", tag);
            secs[k].offset = pos + SECTION_HEADER_BYTES;
            secs[k].length = (size_t)len;
        }
        pos += SECTION_HEADER_BYTES + (size_t)len;
    }
    uint32_t stored = le32(data + end), computed = clseg_crc32(0, data, end);
    if (stored != computed)
        return clseg_fail(err, errlen, CLSEG_ERR_FORMAT,
                          "checksum mismatch (stored %08x, computed %08x): the file is corrupt",
                          stored, computed);
    for (int k = 0; k < SEC_COUNT; k++)
        if (!secs[k].count)
            return clseg_fail(err, errlen, CLSEG_ERR_FORMAT, "missing section '%s'", secs[k].tag);

    clseg_model *m = clseg_calloc(1, sizeof *m);
    if (!m) return clseg_fail(err, errlen, CLSEG_ERR_OUT_OF_MEMORY, "out of memory");
    clseg_status st = parse_spec(m, &secs[SEC_SPEC], data, err, errlen);
    if (st == CLSEG_OK) st = parse_classes(m, &secs[SEC_CLAS], data, err, errlen);
    if (st == CLSEG_OK) st = parse_palette(m, &secs[SEC_PALT], data, err, errlen);
    if (st == CLSEG_OK) st = parse_norm(m, &secs[SEC_NORM], data, err, errlen);
    if (st == CLSEG_OK) st = parse_tensors(m, &secs[SEC_TENS], data, err, errlen);
    if (st != CLSEG_OK) {
        clseg_model_free(m);
        return st;
    }
    *out = m;
    return CLSEG_OK;
}
