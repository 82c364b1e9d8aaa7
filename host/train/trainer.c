/* trainer.c - the training graph: compiled once per input size into a fixed list of op calls
   (forward, loss, backward) over buffers allocated up front; a step replays the list. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/calls.h"
#include "ops/backward.h"
#include "ops/desc.h"
#include "trainer.h"
#include "../tune/select.h"

/* Where a model tensor lives on the device. */
enum { LOC_PARAMS = 0, LOC_STATS = 1 };
typedef struct tensor_loc {
    int where;  /* LOC_PARAMS: trained; LOC_STATS: BatchNorm running statistics */
    size_t off; /* in floats, within the flat buffer */
    size_t count;
    cl_mem mem, grad; /* sub-buffers (grad only for LOC_PARAMS) */
} tensor_loc;

typedef struct gcall {
    op_call c;
    op_choice ch;
} gcall;

typedef struct tlayer {
    int w, b, gamma, beta, mean, var; /* model tensor indices, -1 = none */
    cl_mem z;                         /* conv output before BatchNorm */
    cl_mem out, saved, indices, grad;
} tlayer;

struct trainer {
    clseg_context *ctx;
    clseg_model *model; /* owned copy, refreshed by trainer_sync_model */
    trainer_config cfg;
    float *class_weights;
    int classes, n_layers;
    shape4 in_shape;
    layer_step *steps;
    tlayer *layers;
    layer_buffers *bufs; /* per layer, what the forward calls read (net_layer_call) */

    tensor_loc *loc; /* per model tensor */
    int *trainable;  /* model tensor indices of LOC_PARAMS tensors, in flat order */
    int n_trainable;
    size_t n_flat, n_decay, n_stats; /* floats in params (with alignment padding), decayed part,
                                        stats */
    cl_mem params, grads, mom[2], stats, sumsq_partial;
    cl_mem input, labels, factors, loss_partial, scratch[2];

    gcall *calls; /* forward, loss, backward, in order */
    int n_calls, cap_calls;
    uint64_t device_bytes;
    long updates;

    double *profile; /* per op kind, or NULL */
    float *h_factors, *h_partial, *h_flat;
    int32_t *h_labels;
};

static void release(cl_mem *m) {
    if (*m) clReleaseMemObject(*m);
    *m = NULL;
}

void trainer_free(trainer *t) {
    if (!t) return;
    for (int i = 0; t->layers && i < t->n_layers; i++) {
        tlayer *L = &t->layers[i];
        release(&L->z);
        release(&L->out);
        release(&L->saved);
        release(&L->indices);
        release(&L->grad);
    }
    for (int i = 0; t->loc && t->model && i < t->model->n_tensors; i++) {
        release(&t->loc[i].mem);
        release(&t->loc[i].grad);
    }
    release(&t->params);
    release(&t->grads);
    release(&t->mom[0]);
    release(&t->mom[1]);
    release(&t->stats);
    release(&t->sumsq_partial);
    release(&t->input);
    release(&t->labels);
    release(&t->factors);
    release(&t->loss_partial);
    release(&t->scratch[0]);
    release(&t->scratch[1]);
    clseg_model_free(t->model);
    free(t->class_weights);
    free(t->steps);
    free(t->layers);
    free(t->bufs);
    free(t->loc);
    free(t->trainable);
    free(t->calls);
    free(t->h_factors);
    free(t->h_partial);
    free(t->h_flat);
    free(t->h_labels);
    free(t);
}

static clseg_status buffer(trainer *t, size_t bytes, cl_mem *out) {
    clseg_status st = ctx_buffer(t->ctx, bytes, NULL, out);
    if (st == CLSEG_OK) t->device_bytes += bytes;
    return st;
}

static clseg_status sub_buffer(trainer *t, cl_mem parent, size_t off, size_t count, cl_mem *out) {
    cl_buffer_region r = {off * sizeof(float), count * sizeof(float)};
    cl_int e;
    *out = clCreateSubBuffer(parent, CL_MEM_READ_WRITE, CL_BUFFER_CREATE_TYPE_REGION, &r, &e);
    return e == CL_SUCCESS ? CLSEG_OK : ctx_cl_fail(t->ctx, e, "clCreateSubBuffer");
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Lays the model's tensors out in two flat buffers: trained parameters (conv weights first, so
   weight decay covers a prefix) and running statistics. Every tensor starts at the device's
   sub-buffer alignment; the padding stays zero in parameters, gradients and moments. */
static clseg_status upload_parameters(trainer *t) {
    clseg_context *ctx = t->ctx;
    const clseg_model *m = t->model;
    cl_uint align_bits = 0;
    if (clGetDeviceInfo(ctx->device, CL_DEVICE_MEM_BASE_ADDR_ALIGN, sizeof align_bits, &align_bits,
                        NULL) != CL_SUCCESS ||
        align_bits < 32)
        align_bits = 1024;
    size_t align = align_bits / 32; /* in floats */
    t->loc = clseg_calloc((size_t)m->n_tensors, sizeof *t->loc);
    t->trainable = clseg_calloc((size_t)m->n_tensors, sizeof *t->trainable);
    if (!t->loc || !t->trainable) return ctx_fail(ctx, CLSEG_ERR_OUT_OF_MEMORY, "out of memory");
    for (int pass = 0; pass < 3; pass++) {
        for (int i = 0; i < m->n_tensors; i++) {
            const char *name = m->tensors[i].name;
            int stat = ends_with(name, ".running_mean") || ends_with(name, ".running_var");
            int decay = !stat && ends_with(name, ".weight") && !ends_with(name, ".bn.weight");
            if ((pass == 0 && !decay) || (pass == 1 && (decay || stat)) || (pass == 2 && !stat))
                continue;
            tensor_loc *l = &t->loc[i];
            l->count = m->tensors[i].count;
            if (stat) {
                l->where = LOC_STATS;
                l->off = t->n_stats;
                t->n_stats += (l->count + align - 1) / align * align;
            } else {
                l->where = LOC_PARAMS;
                l->off = t->n_flat;
                t->n_flat += (l->count + align - 1) / align * align;
                t->trainable[t->n_trainable++] = i;
            }
        }
        if (pass == 0) t->n_decay = t->n_flat;
    }
    if (t->n_flat == 0) return ctx_fail(ctx, CLSEG_ERR_UNSUPPORTED, "the model has no parameters");
    if (t->n_stats == 0) t->n_stats = align;
    size_t host_floats = CLSEG_MAX(t->n_flat, t->n_stats);
    t->h_flat = clseg_calloc(host_floats, sizeof(float));
    if (!t->h_flat) return ctx_fail(ctx, CLSEG_ERR_OUT_OF_MEMORY, "out of memory");

    clseg_status st = buffer(t, t->n_flat * 4, &t->params);
    if (st == CLSEG_OK) st = buffer(t, t->n_flat * 4, &t->grads);
    if (st == CLSEG_OK) st = buffer(t, t->n_flat * 4, &t->mom[0]);
    if (st == CLSEG_OK && t->cfg.optim.kind == OPTIM_ADAM)
        st = buffer(t, t->n_flat * 4, &t->mom[1]);
    if (st == CLSEG_OK) st = buffer(t, t->n_stats * 4, &t->stats);
    if (st == CLSEG_OK) st = buffer(t, OPTIM_SUMSQ_GROUPS * 4, &t->sumsq_partial);
    if (st == CLSEG_OK) st = ctx_fill_zero(ctx, t->grads, t->n_flat * 4);
    if (st == CLSEG_OK) st = ctx_fill_zero(ctx, t->mom[0], t->n_flat * 4);
    if (st == CLSEG_OK && t->mom[1]) st = ctx_fill_zero(ctx, t->mom[1], t->n_flat * 4);
    for (int where = 0; st == CLSEG_OK && where < 2; where++) {
        memset(t->h_flat, 0, host_floats * sizeof(float));
        for (int i = 0; i < m->n_tensors; i++)
            if (t->loc[i].where == where)
                memcpy(t->h_flat + t->loc[i].off, m->tensors[i].data, t->loc[i].count * 4);
        st = where == LOC_PARAMS ? ctx_write(ctx, t->params, 0, t->n_flat * 4, t->h_flat)
                                 : ctx_write(ctx, t->stats, 0, t->n_stats * 4, t->h_flat);
    }
    for (int i = 0; st == CLSEG_OK && i < m->n_tensors; i++) {
        tensor_loc *l = &t->loc[i];
        st =
            sub_buffer(t, l->where == LOC_PARAMS ? t->params : t->stats, l->off, l->count, &l->mem);
        if (st == CLSEG_OK && l->where == LOC_PARAMS)
            st = sub_buffer(t, t->grads, l->off, l->count, &l->grad);
    }
    return st;
}

static int tensor_index(const clseg_model *m, const char *layer, const char *suffix) {
    char name[MODEL_TENSOR_NAME_MAX + 32];
    snprintf(name, sizeof name, "%s.%s", layer, suffix);
    const model_tensor *tn = model_find_tensor(m, name);
    return tn ? (int)(tn - m->tensors) : -1;
}

static clseg_status add_call(trainer *t, const op_call *c) {
    if (t->n_calls == t->cap_calls) {
        int cap = t->cap_calls ? t->cap_calls * 2 : 64;
        gcall *p = clseg_realloc(t->calls, (size_t)cap * sizeof *p);
        if (!p) return ctx_fail(t->ctx, CLSEG_ERR_OUT_OF_MEMORY, "out of memory");
        t->calls = p;
        t->cap_calls = cap;
    }
    gcall *g = &t->calls[t->n_calls];
    g->c = *c;
    clseg_status st = tune_select(t->ctx, &g->c, &g->ch);
    if (st == CLSEG_OK) st = op_prepare_choice(t->ctx, &g->c, &g->ch);
    if (st == CLSEG_OK) t->n_calls++;
    return st;
}

/* The output tensor of layer `src` (or the network input). */
static dtensor act(const trainer *t, int src) {
    return src == SPEC_INPUT ? (dtensor){t->input, t->in_shape}
                             : (dtensor){t->layers[src].out, t->steps[src].out};
}

static dtensor mem1(cl_mem m) {
    return (dtensor){m, {1, 1, 1, 1}};
}

static clseg_status build_forward(trainer *t) {
    const net_spec *spec = &t->model->spec;
    clseg_status st = CLSEG_OK;
    for (int i = 0; st == CLSEG_OK && i < t->n_layers; i++) {
        const spec_layer *L = &spec->layers[i];
        const layer_step *s = &t->steps[i];
        tlayer *tl = &t->layers[i];
        size_t bytes = shape4_count(s->out) * 4;
        st = buffer(t, bytes, &tl->out);
        if (st == CLSEG_OK && s->op == OP_MAXPOOL)
            st = buffer(t, shape4_count(s->out) * 4, &tl->indices);
        if (st != CLSEG_OK) break;
        layer_buffers *b = &t->bufs[i];
        *b = (layer_buffers){.out = tl->out, .indices = tl->indices};
        if (s->op == OP_CONV2D || s->op == OP_DECONV2D) {
            tl->w = tensor_index(t->model, L->name, "weight");
            tl->b = L->bias ? tensor_index(t->model, L->name, "bias") : -1;
            tl->gamma = tl->beta = tl->mean = tl->var = -1;
            if (tl->w < 0 || (L->bias && tl->b < 0))
                return ctx_fail(t->ctx, CLSEG_ERR_FORMAT, "layer %s: weights missing", L->name);
            b->weight = t->loc[tl->w].mem;
            b->bias = tl->b >= 0 ? t->loc[tl->b].mem : NULL;
        }
        op_call c = net_layer_call(t->steps, i, t->in_shape, t->input, t->bufs);
        const op_desc *d = op_desc_get(s->op);
        if ((d && d->inference_only) ||
            (s->op == OP_CONV2D && (s->p.conv.act > ACT_RELU || conv2d_groups(&s->p.conv) > 1 ||
                                    conv2d_dil(&s->p.conv) > 1)))
            return ctx_fail(t->ctx, CLSEG_ERR_UNSUPPORTED,
                            "layer %s: %s is inference only (no backward; imported models run "
                            "but do not train)",
                            L->name,
                            s->op == OP_CONV2D ? "a grouped, dilated or non-ReLU-activated conv"
                                               : layer_type_name(L->type));
        switch (s->op) {
        case OP_CONV2D:
        case OP_DECONV2D: {
            if (!L->batchnorm) {
                st = add_call(t, &c);
                break;
            }
            if (fabsf(L->bn_eps - BN_EPS) > 1e-12f)
                return ctx_fail(t->ctx, CLSEG_ERR_UNSUPPORTED,
                                "layer %s: training supports BatchNorm eps %g only, not %g",
                                L->name, (double)BN_EPS, (double)L->bn_eps);
            tl->gamma = tensor_index(t->model, L->name, "bn.weight");
            tl->beta = tensor_index(t->model, L->name, "bn.bias");
            tl->mean = tensor_index(t->model, L->name, "bn.running_mean");
            tl->var = tensor_index(t->model, L->name, "bn.running_var");
            if (tl->gamma < 0 || tl->beta < 0 || tl->mean < 0 || tl->var < 0)
                return ctx_fail(t->ctx, CLSEG_ERR_FORMAT, "layer %s: BatchNorm tensors missing",
                                L->name);
            st = buffer(t, bytes, &tl->z);
            if (st == CLSEG_OK)
                st = buffer(t, (size_t)BN_SAVED_PER_CHANNEL * s->out.c * 4, &tl->saved);
            if (st != CLSEG_OK) break;
            if (s->op == OP_CONV2D)
                c.p.conv.act = 0;
            else
                c.p.deconv.relu = 0;
            c.out[0] = (dtensor){tl->z, s->out};
            st = add_call(t, &c);
            if (st != CLSEG_OK) break;
            op_call bn;
            memset(&bn, 0, sizeof bn);
            bn.kind = OP_BATCHNORM_TRAIN;
            bn.p.bn.relu = L->act == ACT_RELU;
            bn.in[0] = (dtensor){tl->z, s->out};
            bn.in[1] = mem1(t->loc[tl->gamma].mem);
            bn.in[2] = mem1(t->loc[tl->beta].mem);
            bn.out[0] = (dtensor){tl->out, s->out};
            bn.out[1] = mem1(tl->saved);
            bn.out[2] = mem1(t->loc[tl->mean].mem);
            bn.out[3] = mem1(t->loc[tl->var].mem);
            st = add_call(t, &bn);
            break;
        }
        case OP_MAXPOOL:
            c.p.pool.with_indices = 1; /* the backward reads them, unpool or not */
            c.out[1] = (dtensor){tl->indices, s->out};
            st = add_call(t, &c);
            break;
        case OP_MAXUNPOOL:
        case OP_UPSAMPLE:
        case OP_CONCAT:
        case OP_ADD:
            st = add_call(t, &c);
            break;
        default:
            return ctx_fail(t->ctx, CLSEG_ERR_UNSUPPORTED, "layer %s: %s has no backward yet",
                            L->name, layer_type_name(L->type));
        }
    }
    return st;
}

/* Where a gradient for the output of layer `src` goes: straight into its gradient buffer the
   first time; later contributions go to a scratch buffer and are added (in a fixed order, so
   the sum is deterministic). */
typedef struct grad_target {
    int src;
    dtensor dst;
    int accumulate;
} grad_target;

static clseg_status target(trainer *t, int src, int *written, int slot, grad_target *g) {
    g->src = src;
    g->accumulate = 0;
    if (src == SPEC_INPUT) {
        g->dst = (dtensor){NULL, t->in_shape};
        return CLSEG_OK;
    }
    shape4 s = t->steps[src].out;
    if (!written[src]) {
        written[src] = 1;
        g->dst = (dtensor){t->layers[src].grad, s};
        return CLSEG_OK;
    }
    if (!t->scratch[slot]) {
        size_t largest = 0;
        for (int i = 0; i < t->n_layers; i++)
            largest = CLSEG_MAX(largest, shape4_count(t->steps[i].out));
        clseg_status st = buffer(t, largest * 4, &t->scratch[slot]);
        if (st != CLSEG_OK) return st;
    }
    g->dst = (dtensor){t->scratch[slot], s};
    g->accumulate = 1;
    return CLSEG_OK;
}

static clseg_status finish_target(trainer *t, const grad_target *g) {
    if (!g->accumulate) return CLSEG_OK;
    op_call c;
    memset(&c, 0, sizeof c);
    c.kind = OP_ADD;
    dtensor gr = {t->layers[g->src].grad, g->dst.s};
    c.in[0] = gr;
    c.in[1] = g->dst;
    c.out[0] = gr; /* elementwise: reading and writing the same element is safe */
    return add_call(t, &c);
}

static clseg_status build_backward(trainer *t) {
    const net_spec *spec = &t->model->spec;
    int last = t->n_layers - 1;
    int *written = clseg_calloc((size_t)t->n_layers, sizeof *written);
    if (!written) return ctx_fail(t->ctx, CLSEG_ERR_OUT_OF_MEMORY, "out of memory");
    /* Every layer that can receive a gradient gets a buffer for it. */
    clseg_status st = CLSEG_OK;
    for (int i = 0; st == CLSEG_OK && i < t->n_layers; i++)
        st = buffer(t, shape4_count(t->steps[i].out) * 4, &t->layers[i].grad);
    if (st == CLSEG_OK) {
        op_call c;
        memset(&c, 0, sizeof c);
        c.kind = OP_SOFTMAX_XENT;
        shape4 ls = t->steps[last].out;
        c.in[0] = (dtensor){t->layers[last].out, ls};
        c.in[1] = (dtensor){t->labels, {ls.n, 1, ls.h, ls.w}};
        c.in[2] = mem1(t->factors);
        c.out[0] = (dtensor){t->layers[last].grad, ls};
        c.out[1] = mem1(t->loss_partial);
        written[last] = 1;
        st = add_call(t, &c);
    }
    for (int i = last; st == CLSEG_OK && i >= 0; i--) {
        if (!written[i]) continue; /* nothing downstream uses it: its gradients stay zero */
        const spec_layer *L = &spec->layers[i];
        const layer_step *s = &t->steps[i];
        tlayer *tl = &t->layers[i];
        dtensor dy = {tl->grad, s->out};
        int src = s->in[0];
        shape4 xs = src == SPEC_INPUT ? t->in_shape : t->steps[src].out;
        grad_target g0, g1;
        op_call c;
        memset(&c, 0, sizeof c);
        c.p = s->p;
        switch (s->op) {
        case OP_CONV2D:
        case OP_DECONV2D: {
            int deconv = s->op == OP_DECONV2D;
            if (L->batchnorm) {
                c.kind = OP_BATCHNORM_TRAIN_BWD;
                c.p.bn.relu = L->act == ACT_RELU;
                c.in[0] = dy;
                c.in[1] = (dtensor){tl->z, s->out};
                c.in[2] = mem1(tl->saved);
                c.out[0] = dy;
                c.out[1] = mem1(t->loc[tl->gamma].grad);
                c.out[2] = mem1(t->loc[tl->beta].grad);
                st = add_call(t, &c);
            } else if (L->act == ACT_RELU) {
                c.kind = OP_RELU_BWD;
                c.in[0] = dy;
                c.in[1] = (dtensor){tl->out, s->out};
                c.out[0] = dy;
                st = add_call(t, &c);
            }
            if (st != CLSEG_OK) break;
            memset(&c, 0, sizeof c);
            c.p = s->p;
            if (deconv)
                c.p.deconv.relu = 0;
            else
                c.p.conv.act = 0;
            c.kind = deconv ? OP_DECONV2D_BWD_WEIGHT : OP_CONV2D_BWD_WEIGHT;
            c.in[0] = act(t, src);
            c.in[1] = dy;
            c.out[0] = mem1(t->loc[tl->w].grad);
            c.out[1] = mem1(tl->b >= 0 ? t->loc[tl->b].grad : NULL);
            st = add_call(t, &c);
            if (st != CLSEG_OK || src == SPEC_INPUT) break;
            st = target(t, src, written, 0, &g0);
            if (st != CLSEG_OK) break;
            memset(&c.in, 0, sizeof c.in);
            memset(&c.out, 0, sizeof c.out);
            c.kind = deconv ? OP_DECONV2D_BWD_DATA : OP_CONV2D_BWD_DATA;
            c.in[0] = dy;
            c.in[1] = mem1(t->loc[tl->w].mem);
            c.out[0] = g0.dst;
            st = add_call(t, &c);
            if (st == CLSEG_OK) st = finish_target(t, &g0);
            break;
        }
        case OP_MAXPOOL:
        case OP_MAXUNPOOL:
        case OP_UPSAMPLE:
            if (src == SPEC_INPUT) break;
            st = target(t, src, written, 0, &g0);
            if (st != CLSEG_OK) break;
            c.in[0] = dy;
            if (s->op == OP_MAXPOOL) {
                c.kind = OP_MAXPOOL_BWD;
                c.in[1] = (dtensor){tl->indices, s->out};
            } else if (s->op == OP_MAXUNPOOL) {
                c.kind = OP_MAXUNPOOL_BWD;
                c.in[1] = (dtensor){t->layers[s->pool_layer].indices, xs};
            } else {
                c.kind = OP_UPSAMPLE_BWD;
            }
            c.out[0] = g0.dst;
            st = add_call(t, &c);
            if (st == CLSEG_OK) st = finish_target(t, &g0);
            break;
        case OP_CONCAT:
        case OP_ADD:
            st = target(t, s->in[0], written, 0, &g0);
            if (st == CLSEG_OK) st = target(t, s->in[1], written, 1, &g1);
            if (st != CLSEG_OK) break;
            c.kind = s->op == OP_CONCAT ? OP_CONCAT_BWD : OP_ADD_BWD;
            c.in[0] = dy;
            if (s->op == OP_ADD) c.in[1] = (dtensor){tl->out, s->out};
            c.out[0] = g0.dst;
            c.out[1] = g1.dst;
            st = add_call(t, &c);
            if (st == CLSEG_OK) st = finish_target(t, &g0);
            if (st == CLSEG_OK) st = finish_target(t, &g1);
            break;
        default:
            st = ctx_fail(t->ctx, CLSEG_ERR_UNSUPPORTED, "layer %s: no backward", L->name);
        }
    }
    free(written);
    return st;
}

clseg_status trainer_create(trainer **out, clseg_context *ctx, const clseg_model *model,
                            const trainer_config *cfg) {
    if (!out || !ctx || !model || !cfg || cfg->batch < 1 || cfg->height < 1 || cfg->width < 1)
        return CLSEG_ERR_INVALID_ARGUMENT;
    *out = NULL;
    trainer *t = clseg_calloc(1, sizeof *t);
    if (!t) return ctx_fail(ctx, CLSEG_ERR_OUT_OF_MEMORY, "out of memory");
    t->ctx = ctx;
    t->cfg = *cfg;
    t->classes = model->classes;
    t->n_layers = model->spec.n_layers;
    t->in_shape = (shape4){cfg->batch, model->channels, cfg->height, cfg->width};
    clseg_status st = CLSEG_OK;
    /* A private copy: the trainer writes the trained values back into it. */
    uint8_t *bytes = NULL;
    size_t size = 0;
    st = model_serialize(model, &bytes, &size, ctx->error, sizeof ctx->error);
    if (st == CLSEG_OK) st = model_parse(bytes, size, &t->model, ctx->error, sizeof ctx->error);
    free(bytes);
    t->steps = clseg_calloc(SPEC_MAX_LAYERS, sizeof *t->steps);
    t->layers = clseg_calloc((size_t)t->n_layers, sizeof *t->layers);
    t->bufs = clseg_calloc((size_t)t->n_layers, sizeof *t->bufs);
    t->class_weights = clseg_malloc((size_t)t->classes * sizeof *t->class_weights);
    size_t px = (size_t)cfg->batch * cfg->height * cfg->width;
    size_t parts = 0;
    if (st == CLSEG_OK && (!t->steps || !t->layers || !t->bufs || !t->class_weights))
        st = ctx_fail(ctx, CLSEG_ERR_OUT_OF_MEMORY, "out of memory");
    if (st == CLSEG_OK)
        st = net_plan(&t->model->spec, t->classes, t->in_shape, t->steps, ctx->error,
                      sizeof ctx->error);
    if (st == CLSEG_OK) {
        /* The loss compares the last layer with a label map of the input's size. */
        shape4 y = t->steps[t->n_layers - 1].out, x = t->in_shape;
        if (y.h != x.h || y.w != x.w || y.c != t->classes)
            st = ctx_fail(ctx, CLSEG_ERR_UNSUPPORTED,
                          "training needs an output of classes x height x width: this network "
                          "gives %dx%dx%d for a %dx%d crop, not %dx%dx%d",
                          y.c, y.w, y.h, x.w, x.h, t->classes, x.w, x.h);
    }
    if (st == CLSEG_OK) {
        for (int c = 0; c < t->classes; c++)
            t->class_weights[c] = cfg->class_weights ? cfg->class_weights[c] : 1.0f;
        parts = softmax_xent_partials(t->steps[t->n_layers - 1].out);
        t->h_factors = clseg_calloc((size_t)t->classes, sizeof(float));
        t->h_partial = clseg_calloc(2 * parts, sizeof(float));
        t->h_labels = clseg_malloc(px * sizeof(int32_t));
        if (!t->h_factors || !t->h_partial || !t->h_labels)
            st = ctx_fail(ctx, CLSEG_ERR_OUT_OF_MEMORY, "out of memory");
    }
    if (st == CLSEG_OK) st = upload_parameters(t);
    if (st == CLSEG_OK) st = buffer(t, shape4_count(t->in_shape) * 4, &t->input);
    if (st == CLSEG_OK) st = buffer(t, px * 4, &t->labels);
    if (st == CLSEG_OK) st = buffer(t, (size_t)t->classes * 4, &t->factors);
    if (st == CLSEG_OK) st = buffer(t, 2 * parts * 4, &t->loss_partial);
    if (st == CLSEG_OK) st = build_forward(t);
    if (st == CLSEG_OK) st = build_backward(t);
    static const char *const optim_kernels[] = {"sgd_momentum", "adam", "sum_squares"};
    for (int i = 0; st == CLSEG_OK && i < 3; i++) {
        cl_kernel k;
        st = ctx_kernel(ctx, "optim", NULL, optim_kernels[i], &k);
    }
    if (st == CLSEG_OK) st = ctx_finish(ctx);
    if (st != CLSEG_OK) {
        trainer_free(t);
        return st;
    }
    *out = t;
    return CLSEG_OK;
}

clseg_status trainer_step(trainer *t, const float *x, const int32_t *labels, double lr, int update,
                          step_stats *out) {
    clseg_context *ctx = t->ctx;
    memset(out, 0, sizeof *out);
    size_t px = (size_t)t->in_shape.n * t->in_shape.h * t->in_shape.w;
    int64_t n = 0;
    for (size_t i = 0; i < px; i++) {
        int32_t l = labels[i];
        int ok = l >= 0 && l < t->classes && l != t->cfg.ignore;
        t->h_labels[i] = ok ? l : -1;
        n += ok;
    }
    for (int c = 0; c < t->classes; c++)
        t->h_factors[c] = n ? (float)((double)t->class_weights[c] / (double)n) : 0.0f;
    clseg_status st = ctx_write(ctx, t->input, 0, shape4_count(t->in_shape) * 4, x);
    if (st == CLSEG_OK) st = ctx_write(ctx, t->labels, 0, px * 4, t->h_labels);
    if (st == CLSEG_OK) st = ctx_write(ctx, t->factors, 0, (size_t)t->classes * 4, t->h_factors);
    for (int i = 0; st == CLSEG_OK && i < t->n_calls; i++) {
        double t0 = t->profile ? clseg_now_ms() : 0;
        st = op_run_choice(ctx, &t->calls[i].c, &t->calls[i].ch);
        if (st == CLSEG_OK && t->profile) {
            st = ctx_finish(ctx);
            t->profile[t->calls[i].c.kind] += clseg_now_ms() - t0;
        }
    }
    double sumsq = 0, t1 = clseg_now_ms();
    if (st == CLSEG_OK) st = optim_sum_squares(ctx, t->grads, t->n_flat, t->sumsq_partial, &sumsq);
    size_t parts = softmax_xent_partials(t->steps[t->n_layers - 1].out);
    if (st == CLSEG_OK) st = ctx_read(ctx, t->loss_partial, 0, 2 * parts * 4, t->h_partial);
    if (st != CLSEG_OK) return st;
    double loss = 0, count = 0;
    for (size_t i = 0; i < parts; i++) {
        loss += t->h_partial[2 * i];
        count += t->h_partial[2 * i + 1];
    }
    if (isfinite(loss) && count != (double)n)
        return ctx_fail(ctx, CLSEG_ERR_INTERNAL,
                        "softmax_xent counted %.0f labelled pixels, the batch has %lld", count,
                        (long long)n);
    out->loss = loss;
    out->grad_sumsq = sumsq;
    out->labelled = n;
    out->finite = isfinite(loss) && isfinite(sumsq);
    if (update && out->finite) {
        t->updates++;
        st = optim_update(ctx, &t->cfg.optim, t->params, t->grads, t->mom[0], t->mom[1], t->n_flat,
                          t->n_decay, t->updates, lr);
    }
    if (st == CLSEG_OK && t->profile) {
        st = ctx_finish(ctx);
        t->profile[OP_KIND_COUNT] += clseg_now_ms() - t1;
    }
    return st;
}

void trainer_profile(trainer *t, double *ms) {
    t->profile = ms;
}

clseg_status trainer_sync_model(trainer *t, const clseg_model **out) {
    clseg_model *m = t->model;
    for (int where = 0; where < 2; where++) {
        clseg_status st = where == LOC_PARAMS
                              ? ctx_read(t->ctx, t->params, 0, t->n_flat * 4, t->h_flat)
                              : ctx_read(t->ctx, t->stats, 0, t->n_stats * 4, t->h_flat);
        if (st != CLSEG_OK) return st;
        for (int i = 0; i < m->n_tensors; i++)
            if (t->loc[i].where == where)
                memcpy(m->tensors[i].data, t->h_flat + t->loc[i].off, t->loc[i].count * 4);
    }
    *out = m;
    return CLSEG_OK;
}

int trainer_param_tensors(const trainer *t) {
    return t->n_trainable;
}

const char *trainer_param_name(const trainer *t, int i) {
    return t->model->tensors[t->trainable[i]].name;
}

size_t trainer_param_count(const trainer *t, int i) {
    return t->loc[t->trainable[i]].count;
}

size_t trainer_param_total(const trainer *t) {
    size_t n = 0;
    for (int i = 0; i < t->n_trainable; i++) n += trainer_param_count(t, i);
    return n;
}

int trainer_moment_slots(const trainer *t) {
    return t->cfg.optim.kind == OPTIM_ADAM ? 2 : 1;
}

/* slot -1 = the gradient */
static clseg_status moments(trainer *t, int slot, float *packed, int write) {
    if (slot < -1 || slot >= trainer_moment_slots(t)) return CLSEG_ERR_INVALID_ARGUMENT;
    cl_mem mem = slot < 0 ? t->grads : t->mom[slot];
    if (write) memset(t->h_flat, 0, t->n_flat * 4);
    clseg_status st = write ? CLSEG_OK : ctx_read(t->ctx, mem, 0, t->n_flat * 4, t->h_flat);
    size_t at = 0;
    for (int i = 0; st == CLSEG_OK && i < t->n_trainable; i++) {
        const tensor_loc *l = &t->loc[t->trainable[i]];
        if (write)
            memcpy(t->h_flat + l->off, packed + at, l->count * 4);
        else
            memcpy(packed + at, t->h_flat + l->off, l->count * 4);
        at += l->count;
    }
    if (st == CLSEG_OK && write) st = ctx_write(t->ctx, mem, 0, t->n_flat * 4, t->h_flat);
    return st;
}

clseg_status trainer_read_moments(trainer *t, int slot, float *packed) {
    if (slot < 0) return CLSEG_ERR_INVALID_ARGUMENT;
    return moments(t, slot, packed, 0);
}

clseg_status trainer_write_moments(trainer *t, int slot, const float *packed) {
    if (slot < 0) return CLSEG_ERR_INVALID_ARGUMENT;
    return moments(t, slot, (float *)packed, 1);
}

clseg_status trainer_read_grads(trainer *t, float *packed) {
    return moments(t, -1, packed, 0);
}

long trainer_updates(const trainer *t) {
    return t->updates;
}

void trainer_set_updates(trainer *t, long updates) {
    t->updates = updates;
}

clseg_context *trainer_context(const trainer *t) {
    return t->ctx;
}

uint64_t trainer_device_bytes(const trainer *t) {
    return t->device_bytes;
}
