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

#ifdef VEC
/* Vectorised pooling (built with -DVEC=n -DPK=k -DPS=stride): a work-item computes VEC
   consecutive outputs of one row with vector max / add and one vector store, and falls back to
   the scalar code above where a window leaves the input (ceil mode) or the row ends. The window
   is compile-time, so the strided lane picks become shuffles. Taps are visited in row-major
   order with the same comparison as the scalar code, so values, ties and sums are identical. */
#if VEC == 2 || VEC == 4 || VEC == 8 || VEC == 16
#define VECF          FLOATN(VEC)
#define VECI          CAT(int, VEC)
#define VLOADF(p)     VLOADN(VEC, p)
#define VSTOREF(v, p) VSTOREN(VEC, v, p)
#else
#error "VEC must be 2, 4, 8 or 16"
#endif

/* Inputs (ox0 + j) * PS + dx of row r, j < VEC. */
VECF window_lanes(const __global float *r, int ox0, int dx) {
    float v[VEC];
#pragma unroll
    for (int j = 0; j < VEC; j++) v[j] = r[(ox0 + j) * PS + dx];
    return VLOADF(v);
}

/* Whether the windows of outputs ox0 .. ox0 + VEC - 1 of row oh all lie inside the input. */
int whole_windows(int in_h, int in_w, int out_w, int oh, int ox0) {
    return oh * PS + PK <= in_h && (ox0 + VEC - 1) * PS + PK <= in_w && ox0 + VEC <= out_w;
}

/* Global size (ceil(out_w / VEC), out_h, planes). indices may be NULL. */
__kernel void maxpool2d_vec(const __global float *x, __global float *y, __global int *indices,
                            int in_h, int in_w, int out_h, int out_w, int planes) {
    const int ox0 = (int)get_global_id(0) * VEC, oh = (int)get_global_id(1);
    const int plane = (int)get_global_id(2);
    if (ox0 >= out_w || oh >= out_h || plane >= planes) return;
    const __global float *xp = x + plane * in_h * in_w;
    const int o = (plane * out_h + oh) * out_w + ox0;
    if (!whole_windows(in_h, in_w, out_w, oh, ox0)) {
        for (int j = 0; j < VEC && ox0 + j < out_w; j++) {
            const int at = window_argmax(xp, in_h, in_w, PK, PS, oh, ox0 + j);
            y[o + j] = xp[at];
            if (indices) indices[o + j] = at;
        }
        return;
    }
    int lane[VEC];
#pragma unroll
    for (int j = 0; j < VEC; j++) lane[j] = (ox0 + j) * PS;
    const VECI col0 = CAT(vload, VEC)(0, lane);
    const int h0 = oh * PS;
    VECF best = window_lanes(xp + h0 * in_w, ox0, 0);
    VECI best_at = (VECI)(h0 * in_w) + col0;
#pragma unroll
    for (int dy = 0; dy < PK; dy++)
#pragma unroll
        for (int dx = 0; dx < PK; dx++) {
            if (dy == 0 && dx == 0) continue;
            const VECF v = window_lanes(xp + (h0 + dy) * in_w, ox0, dx);
            const VECI gt = v > best;
            best = select(best, v, gt);
            best_at = select(best_at, (VECI)((h0 + dy) * in_w + dx) + col0, gt);
        }
    VSTOREF(best, y + o);
    if (indices) CAT(vstore, VEC)(best_at, 0, indices + o);
}

/* Global size (ceil(out_w / VEC), out_h, planes). */
__kernel void avgpool2d_vec(const __global float *x, __global float *y, int in_h, int in_w,
                            int out_h, int out_w, int planes) {
    const int ox0 = (int)get_global_id(0) * VEC, oh = (int)get_global_id(1);
    const int plane = (int)get_global_id(2);
    if (ox0 >= out_w || oh >= out_h || plane >= planes) return;
    const __global float *xp = x + plane * in_h * in_w;
    const int o = (plane * out_h + oh) * out_w + ox0;
    if (!whole_windows(in_h, in_w, out_w, oh, ox0)) {
        for (int j = 0; j < VEC && ox0 + j < out_w; j++) {
            int h0 = oh * PS, w0 = (ox0 + j) * PS;
            int h1 = min(h0 + PK, in_h), w1 = min(w0 + PK, in_w);
            float sum = 0.0f;
            for (int hh = h0; hh < h1; hh++)
                for (int ww = w0; ww < w1; ww++) sum += xp[hh * in_w + ww];
            y[o + j] = sum / (float)((h1 - h0) * (w1 - w0));
        }
        return;
    }
    VECF sum = (VECF)0.0f;
#pragma unroll
    for (int dy = 0; dy < PK; dy++)
#pragma unroll
        for (int dx = 0; dx < PK; dx++) sum += window_lanes(xp + (oh * PS + dy) * in_w, ox0, dx);
    VSTOREF(sum / (VECF)(float)(PK * PK), y + o);
}
#endif
