/* avgpool.c - SCAFFOLD: replaced by the real OpenCL variant(s) of avgpool. */
#include "ops.h"

static clseg_status run(clseg_context *ctx, const op_call *call) {
    (void)call;
    return ctx_fail(ctx, CLSEG_ERR_UNSUPPORTED, "avgpool not implemented yet");
}

const op_variant avgpool_direct = {"direct", OP_AVGPOOL, NULL, NULL, run};
