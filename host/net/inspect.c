/* inspect.c - a net held to the C reference: the reference forward of a model, every layer's
   device output, and the layer-by-layer check that blames the layer that departs. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../ops/desc.h"
#include "exec.h"
#include "net_internal.h"

clseg_status clseg_model_reference_forward(const clseg_model *model, const float *input, int n,
                                           int height, int width, float *out, size_t capacity,
                                           char *errbuf, size_t errbuf_size) {
    if (!model || !input || !out)
        return clseg_fail(errbuf, errbuf_size, CLSEG_ERR_INVALID_ARGUMENT,
                          "clseg_model_reference_forward: %s is NULL",
                          !model   ? "model"
                          : !input ? "input"
                                   : "out");
    if (n < 1 || height < 1 || width < 1 || n > 4096 || height > CLSEG_MAX_DIM ||
        width > CLSEG_MAX_DIM)
        return clseg_fail(errbuf, errbuf_size, CLSEG_ERR_INVALID_ARGUMENT,
                          "clseg_model_reference_forward: input %dx%dx%d is out of range", n, width,
                          height);
    shape4 in = {n, model->channels, height, width};
    layer_step *steps = clseg_calloc(SPEC_MAX_LAYERS, sizeof *steps);
    if (!steps) return clseg_fail(errbuf, errbuf_size, CLSEG_ERR_OUT_OF_MEMORY, "out of memory");
    clseg_status st = net_plan(&model->spec, model->classes, in, steps, errbuf, errbuf_size);
    size_t need = st == CLSEG_OK ? shape4_count(steps[model->spec.n_layers - 1].out) : 0;
    free(steps);
    if (st != CLSEG_OK) return st;
    if (need > capacity)
        return clseg_fail(errbuf, errbuf_size, CLSEG_ERR_INVALID_ARGUMENT,
                          "clseg_model_reference_forward: the output is %zu floats, the buffer "
                          "holds %zu",
                          need, capacity);
    return net_reference_forward(model, input, in, out, errbuf, errbuf_size);
}

/* Takes layer i's output (and a max-pool's indices, else NULL) read back from the device. */
typedef clseg_status (*layer_sink)(void *user, int i, const float *out, const int32_t *indices);

/* Runs the prepared net on input one layer at a time, reading each output back right after its
   layer: the memory planner lets later layers reuse the buffer. */
static clseg_status run_readback(clseg_net *net, const float *input, layer_sink sink, void *user) {
    clseg_context *ctx = net->ctx;
    size_t most = 0;
    for (int i = 0; i < net->spec.n_layers; i++)
        most = CLSEG_MAX(most, shape4_count(net->steps[i].out));
    float *out = clseg_malloc(most * sizeof *out);
    int32_t *idx = clseg_malloc(most * sizeof *idx);
    if (!out || !idx) {
        free(out);
        free(idx);
        return ctx_fail(ctx, CLSEG_ERR_OUT_OF_MEMORY, "out of memory");
    }
    clseg_status st = ctx_write(ctx, net->input, 0, shape4_count(net->in_shape) * 4, input);
    for (int i = 0; st == CLSEG_OK && i < net->spec.n_layers; i++) {
        const layer_step *s = &net->steps[i];
        op_call c = net_step_call(net, i);
        st = op_run_choice(ctx, &c, &net->choices[i]);
        if (st == CLSEG_OK) st = ctx_read(ctx, net->bufs[i].out, 0, shape4_count(s->out) * 4, out);
        int with_idx = step_writes_indices(s);
        if (st == CLSEG_OK && with_idx)
            st = ctx_read(ctx, net->bufs[i].indices, 0, shape4_count(s->out) * 4, idx);
        if (st == CLSEG_OK) st = sink(user, i, out, with_idx ? idx : NULL);
    }
    free(out);
    free(idx);
    return st;
}

static clseg_status check_args(clseg_net *net, const char *call, const void *input,
                               const void *dest, int n, int height, int width) {
    if (!input || !dest)
        return ctx_fail(net->ctx, CLSEG_ERR_INVALID_ARGUMENT, "%s: %s is NULL", call,
                        input ? "its output argument" : "input");
    return net_prepare(net, n, height, width);
}

/* ---- every layer's output ------------------------------------------------------------------ */

typedef struct user_sink {
    const clseg_net *net;
    clseg_layer_output_fn fn;
    void *user;
} user_sink;

static clseg_status to_user(void *user, int i, const float *out, const int32_t *indices) {
    (void)indices;
    const user_sink *u = user;
    const shape4 s = u->net->steps[i].out;
    const int shape[4] = {s.n, s.c, s.h, s.w};
    u->fn(u->user, i, shape, out);
    return CLSEG_OK;
}

static clseg_status forward_layers(clseg_net *net, const float *input, int n, int height, int width,
                                   clseg_layer_output_fn fn, void *user) {
    clseg_status st =
        check_args(net, "clseg_net_forward_layers", input, (const void *)fn, n, height, width);
    user_sink u = {net, fn, user};
    return st == CLSEG_OK ? run_readback(net, input, to_user, &u) : st;
}

clseg_status clseg_net_forward_layers(clseg_net *net, const float *input, int n, int height,
                                      int width, clseg_layer_output_fn fn, void *user) {
    if (!net) return CLSEG_ERR_INVALID_ARGUMENT;
    return CTX_LOCKED(net->ctx, forward_layers(net, input, n, height, width, fn, user));
}

/* ---- the layer-by-layer check -------------------------------------------------------------- */

typedef struct checker {
    clseg_net *net;
    const float *input;
    clseg_layer_check *results;
    /* Device outputs (and indices) kept until the last layer that reads them is checked. */
    float *outs[SPEC_MAX_LAYERS];
    int32_t *idx[SPEC_MAX_LAYERS];
    int last_use[SPEC_MAX_LAYERS];
} checker;

static void worst_at(clseg_layer_check *r, shape4 s, size_t i, double ratio, double got,
                     double want) {
    if (!(ratio > r->worst_ratio) && r->elements) return;
    r->worst_ratio = ratio;
    const size_t plane = shape4_plane(s);
    r->worst_index[0] = (int)(i / ((size_t)s.c * plane));
    r->worst_index[1] = (int)(i / plane % (size_t)s.c);
    r->worst_index[2] = (int)(i % plane / (size_t)s.w);
    r->worst_index[3] = (int)(i % (size_t)s.w);
    r->worst_got = got;
    r->worst_want = want;
}

/* Adds one output's comparison to r: got and want are floats, or int32 indices when `ints`. */
static void compare(clseg_layer_check *r, shape4 s, const void *got, const void *want, int ints) {
    const size_t count = shape4_count(s);
    for (size_t i = 0; i < count; i++, r->elements++) {
        double g, w, err, ratio;
        if (ints) {
            g = ((const int32_t *)got)[i];
            w = ((const int32_t *)want)[i];
            err = fabs(g - w);
            ratio = err > 0 ? INFINITY : 0;
        } else {
            g = ((const float *)got)[i];
            w = ((const float *)want)[i];
            err = fabs(g - w);
            double bound = r->atol + r->rtol * fabs(w);
            ratio = isnan(err) ? INFINITY : bound > 0 ? err / bound : err > 0 ? INFINITY : 0;
            r->max_abs_ref = fmax(r->max_abs_ref, fabs(w));
        }
        if (isnan(err) || err > r->max_abs_error) r->max_abs_error = err;
        if (ratio > 1) r->failures++;
        worst_at(r, s, i, ratio, g, w);
    }
}

/* Layer i's inputs as host buffers in its call's slots: the device outputs of the layers it
   reads (as net_layer_call wires them), the network input, and conv weights read back from the
   device. Slots this returns in `owned` are to be freed by the caller. */
static clseg_status layer_inputs(checker *k, int i, const op_call *c, const shape4 ins[OP_IO_MAX],
                                 const void *in[OP_IO_MAX], void *owned[OP_IO_MAX]) {
    clseg_net *net = k->net;
    const layer_step *s = &net->steps[i];
    for (int j = 0; j < s->n_in; j++) in[j] = s->in[j] == SPEC_INPUT ? k->input : k->outs[s->in[j]];
    if (s->op == OP_MAXUNPOOL) in[1] = k->idx[s->pool_layer];
    if (s->op != OP_CONV2D && s->op != OP_DECONV2D) return CLSEG_OK;
    for (int j = 1; j <= 2; j++) {
        if (!c->in[j].mem) continue;
        size_t bytes = shape4_count(ins[j]) * sizeof(float);
        owned[j] = clseg_malloc(bytes);
        if (!owned[j]) return ctx_fail(net->ctx, CLSEG_ERR_OUT_OF_MEMORY, "out of memory");
        clseg_status st = ctx_read(net->ctx, c->in[j].mem, 0, bytes, owned[j]);
        if (st != CLSEG_OK) return st;
        in[j] = owned[j];
    }
    return CLSEG_OK;
}

static clseg_status check_layer(checker *k, int i, const float *out, const int32_t *indices) {
    clseg_net *net = k->net;
    const op_call c = net_step_call(net, i);
    const op_desc *d = op_desc_get(c.kind);
    shape4 ins[OP_IO_MAX], outs[OP_IO_MAX];
    if (!d || !op_shapes(&c, ins, outs))
        return ctx_fail(net->ctx, CLSEG_ERR_INTERNAL, "layer %s: no op description",
                        net->spec.layers[i].name);
    const void *in[OP_IO_MAX] = {0};
    void *owned[OP_IO_MAX] = {0}, *want[OP_IO_MAX] = {0};
    clseg_status st = layer_inputs(k, i, &c, ins, in, owned);
    for (int j = 0; st == CLSEG_OK && j < OP_IO_MAX; j++) {
        if (!d->out[j] || !c.out[j].mem) continue;
        want[j] = clseg_malloc(shape4_count(outs[j]) * 4);
        if (!want[j]) st = ctx_fail(net->ctx, CLSEG_ERR_OUT_OF_MEMORY, "out of memory");
    }
    if (st == CLSEG_OK && !d->reference(&c, in, want))
        st = ctx_fail(net->ctx, CLSEG_ERR_OUT_OF_MEMORY, "out of memory");
    clseg_layer_check *r = &k->results[i];
    if (st == CLSEG_OK) st = net_layer_info(net, i, &r->info);
    if (st == CLSEG_OK) {
        const op_tolerance t = d->tolerance(&c, 0);
        r->atol = t.atol;
        r->rtol = t.rtol;
        compare(r, outs[0], out, want[0], 0);
        if (indices && want[1]) compare(r, outs[1], indices, want[1], 1);
        r->pass = r->failures == 0;
    }
    for (int j = 0; j < OP_IO_MAX; j++) {
        free(owned[j]);
        free(want[j]);
    }
    return st;
}

static clseg_status keep_and_check(void *user, int i, const float *out, const int32_t *indices) {
    checker *k = user;
    const size_t count = shape4_count(k->net->steps[i].out);
    if (k->last_use[i] > i) {
        k->outs[i] = clseg_malloc(count * sizeof *out);
        k->idx[i] = indices ? clseg_malloc(count * sizeof *indices) : NULL;
        if (!k->outs[i] || (indices && !k->idx[i]))
            return ctx_fail(k->net->ctx, CLSEG_ERR_OUT_OF_MEMORY, "out of memory");
        memcpy(k->outs[i], out, count * sizeof *out);
        if (indices) memcpy(k->idx[i], indices, count * sizeof *indices);
    }
    clseg_status st = check_layer(k, i, out, indices);
    for (int j = 0; j < i; j++)
        if (k->last_use[j] == i) {
            free(k->outs[j]);
            free(k->idx[j]);
            k->outs[j] = NULL;
            k->idx[j] = NULL;
        }
    return st;
}

static clseg_status check_layers(clseg_net *net, const float *input, int n, int height, int width,
                                 clseg_layer_check *results, int count) {
    clseg_status st = check_args(net, "clseg_net_check_layers", input, results, n, height, width);
    if (st != CLSEG_OK) return st;
    const int layers = net->spec.n_layers;
    if (count < layers)
        return ctx_fail(net->ctx, CLSEG_ERR_INVALID_ARGUMENT,
                        "clseg_net_check_layers: room for %d results, the net has %d layers", count,
                        layers);
    checker *k = clseg_calloc(1, sizeof *k);
    if (!k) return ctx_fail(net->ctx, CLSEG_ERR_OUT_OF_MEMORY, "out of memory");
    k->net = net;
    k->input = input;
    k->results = results;
    memset(results, 0, (size_t)layers * sizeof *results);
    for (int i = 0; i < layers; i++) {
        const layer_step *s = &net->steps[i];
        k->last_use[i] = i;
        for (int j = 0; j < s->n_in; j++)
            if (s->in[j] != SPEC_INPUT) k->last_use[s->in[j]] = i;
        if (s->op == OP_MAXUNPOOL) k->last_use[s->pool_layer] = i;
    }
    st = run_readback(net, input, keep_and_check, k);
    for (int i = 0; i < layers; i++) {
        free(k->outs[i]);
        free(k->idx[i]);
    }
    free(k);
    return st;
}

clseg_status clseg_net_check_layers(clseg_net *net, const float *input, int n, int height,
                                    int width, clseg_layer_check *results, int count) {
    if (!net) return CLSEG_ERR_INVALID_ARGUMENT;
    return CTX_LOCKED(net->ctx, check_layers(net, input, n, height, width, results, count));
}
