/* onnx_export.c - a clseg model written as an ONNX graph with protobuf-c (docs/onnx.md). */
#include "onnx_export.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fold.h"
#include "onnx.pb-c.h"

#define EXPORT_OPSET 13
#define EXPORT_IR    7 /* what ONNX 1.7+ writes for opset 13 */
#define MAX_NODES    (3 * SPEC_MAX_LAYERS)
#define NAME_MAX_LEN (SPEC_NAME_MAX + 16)

/* Every message, string and array the graph is made of: freed together after packing (the
   messages are built by hand, so protobuf-c's free_unpacked does not apply). */
typedef struct exporter {
    void **owned;
    size_t n_owned, cap_owned;
    int oom;
    Onnx__NodeProto *nodes[MAX_NODES];
    size_t n_nodes;
    Onnx__TensorProto *inits[MAX_NODES];
    size_t n_inits;
    char out[SPEC_MAX_LAYERS][NAME_MAX_LEN];     /* each layer's output value */
    char indices[SPEC_MAX_LAYERS][NAME_MAX_LEN]; /* a max-pool's Indices output, if unpooled */
    shape4 shapes[SPEC_MAX_LAYERS];              /* each layer's output at the export size */
} exporter;

static void *own(exporter *ex, void *p) {
    if (!p) {
        ex->oom = 1;
        return NULL;
    }
    if (ex->n_owned == ex->cap_owned) {
        size_t cap = ex->cap_owned ? 2 * ex->cap_owned : 256;
        void **grown = realloc(ex->owned, cap * sizeof *grown);
        if (!grown) {
            free(p);
            ex->oom = 1;
            return NULL;
        }
        ex->owned = grown, ex->cap_owned = cap;
    }
    return ex->owned[ex->n_owned++] = p;
}

static void *ex_alloc(exporter *ex, size_t count, size_t size) {
    return own(ex, calloc(count ? count : 1, size));
}

static char *ex_str(exporter *ex, const char *s) {
    return own(ex, strdup(s));
}

static Onnx__NodeProto *node(exporter *ex, const char *op, const char *name, const char *const *in,
                             int n_in, const char *const *out, int n_out) {
    Onnx__NodeProto *n = ex_alloc(ex, 1, sizeof *n);
    char **ins = ex_alloc(ex, (size_t)n_in, sizeof *ins);
    char **outs = ex_alloc(ex, (size_t)n_out, sizeof *outs);
    if (!n || !ins || !outs || ex->n_nodes == MAX_NODES) {
        ex->oom = 1;
        return NULL;
    }
    onnx__node_proto__init(n);
    for (int k = 0; k < n_in; k++) ins[k] = ex_str(ex, in[k]);
    for (int k = 0; k < n_out; k++) outs[k] = ex_str(ex, out[k]);
    n->input = ins, n->n_input = (size_t)n_in;
    n->output = outs, n->n_output = (size_t)n_out;
    n->name = ex_str(ex, name);
    n->op_type = ex_str(ex, op);
    n->attribute = ex_alloc(ex, 8, sizeof *n->attribute);
    ex->nodes[ex->n_nodes++] = n;
    return n;
}

static Onnx__AttributeProto *attr(exporter *ex, Onnx__NodeProto *n, const char *name,
                                  Onnx__AttributeProto__AttributeType type) {
    Onnx__AttributeProto *a = ex_alloc(ex, 1, sizeof *a);
    if (!a || !n || !n->attribute || n->n_attribute == 8) {
        ex->oom = 1;
        return NULL;
    }
    onnx__attribute_proto__init(a);
    a->name = ex_str(ex, name);
    a->has_type = 1, a->type = type;
    n->attribute[n->n_attribute++] = a;
    return a;
}

static void attr_int(exporter *ex, Onnx__NodeProto *n, const char *name, int64_t v) {
    Onnx__AttributeProto *a = attr(ex, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    if (a) a->has_i = 1, a->i = v;
}

static void attr_ints(exporter *ex, Onnx__NodeProto *n, const char *name, int count, int64_t v0,
                      int64_t v1) {
    Onnx__AttributeProto *a = attr(ex, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    int64_t *v = ex_alloc(ex, (size_t)count, sizeof *v);
    if (!a || !v) return;
    for (int k = 0; k < count; k++) v[k] = k % 2 ? v1 : v0; /* pads: begin h, w, end h, w */
    a->ints = v, a->n_ints = (size_t)count;
}

static void attr_str(exporter *ex, Onnx__NodeProto *n, const char *name, const char *s) {
    Onnx__AttributeProto *a = attr(ex, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING);
    char *copy = ex_str(ex, s);
    if (a && copy) a->has_s = 1, a->s.data = (uint8_t *)copy, a->s.len = strlen(s);
}

/* An initializer; `values` (float or int64) is owned by the exporter already. */
static void initializer(exporter *ex, const char *name, int is_float, void *values, size_t count,
                        const int64_t *dims, int ndim) {
    Onnx__TensorProto *t = ex_alloc(ex, 1, sizeof *t);
    int64_t *d = ex_alloc(ex, (size_t)ndim, sizeof *d);
    if (!t || !d || !values || ex->n_inits == MAX_NODES) {
        ex->oom = 1;
        return;
    }
    onnx__tensor_proto__init(t);
    memcpy(d, dims, (size_t)ndim * sizeof *d);
    t->dims = d, t->n_dims = (size_t)ndim;
    t->name = ex_str(ex, name);
    t->has_data_type = 1;
    if (is_float) {
        t->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
        t->float_data = values, t->n_float_data = count;
    } else {
        t->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__INT64;
        t->int64_data = values, t->n_int64_data = count;
    }
    ex->inits[ex->n_inits++] = t;
}

static Onnx__ValueInfoProto *value_info(exporter *ex, const char *name, shape4 s) {
    Onnx__ValueInfoProto *v = ex_alloc(ex, 1, sizeof *v);
    Onnx__TypeProto *type = ex_alloc(ex, 1, sizeof *type);
    Onnx__TypeProto__Tensor *tt = ex_alloc(ex, 1, sizeof *tt);
    Onnx__TensorShapeProto *shape = ex_alloc(ex, 1, sizeof *shape);
    Onnx__TensorShapeProto__Dimension **dims = ex_alloc(ex, 4, sizeof *dims);
    if (!v || !type || !tt || !shape || !dims) return NULL;
    onnx__value_info_proto__init(v);
    onnx__type_proto__init(type);
    onnx__type_proto__tensor__init(tt);
    onnx__tensor_shape_proto__init(shape);
    const int d[4] = {s.n, s.c, s.h, s.w};
    for (int k = 0; k < 4; k++) {
        if (!(dims[k] = ex_alloc(ex, 1, sizeof *dims[k]))) return NULL;
        onnx__tensor_shape_proto__dimension__init(dims[k]);
        dims[k]->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
        dims[k]->dim_value = d[k];
    }
    shape->dim = dims, shape->n_dim = 4;
    tt->has_elem_type = 1, tt->elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    tt->shape = shape;
    type->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    type->tensor_type = tt;
    v->name = ex_str(ex, name);
    v->type = type;
    return v;
}

/* The value layer input k reads. */
static const char *src(const exporter *ex, const spec_layer *L, int k) {
    return L->inputs[k] == SPEC_INPUT ? "data" : ex->out[L->inputs[k]];
}

static shape4 src_shape(const shape4 *shapes, shape4 in, const spec_layer *L, int k) {
    return L->inputs[k] == SPEC_INPUT ? in : shapes[L->inputs[k]];
}

/* The value the layer's own node writes: its output, or name_pre when a Relu follows. */
static const char *node_out(const exporter *ex, const spec_layer *L, int i, char *buf, size_t len) {
    if (L->act != ACT_RELU) return ex->out[i];
    snprintf(buf, len, "%s_pre", L->name);
    return buf;
}

static void relu_after(exporter *ex, const spec_layer *L, int i, const char *pre) {
    if (L->act != ACT_RELU) return;
    char name[NAME_MAX_LEN];
    snprintf(name, sizeof name, "%s_relu", L->name);
    const char *in[1] = {pre}, *out[1] = {ex->out[i]};
    node(ex, "Relu", name, in, 1, out, 1);
}

static clseg_status conv_node(exporter *ex, const clseg_model *m, int i, const shape4 *shapes,
                              shape4 in, char *err, size_t errlen) {
    const spec_layer *L = &m->spec.layers[i];
    shape4 x = src_shape(shapes, in, L, 0), y = shapes[i];
    float *w = NULL, *b = NULL;
    const int g = L->type == LAYER_CONV ? CLSEG_MAX(L->groups, 1) : 1;
    x.c /= g; /* a grouped conv's weight is [cout][cin / groups][k][k] */
    clseg_status st = fold_layer(m, i, x.c, y.c, &w, &b, err, errlen);
    if (st != CLSEG_OK) return st;
    own(ex, w), own(ex, b);
    char wname[NAME_MAX_LEN], bname[NAME_MAX_LEN], pre[NAME_MAX_LEN];
    snprintf(wname, sizeof wname, "%s.weight", L->name);
    snprintf(bname, sizeof bname, "%s.bias", L->name);
    int deconv = L->type == LAYER_DECONV;
    const int64_t wd[4] = {deconv ? x.c : y.c, deconv ? y.c : x.c, L->size, L->size};
    const int64_t bd[1] = {y.c};
    initializer(ex, wname, 1, w, (size_t)x.c * y.c * L->size * L->size, wd, 4);
    initializer(ex, bname, 1, b, (size_t)y.c, bd, 1);
    const char *ins[3] = {src(ex, L, 0), wname, bname};
    const char *outs[1] = {node_out(ex, L, i, pre, sizeof pre)};
    Onnx__NodeProto *n = node(ex, deconv ? "ConvTranspose" : "Conv", L->name, ins, 3, outs, 1);
    attr_ints(ex, n, "kernel_shape", 2, L->size, L->size);
    attr_ints(ex, n, "strides", 2, L->stride, L->stride);
    attr_ints(ex, n, "pads", 4, L->pad, L->pad);
    if (g > 1) attr_int(ex, n, "group", g);
    if (L->dilation > 1) attr_ints(ex, n, "dilations", 2, L->dilation, L->dilation);
    if (deconv) {
        /* output_padding as the spec's or, with `match`, what gives that layer's size here */
        int op_h = y.h - ((x.h - 1) * L->stride - 2 * L->pad + L->size);
        int op_w = y.w - ((x.w - 1) * L->stride - 2 * L->pad + L->size);
        if (op_h < 0 || op_w < 0 || op_h >= L->stride || op_w >= L->stride)
            return clseg_fail(err, errlen, CLSEG_ERR_INVALID_ARGUMENT,
                              "layer %s: output padding %dx%d at this size", L->name, op_h, op_w);
        attr_ints(ex, n, "output_padding", 2, op_h, op_w);
    }
    relu_after(ex, L, i, outs[0]);
    return CLSEG_OK;
}

static clseg_status layer_nodes(exporter *ex, const clseg_model *m, int i, const shape4 *shapes,
                                shape4 in, char *err, size_t errlen) {
    const spec_layer *L = &m->spec.layers[i];
    char name[NAME_MAX_LEN];
    const char *outs[2] = {ex->out[i], ex->indices[i]};
    Onnx__NodeProto *n;
    switch (L->type) {
    case LAYER_CONV:
    case LAYER_DECONV:
        return conv_node(ex, m, i, shapes, in, err, errlen);
    case LAYER_MAXPOOL:
    case LAYER_AVGPOOL: {
        const char *ins[1] = {src(ex, L, 0)};
        int max = L->type == LAYER_MAXPOOL;
        n = node(ex, max ? "MaxPool" : "AveragePool", L->name, ins, 1, outs,
                 max && ex->indices[i][0] ? 2 : 1);
        attr_ints(ex, n, "kernel_shape", 2, L->size, L->size);
        attr_ints(ex, n, "strides", 2, L->stride, L->stride);
        attr_int(ex, n, "ceil_mode", L->ceil_mode);
        if (!max) attr_int(ex, n, "count_include_pad", 0);
        return CLSEG_OK;
    }
    case LAYER_UPSAMPLE: {
        float *scales = ex_alloc(ex, 4, sizeof *scales);
        if (!scales) return CLSEG_OK;
        scales[0] = scales[1] = 1, scales[2] = scales[3] = (float)L->factor;
        snprintf(name, sizeof name, "%s.scales", L->name);
        const int64_t d[1] = {4};
        initializer(ex, name, 1, scales, 4, d, 1);
        const char *ins[3] = {src(ex, L, 0), "", name};
        n = node(ex, "Resize", L->name, ins, 3, outs, 1);
        attr_str(ex, n, "mode", L->bilinear ? "linear" : "nearest");
        /* clseg's bilinear is PyTorch's align_corners=False; its nearest reads floor(x / f) */
        attr_str(ex, n, "coordinate_transformation_mode",
                 L->bilinear ? "pytorch_half_pixel" : "asymmetric");
        if (!L->bilinear) attr_str(ex, n, "nearest_mode", "floor");
        return CLSEG_OK;
    }
    case LAYER_UNPOOL: {
        const spec_layer *P = &m->spec.layers[L->pool_layer];
        shape4 s = src_shape(shapes, in, P, 0);
        int64_t *shape = ex_alloc(ex, 4, sizeof *shape);
        if (!shape) return CLSEG_OK;
        shape[0] = s.n, shape[1] = s.c, shape[2] = s.h, shape[3] = s.w;
        snprintf(name, sizeof name, "%s.output_shape", L->name);
        const int64_t d[1] = {4};
        initializer(ex, name, 0, shape, 4, d, 1);
        const char *ins[3] = {src(ex, L, 0), ex->indices[L->pool_layer], name};
        n = node(ex, "MaxUnpool", L->name, ins, 3, outs, 1);
        attr_ints(ex, n, "kernel_shape", 2, P->size, P->size);
        attr_ints(ex, n, "strides", 2, P->stride, P->stride);
        return CLSEG_OK;
    }
    case LAYER_CONCAT: {
        const char *ins[2] = {src(ex, L, 0), src(ex, L, 1)};
        n = node(ex, "Concat", L->name, ins, 2, outs, 1);
        attr_int(ex, n, "axis", 1);
        return CLSEG_OK;
    }
    case LAYER_ADD: {
        char pre[NAME_MAX_LEN];
        const char *ins[2] = {src(ex, L, 0), src(ex, L, 1)};
        const char *sum[1] = {node_out(ex, L, i, pre, sizeof pre)};
        node(ex, "Add", L->name, ins, 2, sum, 1);
        relu_after(ex, L, i, sum[0]);
        return CLSEG_OK;
    }
    default:
        return clseg_fail(err, errlen, CLSEG_ERR_UNSUPPORTED, "layer %s: type %s is not exported",
                          L->name, layer_type_name(L->type));
    }
}

static clseg_status build(exporter *ex, const clseg_model *m, int width, int height, uint8_t **data,
                          size_t *size, char *err, size_t errlen) {
    const net_spec *spec = &m->spec;
    shape4 *shapes = ex->shapes;
    shape4 in = {1, m->channels, height, width};
    clseg_status st = spec_shapes(spec, m->classes, in, shapes, err, errlen);
    if (st != CLSEG_OK) return st;
    for (int i = 0; i < spec->n_layers; i++) {
        const spec_layer *L = &spec->layers[i];
        snprintf(ex->out[i], sizeof ex->out[i], "%s", L->name);
        if (L->type == LAYER_UNPOOL)
            snprintf(ex->indices[L->pool_layer], sizeof ex->indices[0], "%s_indices",
                     spec->layers[L->pool_layer].name);
        if (L->act > ACT_RELU)
            return clseg_fail(err, errlen, CLSEG_ERR_UNSUPPORTED,
                              "layer %s: activation %s is not exported", L->name,
                              act_kind_name(L->act));
        if ((L->type == LAYER_MAXPOOL || L->type == LAYER_AVGPOOL) && L->pad)
            return clseg_fail(err, errlen, CLSEG_ERR_UNSUPPORTED,
                              "layer %s: padded pooling is not exported", L->name);
    }
    for (int i = 0; i < spec->n_layers && !ex->oom; i++)
        if ((st = layer_nodes(ex, m, i, shapes, in, err, errlen)) != CLSEG_OK) return st;

    Onnx__GraphProto *g = ex_alloc(ex, 1, sizeof *g);
    Onnx__ModelProto *model = ex_alloc(ex, 1, sizeof *model);
    Onnx__OperatorSetIdProto *opset = ex_alloc(ex, 1, sizeof *opset);
    Onnx__OperatorSetIdProto **opsets = ex_alloc(ex, 1, sizeof *opsets);
    Onnx__ValueInfoProto **gin = ex_alloc(ex, 1, sizeof *gin);
    Onnx__ValueInfoProto **gout = ex_alloc(ex, 1, sizeof *gout);
    if (ex->oom || !g || !model || !opset || !opsets || !gin || !gout)
        return clseg_fail(err, errlen, CLSEG_ERR_OUT_OF_MEMORY, "out of memory");
    onnx__graph_proto__init(g);
    onnx__model_proto__init(model);
    onnx__operator_set_id_proto__init(opset);
    gin[0] = value_info(ex, "data", in);
    gout[0] = value_info(ex, ex->out[spec->n_layers - 1], shapes[spec->n_layers - 1]);
    g->name = ex_str(ex, spec->name[0] ? spec->name : "clseg");
    g->node = ex->nodes, g->n_node = ex->n_nodes;
    g->initializer = ex->inits, g->n_initializer = ex->n_inits;
    g->input = gin, g->n_input = 1;
    g->output = gout, g->n_output = 1;
    opset->domain = ex_str(ex, "");
    opset->has_version = 1, opset->version = EXPORT_OPSET;
    opsets[0] = opset;
    model->has_ir_version = 1, model->ir_version = EXPORT_IR;
    model->opset_import = opsets, model->n_opset_import = 1;
    model->producer_name = ex_str(ex, "clseg");
    model->graph = g;
    if (ex->oom || !gin[0] || !gout[0])
        return clseg_fail(err, errlen, CLSEG_ERR_OUT_OF_MEMORY, "out of memory");
    *size = onnx__model_proto__get_packed_size(model);
    if (!(*data = malloc(*size ? *size : 1)))
        return clseg_fail(err, errlen, CLSEG_ERR_OUT_OF_MEMORY, "out of memory");
    onnx__model_proto__pack(model, *data);
    return CLSEG_OK;
}

clseg_status onnx_export(const clseg_model *m, int width, int height, uint8_t **data, size_t *size,
                         char *err, size_t errlen) {
    *data = NULL;
    *size = 0;
    exporter *ex = calloc(1, sizeof *ex);
    if (!ex) return clseg_fail(err, errlen, CLSEG_ERR_OUT_OF_MEMORY, "out of memory");
    clseg_status st = build(ex, m, width, height, data, size, err, errlen);
    for (size_t k = 0; k < ex->n_owned; k++) free(ex->owned[k]);
    free(ex->owned);
    free(ex);
    return st;
}
