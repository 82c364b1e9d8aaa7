/* deconv2d.c - SCAFFOLD: replaced by the real OpenCL variant(s) of deconv2d. */
#include "ops.h"

static clseg_status run(clseg_context *ctx, const op_call *call) {
    (void)call;
    return ctx_fail(ctx, CLSEG_ERR_UNSUPPORTED, "deconv2d not implemented yet");
}

const op_variant deconv2d_gather = {"gather", OP_DECONV2D, NULL, NULL, run};
