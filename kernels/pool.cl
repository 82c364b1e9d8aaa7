/* pool.cl - max pooling (optionally with argmax indices) and average pooling, no padding. */

/* A partial window at the bottom/right edge (ceil mode) covers only the inside of the input.
   One work-item per output element: dimension 0 along the output row, 1 the row, 2 the plane
   (batch * channel). */

/* The argmax position (h * in_w + w within the plane) of the window of output (oh, ow); ties
   keep the first maximum in row-major order, as PyTorch does. */
int window_argmax(const __global float *xp, int in_h, int in_w, int k, int stride, int oh, int ow) {
    int h0 = oh * stride, w0 = ow * stride;
    int h1 = min(h0 + k, in_h), w1 = min(w0 + k, in_w);
    int best_at = h0 * in_w + w0;
    float best = xp[best_at];
    for (int h = h0; h < h1; h++) {
        for (int w = w0; w < w1; w++) {
            float v = xp[h * in_w + w];
            if (v > best) {
                best = v;
                best_at = h * in_w + w;
            }
        }
    }
    return best_at;
}

__kernel void maxpool2d(const __global float *x, __global float *y, int in_h, int in_w, int out_h,
                        int out_w, int planes, int k, int stride) {
    int ow = (int)get_global_id(0), oh = (int)get_global_id(1), plane = (int)get_global_id(2);
    if (ow >= out_w || oh >= out_h || plane >= planes) return;
    const __global float *xp = x + plane * in_h * in_w;
    y[(plane * out_h + oh) * out_w + ow] = xp[window_argmax(xp, in_h, in_w, k, stride, oh, ow)];
}

__kernel void maxpool2d_indices(const __global float *x, __global float *y, __global int *indices,
                                int in_h, int in_w, int out_h, int out_w, int planes, int k,
                                int stride) {
    int ow = (int)get_global_id(0), oh = (int)get_global_id(1), plane = (int)get_global_id(2);
    if (ow >= out_w || oh >= out_h || plane >= planes) return;
    const __global float *xp = x + plane * in_h * in_w;
    int at = window_argmax(xp, in_h, in_w, k, stride, oh, ow);
    int o = (plane * out_h + oh) * out_w + ow;
    y[o] = xp[at];
    indices[o] = at;
}

/* Averages only the elements inside the input (count_include_pad=False). */
__kernel void avgpool2d(const __global float *x, __global float *y, int in_h, int in_w, int out_h,
                        int out_w, int planes, int k, int stride) {
    int ow = (int)get_global_id(0), oh = (int)get_global_id(1), plane = (int)get_global_id(2);
    if (ow >= out_w || oh >= out_h || plane >= planes) return;
    const __global float *xp = x + plane * in_h * in_w;
    int h0 = oh * stride, w0 = ow * stride;
    int h1 = min(h0 + k, in_h), w1 = min(w0 + k, in_w);
    float sum = 0.0f;
    for (int h = h0; h < h1; h++)
        for (int w = w0; w < w1; w++) sum += xp[h * in_w + w];
    y[(plane * out_h + oh) * out_w + ow] = sum / (float)((h1 - h0) * (w1 - w0));
}
