/* onnx_import.c - maps an ONNX graph onto clseg's layer types and writes it as spec + tensors. */
#include "onnx_import.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx.pb-c.h"

#define MAX_DIMS      8
#define OPSET_MIN     7
#define OPSET_MAX     18
#define MAX_CONST_VAL ((size_t)1 << 28) /* elements of one folded (non-weight) constant */

/* What a tensor name of the graph stands for while the nodes are walked. */
typedef enum vkind {
    V_UNDEF,   /* not defined (yet) */
    V_CONST,   /* known values: initializers, Constant nodes and what folds from them */
    V_ACT,     /* an activation: the output of a clseg layer (or the network input) */
    V_INDICES, /* the argmax indices of a MaxPool, which only a MaxUnpool may read */
} vkind;

typedef struct value {
    const char *name; /* points into the protobuf message */
    vkind kind;
    /* V_CONST: float values (f) or integers (i), row-major, owned */
    int is_float;
    int ndim;
    int64_t dims[MAX_DIMS];
    size_t count;
    float *f;
    int64_t *i;
    /* Where each of the first MAX_DIMS elements of a V_CONST came from when it was folded from
       the Shape of an activation: PROV(value index, dimension), 0 = elsewhere. A Resize whose
       height and width are a layer's resizes to that layer's size at any input size (spec
       `output_size`). */
    int prov[MAX_DIMS];
    /* V_ACT / V_INDICES: the producing layer (SPEC_INPUT = the network input) and the shape */
    int layer;
    shape4 shape;
} value;

#define PROV(v, d)    (((v) + 1) * MAX_DIMS + (d))
#define PROV_VALUE(p) ((p) / MAX_DIMS - 1)
#define PROV_DIM(p)   ((p) % MAX_DIMS)

/* What the importer keeps about each layer beside its spec_layer. */
typedef struct layer_src {
    char nodes[160];         /* the ONNX nodes merged into it, for the spec comment */
    const value *tensor[6];  /* weight, bias, bn scale, bn bias, bn mean, bn var (or NULL) */
    shape4 shape;            /* the output shape by ONNX's rules */
    int out_value;           /* the value that holds its output now (after fusions) */
    const char *node, *type; /* the first node, for messages */
} layer_src;

static const char *const tensor_suffix[6] = {
    "weight", "bias", "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var"};

typedef struct importer {
    const Onnx__GraphProto *g;
    int64_t opset;
    value *v;
    int nv, cap;
    int in;     /* the network input's value */
    int *table; /* open addressing: value index + 1, 0 = empty */
    size_t tmask;
    spec_layer *layers;
    layer_src *src;
    int nl;
    const Onnx__NodeProto *node; /* the node being mapped, for messages */
    char *err;
    size_t errlen;
} importer;

/* ---- errors -------------------------------------------------------------------------------- */

/* Node names and op types come from the file: only printable ASCII goes into messages. */
static void printable(char *dst, size_t n, const char *s) {
    size_t j = 0;
    for (; s && *s && j + 1 < n; s++) dst[j++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
    dst[j] = 0;
}

static clseg_status failv(importer *im, clseg_status st, const char *fmt, va_list ap) {
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (!im->node) return clseg_fail(im->err, im->errlen, st, "%s", msg);
    char name[96], type[64];
    printable(name, sizeof name, im->node->name);
    printable(type, sizeof type, im->node->op_type);
    return clseg_fail(im->err, im->errlen, st, "node '%s' (%s, opset %lld): %s", name, type,
                      (long long)im->opset, msg);
}

/* A malformed or inconsistent file. */
static clseg_status bad(importer *im, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static clseg_status bad(importer *im, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    clseg_status st = failv(im, CLSEG_ERR_FORMAT, fmt, ap);
    va_end(ap);
    return st;
}

/* A valid graph that clseg cannot represent (yet). */
static clseg_status unsup(importer *im, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static clseg_status unsup(importer *im, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    clseg_status st = failv(im, CLSEG_ERR_UNSUPPORTED, fmt, ap);
    va_end(ap);
    return st;
}

static clseg_status oom(importer *im) {
    return clseg_fail(im->err, im->errlen, CLSEG_ERR_OUT_OF_MEMORY, "out of memory");
}

/* ---- the value table ----------------------------------------------------------------------- */

static size_t name_hash(const char *s) {
    return (size_t)clseg_fnv1a64(CLSEG_FNV1A64_INIT, s, strlen(s));
}

static value *lookup(importer *im, const char *name) {
    for (size_t h = name_hash(name) & im->tmask;; h = (h + 1) & im->tmask) {
        int k = im->table[h];
        if (!k) return NULL;
        if (!strcmp(im->v[k - 1].name, name)) return &im->v[k - 1];
    }
}

/* A new value called `name`; redefining a name is an error (ONNX graphs are SSA). The table was
   sized for every name the graph can define, so it never fills. */
static clseg_status define(importer *im, const char *name, value **out) {
    if (!name || !*name) return bad(im, "an output without a name");
    if (lookup(im, name)) {
        char n[96];
        printable(n, sizeof n, name);
        return bad(im, "'%s' is defined twice", n);
    }
    if (im->nv == im->cap)
        return clseg_fail(im->err, im->errlen, CLSEG_ERR_INTERNAL, "value table");
    value *v = &im->v[im->nv++];
    memset(v, 0, sizeof *v);
    v->name = name;
    size_t h = name_hash(name) & im->tmask;
    while (im->table[h]) h = (h + 1) & im->tmask;
    im->table[h] = im->nv;
    *out = v;
    return CLSEG_OK;
}

static void value_free(value *v) {
    free(v->f);
    free(v->i);
    v->f = NULL;
    v->i = NULL;
}

/* Input `k` of the current node: NULL when absent (optional inputs are "" or missing). */
static clseg_status input(importer *im, size_t k, value **out) {
    *out = NULL;
    if (k >= im->node->n_input || !im->node->input[k][0]) return CLSEG_OK;
    value *v = lookup(im, im->node->input[k]);
    if (!v) {
        char n[96];
        printable(n, sizeof n, im->node->input[k]);
        return bad(im, "input '%s' is not defined before this node (ONNX graphs are sorted)", n);
    }
    *out = v;
    return CLSEG_OK;
}

/* ---- attributes ---------------------------------------------------------------------------- */

static const Onnx__AttributeProto *attr(const Onnx__NodeProto *n, const char *name) {
    for (size_t i = 0; i < n->n_attribute; i++)
        if (n->attribute[i]->name && !strcmp(n->attribute[i]->name, name)) return n->attribute[i];
    return NULL;
}

static int64_t attr_int(const Onnx__NodeProto *n, const char *name, int64_t def) {
    const Onnx__AttributeProto *a = attr(n, name);
    return a && a->has_i ? a->i : def;
}

static float attr_float(const Onnx__NodeProto *n, const char *name, float def) {
    const Onnx__AttributeProto *a = attr(n, name);
    return a && a->has_f ? a->f : def;
}

/* 1 if the string attribute equals s; absent = def. */
static int attr_is(const Onnx__NodeProto *n, const char *name, const char *def, const char *s) {
    const Onnx__AttributeProto *a = attr(n, name);
    if (!a || !a->has_s) return !strcmp(def, s);
    return a->s.len == strlen(s) && !memcmp(a->s.data, s, a->s.len);
}

static void attr_str(const Onnx__NodeProto *n, const char *name, const char *def, char *buf,
                     size_t len) {
    const Onnx__AttributeProto *a = attr(n, name);
    if (!a || !a->has_s) {
        snprintf(buf, len, "%s", def);
        return;
    }
    char tmp[64];
    size_t k = a->s.len < sizeof tmp - 1 ? a->s.len : sizeof tmp - 1;
    memcpy(tmp, a->s.data, k);
    tmp[k] = 0;
    printable(buf, len, tmp);
}

/* An ints attribute of exactly `want` entries (or absent: fills `def`); returns 0 on a wrong
   count. */
static int attr_ints(const Onnx__NodeProto *n, const char *name, int want, int64_t def,
                     int64_t *out) {
    const Onnx__AttributeProto *a = attr(n, name);
    for (int i = 0; i < want; i++) out[i] = def;
    if (!a || a->n_ints == 0) return 1;
    if (a->n_ints != (size_t)want) return 0;
    for (int i = 0; i < want; i++) out[i] = a->ints[i];
    return 1;
}

/* ---- tensors -------------------------------------------------------------------------------- */

static uint64_t le_bytes(const uint8_t *p, int n) {
    uint64_t x = 0;
    for (int i = n - 1; i >= 0; i--) x = (x << 8) | p[i];
    return x;
}

static float half_to_float(uint16_t h) {
    int e = (h >> 10) & 31, m = h & 1023;
    float v = e == 0    ? ldexpf((float)m, -24)
              : e == 31 ? (m ? NAN : INFINITY)
                        : ldexpf((float)(m | 1024), e - 25);
    return (h & 0x8000) ? -v : v;
}

/* Converts an ONNX TensorProto into a constant value: floats for the float types, int64 for the
   integer ones, from raw_data (little-endian) or the typed fields. */
static clseg_status tensor_value(importer *im, const Onnx__TensorProto *t, value *v) {
    char name[96];
    printable(name, sizeof name, t->name ? t->name : "");
    if ((t->has_data_location && t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL) ||
        t->n_external_data) {
        char loc[96] = "?";
        for (size_t i = 0; i < t->n_external_data; i++)
            if (t->external_data[i]->key && !strcmp(t->external_data[i]->key, "location"))
                printable(loc, sizeof loc, t->external_data[i]->value);
        return unsup(im,
                     "tensor '%s' keeps its data in an external file ('%s'); clseg imports "
                     "self-contained models only: save it with onnx.save_model(model, path, "
                     "save_as_external_data=False)",
                     name, loc);
    }
    if (t->n_dims > MAX_DIMS) return unsup(im, "tensor '%s' has %zu dimensions", name, t->n_dims);
    size_t count = 1;
    v->ndim = (int)t->n_dims;
    for (size_t d = 0; d < t->n_dims; d++) {
        if (t->dims[d] < 0 || t->dims[d] > (int64_t)CLSEG_MAX_ELEMENTS ||
            !clseg_mul_size(&count, count, (size_t)t->dims[d]) || count > CLSEG_MAX_ELEMENTS)
            return bad(im, "tensor '%s' has an absurd shape", name);
        v->dims[d] = t->dims[d];
    }
    v->count = count;
    int type = t->has_data_type ? t->data_type : 0;
    int size = 0, is_float = 0, is_signed = 1;
    switch (type) {
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT:
        size = 4, is_float = 1;
        break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE:
        size = 8, is_float = 1;
        break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16:
        size = 2, is_float = 1;
        break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT64:
        size = 8;
        break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT32:
        size = 4;
        break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT16:
        size = 2;
        break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT8:
        size = 1;
        break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT64:
        size = 8, is_signed = 0;
        break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT32:
        size = 4, is_signed = 0;
        break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT16:
        size = 2, is_signed = 0;
        break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT8:
    case ONNX__TENSOR_PROTO__DATA_TYPE__BOOL:
        size = 1, is_signed = 0;
        break;
    default:
        return unsup(im, "tensor '%s' has data type %d, which clseg does not read", name, type);
    }
    /* The typed fields: float_data, double_data, int64_data, uint64_data, or int32_data (which
       carries every type of 32 bits or less, float16 as its bit pattern). */
    size_t n = type == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT    ? t->n_float_data
               : type == ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE ? t->n_double_data
               : type == ONNX__TENSOR_PROTO__DATA_TYPE__INT64  ? t->n_int64_data
               : (type == ONNX__TENSOR_PROTO__DATA_TYPE__UINT64 ||
                  type == ONNX__TENSOR_PROTO__DATA_TYPE__UINT32)
                   ? t->n_uint64_data
                   : t->n_int32_data;
    int raw = t->has_raw_data && (t->raw_data.len || !count);
    /* The values must be in the file before the shape may size an allocation: a few bytes can
       claim 2^31 elements. */
    if (raw && t->raw_data.len != count * (size_t)size)
        return bad(im, "tensor '%s': raw_data has %zu bytes for %zu values of %d bytes", name,
                   t->raw_data.len, count, size);
    if (!raw && n != count)
        return bad(im, "tensor '%s' has %zu values for %zu elements", name, n, count);
    v->kind = V_CONST;
    v->is_float = is_float;
    size_t alloc = count ? count : 1;
    if (is_float)
        v->f = clseg_malloc(alloc * sizeof *v->f);
    else
        v->i = clseg_malloc(alloc * sizeof *v->i);
    if (!v->f && !v->i) return oom(im);
    if (raw) {
        for (size_t k = 0; k < count; k++) {
            uint64_t x = le_bytes(t->raw_data.data + k * (size_t)size, size);
            if (type == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT) {
                uint32_t u = (uint32_t)x;
                memcpy(&v->f[k], &u, 4);
            } else if (type == ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE) {
                double d;
                memcpy(&d, &x, 8);
                v->f[k] = (float)d;
            } else if (type == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16) {
                v->f[k] = half_to_float((uint16_t)x);
            } else if (is_signed && size < 8) {
                uint64_t sign = (uint64_t)1 << (size * 8 - 1);
                v->i[k] = (int64_t)((x ^ sign) - sign);
            } else {
                v->i[k] = (int64_t)x;
            }
        }
        return CLSEG_OK;
    }
    for (size_t k = 0; k < count; k++) switch (type) {
        case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT:
            v->f[k] = t->float_data[k];
            break;
        case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE:
            v->f[k] = (float)t->double_data[k];
            break;
        case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16:
            v->f[k] = half_to_float((uint16_t)t->int32_data[k]);
            break;
        case ONNX__TENSOR_PROTO__DATA_TYPE__INT64:
            v->i[k] = t->int64_data[k];
            break;
        case ONNX__TENSOR_PROTO__DATA_TYPE__UINT64:
        case ONNX__TENSOR_PROTO__DATA_TYPE__UINT32:
            v->i[k] = (int64_t)t->uint64_data[k];
            break;
        default:
            v->i[k] = t->int32_data[k];
            break;
        }
    return CLSEG_OK;
}

/* A new constant of `count` values with the given shape. */
static clseg_status make_const(importer *im, value *v, int is_float, int ndim,
                               const int64_t *dims) {
    size_t count = 1;
    for (int d = 0; d < ndim; d++)
        if (dims[d] < 0 || !clseg_mul_size(&count, count, (size_t)dims[d]) || count > MAX_CONST_VAL)
            return unsup(im, "a constant of absurd shape");
    v->kind = V_CONST;
    v->is_float = is_float;
    v->ndim = ndim;
    memcpy(v->dims, dims, (size_t)ndim * sizeof *dims);
    v->count = count;
    if (is_float)
        v->f = clseg_calloc(count ? count : 1, sizeof *v->f);
    else
        v->i = clseg_calloc(count ? count : 1, sizeof *v->i);
    return v->f || v->i ? CLSEG_OK : oom(im);
}

static double const_at(const value *v, size_t k) {
    return v->is_float ? (double)v->f[k] : (double)v->i[k];
}

/* Integer constant inputs (shapes, axes, pads): the values of input k, at most max. */
static clseg_status const_ints(importer *im, const value *v, int64_t *out, int max, int *n) {
    if (v->kind != V_CONST) return unsup(im, "'%s' must be a constant here", v->name);
    if (v->count > (size_t)max) return unsup(im, "'%s' has %zu values", v->name, v->count);
    for (size_t k = 0; k < v->count; k++) {
        double x = const_at(v, k);
        if (v->is_float && (x != floor(x) || !(fabs(x) < 9.2e18)))
            return bad(im, "'%s' must hold integers", v->name);
        out[k] = v->is_float ? (int64_t)x : v->i[k];
    }
    *n = (int)v->count;
    return CLSEG_OK;
}

/* ---- layers --------------------------------------------------------------------------------- */

static int name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

/* A spec layer name from the node's name ("/enc1/conv/Conv" -> "enc1_conv_Conv"): the spec's
   characters only, starting with a letter or '_', unique, at most 63 characters. */
static void layer_name(importer *im, const char *node, const char *type, char *out) {
    char base[SPEC_NAME_MAX - 4];
    size_t j = 0;
    for (const char *s = node ? node : ""; *s && j + 1 < sizeof base; s++) {
        char c = name_char(*s) ? *s : '_';
        if (j == 0 && (c == '_' || c == '-')) continue;
        if (j > 0 && c == '_' && base[j - 1] == '_') continue;
        base[j++] = c;
    }
    base[j] = 0;
    if (j == 0) {
        for (const char *s = type; *s && j + 4 < sizeof base; s++)
            if (name_char(*s)) base[j++] = (char)((*s >= 'A' && *s <= 'Z') ? *s + 32 : *s);
        snprintf(base + j, sizeof base - j, "%d", im->nl + 1);
    } else if (base[0] >= '0' && base[0] <= '9') {
        memmove(base + 1, base, sizeof base - 2);
        base[0] = 'n';
        base[sizeof base - 1] = 0;
    }
    snprintf(out, SPEC_NAME_MAX, "%s", base);
    for (int k = 2; k < 1000; k++) { /* at most SPEC_MAX_LAYERS names are taken */
        int taken = !strcmp(out, "data");
        for (int i = 0; !taken && i < im->nl; i++) taken = !strcmp(im->layers[i].name, out);
        if (!taken) return;
        snprintf(out, SPEC_NAME_MAX, "%s_%d", base, k);
    }
}

static void note_node(layer_src *s, const char *node) {
    char n[64];
    printable(n, sizeof n, node && *node ? node : "?");
    size_t len = strlen(s->nodes);
    snprintf(s->nodes + len, sizeof s->nodes - len, "%s'%s'", len ? " + " : "", n);
}

/* Appends a layer of `type` reading `in` (activations) and writes its output value. */
static clseg_status add_layer(importer *im, layer_type type, value *const *in, int n_in,
                              shape4 shape, value *out, spec_layer **L) {
    if (im->nl == SPEC_MAX_LAYERS)
        return unsup(im, "the graph needs more than %d clseg layers", SPEC_MAX_LAYERS);
    spec_layer *l = &im->layers[im->nl];
    layer_src *s = &im->src[im->nl];
    memset(l, 0, sizeof *l);
    memset(s, 0, sizeof *s);
    l->type = type;
    layer_name(im, im->node->name, im->node->op_type, l->name);
    l->n_inputs = n_in;
    for (int i = 0; i < n_in; i++) l->inputs[i] = in[i]->layer;
    l->match = SPEC_MATCH_NONE;
    l->pool_layer = -1;
    l->groups = l->dilation = 1;
    s->shape = shape;
    s->node = im->node->name;
    s->type = im->node->op_type;
    note_node(s, im->node->name);
    out->kind = V_ACT;
    out->layer = im->nl;
    out->shape = shape;
    s->out_value = (int)(out - im->v);
    *L = l;
    im->nl++;
    return CLSEG_OK;
}

/* The node's first output, defined as a new value. */
static clseg_status output(importer *im, size_t k, value **out) {
    if (k >= im->node->n_output || !im->node->output[k][0]) {
        *out = NULL;
        return k == 0 ? bad(im, "the node has no output") : CLSEG_OK;
    }
    return define(im, im->node->output[k], out);
}

/* The node's output 0 becomes another name for `src` (Identity, Dropout, no-op Pad/Resize). */
static clseg_status alias(importer *im, const value *src) {
    value *o;
    clseg_status st = output(im, 0, &o);
    if (st != CLSEG_OK) return st;
    const char *name = o->name;
    *o = *src;
    o->name = name;
    if (src->kind == V_CONST) { /* values own their data: copy it */
        o->f = NULL;
        o->i = NULL;
        st = make_const(im, o, src->is_float, src->ndim, src->dims);
        if (st != CLSEG_OK) return st;
        if (src->is_float)
            memcpy(o->f, src->f, src->count * sizeof *o->f);
        else
            memcpy(o->i, src->i, src->count * sizeof *o->i);
    } else if (src->kind == V_ACT && src->layer >= 0 &&
               im->src[src->layer].out_value == (int)(src - im->v)) {
        /* the alias is now the layer's output, so a following Relu may still fuse into it */
        im->src[src->layer].out_value = (int)(o - im->v);
    }
    return CLSEG_OK;
}

static clseg_status need_act(importer *im, const value *v, const char *what) {
    if (!v) return bad(im, "missing %s input", what);
    if (v->kind != V_ACT)
        return unsup(im, "its %s input '%s' must be an activation (not a %s)", what, v->name,
                     v->kind == V_CONST ? "constant" : "MaxPool index tensor");
    return CLSEG_OK;
}

static clseg_status need_float_const(importer *im, const value *v, const char *what, int ndim) {
    if (!v) return bad(im, "missing %s input", what);
    if (v->kind != V_CONST || !v->is_float)
        return unsup(im, "its %s '%s' must be a float initializer or constant", what, v->name);
    if (v->ndim != ndim)
        return bad(im, "its %s '%s' has rank %d, not %d", what, v->name, v->ndim, ndim);
    return CLSEG_OK;
}

/* kernel_shape / strides / pads / dilations of a 2-D Conv, ConvTranspose or pool: square kernel,
   equal strides, the same padding on every side, equal dilations (a Conv's only). */
typedef struct window {
    int k, stride, pad, dil;
} window;

static clseg_status window_attrs(importer *im, int kernel_from_weight, int dilation_ok, window *w) {
    const Onnx__NodeProto *n = im->node;
    int64_t ks[2], st[2], pads[4], dil[2];
    if (!attr_ints(n, "kernel_shape", 2, kernel_from_weight, ks) ||
        !attr_ints(n, "strides", 2, 1, st) || !attr_ints(n, "pads", 4, 0, pads) ||
        !attr_ints(n, "dilations", 2, 1, dil))
        return unsup(im, "only 2-D windows are supported (kernel_shape, strides, pads, dilations)");
    if (ks[0] < 1) return bad(im, "no kernel_shape");
    if (kernel_from_weight && (ks[0] != kernel_from_weight || ks[1] != kernel_from_weight))
        return bad(im, "kernel_shape %lldx%lld differs from the weight's", (long long)ks[0],
                   (long long)ks[1]);
    if (ks[0] != ks[1])
        return unsup(im, "kernel %lldx%lld is not square (not supported yet)", (long long)ks[0],
                     (long long)ks[1]);
    if (st[0] != st[1])
        return unsup(im, "strides %lldx%lld differ (not supported yet)", (long long)st[0],
                     (long long)st[1]);
    if ((dil[0] != 1 || dil[1] != 1) && !dilation_ok)
        return unsup(im, "dilated windows are not supported yet");
    if (dil[0] != dil[1] || dil[0] < 1 || dil[0] > 16)
        return unsup(im, "dilations %lldx%lld: clseg takes equal dilations 1..16",
                     (long long)dil[0], (long long)dil[1]);
    const int64_t extent = (ks[0] - 1) * dil[0] + 1; /* the dilated window */
    if (pads[0] != pads[1] || pads[0] != pads[2] || pads[0] != pads[3])
        return unsup(im,
                     "pads %lld,%lld,%lld,%lld are not the same on every side (not supported "
                     "yet)",
                     (long long)pads[0], (long long)pads[1], (long long)pads[2],
                     (long long)pads[3]);
    char ap[32];
    attr_str(n, "auto_pad", "NOTSET", ap, sizeof ap);
    if (strcmp(ap, "NOTSET") && strcmp(ap, "VALID"))
        return unsup(im, "auto_pad %s is not supported (export with explicit pads)", ap);
    if (!strcmp(ap, "VALID")) pads[0] = 0;
    if (ks[0] > 15 || st[0] < 1 || st[0] > 8 || pads[0] < 0 || pads[0] >= extent || pads[0] > 14)
        return unsup(im,
                     "kernel %lld, stride %lld, pad %lld: clseg takes kernels 1..15, strides "
                     "1..8 and pads below the (dilated) kernel size, up to 14",
                     (long long)ks[0], (long long)st[0], (long long)pads[0]);
    w->dil = (int)dil[0];
    w->k = (int)ks[0];
    w->stride = (int)st[0];
    w->pad = (int)pads[0];
    return CLSEG_OK;
}

static clseg_status map_conv(importer *im, int transposed) {
    value *x, *w, *b, *y;
    clseg_status st;
    if ((st = input(im, 0, &x)) || (st = input(im, 1, &w)) || (st = input(im, 2, &b))) return st;
    if ((st = need_act(im, x, "data")) || (st = need_float_const(im, w, "weight", 4))) return st;
    if (b && (st = need_float_const(im, b, "bias", 1))) return st;
    const int64_t group = attr_int(im->node, "group", 1);
    if (group != 1 && (transposed || group < 1 || group > 4096))
        return unsup(im, "group %lld: grouped %s are not supported", (long long)group,
                     transposed ? "transposed convolutions" : "convolutions beyond 4096 groups");
    if (w->dims[2] != w->dims[3])
        return unsup(im, "kernel %lldx%lld is not square (not supported yet)",
                     (long long)w->dims[2], (long long)w->dims[3]);
    if (w->dims[2] < 1 || w->dims[2] > 15)
        return unsup(im, "kernel %lld (clseg: 1..15)", (long long)w->dims[2]);
    window win;
    if ((st = window_attrs(im, (int)w->dims[2], !transposed, &win))) return st;
    int64_t cin = transposed ? w->dims[0] : w->dims[1] * group;
    int64_t cout = transposed ? w->dims[1] : w->dims[0];
    if (cout % group)
        return bad(im, "%lld output channels in %lld groups", (long long)cout, (long long)group);
    if (cin != x->shape.c)
        return bad(im, "the weight has %lld input channels, the input %d", (long long)cin,
                   x->shape.c);
    if (cout < 1 || cout > 4096)
        return unsup(im, "%lld output channels (clseg: 1..4096)", (long long)cout);
    if (b && b->dims[0] != cout)
        return bad(im, "the bias has %lld values for %lld channels", (long long)b->dims[0],
                   (long long)cout);
    shape4 s = x->shape;
    s.c = (int)cout;
    int64_t op[2] = {0, 0};
    if (transposed) {
        if (attr(im->node, "output_shape"))
            return unsup(im, "output_shape is not supported yet (export with output_padding)");
        if (!attr_ints(im->node, "output_padding", 2, 0, op))
            return unsup(im, "output_padding must have 2 values");
        for (int a = 0; a < 2; a++)
            if (op[a] < 0 || op[a] >= win.stride || op[a] > 7)
                return bad(im, "output_padding %lld is not below the stride %d", (long long)op[a],
                           win.stride);
        s.h = (x->shape.h - 1) * win.stride - 2 * win.pad + win.k + (int)op[0];
        s.w = (x->shape.w - 1) * win.stride - 2 * win.pad + win.k + (int)op[1];
    } else {
        const int ke = (win.k - 1) * win.dil + 1;
        if (x->shape.h + 2 * win.pad < ke || x->shape.w + 2 * win.pad < ke)
            return unsup(im, "the %dx%d input is smaller than the kernel", x->shape.h, x->shape.w);
        s.h = (x->shape.h + 2 * win.pad - ke) / win.stride + 1;
        s.w = (x->shape.w + 2 * win.pad - ke) / win.stride + 1;
    }
    if (s.h < 1 || s.w < 1) return unsup(im, "the output would be empty");
    if ((st = output(im, 0, &y))) return st;
    spec_layer *L = NULL;
    if ((st = add_layer(im, transposed ? LAYER_DECONV : LAYER_CONV, &x, 1, s, y, &L))) return st;
    L->filters = (int)cout;
    L->size = win.k;
    L->stride = win.stride;
    L->pad = win.pad;
    L->bias = b != NULL;
    L->bn_eps = 1e-5f;
    L->out_pad_h = (int)op[0];
    L->out_pad_w = (int)op[1];
    L->groups = (int)group;
    L->dilation = win.dil;
    im->src[im->nl - 1].tensor[0] = w;
    im->src[im->nl - 1].tensor[1] = b;
    return CLSEG_OK;
}

/* Readers of the data of `name`: nodes and graph outputs. Shape reads no data: it does not count.
 */
static int data_uses(const importer *im, const char *name) {
    int n = 0;
    for (size_t i = 0; i < im->g->n_node; i++) {
        const Onnx__NodeProto *node = im->g->node[i];
        if (node->op_type && !strcmp(node->op_type, "Shape")) continue;
        for (size_t k = 0; k < node->n_input; k++) n += !strcmp(node->input[k], name);
    }
    for (size_t i = 0; i < im->g->n_output; i++)
        n += im->g->output[i]->name && !strcmp(im->g->output[i]->name, name);
    return n;
}

/* The layer whose current output is x, when x can take a fused epilogue (nothing else reads x). */
static spec_layer *fusable(importer *im, const value *x) {
    if (x->kind != V_ACT || x->layer < 0 || data_uses(im, x->name) != 1) return NULL;
    if (im->src[x->layer].out_value != (int)(x - im->v)) return NULL;
    return &im->layers[x->layer];
}

/* Re-points the layer's output at the node's output 0 (a fused BatchNormalization or Relu). */
static clseg_status fuse_output(importer *im, spec_layer *L) {
    value *y;
    clseg_status st = output(im, 0, &y);
    if (st != CLSEG_OK) return st;
    int li = (int)(L - im->layers);
    y->kind = V_ACT;
    y->layer = li;
    y->shape = im->src[li].shape;
    im->src[li].out_value = (int)(y - im->v);
    note_node(&im->src[li], im->node->name);
    return CLSEG_OK;
}

static clseg_status map_batchnorm(importer *im, int unused) {
    (void)unused;
    value *x, *p[4];
    clseg_status st;
    if ((st = input(im, 0, &x))) return st;
    for (int k = 0; k < 4; k++) {
        if ((st = input(im, (size_t)k + 1, &p[k]))) return st;
        if ((st = need_float_const(im, p[k], "statistics", 1))) return st;
    }
    if ((st = need_act(im, x, "data"))) return st;
    if (attr_int(im->node, "training_mode", 0) != 0 || attr_int(im->node, "spatial", 1) != 1)
        return unsup(im,
                     "only inference BatchNormalization (training_mode 0, spatial 1) is supported");
    for (size_t k = 1; k < im->node->n_output; k++)
        if (im->node->output[k][0] && data_uses(im, im->node->output[k]))
            return unsup(im, "the training outputs are not supported");
    float eps = attr_float(im->node, "epsilon", 1e-5f);
    if (!(eps > 0.0f && eps <= 0.1f))
        return unsup(im, "epsilon %g is outside clseg's (0, 0.1]", (double)eps);
    for (int k = 0; k < 4; k++)
        if (p[k]->dims[0] != x->shape.c)
            return bad(im, "'%s' has %lld values for %d channels", p[k]->name,
                       (long long)p[k]->dims[0], x->shape.c);
    spec_layer *L = fusable(im, x);
    if (!L || (L->type != LAYER_CONV && L->type != LAYER_DECONV) || L->batchnorm ||
        L->act != ACT_NONE)
        return unsup(im, "a BatchNormalization is supported only right after a Conv or "
                         "ConvTranspose whose output nothing else reads (standalone "
                         "BatchNormalization is not supported yet)");
    L->batchnorm = 1;
    L->bn_eps = eps;
    for (int k = 0; k < 4; k++) im->src[L - im->layers].tensor[2 + k] = p[k];
    return fuse_output(im, L);
}

/* Relu, Clip(0, 6), HardSwish, HardSigmoid (PyTorch's alpha 1/6, beta 1/2) and Sigmoid: fused
   into the layer before when nothing else reads its output (a conv takes every one, a
   ConvTranspose and an Add only Relu), else an [act] layer. `arg` is the act_kind; Clip and
   HardSigmoid check their parameters here. */
static clseg_status map_act(importer *im, int act) {
    value *x, *y;
    clseg_status st;
    if ((st = input(im, 0, &x)) || (st = need_act(im, x, "data"))) return st;
    if (act == ACT_RELU6) { /* Clip: min / max as attributes (opset < 11) or inputs */
        float lim[2] = {-INFINITY, INFINITY};
        if (im->opset < 11) {
            lim[0] = attr_float(im->node, "min", -INFINITY);
            lim[1] = attr_float(im->node, "max", INFINITY);
        } else {
            for (int k = 0; k < 2; k++) {
                value *v;
                if ((st = input(im, (size_t)k + 1, &v))) return st;
                if (!v) continue;
                if (v->kind != V_CONST || v->count != 1)
                    return unsup(im, "its %s must be a constant scalar", k ? "max" : "min");
                lim[k] = (float)const_at(v, 0);
            }
        }
        if (lim[0] == 0.0f && lim[1] == INFINITY)
            act = ACT_RELU;
        else if (lim[0] != 0.0f || lim[1] != 6.0f)
            return unsup(im, "Clip(%g, %g): only Clip(0, 6) (ReLU6) and Clip(0) are supported",
                         (double)lim[0], (double)lim[1]);
    }
    if (act == ACT_HARDSIGMOID) {
        const float a = attr_float(im->node, "alpha", 0.2f), b = attr_float(im->node, "beta", 0.5f);
        if (fabsf(a - 1.0f / 6.0f) > 1e-6f || b != 0.5f)
            return unsup(im,
                         "HardSigmoid alpha %g, beta %g: only PyTorch's alpha 1/6, beta 0.5 is "
                         "supported",
                         (double)a, (double)b);
    }
    spec_layer *L = fusable(im, x);
    if (L && L->act == ACT_NONE &&
        (L->type == LAYER_CONV ||
         (act == ACT_RELU && (L->type == LAYER_DECONV || L->type == LAYER_ADD)))) {
        L->act = act;
        return fuse_output(im, L);
    }
    if ((st = output(im, 0, &y)) || (st = add_layer(im, LAYER_ACT, &x, 1, x->shape, y, &L)))
        return st;
    L->act = act;
    return CLSEG_OK;
}

static clseg_status map_gap(importer *im, int unused) {
    (void)unused;
    value *x, *y;
    clseg_status st;
    if ((st = input(im, 0, &x)) || (st = need_act(im, x, "data"))) return st;
    shape4 s = {x->shape.n, x->shape.c, 1, 1};
    spec_layer *L;
    if ((st = output(im, 0, &y))) return st;
    return add_layer(im, LAYER_GAP, &x, 1, s, y, &L);
}

static clseg_status map_pool(importer *im, int is_max) {
    value *x, *y, *idx = NULL;
    clseg_status st;
    if ((st = input(im, 0, &x)) || (st = need_act(im, x, "data"))) return st;
    window win;
    if ((st = window_attrs(im, 0, 0, &win))) return st;
    if (win.pad) return unsup(im, "padded pooling is not supported yet");
    if (attr_int(im->node, "storage_order", 0) != 0)
        return unsup(im, "storage_order 1 is not supported");
    int ceil_mode = attr_int(im->node, "ceil_mode", 0) != 0;
    if (!is_max && ceil_mode && attr_int(im->node, "count_include_pad", 0) != 0)
        return unsup(im, "count_include_pad with ceil_mode is not supported yet");
    shape4 s = x->shape;
    int64_t dim[2] = {x->shape.h, x->shape.w};
    for (int a = 0; a < 2; a++) {
        int64_t span = dim[a] - win.k;
        int64_t o =
            ceil_mode ? (span >= 0 ? (span + win.stride - 1) / win.stride : -((-span) / win.stride))
                      : (span >= 0 ? span / win.stride : -1);
        o += 1;
        if (o < 1) return unsup(im, "the %dx%d input is smaller than the window", s.h, s.w);
        if (a == 0)
            s.h = (int)o;
        else
            s.w = (int)o;
    }
    if ((st = output(im, 0, &y))) return st;
    if (is_max && (st = output(im, 1, &idx))) return st;
    spec_layer *L = NULL;
    if ((st = add_layer(im, is_max ? LAYER_MAXPOOL : LAYER_AVGPOOL, &x, 1, s, y, &L))) return st;
    L->size = win.k;
    L->stride = win.stride;
    L->ceil_mode = ceil_mode;
    if (idx) {
        idx->kind = V_INDICES;
        idx->layer = im->nl - 1;
        idx->shape = s;
    }
    return CLSEG_OK;
}

static clseg_status map_unpool(importer *im, int unused) {
    (void)unused;
    value *x, *idx, *shape_in, *y;
    clseg_status st;
    if ((st = input(im, 0, &x)) || (st = input(im, 1, &idx)) || (st = input(im, 2, &shape_in)))
        return st;
    if ((st = need_act(im, x, "data"))) return st;
    if (!idx || idx->kind != V_INDICES)
        return unsup(im, "its indices must be the second output of a MaxPool");
    const spec_layer *P = &im->layers[idx->layer];
    window win;
    if ((st = window_attrs(im, 0, 0, &win))) return st;
    if (win.k != P->size || win.stride != P->stride || win.pad)
        return unsup(im, "kernel %d, stride %d, pad %d differ from its MaxPool's %d, %d, 0", win.k,
                     win.stride, win.pad, P->size, P->stride);
    if (x->shape.c != idx->shape.c || x->shape.h != idx->shape.h || x->shape.w != idx->shape.w)
        return unsup(im, "the input is %dx%dx%d but its MaxPool's output %dx%dx%d", x->shape.c,
                     x->shape.h, x->shape.w, idx->shape.c, idx->shape.h, idx->shape.w);
    shape4 pin = P->inputs[0] == SPEC_INPUT ? im->v[im->in].shape : im->src[P->inputs[0]].shape;
    int64_t want[2] = {(int64_t)(x->shape.h - 1) * win.stride + win.k,
                       (int64_t)(x->shape.w - 1) * win.stride + win.k};
    if (shape_in) {
        int64_t os[8];
        int n;
        if ((st = const_ints(im, shape_in, os, 8, &n))) return st;
        if (n != 4) return bad(im, "output_shape must have 4 values");
        want[0] = os[2];
        want[1] = os[3];
    }
    if (want[0] != pin.h || want[1] != pin.w)
        return unsup(im,
                     "its %lldx%lld output differs from its MaxPool's %dx%d input (clseg "
                     "unpools to the pool's input size)",
                     (long long)want[0], (long long)want[1], pin.h, pin.w);
    shape4 s = {x->shape.n, x->shape.c, pin.h, pin.w};
    if ((st = output(im, 0, &y))) return st;
    spec_layer *L = NULL;
    if ((st = add_layer(im, LAYER_UNPOOL, &x, 1, s, y, &L))) return st;
    L->pool_layer = idx->layer;
    return CLSEG_OK;
}

/* ---- Resize / Upsample ---------------------------------------------------------------------- */

/* The source index ONNX's nearest Resize reads for output x (one axis). */
static int64_t nearest_source(const char *ctm, const char *nmode, int64_t x, int64_t in,
                              int64_t out, double scale) {
    double s;
    if (!strcmp(ctm, "asymmetric"))
        s = (double)x / scale;
    else if (!strcmp(ctm, "align_corners"))
        s = out == 1 ? 0.0 : (double)x * (double)(in - 1) / (double)(out - 1);
    else if (!strcmp(ctm, "pytorch_half_pixel"))
        s = out > 1 ? ((double)x + 0.5) / scale - 0.5 : 0.0;
    else if (!strcmp(ctm, "tf_half_pixel_for_nn"))
        s = ((double)x + 0.5) / scale;
    else /* half_pixel */
        s = ((double)x + 0.5) / scale - 0.5;
    double r;
    if (!strcmp(nmode, "floor"))
        r = floor(s);
    else if (!strcmp(nmode, "ceil"))
        r = ceil(s);
    else if (!strcmp(nmode, "round_prefer_ceil"))
        r = floor(s + 0.5);
    else /* round_prefer_floor */
        r = (s - floor(s) == 0.5) ? floor(s) : floor(s + 0.5);
    return CLSEG_MAX(0, CLSEG_MIN(in - 1, (int64_t)r));
}

/* Resize (opset >= 11) or Upsample (opset 7..9) by an integer factor into an [upsample] layer. */
static clseg_status map_resize(importer *im, int is_upsample) {
    const Onnx__NodeProto *n = im->node;
    value *x, *scales = NULL, *sizes = NULL;
    clseg_status st;
    if ((st = input(im, 0, &x)) || (st = need_act(im, x, "data"))) return st;
    char mode[32], ctm[32], nmode[32];
    attr_str(n, "mode", "nearest", mode, sizeof mode);
    if (is_upsample) {
        snprintf(ctm, sizeof ctm, "asymmetric");
        snprintf(nmode, sizeof nmode, "floor");
    } else {
        if (im->opset < 11) return unsup(im, "Resize before opset 11 is not supported");
        attr_str(n, "coordinate_transformation_mode", "half_pixel", ctm, sizeof ctm);
        attr_str(n, "nearest_mode", "round_prefer_floor", nmode, sizeof nmode);
    }
    int bilinear = !strcmp(mode, "linear") || !strcmp(mode, "bilinear");
    if (!bilinear && strcmp(mode, "nearest"))
        return unsup(im, "mode '%s' is not supported (nearest and linear are)", mode);
    if (!strcmp(ctm, "tf_crop_and_resize"))
        return unsup(im, "coordinate_transformation_mode tf_crop_and_resize is not supported");
    if (!attr_is(n, "keep_aspect_ratio_policy", "stretch", "stretch"))
        return unsup(im, "keep_aspect_ratio_policy other than stretch is not supported");
    /* Which axes the scales / sizes cover (opset 18 `axes`; all four before). */
    int axes[4] = {0, 1, 2, 3}, n_axes = 4;
    const Onnx__AttributeProto *ax = attr(n, "axes");
    if (ax && ax->n_ints) {
        if (ax->n_ints > 4) return bad(im, "axes has %zu values", ax->n_ints);
        n_axes = (int)ax->n_ints;
        for (int a = 0; a < n_axes; a++) {
            int64_t v = ax->ints[a] < 0 ? ax->ints[a] + 4 : ax->ints[a];
            if (v < 0 || v > 3) return bad(im, "axis %lld is out of range", (long long)ax->ints[a]);
            axes[a] = (int)v;
        }
    }
    double scale[4] = {1, 1, 1, 1};
    int64_t in_dim[4] = {x->shape.n, x->shape.c, x->shape.h, x->shape.w}, out_dim[4];
    memcpy(out_dim, in_dim, sizeof out_dim);
    if (is_upsample) {
        const Onnx__AttributeProto *a = attr(n, "scales");
        if (im->opset >= 9) {
            if ((st = input(im, 1, &scales))) return st;
        } else if (!a || a->n_floats != 4) {
            return bad(im, "Upsample needs 4 scales");
        } else {
            for (int k = 0; k < 4; k++) scale[k] = a->floats[k];
        }
    } else {
        if ((st = input(im, 2, &scales)) || (st = input(im, 3, &sizes))) return st;
    }
    if (scales && scales->kind != V_CONST) return unsup(im, "the scales must be constant");
    if (sizes && sizes->kind != V_CONST)
        return unsup(im, "the sizes must be constant (or fold to constants from the input shape)");
    if (sizes && sizes->count) {
        int64_t sz[4];
        int k;
        if ((st = const_ints(im, sizes, sz, 4, &k))) return st;
        if (k != n_axes) return bad(im, "sizes has %d values for %d axes", k, n_axes);
        for (int a = 0; a < n_axes; a++) {
            out_dim[axes[a]] = sz[a];
            scale[axes[a]] = (double)sz[a] / (double)in_dim[axes[a]];
        }
    } else if (scales && scales->count) {
        if (!scales->is_float || scales->count != (size_t)n_axes)
            return bad(im, "scales must hold %d floats", n_axes);
        for (int a = 0; a < n_axes; a++) scale[axes[a]] = scales->f[a];
    } else if (!is_upsample || im->opset >= 9) {
        return bad(im, "neither scales nor sizes are given");
    }
    /* Beyond 2^20 no size fits a tensor; the bound keeps the conversions below defined. */
    for (int a = 0; a < 4; a++)
        if (!(scale[a] > 0 && scale[a] <= 1 << 20))
            return bad(im, "scale %g is out of range", scale[a]);
    if (!(sizes && sizes->count))
        for (int a = 0; a < 4; a++) out_dim[a] = (int64_t)floor((double)in_dim[a] * scale[a]);
    if (out_dim[0] != in_dim[0] || out_dim[1] != in_dim[1])
        return unsup(im, "only the height and width may be resized");
    if (attr_int(n, "antialias", 0) != 0) return unsup(im, "antialiased resizing is not supported");
    static const char *const coords[RESIZE_COORD_COUNT] = {
        "half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_half_pixel_for_nn"};
    static const char *const rounds[RESIZE_ROUND_COUNT] = {"round_prefer_floor",
                                                           "round_prefer_ceil", "floor", "ceil"};
    int coord = -1, round = -1;
    if (bilinear && is_upsample) snprintf(ctm, sizeof ctm, "asymmetric"); /* Upsample's rule */
    for (int k = 0; k < RESIZE_COORD_COUNT; k++)
        if (!strcmp(ctm, coords[k])) coord = k;
    for (int k = 0; k < RESIZE_ROUND_COUNT; k++)
        if (!strcmp(nmode, rounds[k])) round = k;
    if (coord < 0) return unsup(im, "coordinate_transformation_mode '%s' is not supported", ctm);
    if (round < 0) return unsup(im, "nearest_mode '%s' is not supported", nmode);
    /* Sizes read off a layer's (or the input's) shape: resize to that layer's size at any input
       size. */
    const value *like = NULL;
    if (sizes && sizes->count == (size_t)n_axes) {
        int ph = 0, pw = 0;
        for (int a = 0; a < n_axes && a < MAX_DIMS; a++) {
            if (axes[a] == 2) ph = sizes->prov[a];
            if (axes[a] == 3) pw = sizes->prov[a];
        }
        if (ph && pw && PROV_VALUE(ph) == PROV_VALUE(pw) && PROV_DIM(ph) == 2 && PROV_DIM(pw) == 3)
            like = &im->v[PROV_VALUE(ph)];
    }
    if (like && (like->kind != V_ACT || like->shape.h != out_dim[2] || like->shape.w != out_dim[3]))
        like = NULL;
    /* Whether nearest reads the pixels floor(x / f) does (identity for f = 1). */
    int64_t f = out_dim[2] / CLSEG_MAX(in_dim[2], 1);
    int by_factor = f >= 1 && f <= 16 && out_dim[2] == in_dim[2] * f && out_dim[3] == in_dim[3] * f;
    if (by_factor && !bilinear) {
        for (int a = 2; a < 4 && by_factor; a++)
            for (int64_t o = 0; o < out_dim[a] && by_factor; o++)
                by_factor = nearest_source(ctm, nmode, o, in_dim[a], out_dim[a], scale[a]) == o / f;
    } else if (by_factor) {
        /* clseg's [upsample] bilinear is half_pixel (pytorch_half_pixel for outputs > 1) */
        by_factor = f == 1 || coord == RESIZE_HALF_PIXEL || coord == RESIZE_PYTORCH_HALF_PIXEL;
    }
    if (by_factor && (f == 1 || !like)) {
        if (f == 1) return alias(im, x);
        value *y;
        if ((st = output(im, 0, &y))) return st;
        shape4 s = {x->shape.n, x->shape.c, (int)out_dim[2], (int)out_dim[3]};
        spec_layer *L = NULL;
        if ((st = add_layer(im, LAYER_UPSAMPLE, &x, 1, s, y, &L))) return st;
        L->factor = (int)f;
        L->bilinear = bilinear;
        return CLSEG_OK;
    }
    if (out_dim[2] < 1 || out_dim[3] < 1 || out_dim[2] > CLSEG_MAX_DIM ||
        out_dim[3] > CLSEG_MAX_DIM)
        return unsup(im, "an output of %lldx%lld", (long long)out_dim[2], (long long)out_dim[3]);
    value *y;
    if ((st = output(im, 0, &y))) return st;
    shape4 s = {x->shape.n, x->shape.c, (int)out_dim[2], (int)out_dim[3]};
    spec_layer *L = NULL;
    if ((st = add_layer(im, LAYER_RESIZE, &x, 1, s, y, &L))) return st;
    L->bilinear = bilinear;
    L->coord = coord;
    L->round = bilinear ? 0 : round;
    if (like) {
        L->match = like->layer;
    } else if (sizes && sizes->count) {
        L->out_h = (int)out_dim[2];
        L->out_w = (int)out_dim[3];
    } else {
        if (!(scale[2] >= 1.0 / 1024 && scale[2] <= 1024 && scale[3] >= 1.0 / 1024 &&
              scale[3] <= 1024))
            return unsup(im, "scales %g, %g (clseg: 1/1024 .. 1024)", scale[2], scale[3]);
        L->scale_h = (float)scale[2];
        L->scale_w = (float)scale[3];
    }
    return CLSEG_OK;
}

/* ---- Concat, Add, and the constant folding of shape arithmetic ------------------------------ */

static clseg_status fold_concat(importer *im, value *const *in, int n_in, int64_t axis) {
    const value *a = in[0];
    int nd = a->ndim, is_float = 0;
    if (axis < 0) axis += nd;
    if (nd < 1 || axis < 0 || axis >= nd)
        return bad(im, "axis %lld is out of range", (long long)axis);
    int64_t dims[MAX_DIMS];
    memcpy(dims, a->dims, sizeof dims);
    dims[axis] = 0;
    for (int k = 0; k < n_in; k++) {
        if (in[k]->ndim != nd) return bad(im, "inputs of different ranks");
        for (int d = 0; d < nd; d++)
            if (d != axis && in[k]->dims[d] != a->dims[d])
                return bad(im, "inputs of different shapes");
        dims[axis] += in[k]->dims[axis];
        is_float |= in[k]->is_float;
    }
    value *y;
    clseg_status st = output(im, 0, &y);
    if (st == CLSEG_OK) st = make_const(im, y, is_float, nd, dims);
    if (st != CLSEG_OK) return st;
    if (nd == 1) /* provenance of the elements, in order */
        for (int k = 0, at = 0; k < n_in; k++)
            for (size_t e = 0; e < in[k]->count; e++, at++)
                if (at < MAX_DIMS && e < MAX_DIMS) y->prov[at] = in[k]->prov[e];
    size_t outer = 1, pos = 0;
    for (int d = 0; d < axis; d++) outer *= (size_t)dims[d];
    for (size_t o = 0; o < outer; o++)
        for (int k = 0; k < n_in; k++) {
            size_t chunk = outer ? in[k]->count / outer : 0;
            for (size_t j = 0; j < chunk; j++, pos++) {
                double x = const_at(in[k], o * chunk + j);
                if (is_float)
                    y->f[pos] = (float)x;
                else
                    y->i[pos] = in[k]->i[o * chunk + j];
            }
        }
    return CLSEG_OK;
}

static clseg_status map_concat(importer *im, int unused) {
    (void)unused;
    value *in[64];
    int n_in = (int)im->node->n_input, n_const = 0;
    clseg_status st;
    if (n_in < 1 || n_in > 64) return unsup(im, "%d inputs (1..64 supported)", n_in);
    for (int k = 0; k < n_in; k++) {
        if ((st = input(im, (size_t)k, &in[k]))) return st;
        if (!in[k]) return bad(im, "an empty input name");
        n_const += in[k]->kind == V_CONST;
    }
    int64_t axis = attr_int(im->node, "axis", 1);
    if (n_const == n_in) return fold_concat(im, in, n_in, axis);
    for (int k = 0; k < n_in; k++)
        if ((st = need_act(im, in[k], "data"))) return st;
    if (axis != 1 && axis != -3)
        return unsup(im, "concatenation along axis %lld (only channels)", (long long)axis);
    if (n_in == 1) return alias(im, in[0]);
    value *acc = in[0];
    for (int k = 1; k < n_in; k++) {
        const shape4 a = acc->shape, b = in[k]->shape;
        if (a.n != b.n || a.h != b.h || a.w != b.w) return bad(im, "inputs of different sizes");
        if (a.c + b.c > 65536) return unsup(im, "too many channels");
        value *y;
        /* Concat of three or more is a chain of two-input [concat] layers; the intermediate
           results need names of their own. */
        if (k == n_in - 1) {
            st = output(im, 0, &y);
        } else {
            if (im->nv == im->cap)
                return clseg_fail(im->err, im->errlen, CLSEG_ERR_INTERNAL, "values");
            y = &im->v[im->nv++];
            memset(y, 0, sizeof *y);
            y->name = "(concat)";
        }
        if (st != CLSEG_OK) return st;
        value *pair[2] = {acc, in[k]};
        spec_layer *L = NULL;
        shape4 s = {a.n, a.c + b.c, a.h, a.w};
        if ((st = add_layer(im, LAYER_CONCAT, pair, 2, s, y, &L))) return st;
        acc = y;
    }
    return CLSEG_OK;
}

/* Add / Sub / Mul / Div of constants (shape arithmetic), elementwise or with a scalar. */
static clseg_status fold_binary(importer *im, const value *a, const value *b, char op) {
    if (a->count != b->count && a->count != 1 && b->count != 1)
        return unsup(im, "broadcasting of constants other than with a scalar");
    const value *big = a->count >= b->count ? a : b;
    int is_float = a->is_float || b->is_float;
    value *y;
    clseg_status st = output(im, 0, &y);
    if (st == CLSEG_OK) st = make_const(im, y, is_float, big->ndim, big->dims);
    if (st != CLSEG_OK) return st;
    for (size_t k = 0; k < y->count; k++) {
        size_t ka = a->count == 1 ? 0 : k, kb = b->count == 1 ? 0 : k;
        if (is_float) {
            double x = const_at(a, ka), z = const_at(b, kb);
            y->f[k] = (float)(op == '+' ? x + z : op == '-' ? x - z : op == '*' ? x * z : x / z);
        } else {
            int64_t x = a->i[ka], z = b->i[kb];
            if (op == '/' && (z == 0 || (x == INT64_MIN && z == -1)))
                return bad(im, "division by zero");
            /* wrap-around instead of overflow: shape arithmetic never gets there */
            y->i[k] = op == '+'   ? (int64_t)((uint64_t)x + (uint64_t)z)
                      : op == '-' ? (int64_t)((uint64_t)x - (uint64_t)z)
                      : op == '*' ? (int64_t)((uint64_t)x * (uint64_t)z)
                                  : x / z;
        }
    }
    return CLSEG_OK;
}

static clseg_status map_binary(importer *im, int op) {
    value *a, *b;
    clseg_status st;
    if ((st = input(im, 0, &a)) || (st = input(im, 1, &b))) return st;
    if (!a || !b) return bad(im, "two inputs needed");
    if (a->kind == V_CONST && b->kind == V_CONST) return fold_binary(im, a, b, (char)op);
    if (op == '*' && a->kind == V_ACT && b->kind == V_ACT) {
        /* x * HardSigmoid(x) right after a conv, PyTorch's HardSwish before opset 14: the
           [act] layer just made for the HardSigmoid is dropped and the conv takes hardswish */
        for (int k = 0; k < 2; k++) {
            const value *s = k ? a : b, *v = k ? b : a;
            if (s->layer != im->nl - 1 || v->layer < 0 || s->layer < 0) continue;
            const spec_layer *A = &im->layers[s->layer];
            spec_layer *C = &im->layers[v->layer];
            if (A->type != LAYER_ACT || A->act != ACT_HARDSIGMOID || A->inputs[0] != v->layer ||
                C->type != LAYER_CONV || C->act != ACT_NONE ||
                im->src[v->layer].out_value != (int)(v - im->v) || data_uses(im, v->name) != 2 ||
                data_uses(im, s->name) != 1)
                continue;
            note_node(&im->src[v->layer], im->src[s->layer].node);
            im->nl--;
            C->act = ACT_HARDSWISH;
            return fuse_output(im, C);
        }
        /* squeeze-excite: x * s, s one value per channel (either operand) */
        if (a->shape.h * a->shape.w == 1 && b->shape.h * b->shape.w != 1) {
            value *t = a;
            a = b, b = t;
        }
        const shape4 as = a->shape, bs = b->shape;
        if (as.n != bs.n || as.c != bs.c ||
            !((bs.h == 1 && bs.w == 1) || (bs.h == as.h && bs.w == as.w)))
            return unsup(im,
                         "Mul of %dx%dx%dx%d and %dx%dx%dx%d: clseg multiplies equal shapes "
                         "or broadcasts one value per channel",
                         as.n, as.c, as.h, as.w, bs.n, bs.c, bs.h, bs.w);
        value *y, *pair[2] = {a, b};
        if ((st = output(im, 0, &y))) return st;
        spec_layer *L = NULL;
        return add_layer(im, LAYER_MUL, pair, 2, as, y, &L);
    }
    if (op != '+' || a->kind != V_ACT || b->kind != V_ACT)
        return unsup(im,
                     "only the sum or product of two activations is supported (an operand "
                     "'%s' is a constant: not supported yet)",
                     a->kind == V_CONST ? a->name : b->name);
    if (memcmp(&a->shape, &b->shape, sizeof a->shape))
        return unsup(im, "broadcasting (%dx%dx%dx%d + %dx%dx%dx%d) is not supported yet",
                     a->shape.n, a->shape.c, a->shape.h, a->shape.w, b->shape.n, b->shape.c,
                     b->shape.h, b->shape.w);
    value *y, *pair[2] = {a, b};
    if ((st = output(im, 0, &y))) return st;
    spec_layer *L = NULL;
    return add_layer(im, LAYER_ADD, pair, 2, a->shape, y, &L);
}

static clseg_status map_constant(importer *im, int unused) {
    (void)unused;
    const Onnx__NodeProto *n = im->node;
    value *y;
    clseg_status st = output(im, 0, &y);
    if (st != CLSEG_OK) return st;
    const Onnx__AttributeProto *a;
    if ((a = attr(n, "value")) && a->t) return tensor_value(im, a->t, y);
    int64_t one = 1, cnt;
    if ((a = attr(n, "value_float")) && a->has_f) {
        if ((st = make_const(im, y, 1, 0, &one))) return st;
        y->f[0] = a->f;
        return CLSEG_OK;
    }
    if ((a = attr(n, "value_int")) && a->has_i) {
        if ((st = make_const(im, y, 0, 0, &one))) return st;
        y->i[0] = a->i;
        return CLSEG_OK;
    }
    if ((a = attr(n, "value_floats"))) {
        cnt = (int64_t)a->n_floats;
        if ((st = make_const(im, y, 1, 1, &cnt))) return st;
        memcpy(y->f, a->floats, a->n_floats * sizeof *y->f);
        return CLSEG_OK;
    }
    if ((a = attr(n, "value_ints"))) {
        cnt = (int64_t)a->n_ints;
        if ((st = make_const(im, y, 0, 1, &cnt))) return st;
        memcpy(y->i, a->ints, a->n_ints * sizeof *y->i);
        return CLSEG_OK;
    }
    return unsup(im, "only tensor, float and int values are supported");
}

static clseg_status map_shape(importer *im, int unused) {
    (void)unused;
    value *x, *y;
    clseg_status st;
    if ((st = input(im, 0, &x))) return st;
    if (!x || x->kind == V_UNDEF) return bad(im, "no input");
    int64_t d[MAX_DIMS];
    int nd;
    if (x->kind == V_CONST) {
        nd = x->ndim;
        memcpy(d, x->dims, sizeof d);
    } else {
        nd = 4;
        int64_t s[4] = {x->shape.n, x->shape.c, x->shape.h, x->shape.w};
        memcpy(d, s, sizeof s);
    }
    int64_t start = attr_int(im->node, "start", 0), end = attr_int(im->node, "end", nd);
    if (start < 0) start += nd;
    if (end < 0) end += nd;
    start = CLSEG_MAX(0, CLSEG_MIN(nd, start));
    end = CLSEG_MAX(start, CLSEG_MIN(nd, end));
    int64_t len = end - start;
    if ((st = output(im, 0, &y)) || (st = make_const(im, y, 0, 1, &len))) return st;
    for (int64_t k = 0; k < len; k++) y->i[k] = d[start + k];
    for (int64_t k = 0; x->kind == V_ACT && k < len && k < MAX_DIMS; k++)
        y->prov[k] = PROV((int)(x - im->v), (int)(start + k));
    return CLSEG_OK;
}

static clseg_status map_gather(importer *im, int unused) {
    (void)unused;
    value *data, *idx, *y;
    clseg_status st;
    if ((st = input(im, 0, &data)) || (st = input(im, 1, &idx))) return st;
    if (!data || !idx || data->kind != V_CONST || idx->kind != V_CONST || idx->is_float)
        return unsup(im, "only Gather of constants (shape arithmetic) is supported");
    int64_t axis = attr_int(im->node, "axis", 0);
    if (axis < 0) axis += data->ndim;
    if (axis < 0 || axis >= data->ndim) return bad(im, "axis out of range");
    if (data->ndim - 1 + idx->ndim > MAX_DIMS) return unsup(im, "rank too large");
    int64_t dims[MAX_DIMS];
    int nd = 0;
    size_t outer = 1, inner = 1;
    for (int d = 0; d < axis; d++) dims[nd++] = data->dims[d], outer *= (size_t)data->dims[d];
    for (int d = 0; d < idx->ndim; d++) dims[nd++] = idx->dims[d];
    for (int d = (int)axis + 1; d < data->ndim; d++)
        dims[nd++] = data->dims[d], inner *= (size_t)data->dims[d];
    if ((st = output(im, 0, &y)) || (st = make_const(im, y, data->is_float, nd, dims))) return st;
    int64_t len = data->dims[axis];
    size_t pos = 0;
    for (size_t o = 0; o < outer; o++)
        for (size_t j = 0; j < idx->count; j++) {
            int64_t k = idx->i[j] < 0 ? idx->i[j] + len : idx->i[j];
            if (k < 0 || k >= len)
                return bad(im, "index %lld is out of range", (long long)idx->i[j]);
            for (size_t e = 0; e < inner; e++, pos++) {
                size_t from = (o * (size_t)len + (size_t)k) * inner + e;
                if (y->is_float)
                    y->f[pos] = data->f[from];
                else
                    y->i[pos] = data->i[from];
                if (pos < MAX_DIMS && from < MAX_DIMS) y->prov[pos] = data->prov[from];
            }
        }
    return CLSEG_OK;
}

static clseg_status map_slice(importer *im, int unused) {
    (void)unused;
    value *data, *y, *in[4];
    clseg_status st;
    if (im->opset < 10) return unsup(im, "Slice before opset 10 is not supported");
    if ((st = input(im, 0, &data))) return st;
    for (int k = 0; k < 4; k++)
        if ((st = input(im, (size_t)k + 1, &in[k]))) return st;
    if (!data || data->kind != V_CONST || data->ndim != 1 || !in[0] || !in[1])
        return unsup(im, "only Slice of 1-D constants (shape arithmetic) is supported");
    int64_t v[4] = {0, 0, 0, 1};
    for (int k = 0; k < 4; k++) {
        int n = 0;
        if (in[k] && (st = const_ints(im, in[k], &v[k], 1, &n))) return st;
        if (in[k] && n != 1) return unsup(im, "a slice of one axis is expected");
    }
    if (v[2] != 0 && v[2] != -1) return bad(im, "axis %lld of a 1-D tensor", (long long)v[2]);
    int64_t len = data->dims[0], start = v[0], end = v[1], step = v[3];
    if (step == 0) return bad(im, "step 0");
    if (start < 0) start += len;
    if (end < 0) end += len;
    if (step > 0) {
        start = CLSEG_MAX(0, CLSEG_MIN(len, start));
        end = CLSEG_MAX(0, CLSEG_MIN(len, end));
    } else {
        start = CLSEG_MAX(-1, CLSEG_MIN(len - 1, start));
        end = CLSEG_MAX(-1, CLSEG_MIN(len - 1, end));
    }
    int64_t n = 0;
    for (int64_t k = start; step > 0 ? k < end : k > end; k += step) n++;
    if ((st = output(im, 0, &y)) || (st = make_const(im, y, data->is_float, 1, &n))) return st;
    int64_t pos = 0;
    for (int64_t k = start; step > 0 ? k < end : k > end; k += step, pos++) {
        if (y->is_float)
            y->f[pos] = data->f[k];
        else
            y->i[pos] = data->i[k];
        if (pos < MAX_DIMS && k < MAX_DIMS) y->prov[pos] = data->prov[k];
    }
    return CLSEG_OK;
}

/* Unsqueeze / Squeeze of a constant: the values stay, the shape changes. */
static clseg_status map_squeeze(importer *im, int unsqueeze) {
    value *x, *axes_in, *y;
    clseg_status st;
    if ((st = input(im, 0, &x)) || (st = input(im, 1, &axes_in))) return st;
    if (!x || x->kind != V_CONST)
        return unsup(im, "only constants (shape arithmetic) can be %ssqueezed",
                     unsqueeze ? "un" : "");
    int64_t axes[MAX_DIMS];
    int n_axes = 0;
    if (im->opset >= 13) {
        if (axes_in && (st = const_ints(im, axes_in, axes, MAX_DIMS, &n_axes))) return st;
    } else {
        const Onnx__AttributeProto *a = attr(im->node, "axes");
        n_axes = a ? (int)CLSEG_MIN(a->n_ints, (size_t)MAX_DIMS) : 0;
        for (int k = 0; k < n_axes; k++) axes[k] = a->ints[k];
    }
    int out_nd = unsqueeze ? x->ndim + n_axes : x->ndim;
    if (unsqueeze && (n_axes == 0 || out_nd > MAX_DIMS)) return bad(im, "bad axes");
    int mark[MAX_DIMS] = {0};
    int rank = unsqueeze ? out_nd : x->ndim;
    for (int k = 0; k < n_axes; k++) {
        int64_t a = axes[k] < 0 ? axes[k] + rank : axes[k];
        if (a < 0 || a >= rank || mark[a]) return bad(im, "bad axes");
        mark[a] = 1;
    }
    int64_t dims[MAX_DIMS];
    int nd = 0;
    if (unsqueeze) {
        for (int d = 0, src = 0; d < out_nd; d++) dims[nd++] = mark[d] ? 1 : x->dims[src++];
    } else {
        for (int d = 0; d < x->ndim; d++) {
            int drop = n_axes ? mark[d] : x->dims[d] == 1;
            if (drop && x->dims[d] != 1)
                return bad(im, "squeezing an axis of size %lld", (long long)x->dims[d]);
            if (!drop) dims[nd++] = x->dims[d];
        }
    }
    if ((st = output(im, 0, &y)) || (st = make_const(im, y, x->is_float, nd, dims))) return st;
    memcpy(y->prov, x->prov, sizeof y->prov);
    if (x->is_float)
        memcpy(y->f, x->f, x->count * sizeof *y->f);
    else
        memcpy(y->i, x->i, x->count * sizeof *y->i);
    return CLSEG_OK;
}

static int is_float_type(int64_t t) {
    return t == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT ||
           t == ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE ||
           t == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16 ||
           t == ONNX__TENSOR_PROTO__DATA_TYPE__BFLOAT16;
}

static clseg_status map_cast(importer *im, int unused) {
    (void)unused;
    value *x, *y;
    clseg_status st;
    if ((st = input(im, 0, &x))) return st;
    if (!x || x->kind != V_CONST)
        return unsup(im, "only Cast of constants (shape arithmetic) is supported");
    int to_float = is_float_type(attr_int(im->node, "to", 1));
    if ((st = output(im, 0, &y)) || (st = make_const(im, y, to_float, x->ndim, x->dims))) return st;
    memcpy(y->prov, x->prov, sizeof y->prov);
    for (size_t k = 0; k < x->count; k++) {
        double v = const_at(x, k);
        if (to_float) {
            y->f[k] = (float)v;
        } else {
            if (!(fabs(v) < 9.2e18)) return unsup(im, "a value does not fit an integer");
            y->i[k] = x->is_float ? (int64_t)v : x->i[k];
        }
    }
    return CLSEG_OK;
}

static clseg_status map_constant_of_shape(importer *im, int unused) {
    (void)unused;
    value *x, *y;
    clseg_status st;
    if ((st = input(im, 0, &x))) return st;
    if (!x) return bad(im, "no input");
    int64_t dims[MAX_DIMS];
    int nd;
    if ((st = const_ints(im, x, dims, MAX_DIMS, &nd))) return st;
    value fill = {0};
    const Onnx__AttributeProto *a = attr(im->node, "value");
    if (a && a->t) {
        if ((st = tensor_value(im, a->t, &fill))) {
            value_free(&fill);
            return st;
        }
        if (fill.count != 1) {
            value_free(&fill);
            return bad(im, "value must hold one element");
        }
    }
    double v = a && a->t ? const_at(&fill, 0) : 0.0;
    int is_float = a && a->t ? fill.is_float : 1;
    int64_t iv = a && a->t && !fill.is_float ? fill.i[0] : 0;
    value_free(&fill);
    if ((st = output(im, 0, &y)) || (st = make_const(im, y, is_float, nd, dims))) return st;
    for (size_t k = 0; k < y->count; k++)
        if (is_float)
            y->f[k] = (float)v;
        else
            y->i[k] = iv;
    return CLSEG_OK;
}

static clseg_status map_round(importer *im, int up) {
    value *x, *y;
    clseg_status st;
    if ((st = input(im, 0, &x))) return st;
    if (!x || x->kind != V_CONST) return unsup(im, "only constants are supported");
    if ((st = output(im, 0, &y)) || (st = make_const(im, y, x->is_float, x->ndim, x->dims)))
        return st;
    for (size_t k = 0; k < x->count; k++)
        if (x->is_float)
            y->f[k] = up ? ceilf(x->f[k]) : floorf(x->f[k]);
        else
            y->i[k] = x->i[k];
    return CLSEG_OK;
}

/* Pad is accepted when it pads nothing: PyTorch puts one before a ceil-mode AveragePool. */
static clseg_status map_pad(importer *im, int unused) {
    (void)unused;
    value *x, *pads_in;
    clseg_status st;
    if ((st = input(im, 0, &x)) || (st = input(im, 1, &pads_in))) return st;
    if (!x) return bad(im, "no input");
    int64_t pads[16];
    int n = 0;
    if (im->opset >= 11) {
        if (pads_in && (st = const_ints(im, pads_in, pads, 16, &n))) return st;
    } else {
        const Onnx__AttributeProto *a = attr(im->node, "pads");
        n = a ? (int)CLSEG_MIN(a->n_ints, (size_t)16) : 0;
        for (int k = 0; k < n; k++) pads[k] = a->ints[k];
    }
    for (int k = 0; k < n; k++)
        if (pads[k] != 0) return unsup(im, "padding by a Pad node is not supported yet");
    return alias(im, x);
}

static clseg_status map_passthrough(importer *im, int unused) {
    (void)unused;
    value *x;
    clseg_status st;
    if ((st = input(im, 0, &x))) return st;
    if (!x) return bad(im, "no input");
    for (size_t k = 1; k < im->node->n_output; k++)
        if (im->node->output[k][0] && data_uses(im, im->node->output[k]))
            return unsup(im, "the mask output is not supported");
    return alias(im, x);
}

/* Every op type the importer knows, with its mapper and the mapper's argument. */
static const struct {
    const char *type;
    clseg_status (*map)(importer *im, int arg);
    int arg;
} op_table[] = {
    {"Conv", map_conv, 0},
    {"ConvTranspose", map_conv, 1},
    {"BatchNormalization", map_batchnorm, 0},
    {"Relu", map_act, ACT_RELU},
    {"Clip", map_act, ACT_RELU6},
    {"HardSwish", map_act, ACT_HARDSWISH},
    {"HardSigmoid", map_act, ACT_HARDSIGMOID},
    {"Sigmoid", map_act, ACT_SIGMOID},
    {"GlobalAveragePool", map_gap, 0},
    {"MaxPool", map_pool, 1},
    {"AveragePool", map_pool, 0},
    {"MaxUnpool", map_unpool, 0},
    {"Resize", map_resize, 0},
    {"Upsample", map_resize, 1},
    {"Concat", map_concat, 0},
    {"Add", map_binary, '+'},
    {"Sub", map_binary, '-'},
    {"Mul", map_binary, '*'},
    {"Div", map_binary, '/'},
    {"Constant", map_constant, 0},
    {"Shape", map_shape, 0},
    {"Gather", map_gather, 0},
    {"Slice", map_slice, 0},
    {"Unsqueeze", map_squeeze, 1},
    {"Squeeze", map_squeeze, 0},
    {"Cast", map_cast, 0},
    {"ConstantOfShape", map_constant_of_shape, 0},
    {"Floor", map_round, 0},
    {"Ceil", map_round, 1},
    {"Pad", map_pad, 0},
    {"Identity", map_passthrough, 0},
    {"Dropout", map_passthrough, 0},
};

/* ---- the graph ------------------------------------------------------------------------------ */

static clseg_status read_opset(importer *im, const Onnx__ModelProto *m) {
    im->opset = -1;
    for (size_t i = 0; i < m->n_opset_import; i++) {
        const Onnx__OperatorSetIdProto *o = m->opset_import[i];
        if ((!o->domain || !*o->domain || !strcmp(o->domain, "ai.onnx")) && o->has_version)
            im->opset = o->version;
    }
    if (im->opset < 0) return bad(im, "the model imports no ai.onnx opset");
    if (im->opset < OPSET_MIN || im->opset > OPSET_MAX)
        return unsup(im, "opset %lld is outside the %d..%d clseg imports", (long long)im->opset,
                     OPSET_MIN, OPSET_MAX);
    return CLSEG_OK;
}

/* The one graph input that is not an initializer: a float NCHW tensor. */
static clseg_status read_input(importer *im, const clseg_model_import_options *o) {
    const Onnx__GraphProto *g = im->g;
    const Onnx__ValueInfoProto *in = NULL;
    for (size_t i = 0; i < g->n_input; i++) {
        value *v = g->input[i]->name ? lookup(im, g->input[i]->name) : NULL;
        if (v && v->kind == V_CONST) continue; /* an initializer listed as an input (IR < 4) */
        if (in)
            return unsup(im, "the graph has more than one input; clseg networks take one image");
        in = g->input[i];
    }
    if (!in) return bad(im, "the graph has no input");
    const Onnx__TypeProto *t = in->type;
    if (!t || t->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !t->tensor_type)
        return bad(im, "the graph input is not a tensor");
    if (t->tensor_type->has_elem_type &&
        t->tensor_type->elem_type != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT)
        return unsup(im, "the graph input has element type %d; clseg takes float32",
                     t->tensor_type->elem_type);
    const Onnx__TensorShapeProto *s = t->tensor_type->shape;
    if (!s || s->n_dim != 4) return unsup(im, "the graph input must be a 4-D (NCHW) tensor");
    int64_t d[4];
    for (int k = 0; k < 4; k++)
        d[k] = s->dim[k]->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE
                   ? s->dim[k]->dim_value
                   : -1;
    if (d[0] < 0) d[0] = 1;
    if (d[1] < 1 || d[1] > 4)
        return unsup(im, "the graph input has %lld channels (clseg: 1..4)", (long long)d[1]);
    int64_t want[2] = {o->input_height, o->input_width};
    for (int k = 0; k < 2; k++) {
        if (want[k] > 0 && d[2 + k] > 0 && want[k] != d[2 + k])
            return unsup(im, "--input-size %dx%d differs from the graph's static %lldx%lld input",
                         o->input_width, o->input_height, (long long)d[3], (long long)d[2]);
        if (want[k] > 0) d[2 + k] = want[k];
        if (d[2 + k] < 1)
            return unsup(im,
                         "the graph input has a dynamic %s: pin it with --input-size WxH "
                         "(input_width/input_height)",
                         k ? "width" : "height");
        if (d[2 + k] > CLSEG_MAX_DIM)
            return unsup(im, "the input is larger than %d", CLSEG_MAX_DIM);
    }
    if (d[0] > 1024) return unsup(im, "batch %lld", (long long)d[0]);
    value *v;
    clseg_status st = define(im, in->name, &v);
    if (st != CLSEG_OK) return st;
    v->kind = V_ACT;
    v->layer = SPEC_INPUT;
    im->in = (int)(v - im->v);
    v->shape = (shape4){(int)d[0], (int)d[1], (int)d[2], (int)d[3]};
    return CLSEG_OK;
}

/* The spec text: [net], then one section per layer with every key written out. */
static clseg_status write_spec(importer *im, const Onnx__ModelProto *m, char **out) {
    size_t cap = 512 + (size_t)im->nl * 1024, len = 0;
    char *s = clseg_malloc(cap);
    if (!s) return oom(im);
#define P(...) (len += (size_t)snprintf(s + len, len < cap ? cap - len : 0, __VA_ARGS__))
    char producer[64], version[32], gname[SPEC_NAME_MAX];
    printable(producer, sizeof producer, m->producer_name ? m->producer_name : "");
    printable(version, sizeof version, m->producer_version ? m->producer_version : "");
    shape4 in = im->v[im->in].shape;
    P("# imported from ONNX (producer '%s' %s, opset %lld) for a %dx%dx%dx%d input\n", producer,
      version, (long long)im->opset, in.n, in.c, in.h, in.w);
    size_t j = 0;
    for (const char *c = im->g->name ? im->g->name : ""; *c && j + 1 < sizeof gname; c++)
        if (name_char(*c)) gname[j++] = *c;
    gname[j] = 0;
    if (!j || !((gname[0] >= 'a' && gname[0] <= 'z') || (gname[0] >= 'A' && gname[0] <= 'Z') ||
                gname[0] == '_'))
        snprintf(gname, sizeof gname, "onnx");
    P("[net]\nname = %s\nchannels = %d\n", gname, in.c);
    for (int i = 0; i < im->nl; i++) {
        const spec_layer *L = &im->layers[i];
        const layer_src *src = &im->src[i];
        char type[32];
        printable(type, sizeof type, src->type);
        P("\n# %s (%s)\n[%s]\nname = %s\n", src->nodes, type, layer_type_name(L->type), L->name);
        const char *in0 = L->inputs[0] == SPEC_INPUT ? "data" : im->layers[L->inputs[0]].name;
        if (L->n_inputs == 2)
            P("inputs = %s, %s\n", in0,
              L->inputs[1] == SPEC_INPUT ? "data" : im->layers[L->inputs[1]].name);
        else
            P("input = %s\n", in0);
        switch (L->type) {
        case LAYER_CONV:
        case LAYER_DECONV:
            P("filters = %d\nsize = %d\nstride = %d\npad = %d\nbias = %d\n", L->filters, L->size,
              L->stride, L->pad, L->bias);
            if (L->batchnorm) P("batchnorm = 1\nbn_eps = %.9g\n", (double)L->bn_eps);
            if (L->type == LAYER_DECONV) P("output_padding = %d, %d\n", L->out_pad_h, L->out_pad_w);
            if (L->groups > 1) P("groups = %d\n", L->groups);
            if (L->dilation > 1) P("dilation = %d\n", L->dilation);
            P("activation = %s\n", L->act ? act_kind_name(L->act) : "linear");
            break;
        case LAYER_ACT:
            P("activation = %s\n", act_kind_name(L->act));
            break;
        case LAYER_RESIZE: {
            static const char *const coords[RESIZE_COORD_COUNT] = {
                "half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric",
                "tf_half_pixel_for_nn"};
            static const char *const rounds[RESIZE_ROUND_COUNT] = {
                "round_prefer_floor", "round_prefer_ceil", "floor", "ceil"};
            if (L->match != SPEC_MATCH_NONE)
                P("output_size = %s\n",
                  L->match == SPEC_INPUT ? "data" : im->layers[L->match].name);
            else if (L->out_h > 0)
                P("size = %d, %d\n", L->out_h, L->out_w);
            else
                P("scale = %.9g, %.9g\n", (double)L->scale_h, (double)L->scale_w);
            P("mode = %s\ncoord = %s\n", L->bilinear ? "bilinear" : "nearest", coords[L->coord]);
            if (!L->bilinear) P("nearest_mode = %s\n", rounds[L->round]);
            break;
        }
        case LAYER_MAXPOOL:
        case LAYER_AVGPOOL:
            P("size = %d\nstride = %d\nceil = %d\n", L->size, L->stride, L->ceil_mode);
            break;
        case LAYER_UPSAMPLE:
            P("factor = %d\nmode = %s\n", L->factor, L->bilinear ? "bilinear" : "nearest");
            break;
        case LAYER_UNPOOL:
            P("pool = %s\n", im->layers[L->pool_layer].name);
            break;
        case LAYER_ADD:
            P("activation = %s\n", L->act == ACT_RELU ? "relu" : "linear");
            break;
        default:
            break;
        }
    }
#undef P
    if (len >= cap) {
        free(s);
        return clseg_fail(im->err, im->errlen, CLSEG_ERR_INTERNAL, "spec text overflow");
    }
    *out = s;
    return CLSEG_OK;
}

/* The model: spec, classes and normalisation via model_init, then the graph's tensors in place of
   the initial ones; finally a round trip through the .clsm writer and reader, so an imported
   model passes exactly the checks a loaded one does. */
static clseg_status build_model(importer *im, const Onnx__ModelProto *m,
                                const clseg_model_import_options *o, clseg_model **out) {
    char *text = NULL;
    clseg_status st = write_spec(im, m, &text);
    if (st != CLSEG_OK) return st;
    int classes = im->src[im->nl - 1].shape.c;
    clseg_model *model = NULL;
    st = model_init(text, classes, 0, o->class_names, o->palette, &model, im->err, im->errlen);
    free(text);
    if (st != CLSEG_OK) return st;
    shape4 shapes[SPEC_MAX_LAYERS];
    char msg[512];
    st = spec_shapes(&model->spec, classes, im->v[im->in].shape, shapes, msg, sizeof msg);
    if (st != CLSEG_OK) st = clseg_fail(im->err, im->errlen, CLSEG_ERR_UNSUPPORTED, "%s", msg);
    for (int i = 0; st == CLSEG_OK && i < im->nl; i++) {
        shape4 a = shapes[i], b = im->src[i].shape;
        if (memcmp(&a, &b, sizeof a)) {
            char name[96], type[64];
            printable(name, sizeof name, im->src[i].node);
            printable(type, sizeof type, im->src[i].type);
            st = clseg_fail(im->err, im->errlen, CLSEG_ERR_UNSUPPORTED,
                            "node '%s' (%s, opset %lld): ONNX gives a %dx%dx%dx%d output, clseg's "
                            "%s layer %dx%dx%dx%d",
                            name, type, (long long)im->opset, b.n, b.c, b.h, b.w,
                            layer_type_name(im->layers[i].type), a.n, a.c, a.h, a.w);
        }
    }
    for (int i = 0; st == CLSEG_OK && i < im->nl; i++)
        for (int k = 0; k < 6; k++) {
            const value *v = im->src[i].tensor[k];
            if (!v) continue;
            char tname[MODEL_TENSOR_NAME_MAX];
            snprintf(tname, sizeof tname, "%s.%s", im->layers[i].name, tensor_suffix[k]);
            model_tensor *t = (model_tensor *)model_find_tensor(model, tname);
            if (!t || t->count != v->count) {
                st = clseg_fail(im->err, im->errlen, CLSEG_ERR_INTERNAL, "tensor %s", tname);
                break;
            }
            memcpy(t->data, v->f, v->count * sizeof *t->data);
        }
    if (st == CLSEG_OK &&
        ((o->mean && o->n_mean != model->channels) || (o->std && o->n_std != model->channels)))
        st = clseg_fail(im->err, im->errlen, CLSEG_ERR_INVALID_ARGUMENT,
                        "the graph takes %d input channels: give as many mean and std values",
                        model->channels);
    if (st == CLSEG_OK) {
        for (int c = 0; c < model->channels; c++) {
            if (o->mean) model->mean[c] = o->mean[c];
            if (o->std) model->std[c] = o->std[c];
        }
        uint8_t *bytes = NULL;
        size_t size = 0;
        st = model_serialize(model, &bytes, &size, im->err, im->errlen);
        clseg_model_free(model);
        model = NULL;
        if (st == CLSEG_OK) st = model_parse(bytes, size, &model, im->err, im->errlen);
        free(bytes);
    }
    if (st != CLSEG_OK) {
        clseg_model_free(model);
        return st;
    }
    *out = model;
    return CLSEG_OK;
}

static clseg_status import_graph(importer *im, const Onnx__ModelProto *m,
                                 const clseg_model_import_options *o, clseg_model **out) {
    const Onnx__GraphProto *g = im->g;
    clseg_status st;
    for (size_t i = 0; i < g->n_initializer; i++) {
        value *v;
        if ((st = define(im, g->initializer[i]->name, &v))) return st;
        if ((st = tensor_value(im, g->initializer[i], v))) return st;
    }
    if (g->n_sparse_initializer) return unsup(im, "sparse initializers are not supported");
    if ((st = read_input(im, o))) return st;
    for (size_t i = 0; i < g->n_node; i++) {
        im->node = g->node[i];
        if (!im->node->op_type) return bad(im, "a node without an op type");
        if (im->node->domain && *im->node->domain && strcmp(im->node->domain, "ai.onnx")) {
            char d[64];
            printable(d, sizeof d, im->node->domain);
            return unsup(im, "operators of domain '%s' are not supported", d);
        }
        int e = -1;
        for (size_t k = 0; k < CLSEG_ARRAY_LEN(op_table) && e < 0; k++)
            if (!strcmp(op_table[k].type, im->node->op_type)) e = (int)k;
        if (e < 0)
            return unsup(im,
                         "op type %.63s is not supported by clseg's importer (docs/onnx.md "
                         "lists what is)",
                         im->node->op_type);
        if ((st = op_table[e].map(im, op_table[e].arg))) return st;
    }
    im->node = NULL;
    if (g->n_output != 1)
        return unsup(im, "the graph has %zu outputs; a clseg network has one", g->n_output);
    value *y = g->output[0]->name ? lookup(im, g->output[0]->name) : NULL;
    if (!y) return bad(im, "the graph output is not produced by any node");
    if (y->kind != V_ACT || y->layer < 0)
        return unsup(im, "the graph output is not computed from the input by layers");
    if (y->layer != im->nl - 1)
        return unsup(im,
                     "the graph output comes from node '%.63s', but layers follow it that do "
                     "not lead to it",
                     im->src[y->layer].node ? im->src[y->layer].node : "?");
    int classes = y->shape.c;
    if (classes < 1 || classes > MODEL_MAX_CLASSES)
        return unsup(im, "the output has %d channels; a model has 1..%d classes", classes,
                     MODEL_MAX_CLASSES);
    if (o->classes && o->classes != classes)
        return clseg_fail(im->err, im->errlen, CLSEG_ERR_INVALID_ARGUMENT,
                          "the graph outputs %d channels, not the %d classes asked for", classes,
                          o->classes);
    return build_model(im, m, o, out);
}

static void *pb_alloc(void *unused, size_t size) {
    (void)unused;
    return clseg_malloc(size);
}

static void pb_free(void *unused, void *ptr) {
    (void)unused;
    free(ptr);
}

clseg_status onnx_import(const uint8_t *data, size_t size, const clseg_model_import_options *o,
                         clseg_model **out, char *err, size_t errlen) {
    *out = NULL;
    ProtobufCAllocator alloc = {pb_alloc, pb_free, NULL};
    Onnx__ModelProto *m = onnx__model_proto__unpack(&alloc, size, data);
    if (!m)
        return clseg_fail(err, errlen, CLSEG_ERR_FORMAT,
                          "not an ONNX model (the protobuf does not parse: truncated or not ONNX)");
    importer im = {.err = err, .errlen = errlen, .g = m->graph};
    clseg_status st = CLSEG_OK;
    if (!m->graph || (!m->graph->n_node && !m->graph->n_input))
        st = bad(&im, "not an ONNX model (it has no graph)");
    if (st == CLSEG_OK) st = read_opset(&im, m);
    if (st == CLSEG_OK) {
        const Onnx__GraphProto *g = m->graph;
        size_t names = g->n_initializer + g->n_input + 1;
        for (size_t i = 0; i < g->n_node; i++) names += g->node[i]->n_output + g->node[i]->n_input;
        size_t tsize = 16;
        while (tsize < 2 * names) tsize *= 2;
        im.cap = (int)CLSEG_MIN(names, (size_t)1 << 28);
        if (names > ((size_t)1 << 28))
            st = unsup(&im, "the graph is too large");
        else {
            im.v = clseg_calloc(names, sizeof *im.v);
            im.table = clseg_calloc(tsize, sizeof *im.table);
            im.tmask = tsize - 1;
            im.layers = clseg_calloc(SPEC_MAX_LAYERS, sizeof *im.layers);
            im.src = clseg_calloc(SPEC_MAX_LAYERS, sizeof *im.src);
            if (!im.v || !im.table || !im.layers || !im.src) st = oom(&im);
        }
    }
    if (st == CLSEG_OK) st = import_graph(&im, m, o, out);
    for (int i = 0; i < im.nv; i++) value_free(&im.v[i]);
    free(im.v);
    free(im.table);
    free(im.layers);
    free(im.src);
    onnx__model_proto__free_unpacked(m, &alloc);
    return st;
}
