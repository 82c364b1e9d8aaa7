/* plan.c - resolves a spec's layers into op calls for one input shape. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan.h"

static int accepts(const net_spec *spec, int classes, int channels, int s) {
    shape4 shapes[SPEC_MAX_LAYERS];
    return spec_shapes(spec, classes, (shape4){1, channels, s, s}, shapes, NULL, 0) == CLSEG_OK;
}

int net_accepted_sizes(const net_spec *spec, int classes, int channels, int near, char *buf,
                       size_t len) {
    unsigned char yes[NET_SIZE_PROBE_MAX + 1] = {0};
    int first = 0, best = 0, n_yes = 0;
    for (int s = 1; s <= NET_SIZE_PROBE_MAX; s++) {
        yes[s] = (unsigned char)accepts(spec, classes, channels, s);
        if (!yes[s]) continue;
        n_yes++;
        if (!first) first = s;
        if (!best || abs(s - near) < abs(best - near)) best = s;
    }
    if (len) buf[0] = 0;
    if (!n_yes) {
        snprintf(buf, len, "none from 1x1 to %dx%d", NET_SIZE_PROBE_MAX, NET_SIZE_PROBE_MAX);
        return 0;
    }
    /* The largest step d such that, from `first` on, exactly the multiples of d are accepted. */
    for (int d = NET_SIZE_PROBE_MAX; d >= 1; d--) {
        if (first % d) continue;
        int exact = 1;
        for (int s = first; s <= NET_SIZE_PROBE_MAX && exact; s++) exact = yes[s] == (s % d == 0);
        if (!exact) continue;
        if (d == 1)
            snprintf(buf, len, "any size from %dx%d", first, first);
        else if (first == d)
            snprintf(buf, len, "sides that are multiples of %d", d);
        else
            snprintf(buf, len, "sides that are multiples of %d, from %d", d, first);
        return best;
    }
    size_t o = (size_t)snprintf(buf, len, "sides");
    int listed = 0;
    for (int s = first; s <= NET_SIZE_PROBE_MAX && listed < 8 && o < len; s++)
        if (yes[s]) o += (size_t)snprintf(buf + o, len - o, "%s %d", listed++ ? "," : "", s);
    if (listed < n_yes && o < len)
        snprintf(buf + o, len - o, ", ... (%d of 1-%d)", n_yes, NET_SIZE_PROBE_MAX);
    return best;
}

clseg_status net_plan(const net_spec *spec, int classes, shape4 in, layer_step *steps, char *err,
                      size_t errlen) {
    shape4 shapes[SPEC_MAX_LAYERS];
    int channels[SPEC_MAX_LAYERS];
    clseg_status st = spec_channels(spec, classes, channels, err, errlen);
    if (st == CLSEG_OK) st = spec_shapes(spec, classes, in, shapes, err, errlen);
    if (st == CLSEG_ERR_INVALID_ARGUMENT && err && errlen) {
        /* A size this network cannot take: say which it can. */
        char sizes[160];
        net_accepted_sizes(spec, classes, in.c, in.h, sizes, sizeof sizes);
        size_t used = strlen(err);
        if (used < errlen) snprintf(err + used, errlen - used, " (the network takes %s)", sizes);
    }
    if (st != CLSEG_OK) return st;
    for (int i = 0; i < spec->n_layers; i++) {
        const spec_layer *L = &spec->layers[i];
        layer_step *s = &steps[i];
        memset(s, 0, sizeof *s);
        s->n_in = L->n_inputs;
        memcpy(s->in, L->inputs, sizeof s->in);
        s->out = shapes[i];
        s->pool_layer = -1;
        shape4 x = L->inputs[0] == SPEC_INPUT ? in : shapes[L->inputs[0]];
        switch (L->type) {
        case LAYER_CONV:
            s->op = OP_CONV2D;
            s->p.conv = (conv2d_params){x.c,    shapes[i].c, L->size,   L->stride,
                                        L->pad, L->act,      L->groups, L->dilation};
            break;
        case LAYER_DECONV: {
            s->op = OP_DECONV2D;
            deconv2d_params d = {x.c,    shapes[i].c, L->size, L->stride,
                                 L->pad, 0,           0,       L->act == ACT_RELU};
            d.out_pad_h = deconv2d_out_pad_for(x.h, L->size, L->stride, L->pad, shapes[i].h);
            d.out_pad_w = deconv2d_out_pad_for(x.w, L->size, L->stride, L->pad, shapes[i].w);
            if (d.out_pad_h < 0 || d.out_pad_w < 0)
                return clseg_fail(err, errlen, CLSEG_ERR_INTERNAL, "layer %s: bad output size",
                                  L->name);
            s->p.deconv = d;
            break;
        }
        case LAYER_MAXPOOL:
        case LAYER_AVGPOOL:
            s->op = L->type == LAYER_MAXPOOL ? OP_MAXPOOL : OP_AVGPOOL;
            s->p.pool = (pool_params){L->size, L->stride, L->ceil_mode, 0};
            break;
        case LAYER_UPSAMPLE:
            s->op = OP_UPSAMPLE;
            s->p.up =
                (upsample_params){L->factor, L->bilinear ? UPSAMPLE_BILINEAR : UPSAMPLE_NEAREST};
            break;
        case LAYER_UNPOOL:
            s->op = OP_MAXUNPOOL;
            s->pool_layer = L->pool_layer;
            s->p.unpool = (unpool_params){shapes[i].h, shapes[i].w};
            steps[L->pool_layer].p.pool.with_indices = 1;
            break;
        case LAYER_CONCAT:
            s->op = OP_CONCAT;
            break;
        case LAYER_ADD:
            s->op = OP_ADD;
            s->p.add = (add_params){L->act == ACT_RELU};
            break;
        case LAYER_ACT:
            s->op = OP_ACT;
            s->p.act = (act_params){L->act};
            break;
        case LAYER_GAP:
            s->op = OP_GAP;
            break;
        case LAYER_MUL:
            s->op = OP_MUL;
            break;
        case LAYER_RESIZE:
            s->op = OP_RESIZE;
            spec_resize_params(spec, L, in, shapes, x, &s->p.resize);
            break;
        default:
            return clseg_fail(err, errlen, CLSEG_ERR_INTERNAL, "layer %s: unknown type", L->name);
        }
    }
    return CLSEG_OK;
}
