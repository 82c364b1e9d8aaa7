/* backward.cl - gradients of the memory-bound ops: per-channel sums (bias gradients), ReLU, add,
   concat, max-pool, max-unpool and upsampling. Every kernel is a gather: each work-item writes
   its own outputs only, so no atomics are needed. */

/* out[c] = sum of x[n][c][*] over the batch and the plane (a bias gradient). Grid (lanes, C),
   local size (lanes, 1); part: lanes floats. Each plane is read in blocks of 16 floats, block b
   by lane b % lanes: one lane per group streams contiguous float16s on a CPU, neighbouring
   lanes read neighbouring blocks on a GPU. */
__kernel void channel_sum(const __global float *x, __global float *out, int channels, int plane,
                          int batch, __local float *part) {
    const int lane = (int)get_local_id(0), lanes = (int)get_local_size(0);
    /* No early return before the barrier, even a uniform one: PoCL 3.1 miscompiles it (see
       batchnorm.cl). */
    const int c = min((int)get_global_id(1), channels - 1);
    const int active = (int)get_global_id(1) < channels;
    const int blocks = plane / 16;
    float16 s16 = 0.0f;
    float s = 0.0f;
    for (int n = 0; n < (active ? batch : 0); n++) {
        const __global float *xp = x + ((size_t)n * channels + c) * plane;
        for (int b = lane; b < blocks; b += lanes) s16 += vload16(b, xp);
        for (int i = blocks * 16 + lane; i < plane; i += lanes) s += xp[i];
    }
    float8 s8 = s16.lo + s16.hi;
    float4 s4 = s8.lo + s8.hi;
    part[lane] = s + ((s4.s0 + s4.s1) + (s4.s2 + s4.s3));
    barrier(CLK_LOCAL_MEM_FENCE);
    if (lane == 0 && active) {
        float t = 0.0f;
        for (int l = 0; l < lanes; l++) t += part[l];
        out[c] = t;
    }
}

/* y is the ReLU's output: the gradient passes where it is positive. dx may be dy. */
__kernel void relu_bwd(const __global float *dy, const __global float *y, __global float *dx,
                       int count) {
    int i = (int)get_global_id(0);
    if (i >= count) return;
    dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

/* da and/or db may be NULL; y is read only when relu. */
__kernel void add_bwd(const __global float *dy, const __global float *y, __global float *da,
                      __global float *db, int count, int relu) {
    int i = (int)get_global_id(0);
    if (i >= count) return;
    float g = relu && !(y[i] > 0.0f) ? 0.0f : dy[i];
    if (da) da[i] = g;
    if (db) db[i] = g;
}

/* The inverse of elementwise.cl's copy_channels: channels [channel_offset, channel_offset +
   y_channels) of src go to y. Dimension 0 is the pixel, 1 the channel of y, 2 the image. */
__kernel void slice_channels(const __global float *src, __global float *y, int src_channels,
                             int y_channels, int channel_offset, int plane_size, int batch) {
    int i = (int)get_global_id(0), c = (int)get_global_id(1), n = (int)get_global_id(2);
    if (i >= plane_size || c >= y_channels || n >= batch) return;
    y[((size_t)n * y_channels + c) * plane_size + i] =
        src[((size_t)n * src_channels + channel_offset + c) * plane_size + i];
}

/* Max-pool gradient as a gather over input pixels: each sums dy over the windows that contain it
   and chose it (indices from the forward), so overlapping windows need no atomics. The windows
   of output row oh cover input rows [oh * stride, oh * stride + k) (clipped by ceil mode).
   Grid (in_w, in_h, planes). */
__kernel void maxpool_bwd(const __global float *dy, const __global int *indices, __global float *dx,
                          int in_h, int in_w, int out_h, int out_w, int planes, int k, int stride) {
    int iw = (int)get_global_id(0), ih = (int)get_global_id(1), plane = (int)get_global_id(2);
    if (iw >= in_w || ih >= in_h || plane >= planes) return;
    const int oh0 = ih >= k ? (ih - k) / stride + 1 : 0, oh1 = min(ih / stride, out_h - 1);
    const int ow0 = iw >= k ? (iw - k) / stride + 1 : 0, ow1 = min(iw / stride, out_w - 1);
    const int me = ih * in_w + iw;
    const size_t base = (size_t)plane * out_h * out_w;
    float s = 0.0f;
    for (int oh = oh0; oh <= oh1; oh++)
        for (int ow = ow0; ow <= ow1; ow++) {
            size_t o = base + (size_t)oh * out_w + ow;
            if (indices[o] == me) s += dy[o];
        }
    dx[(size_t)plane * in_h * in_w + me] = s;
}

/* The same when windows do not overlap (stride >= k, the seed net's k = stride = 2): each
   input pixel lies in at most one window, so a work-item takes the `stride` input columns
   under output column ow of one input row and compares each with that window's index only
   (the last work-item also zeroes the columns right of the last window). The general kernel's
   per-pixel divisions made it ~10x slower than the forward on PoCL. Grid (out_w, in_h, planes). */
__kernel void maxpool_bwd_disjoint(const __global float *dy, const __global int *indices,
                                   __global float *dx, int in_h, int in_w, int out_h, int out_w,
                                   int planes, int k, int stride) {
    int ow = (int)get_global_id(0), ih = (int)get_global_id(1), plane = (int)get_global_id(2);
    if (ow >= out_w || ih >= in_h || plane >= planes) return;
    const int oh = ih / stride;
    const int in_row = oh < out_h && ih - oh * stride < k;
    const size_t o = ((size_t)plane * out_h + min(oh, out_h - 1)) * out_w + ow;
    const int at = in_row ? indices[o] : -1;
    const float g = in_row ? dy[o] : 0.0f;
    const int iw0 = ow * stride, iw1 = ow == out_w - 1 ? in_w : min(iw0 + stride, in_w);
    __global float *dp = dx + ((size_t)plane * in_h + ih) * in_w;
    for (int iw = iw0; iw < iw1; iw++) dp[iw] = ih * in_w + iw == at ? g : 0.0f;
}

/* dx[i] = dy[plane][indices[i]]; an index outside the plane gets 0. Grid (in_plane, planes). */
__kernel void maxunpool_bwd(const __global float *dy, const __global int *indices,
                            __global float *dx, int in_plane, int out_plane, int planes) {
    int i = (int)get_global_id(0), plane = (int)get_global_id(1);
    if (i >= in_plane || plane >= planes) return;
    int at = indices[(size_t)plane * in_plane + i];
    dx[(size_t)plane * in_plane + i] =
        at >= 0 && at < out_plane ? dy[(size_t)plane * out_plane + at] : 0.0f;
}

/* Nearest: each input pixel sums its factor x factor block. Grid (in_w, in_h, planes). */
__kernel void upsample_nearest_bwd(const __global float *dy, __global float *dx, int in_h, int in_w,
                                   int factor, int planes) {
    int iw = (int)get_global_id(0), ih = (int)get_global_id(1), plane = (int)get_global_id(2);
    if (iw >= in_w || ih >= in_h || plane >= planes) return;
    const int out_w = in_w * factor;
    const __global float *yp =
        dy + ((size_t)plane * in_h * factor + (size_t)ih * factor) * out_w + (size_t)iw * factor;
    float s = 0.0f;
    for (int a = 0; a < factor; a++)
        for (int b = 0; b < factor; b++) s += yp[(size_t)a * out_w + b];
    dx[((size_t)plane * in_h + ih) * in_w + iw] = s;
}

/* The weight that output `dst` of the bilinear forward (upsample.cl) gives input `src`: its
   near neighbour i0 gets 1 - lambda, the far one i1 (clamped to the edge, so possibly i0 again)
   lambda. */
inline float bilinear_weight(int dst, int src, int factor, int size) {
    int num = max(2 * dst + 1 - factor, 0), den = 2 * factor;
    int i0 = num / den, i1 = i0 + (i0 < size - 1 ? 1 : 0);
    float l1 = (float)(num % den) / (float)den;
    return (i0 == src ? 1.0f - l1 : 0.0f) + (i1 == src ? l1 : 0.0f);
}

/* Bilinear (align_corners=False): the transpose of the interpolation, gathered. Output rows
   that read input row ih lie in [(ih - 1) * factor, (ih + 2) * factor); the weight is separable.
   Grid (in_w, in_h, planes). */
__kernel void upsample_bilinear_bwd(const __global float *dy, __global float *dx, int in_h,
                                    int in_w, int factor, int planes) {
    int iw = (int)get_global_id(0), ih = (int)get_global_id(1), plane = (int)get_global_id(2);
    if (iw >= in_w || ih >= in_h || plane >= planes) return;
    const int out_h = in_h * factor, out_w = in_w * factor;
    const int oh0 = max((ih - 1) * factor, 0), oh1 = min((ih + 2) * factor, out_h);
    const int ow0 = max((iw - 1) * factor, 0), ow1 = min((iw + 2) * factor, out_w);
    const __global float *yp = dy + (size_t)plane * out_h * out_w;
    float s = 0.0f;
    for (int oh = oh0; oh < oh1; oh++) {
        float wy = bilinear_weight(oh, ih, factor, in_h);
        if (wy == 0.0f) continue;
        float row = 0.0f;
        for (int ow = ow0; ow < ow1; ow++)
            row += bilinear_weight(ow, iw, factor, in_w) * yp[(size_t)oh * out_w + ow];
        s += wy * row;
    }
    dx[((size_t)plane * in_h + ih) * in_w + iw] = s;
}
