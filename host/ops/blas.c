/* blas.c - CLBlast SGEMM on the context's queue, with clseg's error reporting and profiling. */
#include <clblast_c.h>

#include "variant_util.h"

clseg_status blas_sgemm(clseg_context *ctx, int trans_a, int trans_b, size_t m, size_t n, size_t k,
                        cl_mem a, size_t a_off, size_t lda, cl_mem b, size_t b_off, size_t ldb,
                        float beta, cl_mem c, size_t c_off, size_t ldc) {
    cl_event ev = NULL;
    CLBlastStatusCode s = CLBlastSgemm(
        CLBlastLayoutRowMajor, trans_a ? CLBlastTransposeYes : CLBlastTransposeNo,
        trans_b ? CLBlastTransposeYes : CLBlastTransposeNo, m, n, k, 1.0f, a, a_off, lda, b, b_off,
        ldb, beta, c, c_off, ldc, &ctx->queue, ctx->on_launch ? &ev : NULL);
    if (s != CLBlastSuccess) {
        /* CLBlast passes OpenCL's codes through and numbers its own from -1024 down. */
        if (s > -1024) return ctx_cl_fail(ctx, (cl_int)s, "CLBlast SGEMM");
        return ctx_fail(ctx, CLSEG_ERR_OPENCL, "CLBlast SGEMM %zux%zux%zu failed with status %d", m,
                        n, k, (int)s);
    }
    if (ev) {
        ctx->on_launch(ctx->on_launch_user, "clblast_sgemm", ev);
        clReleaseEvent(ev);
    }
    return CLSEG_OK;
}
