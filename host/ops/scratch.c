/* scratch.c - the per-context scratch buffer and the device-dependent build defines of the
 * variants. */
#include <stdio.h>
#include <string.h>

#include "variant_util.h"

/* Room for a chunk large enough to keep a GEMM busy, small enough to stay a modest share of any
   device's memory (and of a CPU's caches, which the chunked ops revisit at once). */
#define SCRATCH_CAP ((size_t)128 << 20)

size_t scratch_budget(const clseg_device_info *dev) {
    size_t b = SCRATCH_CAP;
    if (dev->max_alloc_bytes && dev->max_alloc_bytes < b) b = (size_t)dev->max_alloc_bytes;
    if (dev->global_mem_bytes && dev->global_mem_bytes / 4 < b)
        b = (size_t)(dev->global_mem_bytes / 4);
    return b;
}

/* Whole MiB, so that a sequence of slightly larger requests allocates once. */
size_t scratch_alloc_size(const clseg_device_info *dev, size_t bytes) {
    return CLSEG_MIN(round_up(bytes, (size_t)1 << 20), scratch_budget(dev));
}

clseg_status scratch_get(clseg_context *ctx, size_t bytes, cl_mem *out) {
    *out = NULL;
    if (bytes > scratch_budget(&ctx->info))
        return ctx_fail(ctx, CLSEG_ERR_TOO_LARGE, "scratch of %zu bytes exceeds the budget of %zu",
                        bytes, scratch_budget(&ctx->info));
    if (!ctx->scratch || ctx->scratch_bytes < bytes) {
        size_t want = scratch_alloc_size(&ctx->info, bytes);
        if (ctx->scratch) clReleaseMemObject(ctx->scratch);
        ctx->scratch = NULL;
        ctx->scratch_bytes = 0;
        clseg_status st = ctx_buffer(ctx, want, NULL, &ctx->scratch);
        if (st != CLSEG_OK) return st;
        ctx->scratch_bytes = want;
    }
    *out = ctx->scratch;
    return CLSEG_OK;
}

int ctx_has_fma(clseg_context *ctx) {
    cl_device_fp_config fp = 0;
    if (clGetDeviceInfo(ctx->device, CL_DEVICE_SINGLE_FP_CONFIG, sizeof fp, &fp, NULL) !=
        CL_SUCCESS)
        fp = 0;
    return (fp & CL_FP_FMA) != 0;
}

void variant_defines(clseg_context *ctx, const op_variant *v, const op_config *cfg, char *buf,
                     size_t len) {
    op_config_defines(v, cfg, buf, len);
    size_t used = strlen(buf);
    if (ctx_has_fma(ctx) && used < len)
        snprintf(buf + used, len - used, "%s-DUSE_FMA=1", used ? " " : "");
}
