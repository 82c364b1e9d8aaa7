/* peak.cl - the roofline's micro-kernels (host/tune/peak.c): FMA throughput on independent chains
   of float vectors of the device's preferred width (VEC), and copy bandwidth. */

#ifndef VEC
#define VEC 4
#endif
typedef FLOATN(VEC) vecf;

/* Eight independent chains per work-item (enough to hide an FMA's latency on two pipes), four
   steps each per iteration: 32 * VEC fused multiply-adds an iteration. b and c are arguments so
   the compiler cannot fold the chains; |b| < 1 keeps them finite. */
#define STEP4(x) x = MAD(x, vb, vc), x = MAD(x, vb, vc), x = MAD(x, vb, vc), x = MAD(x, vb, vc)
__kernel void peak_fma(__global float *out, float b, float c, int iters) {
    const vecf vb = (vecf)(b), vc = (vecf)(c);
    vecf x0 = (vecf)((float)get_global_id(0)), x1 = x0 + 1.0f, x2 = x0 + 2.0f, x3 = x0 + 3.0f,
         x4 = x0 + 4.0f, x5 = x0 + 5.0f, x6 = x0 + 6.0f, x7 = x0 + 7.0f;
    for (int i = 0; i < iters; i++) {
        STEP4(x0);
        STEP4(x1);
        STEP4(x2);
        STEP4(x3);
        STEP4(x4);
        STEP4(x5);
        STEP4(x6);
        STEP4(x7);
    }
    out[get_global_id(0)] = HSUMN(VEC, ((x0 + x1) + (x2 + x3)) + ((x4 + x5) + (x6 + x7)));
}

__kernel void peak_copy(__global const float4 *src, __global float4 *dst, int n) {
    const int i = get_global_id(0);
    if (i < n) dst[i] = src[i];
}
