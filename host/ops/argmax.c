/* argmax.c - SCAFFOLD: replaced by the real OpenCL variant(s) of argmax. */
#include "ops.h"

static clseg_status run(clseg_context *ctx, const op_call *call) {
    (void)call;
    return ctx_fail(ctx, CLSEG_ERR_UNSUPPORTED, "argmax not implemented yet");
}

const op_variant argmax_direct = {"direct", OP_ARGMAX, NULL, NULL, run};
