/* upsample.cl - nearest / bilinear (align_corners=False) upsampling and max-unpooling. */

/* Upsampling runs one work-item per input column and output row, writing the `factor` outputs
   that column covers: no per-element division by the factor, which CPU devices cannot vectorise.
   Dimension 0 is the input column, 1 the output row, 2 the plane. */

__kernel void upsample_nearest(const __global float *x, __global float *y, int in_h, int in_w,
                               int factor, int planes) {
    int out_h = in_h * factor, out_w = in_w * factor;
    int iw = (int)get_global_id(0), oh = (int)get_global_id(1), plane = (int)get_global_id(2);
    if (iw >= in_w || oh >= out_h || plane >= planes) return;
    float v = x[(plane * in_h + oh / factor) * in_w + iw];
    __global float *yp = y + (plane * out_h + oh) * out_w + iw * factor;
    for (int j = 0; j < factor; j++) yp[j] = v;
}

/* The source coordinate (dst + 0.5) / factor - 0.5 of output `dst`, clamped at 0, is the exact
   fraction num / den = max(2 dst + 1 - factor, 0) / (2 factor): its integer part is the near
   neighbour, the far one is clamped to the edge, and the remainder gives the far one's weight.
   Same arithmetic as ref_upsample, so only float rounding can differ. */
__kernel void upsample_bilinear(const __global float *x, __global float *y, int in_h, int in_w,
                                int factor, int planes) {
    int out_h = in_h * factor, out_w = in_w * factor;
    int iw = (int)get_global_id(0), oh = (int)get_global_id(1), plane = (int)get_global_id(2);
    if (iw >= in_w || oh >= out_h || plane >= planes) return;
    int den = 2 * factor;
    int num_h = max(2 * oh + 1 - factor, 0);
    int h0 = num_h / den, h1 = h0 + (h0 < in_h - 1 ? 1 : 0);
    float lh1 = (float)(num_h % den) / (float)den, lh0 = 1.0f - lh1;
    const __global float *r0 = x + (plane * in_h + h0) * in_w;
    const __global float *r1 = x + (plane * in_h + h1) * in_w;
    __global float *yp = y + (plane * out_h + oh) * out_w + iw * factor;
    for (int j = 0; j < factor; j++) {
        /* Output iw * factor + j: num = den * iw + t; a negative t borrows from column iw - 1
           (or clamps to 0 in the first column). */
        int t = 2 * j + 1 - factor;
        int w0 = t >= 0 ? iw : max(iw - 1, 0);
        int rem = t >= 0 ? t : (iw > 0 ? den + t : 0);
        int w1 = w0 + (w0 < in_w - 1 ? 1 : 0);
        float lw1 = (float)rem / (float)den, lw0 = 1.0f - lw1;
        yp[j] = lh0 * (lw0 * r0[w0] + lw1 * r0[w1]) + lh1 * (lw0 * r1[w0] + lw1 * r1[w1]);
    }
}

/* First half of max-unpooling: the positions no index points at stay zero. */
__kernel void maxunpool_zero(__global float *y, int out_plane, int planes) {
    int i = (int)get_global_id(0), plane = (int)get_global_id(1);
    if (i >= out_plane || plane >= planes) return;
    y[plane * out_plane + i] = 0.0f;
}

/* Second half: y[plane][indices[i]] = x[i]. Indices from a max-pool whose windows do not
   overlap (stride >= k) are distinct, so the scatter has no write conflicts; an index outside
   the output plane is dropped instead of corrupting memory. */
__kernel void maxunpool_scatter(const __global float *x, const __global int *indices,
                                __global float *y, int in_plane, int out_plane, int planes) {
    int i = (int)get_global_id(0), plane = (int)get_global_id(1);
    if (i >= in_plane || plane >= planes) return;
    int at = indices[plane * in_plane + i];
    if (at >= 0 && at < out_plane) y[plane * out_plane + at] = x[plane * in_plane + i];
}
