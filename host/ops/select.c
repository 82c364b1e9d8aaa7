/* select.c - the variant table and the selector that picks a supported variant per call. */
#include "ops.h"

const op_variant *const op_variant_table[] = {
    &conv2d_direct,    &deconv2d_gather, &maxpool_direct, &avgpool_direct, &upsample_direct,
    &maxunpool_direct, &concat_direct,   &add_direct,     &softmax_direct, &argmax_direct,
};
const size_t op_variant_table_len = CLSEG_ARRAY_LEN(op_variant_table);

const op_variant *op_select(const clseg_context *ctx, const op_call *call) {
    for (size_t i = 0; i < op_variant_table_len; i++) {
        const op_variant *v = op_variant_table[i];
        if (v->kind == call->kind && (!v->supports || v->supports(&ctx->info, call))) return v;
    }
    return NULL;
}

static clseg_status unsupported(clseg_context *ctx, const op_call *call) {
    return ctx_fail(ctx, CLSEG_ERR_UNSUPPORTED, "no %s variant supports this shape on %s",
                    op_kind_name(call->kind), ctx->info.name);
}

clseg_status op_prepare(clseg_context *ctx, const op_call *call) {
    const op_variant *v = op_select(ctx, call);
    if (!v) return unsupported(ctx, call);
    return v->prepare ? v->prepare(ctx, call) : CLSEG_OK;
}

clseg_status op_run(clseg_context *ctx, const op_call *call) {
    const op_variant *v = op_select(ctx, call);
    if (!v) return unsupported(ctx, call);
    return v->run(ctx, call);
}
