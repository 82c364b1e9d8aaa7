/* batchnorm.cl - BatchNorm in training mode: batch statistics (with the running-statistics
   update), the normalisation with optional fused ReLU, and the gradient. host/ops/backward.h
   describes the `saved` layout: mean, istd, scale = gamma * istd, beta, each [channels]. */

/* The sum over a work-group of one float per lane (part: one float per lane); every lane gets
   it. Lane 0 adds the lanes up in order, so the result does not depend on scheduling. */
inline float group_sum(float v, __local float *part) {
    const int lane = (int)get_local_id(0), lanes = (int)get_local_size(0);
    part[lane] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    if (lane == 0) {
        float t = 0.0f;
        for (int l = 0; l < lanes; l++) t += part[l];
        part[lanes] = t;
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    float r = part[lanes];
    barrier(CLK_LOCAL_MEM_FENCE); /* part may be reused right after */
    return r;
}

/* y = fma(x - mean, scale, beta), then ReLU: the forward and the backward both use this, so the
   backward's mask equals the forward's bit for bit. */
inline float bn_out(float x, float mean, float scale, float beta, int relu) {
    float v = fma(x - mean, scale, beta);
    return relu && !(v > 0.0f) ? 0.0f : v;
}

/* The reductions below split each plane of a channel into blocks of 16 floats, block b taken by
   lane b % lanes, and sum them as float16 vectors (the few leftover elements go lane by lane):
   on a CPU one lane per group streams contiguous memory through vector registers, on a GPU
   neighbouring lanes read neighbouring blocks. */
#define HSUM16(v)                                                                                  \
    (((v).s0 + (v).s1) + ((v).s2 + (v).s3) + ((v).s4 + (v).s5) + ((v).s6 + (v).s7) +               \
     ((v).s8 + (v).s9) + ((v).sa + (v).sb) + ((v).sc + (v).sd) + ((v).se + (v).sf))

/* One work-group per channel: the mean, then the variance around it (two passes over x, so no
   cancellation), then lane 0 writes `saved` and updates the running statistics (momentum,
   unbiased variance as PyTorch). running_mean / running_var may be NULL. Grid (lanes, C),
   local (lanes, 1); part: lanes + 1 floats. */
__kernel void bn_stats(const __global float *x, const __global float *gamma,
                       const __global float *beta, __global float *saved,
                       __global float *running_mean, __global float *running_var, int channels,
                       int plane, int batch, float eps, float momentum, __local float *part) {
    const int lane = (int)get_local_id(0), lanes = (int)get_local_size(0);
    /* No early return for c >= channels (the grid has exactly C groups anyway): PoCL 3.1
       miscompiles a return before a barrier, even a uniform one, and then runs the code after
       the last barrier once per lane. Out-of-range groups read and write nothing instead. */
    const int c = min((int)get_global_id(1), channels - 1);
    const int active = (int)get_global_id(1) < channels;
    const int nb = active ? batch : 0;
    const int blocks = plane / 16;
    const float m = (float)batch * (float)plane;
    float16 s16 = 0.0f;
    float s = 0.0f;
    for (int n = 0; n < nb; n++) {
        const __global float *xp = x + ((size_t)n * channels + c) * plane;
        for (int b = lane; b < blocks; b += lanes) s16 += vload16(b, xp);
        for (int i = blocks * 16 + lane; i < plane; i += lanes) s += xp[i];
    }
    const float mean = group_sum(s + HSUM16(s16), part) / m;
    float16 q16 = 0.0f;
    float q = 0.0f;
    for (int n = 0; n < nb; n++) {
        const __global float *xp = x + ((size_t)n * channels + c) * plane;
        for (int b = lane; b < blocks; b += lanes) {
            float16 d = vload16(b, xp) - mean;
            q16 = fma(d, d, q16);
        }
        for (int i = blocks * 16 + lane; i < plane; i += lanes) {
            float d = xp[i] - mean;
            q = fma(d, d, q);
        }
    }
    const float var = group_sum(q + HSUM16(q16), part) / m;
    if (lane == 0 && active) {
        const float istd = rsqrt(var + eps);
        saved[c] = mean;
        saved[channels + c] = istd;
        saved[2 * channels + c] = gamma[c] * istd;
        saved[3 * channels + c] = beta[c];
        if (running_mean) running_mean[c] = (1.0f - momentum) * running_mean[c] + momentum * mean;
        if (running_var) {
            float unbiased = m > 1.0f ? var * (m / (m - 1.0f)) : var;
            running_var[c] = (1.0f - momentum) * running_var[c] + momentum * unbiased;
        }
    }
}

/* Grid (plane, C, N): dimension 0 along contiguous memory. */
__kernel void bn_apply(const __global float *x, const __global float *saved, __global float *y,
                       int channels, int plane, int batch, int relu) {
    int i = (int)get_global_id(0), c = (int)get_global_id(1), n = (int)get_global_id(2);
    if (i >= plane || c >= channels || n >= batch) return;
    size_t at = ((size_t)n * channels + c) * plane + i;
    y[at] = bn_out(x[at], saved[c], saved[2 * channels + c], saved[3 * channels + c], relu);
}

/* The ReLU-masked dy of one element. */
inline float bn_masked_dy(float dy, float x, float mean, float scale, float beta, int relu) {
    return relu && !(fma(x - mean, scale, beta) > 0.0f) ? 0.0f : dy;
}

/* dbeta[c] = sum of masked dy, dgamma[c] = sum of masked dy * xhat. Grid (lanes, C), local
   (lanes, 1); part: lanes + 1 floats. */
__kernel void bn_bwd_reduce(const __global float *dy, const __global float *x,
                            const __global float *saved, __global float *dgamma,
                            __global float *dbeta, int channels, int plane, int batch, int relu,
                            __local float *part) {
    const int lane = (int)get_local_id(0), lanes = (int)get_local_size(0);
    /* See bn_stats on why there is no early return. */
    const int c = min((int)get_global_id(1), channels - 1);
    const int active = (int)get_global_id(1) < channels;
    const int nb = active ? batch : 0;
    const int blocks = plane / 16;
    const float mean = saved[c], istd = saved[channels + c], scale = saved[2 * channels + c],
                beta = saved[3 * channels + c];
    float16 sg16 = 0.0f, sgx16 = 0.0f;
    float sg = 0.0f, sgx = 0.0f;
    for (int n = 0; n < nb; n++) {
        const size_t base = ((size_t)n * channels + c) * plane;
        const __global float *dp = dy + base, *xp = x + base;
        for (int b = lane; b < blocks; b += lanes) {
            float16 t = vload16(b, xp) - mean, g = vload16(b, dp);
            /* the same fma as bn_out, so the same mask */
            if (relu) g = select((float16)0.0f, g, fma(t, scale, beta) > 0.0f);
            sg16 += g;
            sgx16 = fma(g, t * istd, sgx16);
        }
        for (int i = blocks * 16 + lane; i < plane; i += lanes) {
            float t = xp[i] - mean;
            float g = bn_masked_dy(dp[i], xp[i], mean, scale, beta, relu);
            sg += g;
            sgx = fma(g, t * istd, sgx);
        }
    }
    sg = group_sum(sg + HSUM16(sg16), part);
    sgx = group_sum(sgx + HSUM16(sgx16), part);
    if (lane == 0 && active) {
        dbeta[c] = sg;
        dgamma[c] = sgx;
    }
}

/* dx = scale * (g - dbeta / M - xhat * dgamma / M); dx may be dy. Grid (plane, C, N). */
__kernel void bn_bwd_apply(const __global float *dy, const __global float *x,
                           const __global float *saved, const __global float *dgamma,
                           const __global float *dbeta, __global float *dx, int channels, int plane,
                           int batch, int relu, float inv_m) {
    int i = (int)get_global_id(0), c = (int)get_global_id(1), n = (int)get_global_id(2);
    if (i >= plane || c >= channels || n >= batch) return;
    const float mean = saved[c], istd = saved[channels + c], scale = saved[2 * channels + c],
                beta = saved[3 * channels + c];
    size_t at = ((size_t)n * channels + c) * plane + i;
    float xv = x[at];
    float g = bn_masked_dy(dy[at], xv, mean, scale, beta, relu);
    dx[at] = scale * (g - dbeta[c] * inv_m - (xv - mean) * istd * (dgamma[c] * inv_m));
}

/* ---- Synchronised BatchNorm (data-parallel training, docs/distributed.md) -------------------
   The same statistics as bn_stats over a batch split across processes: the host sums each
   rank's per-channel partial sums between these kernels, in the same two passes (the mean,
   then the squares around it). */

/* out[c] = sum of x over the channel (centred = 0), or of (x - mean[c])^2 (centred = 1).
   Grid (lanes, C), local (lanes, 1); part: lanes + 1 floats. */
__kernel void bn_sums(const __global float *x, const __global float *mean, __global float *out,
                      int channels, int plane, int batch, int centred, __local float *part) {
    const int lane = (int)get_local_id(0), lanes = (int)get_local_size(0);
    /* See bn_stats on why there is no early return. */
    const int c = min((int)get_global_id(1), channels - 1);
    const int active = (int)get_global_id(1) < channels;
    const int nb = active ? batch : 0;
    const int blocks = plane / 16;
    const float mu = centred ? mean[c] : 0.0f;
    float16 s16 = 0.0f;
    float s = 0.0f;
    for (int n = 0; n < nb; n++) {
        const __global float *xp = x + ((size_t)n * channels + c) * plane;
        for (int b = lane; b < blocks; b += lanes) {
            float16 d = vload16(b, xp) - mu;
            s16 = centred ? fma(d, d, s16) : s16 + d;
        }
        for (int i = blocks * 16 + lane; i < plane; i += lanes) {
            float d = xp[i] - mu;
            s = centred ? fma(d, d, s) : s + d;
        }
    }
    const float total = group_sum(s + HSUM16(s16), part);
    if (lane == 0 && active) out[c] = total;
}

/* bn_stats' last part from the global mean and biased variance: `saved` and the running
   statistics (m: elements per channel over every rank). Grid (C). */
__kernel void bn_finish(const __global float *mean, const __global float *var,
                        const __global float *gamma, const __global float *beta,
                        __global float *saved, __global float *running_mean,
                        __global float *running_var, int channels, float m, float eps,
                        float momentum) {
    const int c = (int)get_global_id(0);
    if (c >= channels) return;
    const float istd = rsqrt(var[c] + eps);
    saved[c] = mean[c];
    saved[channels + c] = istd;
    saved[2 * channels + c] = gamma[c] * istd;
    saved[3 * channels + c] = beta[c];
    running_mean[c] = (1.0f - momentum) * running_mean[c] + momentum * mean[c];
    float unbiased = m > 1.0f ? var[c] * (m / (m - 1.0f)) : var[c];
    running_var[c] = (1.0f - momentum) * running_var[c] + momentum * unbiased;
}
