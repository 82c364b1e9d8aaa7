/* select.c - a context's selection for an op call (its database and plain switch), and the
   choose-and-run conveniences. */
#include "select.h"
#include "choose.h"

/* 1 if call is an op that runs another op's call (a data gradient) but is malformed for it. */
static int malformed_composite(const op_call *call) {
    for (size_t i = 0; i < op_variant_table_len; i++) {
        const op_variant *v = op_variant_table[i];
        op_call inner;
        if (v->kind == call->kind && v->inner_call && !v->inner_call(call, &inner)) return 1;
    }
    return 0;
}

clseg_status tune_select(clseg_context *ctx, const op_call *call, op_choice *out) {
    if (tune_select_on(&ctx->info, ctx->tuning, ctx->plain_kernels, call, out)) return CLSEG_OK;
    if (malformed_composite(call))
        return ctx_fail(ctx, CLSEG_ERR_INVALID_ARGUMENT,
                        "%s: invalid parameters or shapes (relu must be 0)",
                        op_kind_name(call->kind));
    return ctx_fail(ctx, CLSEG_ERR_UNSUPPORTED, "no %s variant supports this shape on %s",
                    op_kind_name(call->kind), ctx->info.name);
}

clseg_status tune_prepare_call(clseg_context *ctx, const op_call *call) {
    op_choice c;
    clseg_status st = tune_select(ctx, call, &c);
    return st == CLSEG_OK ? op_prepare_choice(ctx, call, &c) : st;
}

clseg_status tune_run_call(clseg_context *ctx, const op_call *call) {
    op_choice c;
    clseg_status st = tune_select(ctx, call, &c);
    return st == CLSEG_OK ? op_run_choice(ctx, call, &c) : st;
}
