/* concat.c - SCAFFOLD: replaced by the real OpenCL variant(s) of concat. */
#include "ops.h"

static clseg_status run(clseg_context *ctx, const op_call *call) {
    (void)call;
    return ctx_fail(ctx, CLSEG_ERR_UNSUPPORTED, "concat not implemented yet");
}

const op_variant concat_direct = {"direct", OP_CONCAT, NULL, NULL, run};
