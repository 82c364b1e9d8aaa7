/* conv2d.c - SCAFFOLD: replaced by the real OpenCL variant(s) of conv2d. */
#include "ops.h"

static clseg_status run(clseg_context *ctx, const op_call *call) {
    (void)call;
    return ctx_fail(ctx, CLSEG_ERR_UNSUPPORTED, "conv2d not implemented yet");
}

const op_variant conv2d_direct = {"direct", OP_CONV2D, NULL, NULL, run};
