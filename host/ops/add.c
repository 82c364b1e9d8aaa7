/* add.c - SCAFFOLD: replaced by the real OpenCL variant(s) of add. */
#include "ops.h"

static clseg_status run(clseg_context *ctx, const op_call *call) {
    (void)call;
    return ctx_fail(ctx, CLSEG_ERR_UNSUPPORTED, "add not implemented yet");
}

const op_variant add_direct = {"direct", OP_ADD, NULL, NULL, run};
