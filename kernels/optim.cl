/* optim.cl - optimiser updates and the gradient check over the trainer's flat parameter buffer. */

/* Elements [0, n_decay) are conv weights, which get weight decay; the rest (biases, BatchNorm
   scales and shifts) do not, as usual for BatchNorm networks. */

/* SGD with momentum in PyTorch's form: g += wd * p; v = momentum * v + g; p -= lr * v. */
__kernel void sgd_momentum(__global float *p, const __global float *grad, __global float *v,
                           int count, int n_decay, float lr, float momentum, float wd) {
    int i = (int)get_global_id(0);
    if (i >= count) return;
    float g = grad[i];
    if (i < n_decay) g += wd * p[i];
    float vi = momentum * v[i] + g;
    v[i] = vi;
    p[i] -= lr * vi;
}

/* Adam with decoupled weight decay (AdamW). bc1 = 1 - beta1^t, bc2 = 1 - beta2^t come from the
   host in double precision. */
__kernel void adam(__global float *p, const __global float *grad, __global float *m,
                   __global float *v, int count, int n_decay, float lr, float beta1, float beta2,
                   float eps, float wd, float bc1, float bc2) {
    int i = (int)get_global_id(0);
    if (i >= count) return;
    float g = grad[i];
    float mi = beta1 * m[i] + (1.0f - beta1) * g;
    float vi = beta2 * v[i] + (1.0f - beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    float pi = p[i];
    float update = (mi / bc1) / (sqrt(vi / bc2) + eps);
    if (i < n_decay) update += wd * pi;
    p[i] = pi - lr * update;
}

#ifndef SUMSQ_WG
#define SUMSQ_WG 64
#endif

/* Sum of squares of x in a fixed order: work-item j of group g sums the elements
   j + g * SUMSQ_WG + k * get_global_size(0) sequentially, then the group adds its work-items
   as a tree; partial[g] gets the group's sum. The launch size is fixed by the host, so the
   result is the same bits on every run. A NaN or Inf anywhere makes the sum non-finite. */
__kernel __attribute__((reqd_work_group_size(SUMSQ_WG, 1, 1))) void
sum_squares(const __global float *x, __global float *partial, int count) {
    __local float acc[SUMSQ_WG];
    int lid = (int)get_local_id(0), gid = (int)get_global_id(0), stride = (int)get_global_size(0);
    float s = 0.0f;
    for (int i = gid; i < count; i += stride) s += x[i] * x[i];
    acc[lid] = s;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int h = SUMSQ_WG / 2; h > 0; h >>= 1) {
        if (lid < h) acc[lid] += acc[lid + h];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (lid == 0) partial[get_group_id(0)] = acc[0];
}
