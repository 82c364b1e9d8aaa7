/* loss.cl - fused softmax + cross-entropy over the classes of every pixel, with its gradient. */

/* One work-item per image row (r = n * h + y): for each pixel of the row, the log-sum-exp around
   the maximum (stable for large logits), the loss f[label] * (lse - logit[label]) and
   dlogits = (softmax - onehot) * f[label]; ignored pixels (label outside [0, K)) get zero
   gradient. partial[2r] = the row's loss, partial[2r + 1] = its labelled pixels; the loss is NaN
   when any logit of the row is NaN or Inf, so the host's total shows it. dlogits may be logits:
   each logit is read before its gradient is written. Grid (n * h). */
__kernel void softmax_xent(const __global float *logits, const __global int *labels,
                           const __global float *factors, __global float *dlogits,
                           __global float *partial, int classes, int h, int w, int rows) {
    const int r = (int)get_global_id(0);
    if (r >= rows) return;
    const int n = r / h;
    const size_t plane = (size_t)h * w;
    const size_t first = (size_t)(r - n * h) * w; /* the row's first pixel in its plane */
    const __global float *lp = logits + (size_t)n * classes * plane + first;
    __global float *dp = dlogits + (size_t)n * classes * plane + first;
    const __global int *yp = labels + (size_t)n * plane + first;
    float loss = 0.0f, count = 0.0f;
    int bad = 0;
    for (int i = 0; i < w; i++) {
        float mx = lp[i];
        for (int c = 0; c < classes; c++) {
            float v = lp[(size_t)c * plane + i];
            bad |= isnan(v) || isinf(v);
            mx = fmax(mx, v);
        }
        const int y = yp[i];
        if (y < 0 || y >= classes) {
            for (int c = 0; c < classes; c++) dp[(size_t)c * plane + i] = 0.0f;
            continue;
        }
        float sum = 0.0f;
        for (int c = 0; c < classes; c++) sum += exp(lp[(size_t)c * plane + i] - mx);
        const float f = factors[y];
        loss += f * (log(sum) - (lp[(size_t)y * plane + i] - mx));
        count += 1.0f;
        const float inv = 1.0f / sum;
        for (int c = 0; c < classes; c++) {
            float p = exp(lp[(size_t)c * plane + i] - mx) * inv;
            dp[(size_t)c * plane + i] = (p - (c == y ? 1.0f : 0.0f)) * f;
        }
    }
    partial[2 * (size_t)r] = bad ? NAN : loss;
    partial[2 * (size_t)r + 1] = count;
}
