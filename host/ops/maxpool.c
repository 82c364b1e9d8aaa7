/* maxpool.c - SCAFFOLD: replaced by the real OpenCL variant(s) of maxpool. */
#include "ops.h"

static clseg_status run(clseg_context *ctx, const op_call *call) {
    (void)call;
    return ctx_fail(ctx, CLSEG_ERR_UNSUPPORTED, "maxpool not implemented yet");
}

const op_variant maxpool_direct = {"direct", OP_MAXPOOL, NULL, NULL, run};
