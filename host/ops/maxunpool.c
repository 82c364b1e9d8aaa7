/* maxunpool.c - SCAFFOLD: replaced by the real OpenCL variant(s) of maxunpool. */
#include "ops.h"

static clseg_status run(clseg_context *ctx, const op_call *call) {
    (void)call;
    return ctx_fail(ctx, CLSEG_ERR_UNSUPPORTED, "maxunpool not implemented yet");
}

const op_variant maxunpool_direct = {"direct", OP_MAXUNPOOL, NULL, NULL, run};
