/* softmax.c - SCAFFOLD: replaced by the real OpenCL variant(s) of softmax. */
#include "ops.h"

static clseg_status run(clseg_context *ctx, const op_call *call) {
    (void)call;
    return ctx_fail(ctx, CLSEG_ERR_UNSUPPORTED, "softmax not implemented yet");
}

const op_variant softmax_direct = {"direct", OP_SOFTMAX, NULL, NULL, run};
