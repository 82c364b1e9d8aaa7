/* imported.c - reference activations, global average pooling, broadcast multiply and ONNX
   Resize: the inference-only ops that imported models use. */
#include <math.h>

#include "ref.h"

float ref_act_value(float v, int act) {
    switch (act) {
    case ACT_RELU:
        return v > 0.0f ? v : 0.0f;
    case ACT_RELU6:
        return v < 0.0f ? 0.0f : v > 6.0f ? 6.0f : v;
    case ACT_HARDSWISH:
    case ACT_HARDSIGMOID: {
        float s = v * (1.0f / 6.0f) + 0.5f;
        s = s < 0.0f ? 0.0f : s > 1.0f ? 1.0f : s;
        return act == ACT_HARDSWISH ? v * s : s;
    }
    case ACT_SIGMOID:
        return 1.0f / (1.0f + expf(-v));
    default:
        return v;
    }
}

void ref_act(const float *x, size_t count, int act, float *y) {
    for (size_t i = 0; i < count; i++) y[i] = ref_act_value(x[i], act);
}

/* Summed in double: the reference should not be the less accurate side. */
void ref_gap(const float *x, shape4 xs, float *y) {
    const size_t plane = shape4_plane(xs);
    for (int i = 0; i < xs.n * xs.c; i++) {
        double sum = 0;
        for (size_t k = 0; k < plane; k++) sum += x[(size_t)i * plane + k];
        y[i] = (float)(sum / (double)plane);
    }
}

void ref_mul(const float *a, shape4 as, const float *b, shape4 bs, float *y) {
    const size_t plane = shape4_plane(as);
    const int bcast = bs.h == 1 && bs.w == 1 && plane != 1;
    for (size_t i = 0; i < shape4_count(as); i++) y[i] = a[i] * b[bcast ? i / plane : i];
}

void ref_resize(const float *x, shape4 xs, const resize_params *p, float *y) {
    shape4 ys;
    if (!resize_out_shape(xs, p, &ys)) return;
    for (int plane = 0; plane < xs.n * xs.c; plane++) {
        const float *xp = x + (size_t)plane * shape4_plane(xs);
        float *yp = y + (size_t)plane * shape4_plane(ys);
        for (int oy = 0; oy < ys.h; oy++) {
            const float sy = resize_source(p->coord, oy, xs.h, ys.h, p->scale_h);
            for (int ox = 0; ox < ys.w; ox++) {
                const float sx = resize_source(p->coord, ox, xs.w, ys.w, p->scale_w);
                float v;
                if (!p->linear) {
                    v = xp[(size_t)resize_nearest_index(p->round, sy, xs.h) * xs.w +
                           resize_nearest_index(p->round, sx, xs.w)];
                } else {
                    /* ONNX Runtime: the coordinate clamped into the input, then the two
                       neighbours (the far one clamped to the edge) */
                    const float cy = fminf(fmaxf(sy, 0.0f), (float)(xs.h - 1));
                    const float cx = fminf(fmaxf(sx, 0.0f), (float)(xs.w - 1));
                    const int y0 = (int)cy, x0 = (int)cx;
                    const int y1 = y0 + (y0 < xs.h - 1), x1 = x0 + (x0 < xs.w - 1);
                    const float ly = cy - (float)y0, lx = cx - (float)x0;
                    const float *r0 = xp + (size_t)y0 * xs.w, *r1 = xp + (size_t)y1 * xs.w;
                    v = (1.0f - ly) * ((1.0f - lx) * r0[x0] + lx * r0[x1]) +
                        ly * ((1.0f - lx) * r1[x0] + lx * r1[x1]);
                }
                yp[(size_t)oy * ys.w + ox] = v;
            }
        }
    }
}
