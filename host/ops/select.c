/* select.c - the variant table, and preparing / running a choice made by the selector
   (host/tune/select.c). */
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "desc.h"
#include "ops.h"
#include "variant_util.h"

const op_variant *const op_variant_table[] = {
    &conv2d_winograd,
    &conv2d_tiled,
    &conv2d_im2col_gemm,
    &conv2d_grouped, /* grouped and dilated convs only; direct refuses those */
    &conv2d_direct,
    &deconv2d_winograd,
    &deconv2d_stride_decomposed,
    &deconv2d_gemm_col2im,
    &deconv2d_gather,
    &maxpool_vec,
    &maxpool_direct,
    &avgpool_vec,
    &avgpool_direct,
    &upsample_vec,
    &upsample_direct,
    &maxunpool_direct,
    &concat_direct,
    &add_direct,
    &softmax_direct,
    &argmax_direct,
    &act_direct,
    &gap_direct,
    &mul_direct,
    &resize_direct,
    &conv2d_bwd_data_via_deconv,
    &conv2d_bwd_weight_gemm, /* first: the generic choice, for GPUs */
    &conv2d_bwd_weight_tiled,
    &conv2d_bwd_weight_flat,
    &deconv2d_bwd_data_via_conv,
    &deconv2d_bwd_weight_gemm,
    &deconv2d_bwd_weight_tiled,
    &deconv2d_bwd_weight_flat,
    &batchnorm_train_direct,
    &batchnorm_train_bwd_direct,
    &relu_bwd_direct,
    &add_bwd_direct,
    &concat_bwd_direct,
    &maxpool_bwd_direct,
    &maxunpool_bwd_direct,
    &upsample_bwd_direct,
    &softmax_xent_direct,
};
const size_t op_variant_table_len = CLSEG_ARRAY_LEN(op_variant_table);

op_config op_default_config(const op_variant *v) {
    op_config c;
    memset(&c, 0, sizeof c);
    for (int i = 0; i < v->n_params && i < OP_MAX_PARAMS; i++) c.v[i] = v->params[i].def;
    return c;
}

int op_variant_supports(const op_variant *v, const clseg_device_info *dev, const op_call *call,
                        const op_config *cfg) {
    return v->kind == call->kind && (!v->supports || v->supports(dev, call, cfg, NULL, 0));
}

int op_variant_refuses(const op_variant *v, const clseg_device_info *dev, const op_call *call,
                       const op_config *cfg, char *why, size_t why_len) {
    if (why_len) why[0] = 0;
    if (v->kind != call->kind)
        return !op_refuse(why, why_len, "a %s variant, not %s", op_kind_name(v->kind),
                          op_kind_name(call->kind));
    if (!v->supports || v->supports(dev, call, cfg, why, why_len)) return 0;
    if (why_len && !why[0]) snprintf(why, why_len, "refused");
    return 1;
}

int op_refuse(char *why, size_t why_len, const char *fmt, ...) {
    if (why && why_len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, why_len, fmt, ap);
        va_end(ap);
    }
    return 0;
}

void op_config_defines(const op_variant *v, const op_config *cfg, char *buf, size_t len) {
    size_t off = 0;
    if (len) buf[0] = 0;
    for (int i = 0; i < v->n_params && off < len; i++) {
        if (!param_is_define(v->params[i].role)) continue;
        int w = snprintf(buf + off, len - off, "%s-D%s=%d", off ? " " : "", v->params[i].name,
                         cfg->v[i]);
        if (w < 0) break;
        off += (size_t)w;
    }
}

void op_choice_inner(const op_config *cfg, op_choice *out) {
    memset(out, 0, sizeof *out);
    out->variant = cfg->inner;
    memcpy(out->cfg.v, cfg->inner_v, sizeof out->cfg.v);
    out->source = CHOICE_GENERIC;
}

size_t op_choice_scratch_bytes(const clseg_device_info *dev, const op_call *call,
                               const op_choice *c) {
    if (!c->variant->scratch_bytes) return 0;
    size_t bytes = c->variant->scratch_bytes(dev, call, &c->cfg);
    return bytes ? scratch_alloc_size(dev, bytes) : 0;
}

clseg_status op_prepare_choice(clseg_context *ctx, const op_call *call, const op_choice *c) {
    return c->variant->prepare ? c->variant->prepare(ctx, call, &c->cfg) : CLSEG_OK;
}

/* Every buffer of the call holds at least what its slot's shape needs (the description's shape
   rule), so no kernel can be sent past the end of a buffer by shapes that disagree with it. A
   failure is a bug of the caller inside clseg: debug builds stop at it, release builds return
   CLSEG_ERR_INTERNAL with the slot and both sizes. */
static clseg_status check_buffers(clseg_context *ctx, const op_call *call) {
    shape4 shape[2][OP_IO_MAX];
    if (!op_shapes(call, shape[0], shape[1])) return CLSEG_OK; /* the variant says what is wrong */
    for (int side = 0; side < 2; side++)
        for (int k = 0; k < OP_IO_MAX; k++) {
            cl_mem mem = side ? call->out[k].mem : call->in[k].mem;
            size_t need = shape4_count(shape[side][k]) * 4, have = 0;
            if (!mem || !need) continue;
            cl_int e = clGetMemObjectInfo(mem, CL_MEM_SIZE, sizeof have, &have, NULL);
            if (e != CL_SUCCESS) return ctx_cl_fail(ctx, e, "clGetMemObjectInfo");
            if (have >= need) continue;
            const shape4 s = shape[side][k];
            assert(!"an op's buffer is smaller than its shape");
            return ctx_fail(ctx, CLSEG_ERR_INTERNAL,
                            "%s: %s[%d] is a %zu-byte buffer, its shape %dx%dx%dx%d needs %zu",
                            op_kind_name(call->kind), side ? "out" : "in", k, have, s.n, s.c, s.h,
                            s.w, need);
        }
    return CLSEG_OK;
}

clseg_status op_run_choice(clseg_context *ctx, const op_call *call, const op_choice *c) {
    clseg_status st = check_buffers(ctx, call);
    return st == CLSEG_OK ? c->variant->run(ctx, call, &c->cfg) : st;
}
