/* imported.cl - the inference-only ops of imported models: a standalone activation, global
   average pooling, multiplication with broadcasting over the plane, and ONNX Resize. */

__kernel void act_elementwise(const __global float *x, __global float *y, int count, int act) {
    int i = (int)get_global_id(0);
    if (i >= count) return;
    y[i] = ACT(x[i], act);
}

/* One work-item per (image, channel) plane. */
__kernel void global_avgpool(const __global float *x, __global float *y, int plane, int planes) {
    int i = (int)get_global_id(0);
    if (i >= planes) return;
    const __global float *p = x + (size_t)i * plane;
    float sum = 0.0f;
    for (int k = 0; k < plane; k++) sum += p[k];
    y[i] = sum / (float)plane;
}

/* y = a * b; b holds one value per plane when b_per_plane, else one per element. Dimension 0
   runs along the plane, 1 over the (image, channel) planes. */
__kernel void mul_broadcast(const __global float *a, const __global float *b, __global float *y,
                            int plane, int planes, int b_per_plane) {
    int i = (int)get_global_id(0), pl = (int)get_global_id(1);
    if (i >= plane || pl >= planes) return;
    size_t at = (size_t)pl * plane + i;
    y[at] = a[at] * (b_per_plane ? b[pl] : b[at]);
}

/* host/core/op_params.c resize_source(): the same float formula, so that nearest picks the
   same pixels as the reference. coord: 0 half_pixel, 1 pytorch_half_pixel, 2 align_corners,
   3 asymmetric, 4 tf_half_pixel_for_nn. scale 0: out / in. */
inline float resize_source(int coord, int x, int in, int out, float scale) {
    const float s = scale > 0.0f ? scale : (float)out / (float)in;
    if (coord == 1) return out > 1 ? ((float)x + 0.5f) / s - 0.5f : 0.0f;
    if (coord == 2) return out > 1 ? (float)x * (float)(in - 1) / ((float)in * s - 1.0f) : 0.0f;
    if (coord == 3) return (float)x / s;
    if (coord == 4) return ((float)x + 0.5f) / s;
    return ((float)x + 0.5f) / s - 0.5f;
}

/* round: 0 round_prefer_floor, 1 round_prefer_ceil, 2 floor, 3 ceil */
inline int resize_nearest_index(int round, float s, int in) {
    float r;
    if (round == 2)
        r = floor(s);
    else if (round == 3)
        r = ceil(s);
    else if (round == 1)
        r = floor(s + 0.5f);
    else
        r = s - floor(s) == 0.5f ? floor(s) : floor(s + 0.5f);
    return r < 0.0f ? 0 : r > (float)(in - 1) ? in - 1 : (int)r;
}

/* One work-item per output pixel; dimension 2 is the (image, channel) plane. */
__kernel void resize_onnx(const __global float *x, __global float *y, int h, int w, int oh, int ow,
                          int planes, int linear, int coord, int round, float scale_h,
                          float scale_w) {
    int ox = (int)get_global_id(0), oy = (int)get_global_id(1), pl = (int)get_global_id(2);
    if (ox >= ow || oy >= oh || pl >= planes) return;
    const __global float *xp = x + (size_t)pl * h * w;
    const float sy = resize_source(coord, oy, h, oh, scale_h);
    const float sx = resize_source(coord, ox, w, ow, scale_w);
    float v;
    if (!linear) {
        v = xp[(size_t)resize_nearest_index(round, sy, h) * w + resize_nearest_index(round, sx, w)];
    } else {
        const float cy = fmin(fmax(sy, 0.0f), (float)(h - 1));
        const float cx = fmin(fmax(sx, 0.0f), (float)(w - 1));
        const int y0 = (int)cy, x0 = (int)cx;
        const int y1 = y0 + (y0 < h - 1), x1 = x0 + (x0 < w - 1);
        const float ly = cy - (float)y0, lx = cx - (float)x0;
        const __global float *r0 = xp + (size_t)y0 * w, *r1 = xp + (size_t)y1 * w;
        v = (1.0f - ly) * ((1.0f - lx) * r0[x0] + lx * r0[x1]) +
            ly * ((1.0f - lx) * r1[x0] + lx * r1[x1]);
    }
    y[((size_t)pl * oh + oy) * ow + ox] = v;
}
