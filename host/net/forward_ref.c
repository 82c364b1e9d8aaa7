/* forward_ref.c - whole-network forward with the C reference ops: the end-to-end test oracle. */
#include <stdlib.h>
#include <string.h>

#include "../ref/ref.h"
#include "exec.h"
#include "fold.h"
#include "plan.h"

clseg_status net_reference_forward(const clseg_model *m, const float *input, shape4 in,
                                   float *logits, char *err, size_t errlen) {
    return net_reference_forward_observed(m, input, in, logits, NULL, NULL, err, errlen);
}

clseg_status net_reference_forward_observed(const clseg_model *m, const float *input, shape4 in,
                                            float *logits,
                                            void (*observe)(void *user, const net_ref_layer *l),
                                            void *user, char *err, size_t errlen) {
    const net_spec *spec = &m->spec;
    layer_step *steps = clseg_calloc(SPEC_MAX_LAYERS, sizeof *steps);
    float **outs = clseg_calloc(SPEC_MAX_LAYERS, sizeof *outs);
    int32_t **idx = clseg_calloc(SPEC_MAX_LAYERS, sizeof *idx);
    clseg_status st = (steps && outs && idx) ? CLSEG_OK : CLSEG_ERR_OUT_OF_MEMORY;
    if (st == CLSEG_OK) st = net_plan(spec, m->classes, in, steps, err, errlen);
    for (int i = 0; st == CLSEG_OK && i < spec->n_layers; i++) {
        const layer_step *s = &steps[i];
        const float *x = s->in[0] == SPEC_INPUT ? input : outs[s->in[0]];
        shape4 xs = s->in[0] == SPEC_INPUT ? in : steps[s->in[0]].out;
        float *y = clseg_malloc(shape4_count(s->out) * sizeof *y);
        if (!y) {
            st = CLSEG_ERR_OUT_OF_MEMORY;
            break;
        }
        outs[i] = y;
        float *w = NULL, *b = NULL;
        switch (s->op) {
        case OP_CONV2D:
        case OP_DECONV2D: {
            int cin = s->op == OP_CONV2D ? xs.c / conv2d_groups(&s->p.conv) : xs.c;
            int cout = s->out.c;
            st = fold_layer(m, i, cin, cout, &w, &b, err, errlen);
            if (st != CLSEG_OK) break;
            if (s->op == OP_CONV2D)
                ref_conv2d(x, xs, w, b, &s->p.conv, y);
            else
                ref_deconv2d(x, xs, w, b, &s->p.deconv, y);
            break;
        }
        case OP_MAXPOOL:
            if (s->p.pool.with_indices) {
                idx[i] = clseg_malloc(shape4_count(s->out) * sizeof(int32_t));
                if (!idx[i]) {
                    st = CLSEG_ERR_OUT_OF_MEMORY;
                    break;
                }
            }
            ref_maxpool(x, xs, &s->p.pool, y, idx[i]);
            break;
        case OP_AVGPOOL:
            ref_avgpool(x, xs, &s->p.pool, y);
            break;
        case OP_UPSAMPLE:
            ref_upsample(x, xs, &s->p.up, y);
            break;
        case OP_MAXUNPOOL:
            ref_maxunpool(x, idx[s->pool_layer], xs, &s->p.unpool, y);
            break;
        case OP_CONCAT:
        case OP_ADD:
        case OP_MUL: {
            const float *b = s->in[1] == SPEC_INPUT ? input : outs[s->in[1]];
            shape4 bs = s->in[1] == SPEC_INPUT ? in : steps[s->in[1]].out;
            if (s->op == OP_CONCAT)
                ref_concat(x, xs, b, bs, y);
            else if (s->op == OP_ADD)
                ref_add(x, b, xs, &s->p.add, y);
            else
                ref_mul(x, xs, b, bs, y);
            break;
        }
        case OP_ACT:
            ref_act(x, shape4_count(xs), s->p.act.act, y);
            break;
        case OP_GAP:
            ref_gap(x, xs, y);
            break;
        case OP_RESIZE:
            ref_resize(x, xs, &s->p.resize, y);
            break;
        default:
            st = clseg_fail(err, errlen, CLSEG_ERR_INTERNAL, "unexpected op");
            break;
        }
        if (st == CLSEG_OK && observe) {
            net_ref_layer l = {
                .index = i, .step = s, .weight = w, .bias = b, .out = y, .indices = idx[i]};
            for (int k = 0; k < s->n_in && k < SPEC_MAX_INPUTS; k++) {
                l.in[k] = s->in[k] == SPEC_INPUT ? input : outs[s->in[k]];
                l.in_shape[k] = s->in[k] == SPEC_INPUT ? in : steps[s->in[k]].out;
            }
            observe(user, &l);
        }
        free(w);
        free(b);
    }
    if (st == CLSEG_OK) {
        int last = spec->n_layers - 1;
        memcpy(logits, outs[last], shape4_count(steps[last].out) * sizeof *logits);
    } else if (st == CLSEG_ERR_OUT_OF_MEMORY) {
        clseg_fail(err, errlen, st, "out of memory");
    }
    for (int i = 0; outs && i < SPEC_MAX_LAYERS; i++) free(outs[i]);
    for (int i = 0; idx && i < SPEC_MAX_LAYERS; i++) free(idx[i]);
    free(outs);
    free(idx);
    free(steps);
    return st;
}
