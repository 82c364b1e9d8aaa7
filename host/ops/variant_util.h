/* variant_util.h - what the conv2d / deconv2d variants share: call checks, kernel build defines
   for the device, the per-context scratch buffer and the CLBlast GEMM. */
#ifndef CLSEG_VARIANT_UTIL_H
#define CLSEG_VARIANT_UTIL_H

#include "ops.h"

/* CLSEG_OK and the output shape in *ys if the call's tensors agree with its parameters (output
   shape, buffers present), else CLSEG_ERR_INVALID_ARGUMENT with a message on ctx.
   (host/ops/conv2d.c, host/ops/deconv2d.c) */
/* The tile parameters of the direct conv and the gather deconv: TILE_CO, TILE_X, WG_X, WG_Y,
   WG_Z. (host/ops/conv2d.c) */
enum { DIRECT_N_PARAMS = 5 };
extern const variant_param direct_tile_params[DIRECT_N_PARAMS];
clseg_status conv2d_check_call(clseg_context *ctx, const op_call *call, shape4 *ys);
/* 0 with the reason for a grouped or dilated conv, which only the "grouped" variant runs: the
   dense kernels read every input channel and contiguous taps. 1 otherwise. (host/ops/conv2d.c) */
int conv2d_dense_only(const op_call *call, char *why, size_t why_len);
clseg_status deconv2d_check_call(clseg_context *ctx, const op_call *call, shape4 *ys);

/* buf = the variant's parameter defines (op_config_defines) followed by "-DUSE_FMA=1" where the
   device does single-precision fma in hardware: PoCL does not fuse mad(), and fma() doubles its
   throughput, while on a device without it fma() would be emulated. (host/ops/scratch.c) */
void variant_defines(clseg_context *ctx, const op_variant *v, const op_config *cfg, char *buf,
                     size_t len);
/* 1 when the device does single-precision fma in hardware (CL_FP_FMA). (host/ops/scratch.c) */
int ctx_has_fma(clseg_context *ctx);

/* The most scratch memory one op may ask for on dev; ops that would need more split their work
   into chunks that fit. (host/ops/scratch.c) */
size_t scratch_budget(const clseg_device_info *dev);

/* A device buffer of at least `bytes` bytes (<= scratch_budget), owned by ctx and valid until the
   next scratch_get on ctx. The queue is in order, so consecutive ops may share it; a buffer
   replaced by a larger one is freed by OpenCL only after the commands already using it. */
clseg_status scratch_get(clseg_context *ctx, size_t bytes, cl_mem *out);
/* The size scratch_get allocates for a request of `bytes`. */
size_t scratch_alloc_size(const clseg_device_info *dev, size_t bytes);

/* C = op(A) * op(B) + beta * C in row-major order by CLBlast on ctx's queue; offsets and leading
   dimensions count floats. The first call on a device compiles CLBlast's kernels.
   (host/ops/blas.c) */
clseg_status blas_sgemm(clseg_context *ctx, int trans_a, int trans_b, size_t m, size_t n, size_t k,
                        cl_mem a, size_t a_off, size_t lda, cl_mem b, size_t b_off, size_t ldb,
                        float beta, cl_mem c, size_t c_off, size_t ldc);

#endif
