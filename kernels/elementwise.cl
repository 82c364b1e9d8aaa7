/* elementwise.cl - concat, add(+ReLU), softmax and argmax over channels. */

/* Dimension 0 always runs along the contiguous h*w plane so that neighbouring work-items touch
   neighbouring floats. */

/* Concat is two launches of this copy, one per input: the channels of src go to channels
   [channel_offset, channel_offset + src_channels) of y. Dimension 0 is the pixel, 1 the source
   channel, 2 the image, so no work-item divides. */
__kernel void copy_channels(const __global float *src, __global float *y, int src_channels,
                            int y_channels, int channel_offset, int plane_size, int batch) {
    int i = (int)get_global_id(0), c = (int)get_global_id(1), n = (int)get_global_id(2);
    if (i >= plane_size || c >= src_channels || n >= batch) return;
    y[(n * y_channels + channel_offset + c) * plane_size + i] =
        src[(n * src_channels + c) * plane_size + i];
}

__kernel void add_elementwise(const __global float *a, const __global float *b, __global float *y,
                              int count, int relu) {
    int i = (int)get_global_id(0);
    if (i >= count) return;
    float v = a[i] + b[i];
    y[i] = relu && v < 0.0f ? 0.0f : v;
}

/* One work-item per pixel; dimension 1 is the batch. Subtracting the max keeps exp() from
   overflowing on large logits. */
__kernel void softmax_channels(const __global float *x, __global float *y, int channels,
                               int plane_size, int batch) {
    int i = (int)get_global_id(0), n = (int)get_global_id(1);
    if (i >= plane_size || n >= batch) return;
    const __global float *xp = x + n * channels * plane_size + i;
    __global float *yp = y + n * channels * plane_size + i;
    float max = xp[0];
    for (int c = 1; c < channels; c++) max = fmax(max, xp[c * plane_size]);
    float sum = 0.0f;
    for (int c = 0; c < channels; c++) {
        float e = exp(xp[c * plane_size] - max);
        yp[c * plane_size] = e;
        sum += e;
    }
    float inv = 1.0f / sum;
    for (int c = 0; c < channels; c++) yp[c * plane_size] *= inv;
}

/* Ties pick the lowest class index. */
__kernel void argmax_channels(const __global float *x, __global int *labels, int channels,
                              int plane_size, int batch) {
    int i = (int)get_global_id(0), n = (int)get_global_id(1);
    if (i >= plane_size || n >= batch) return;
    const __global float *xp = x + n * channels * plane_size + i;
    float best = xp[0];
    int best_c = 0;
    for (int c = 1; c < channels; c++) {
        float v = xp[c * plane_size];
        if (v > best) {
            best = v;
            best_c = c;
        }
    }
    labels[n * plane_size + i] = best_c;
}
