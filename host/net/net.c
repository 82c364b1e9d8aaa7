/* net.c - the network executor: uploads folded weights, plans activations for an input size,
   and runs the layers' ops on the device. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../ops/ops.h"
#include "exec.h"
#include "fold.h"
#include "plan.h"

typedef struct layer_rt {
    cl_mem weight, bias; /* conv / deconv */
    cl_mem out;
    cl_mem indices;   /* maxpool read by an unpool */
    op_choice choice; /* variant and parameters for the current input shape */
} layer_rt;

struct clseg_net {
    clseg_context *ctx;
    net_spec spec;
    int classes;
    int channels;
    float mean[4], std[4];
    layer_rt layers[SPEC_MAX_LAYERS];
    uint64_t weight_bytes;

    /* activations for the current input shape */
    shape4 in_shape;
    layer_step steps[SPEC_MAX_LAYERS];
    cl_mem input, labels;
    op_choice argmax_choice;
    uint64_t activation_bytes;
    float *staging; /* host copy of the normalised input for segment() */
};

static void release(cl_mem *m) {
    if (*m) clReleaseMemObject(*m);
    *m = NULL;
}

static void free_activations(clseg_net *net) {
    for (int i = 0; i < net->spec.n_layers; i++) {
        release(&net->layers[i].out);
        release(&net->layers[i].indices);
    }
    release(&net->input);
    release(&net->labels);
    net->activation_bytes = 0;
    net->in_shape = (shape4){0, 0, 0, 0};
}

void clseg_net_free(clseg_net *net) {
    if (!net) return;
    free_activations(net);
    for (int i = 0; i < net->spec.n_layers; i++) {
        release(&net->layers[i].weight);
        release(&net->layers[i].bias);
    }
    free(net->staging);
    free(net);
}

uint64_t clseg_net_device_bytes(const clseg_net *net) {
    return net ? net->weight_bytes + net->activation_bytes : 0;
}

clseg_status clseg_net_create(clseg_net **out, clseg_context *ctx, const clseg_model *model) {
    if (!out || !ctx || !model) return CLSEG_ERR_INVALID_ARGUMENT;
    *out = NULL;
    clseg_net *net = clseg_calloc(1, sizeof *net);
    if (!net) return ctx_fail(ctx, CLSEG_ERR_OUT_OF_MEMORY, "out of memory");
    net->ctx = ctx;
    net->spec = model->spec;
    net->classes = model->classes;
    net->channels = model->channels;
    memcpy(net->mean, model->mean, sizeof net->mean);
    memcpy(net->std, model->std, sizeof net->std);

    int channels[SPEC_MAX_LAYERS];
    clseg_status st =
        spec_channels(&net->spec, net->classes, channels, ctx->error, sizeof ctx->error);
    for (int i = 0; st == CLSEG_OK && i < net->spec.n_layers; i++) {
        const spec_layer *L = &net->spec.layers[i];
        if (L->type != LAYER_CONV && L->type != LAYER_DECONV) continue;
        int cin = L->inputs[0] == SPEC_INPUT ? net->channels : channels[L->inputs[0]];
        float *w = NULL, *b = NULL;
        st = fold_layer(model, i, cin, channels[i], &w, &b, ctx->error, sizeof ctx->error);
        if (st != CLSEG_OK) break;
        size_t wbytes = (size_t)cin * channels[i] * L->size * L->size * sizeof(float);
        size_t bbytes = (size_t)channels[i] * sizeof(float);
        st = ctx_buffer(ctx, wbytes, w, &net->layers[i].weight);
        if (st == CLSEG_OK) st = ctx_buffer(ctx, bbytes, b, &net->layers[i].bias);
        net->weight_bytes += wbytes + bbytes;
        free(w);
        free(b);
    }
    /* Compile what the network needs now, at a nominal size, so start-up cost is paid here. */
    if (st == CLSEG_OK) st = clseg_net_prepare(net, 1, 64, 64);
    if (st != CLSEG_OK) {
        clseg_net_free(net);
        return st;
    }
    *out = net;
    return CLSEG_OK;
}

static op_call step_call(const clseg_net *net, int i) {
    const layer_step *s = &net->steps[i];
    const layer_rt *L = &net->layers[i];
    op_call c;
    memset(&c, 0, sizeof c);
    c.kind = s->op;
    memcpy(&c.p, &s->p, sizeof s->p);
    for (int k = 0; k < s->n_in; k++) {
        int src = s->in[k];
        c.in[k] = src == SPEC_INPUT ? (dtensor){net->input, net->in_shape}
                                    : (dtensor){net->layers[src].out, net->steps[src].out};
    }
    if (s->op == OP_CONV2D || s->op == OP_DECONV2D) {
        c.in[1].mem = L->weight;
        c.in[2].mem = L->bias;
    } else if (s->op == OP_MAXUNPOOL) {
        c.in[1] = (dtensor){net->layers[s->pool_layer].indices, net->steps[s->pool_layer].out};
    }
    c.out[0] = (dtensor){L->out, s->out};
    if (s->op == OP_MAXPOOL) c.out[1] = (dtensor){L->indices, s->out};
    return c;
}

static op_call argmax_call(const clseg_net *net) {
    int last = net->spec.n_layers - 1;
    shape4 s = net->steps[last].out;
    op_call c = {.kind = OP_ARGMAX};
    c.in[0] = (dtensor){net->layers[last].out, s};
    c.out[0] = (dtensor){net->labels, {s.n, 1, s.h, s.w}};
    return c;
}

clseg_status clseg_net_prepare(clseg_net *net, int n, int height, int width) {
    if (!net || n < 1 || height < 1 || width < 1) return CLSEG_ERR_INVALID_ARGUMENT;
    clseg_context *ctx = net->ctx;
    shape4 in = {n, net->channels, height, width};
    if (memcmp(&in, &net->in_shape, sizeof in) == 0) return CLSEG_OK;
    if (height > CLSEG_MAX_DIM || width > CLSEG_MAX_DIM || n > 4096)
        return ctx_fail(ctx, CLSEG_ERR_TOO_LARGE, "input %dx%dx%d is absurdly large", n, width,
                        height);
    free_activations(net);
    clseg_status st =
        net_plan(&net->spec, net->classes, in, net->steps, ctx->error, sizeof ctx->error);
    if (st != CLSEG_OK) return st;

    /* Check the whole footprint against the device before allocating anything. */
    uint64_t total = shape4_count(in) * 4 + (uint64_t)n * height * width * 4, largest = 0;
    for (int i = 0; i < net->spec.n_layers; i++) {
        uint64_t b = (uint64_t)shape4_count(net->steps[i].out) * 4;
        total += b * (net->steps[i].wants_indices ? 2 : 1);
        if (b > largest) largest = b;
    }
    if (largest > ctx->info.max_alloc_bytes ||
        total + net->weight_bytes > ctx->info.global_mem_bytes)
        return ctx_fail(ctx, CLSEG_ERR_TOO_LARGE,
                        "a %dx%d input (batch %d) needs %.1f MiB of device memory, largest buffer "
                        "%.1f MiB; %s has %.1f MiB, at most %.1f MiB per buffer",
                        width, height, n, (total + net->weight_bytes) / 1048576.0,
                        largest / 1048576.0, ctx->info.name, ctx->info.global_mem_bytes / 1048576.0,
                        ctx->info.max_alloc_bytes / 1048576.0);

    st = ctx_buffer(ctx, shape4_count(in) * 4, NULL, &net->input);
    if (st == CLSEG_OK) st = ctx_buffer(ctx, (size_t)n * height * width * 4, NULL, &net->labels);
    for (int i = 0; st == CLSEG_OK && i < net->spec.n_layers; i++) {
        size_t b = shape4_count(net->steps[i].out) * 4;
        st = ctx_buffer(ctx, b, NULL, &net->layers[i].out);
        if (st == CLSEG_OK && net->steps[i].wants_indices)
            st = ctx_buffer(ctx, b, NULL, &net->layers[i].indices);
    }
    if (st != CLSEG_OK) {
        free_activations(net);
        return st;
    }
    net->in_shape = in;
    net->activation_bytes = total;
    for (int i = 0; st == CLSEG_OK && i < net->spec.n_layers; i++) {
        op_call c = step_call(net, i);
        st = op_choose(ctx, &c, &net->layers[i].choice);
        if (st == CLSEG_OK) st = op_prepare_choice(ctx, &c, &net->layers[i].choice);
    }
    if (st == CLSEG_OK) {
        op_call c = argmax_call(net);
        st = op_choose(ctx, &c, &net->argmax_choice);
        if (st == CLSEG_OK) st = op_prepare_choice(ctx, &c, &net->argmax_choice);
    }
    if (st != CLSEG_OK) free_activations(net);
    return st;
}

static clseg_status run_layers(clseg_net *net) {
    for (int i = 0; i < net->spec.n_layers; i++) {
        op_call c = step_call(net, i);
        clseg_status st = op_run_choice(net->ctx, &c, &net->layers[i].choice);
        if (st != CLSEG_OK) return st;
    }
    return CLSEG_OK;
}

clseg_status clseg_net_forward(clseg_net *net, const float *input, int n, int height, int width,
                               float *logits) {
    if (!net || !input || !logits) return CLSEG_ERR_INVALID_ARGUMENT;
    clseg_status st = clseg_net_prepare(net, n, height, width);
    if (st == CLSEG_OK)
        st = ctx_write(net->ctx, net->input, 0, shape4_count(net->in_shape) * 4, input);
    if (st == CLSEG_OK) st = run_layers(net);
    if (st == CLSEG_OK) {
        int last = net->spec.n_layers - 1;
        st = ctx_read(net->ctx, net->layers[last].out, 0, shape4_count(net->steps[last].out) * 4,
                      logits);
    }
    return st;
}

clseg_status clseg_net_segment(clseg_net *net, const uint8_t *rgb, int width, int height,
                               uint8_t *labels) {
    if (!net || !rgb || !labels || width < 1 || height < 1) return CLSEG_ERR_INVALID_ARGUMENT;
    if (net->channels != 3)
        return ctx_fail(net->ctx, CLSEG_ERR_UNSUPPORTED,
                        "model expects %d input channels, segment() feeds RGB", net->channels);
    clseg_status st = clseg_net_prepare(net, 1, height, width);
    if (st != CLSEG_OK) return st;
    size_t plane = (size_t)width * height;
    float *x = clseg_realloc(net->staging, plane * 3 * sizeof *x);
    if (!x) return ctx_fail(net->ctx, CLSEG_ERR_OUT_OF_MEMORY, "out of memory");
    net->staging = x;
    net_normalize_rgb(rgb, width, height, net->mean, net->std, x);
    int32_t *lab = clseg_malloc(plane * sizeof *lab);
    if (!lab) return ctx_fail(net->ctx, CLSEG_ERR_OUT_OF_MEMORY, "out of memory");
    st = ctx_write(net->ctx, net->input, 0, plane * 3 * sizeof *x, x);
    if (st == CLSEG_OK) st = run_layers(net);
    if (st == CLSEG_OK) {
        op_call c = argmax_call(net);
        st = op_run_choice(net->ctx, &c, &net->argmax_choice);
    }
    if (st == CLSEG_OK) st = ctx_read(net->ctx, net->labels, 0, plane * sizeof *lab, lab);
    if (st == CLSEG_OK)
        for (size_t i = 0; i < plane; i++) labels[i] = (uint8_t)lab[i];
    free(lab);
    return st;
}
