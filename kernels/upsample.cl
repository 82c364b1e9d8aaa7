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

#ifdef VEC
/* Vectorised upsampling (built with -DVEC=n -DFACTOR=f): a work-item takes VEC consecutive
   input columns of one output row and writes their VEC * FACTOR outputs with vector stores. The
   factor is compile-time, so the per-output weights are constants. Bilinear work-items whose
   columns touch the left or right edge (where the neighbours clamp) run the scalar code. */
#if VEC == 2 || VEC == 4 || VEC == 8 || VEC == 16
#define VECF          FLOATN(VEC)
#define VLOADF(p)     VLOADN(VEC, p)
#define VSTOREF(v, p) VSTOREN(VEC, v, p)
#else
#error "VEC must be 2, 4, 8 or 16"
#endif

/* out[j * FACTOR + f] = lanes f of o[f]: the factor's outputs interleaved into VEC * FACTOR
   consecutive floats, stored whole when they fit the row, else up to its end. */
void store_interleaved(__global float *yp, const VECF *o, int n_valid) {
    float row[VEC * FACTOR];
#pragma unroll
    for (int f = 0; f < FACTOR; f++) {
        float l[VEC];
        VSTOREF(o[f], l);
#pragma unroll
        for (int j = 0; j < VEC; j++) row[j * FACTOR + f] = l[j];
    }
    if (n_valid >= VEC * FACTOR) {
#pragma unroll
        for (int s = 0; s < FACTOR; s++) VSTOREF(VLOADF(row + s * VEC), yp + s * VEC);
    } else {
        for (int i = 0; i < n_valid; i++) yp[i] = row[i];
    }
}

/* Global size (ceil(in_w / VEC), out_h, planes). */
__kernel void upsample_nearest_vec(const __global float *x, __global float *y, int in_h, int in_w,
                                   int planes) {
    const int out_h = in_h * FACTOR, out_w = in_w * FACTOR;
    const int iw0 = (int)get_global_id(0) * VEC, oh = (int)get_global_id(1);
    const int plane = (int)get_global_id(2);
    if (iw0 >= in_w || oh >= out_h || plane >= planes) return;
    const __global float *xr = x + (plane * in_h + oh / FACTOR) * in_w + iw0;
    VECF v;
    if (iw0 + VEC <= in_w) {
        v = VLOADF(xr);
    } else {
        float l[VEC];
#pragma unroll
        for (int j = 0; j < VEC; j++) l[j] = iw0 + j < in_w ? xr[j] : 0.0f;
        v = VLOADF(l);
    }
    VECF o[FACTOR];
#pragma unroll
    for (int f = 0; f < FACTOR; f++) o[f] = v;
    store_interleaved(y + (plane * out_h + oh) * out_w + iw0 * FACTOR, o, (in_w - iw0) * FACTOR);
}

/* Global size (ceil(in_w / VEC), out_h, planes). */
__kernel void upsample_bilinear_vec(const __global float *x, __global float *y, int in_h, int in_w,
                                    int planes) {
    const int out_h = in_h * FACTOR, out_w = in_w * FACTOR;
    const int iw0 = (int)get_global_id(0) * VEC, oh = (int)get_global_id(1);
    const int plane = (int)get_global_id(2);
    if (iw0 >= in_w || oh >= out_h || plane >= planes) return;
    const int den = 2 * FACTOR;
    const int num_h = max(2 * oh + 1 - FACTOR, 0);
    const int h0 = num_h / den, h1 = h0 + (h0 < in_h - 1 ? 1 : 0);
    const float lh1 = (float)(num_h % den) / (float)den, lh0 = 1.0f - lh1;
    const __global float *r0 = x + (plane * in_h + h0) * in_w;
    const __global float *r1 = x + (plane * in_h + h1) * in_w;
    __global float *yp = y + (plane * out_h + oh) * out_w + iw0 * FACTOR;
    if (iw0 < 1 || iw0 + VEC + 1 > in_w) {
        /* The scalar kernel's arithmetic, column by column. */
        for (int iw = iw0; iw < min(iw0 + VEC, in_w); iw++)
            for (int j = 0; j < FACTOR; j++) {
                int t = 2 * j + 1 - FACTOR;
                int w0 = t >= 0 ? iw : max(iw - 1, 0);
                int rem = t >= 0 ? t : (iw > 0 ? den + t : 0);
                int w1 = w0 + (w0 < in_w - 1 ? 1 : 0);
                float lw1 = (float)rem / (float)den, lw0 = 1.0f - lw1;
                yp[(iw - iw0) * FACTOR + j] =
                    lh0 * (lw0 * r0[w0] + lw1 * r0[w1]) + lh1 * (lw0 * r1[w0] + lw1 * r1[w1]);
            }
        return;
    }
    /* Inside the row: left, centre and right neighbours of every column, no clamping. */
    const VECF l0 = VLOADF(r0 + iw0 - 1), c0 = VLOADF(r0 + iw0), n0 = VLOADF(r0 + iw0 + 1);
    const VECF l1 = VLOADF(r1 + iw0 - 1), c1 = VLOADF(r1 + iw0), n1 = VLOADF(r1 + iw0 + 1);
    VECF o[FACTOR];
#pragma unroll
    for (int j = 0; j < FACTOR; j++) {
        const int t = 2 * j + 1 - FACTOR;
        const float lw1 = (float)(t >= 0 ? t : den + t) / (float)den, lw0 = 1.0f - lw1;
        const VECF a0 = t >= 0 ? c0 : l0, b0 = t >= 0 ? n0 : c0;
        const VECF a1 = t >= 0 ? c1 : l1, b1 = t >= 0 ? n1 : c1;
        o[j] = lh0 * (lw0 * a0 + lw1 * b0) + lh1 * (lw0 * a1 + lw1 * b1);
    }
    store_interleaved(yp, o, VEC * FACTOR);
}
#endif
