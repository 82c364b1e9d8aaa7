/* upsample.c - SCAFFOLD: replaced by the real OpenCL variant(s) of upsample. */
#include "ops.h"

static clseg_status run(clseg_context *ctx, const op_call *call) {
    (void)call;
    return ctx_fail(ctx, CLSEG_ERR_UNSUPPORTED, "upsample not implemented yet");
}

const op_variant upsample_direct = {"direct", OP_UPSAMPLE, NULL, NULL, run};
