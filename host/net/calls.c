/* calls.c - the layer -> op_call builder and a network's calls at one input size. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../ops/backward.h"
#include "calls.h"

_Static_assert(SPEC_NAME_MAX <= OP_CALL_NAME_MAX, "a layer name fits an op_named_call");

static cl_mem buf_of(const layer_buffers *bufs, int layer, int indices) {
    if (!bufs) return NULL;
    return indices ? bufs[layer].indices : bufs[layer].out;
}

op_call net_layer_call(const layer_step *steps, int i, shape4 in, cl_mem input,
                       const layer_buffers *bufs) {
    const layer_step *s = &steps[i];
    op_call c;
    memset(&c, 0, sizeof c);
    c.kind = s->op;
    c.p = s->p;
    for (int k = 0; k < s->n_in; k++)
        c.in[k] = s->in[k] == SPEC_INPUT
                      ? (dtensor){input, in}
                      : (dtensor){buf_of(bufs, s->in[k], 0), steps[s->in[k]].out};
    if (s->op == OP_CONV2D || s->op == OP_DECONV2D) {
        c.in[1].mem = bufs ? bufs[i].weight : NULL;
        c.in[2].mem = bufs ? bufs[i].bias : NULL;
    } else if (s->op == OP_MAXUNPOOL) {
        c.in[1] = (dtensor){buf_of(bufs, s->pool_layer, 1), steps[s->pool_layer].out};
    }
    c.out[0] = (dtensor){buf_of(bufs, i, 0), s->out};
    if (step_writes_indices(s)) c.out[1] = (dtensor){buf_of(bufs, i, 1), s->out};
    return c;
}

op_call net_argmax_call(const layer_step *steps, int n_layers, const layer_buffers *bufs,
                        cl_mem labels) {
    int last = n_layers - 1;
    shape4 s = steps[last].out;
    op_call c = {.kind = OP_ARGMAX};
    c.in[0] = (dtensor){buf_of(bufs, last, 0), s};
    c.out[0] = (dtensor){labels, {s.n, 1, s.h, s.w}};
    return c;
}

clseg_status net_calls(const net_spec *spec, int classes, shape4 in, op_named_call *calls,
                       int *count, char *err, size_t errlen) {
    layer_step *steps = clseg_calloc(SPEC_MAX_LAYERS, sizeof *steps);
    if (!steps) return clseg_fail(err, errlen, CLSEG_ERR_OUT_OF_MEMORY, "out of memory");
    clseg_status st = net_plan(spec, classes, in, steps, err, errlen);
    if (st != CLSEG_OK) {
        free(steps);
        return st;
    }
    int n = spec->n_layers;
    for (int i = 0; i < n; i++) {
        calls[i].call = net_layer_call(steps, i, in, NULL, NULL);
        snprintf(calls[i].name, sizeof calls[i].name, "%s", spec->layers[i].name);
    }
    calls[n].call = net_argmax_call(steps, n, NULL, NULL);
    snprintf(calls[n].name, sizeof calls[n].name, "(argmax)");
    *count = n + 1;
    free(steps);
    return CLSEG_OK;
}

clseg_status net_train_calls(const net_spec *spec, int classes, shape4 in, op_named_call *calls,
                             int *count, char *err, size_t errlen) {
    int n = 0;
    clseg_status st = net_calls(spec, classes, in, calls, &n, err, errlen);
    for (int i = 0; st == CLSEG_OK && i < spec->n_layers; i++) {
        const op_call *f = &calls[i].call;
        if (spec->layers[i].inputs[0] == SPEC_INPUT) continue;
        op_call bwd = {.kind = f->kind == OP_CONV2D ? OP_CONV2D_BWD_DATA : OP_DECONV2D_BWD_DATA};
        if (f->kind == OP_CONV2D) {
            bwd.p.conv = f->p.conv;
            bwd.p.conv.act = 0;
        } else if (f->kind == OP_DECONV2D) {
            bwd.p.deconv = f->p.deconv;
            bwd.p.deconv.relu = 0;
        } else {
            continue;
        }
        bwd.in[0] = f->out[0];
        bwd.in[1] = f->in[1];
        bwd.out[0] = f->in[0];
        op_named_call *c = &calls[n];
        if (!op_data_grad_adjoint(&bwd, &c->call))
            return clseg_fail(err, errlen, CLSEG_ERR_INVALID_ARGUMENT,
                              "%s: no data-gradient call for this layer", calls[i].name);
        snprintf(c->name, sizeof c->name, "%.*s dx", (int)sizeof c->name - 4, spec->layers[i].name);
        n++;
    }
    *count = n;
    return st;
}
