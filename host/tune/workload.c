/* workload.c - runnable copies of op calls with seeded data and reference outputs for the
   tuner's timing and verification, made from the ops' descriptions (host/ops/desc.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../ops/desc.h"
#include "workload.h"

int workload_kind_supported(op_kind kind) {
    const op_desc *d = op_desc_get(kind);
    return d && !d->training;
}

void workload_free(workload *w) {
    for (int i = 0; i < OP_IO_MAX; i++) {
        if (w->in_mem[i]) clReleaseMemObject(w->in_mem[i]);
        if (w->out_mem[i]) clReleaseMemObject(w->out_mem[i]);
        free(w->host_in[i]);
        free(w->want[i]);
    }
    memset(w, 0, sizeof *w);
}

clseg_status workload_create(clseg_context *ctx, const op_call *shape_call, uint64_t seed,
                             int want_reference, workload *w) {
    memset(w, 0, sizeof *w);
    w->call = *shape_call;
    op_call *c = &w->call;
    if (!workload_kind_supported(c->kind))
        return ctx_fail(ctx, CLSEG_ERR_UNSUPPORTED, "no test data for %s", op_kind_name(c->kind));
    const op_desc *d = op_desc_get(c->kind);
    shape4 ins[OP_IO_MAX], outs[OP_IO_MAX];
    if (!op_shapes(c, ins, outs))
        return ctx_fail(ctx, CLSEG_ERR_INVALID_ARGUMENT, "%s: no valid output for these shapes",
                        op_kind_name(c->kind));
    clseg_status st = op_make_inputs(c, seed, w->host_in);
    if (st != CLSEG_OK) return ctx_fail(ctx, st, "out of memory");
    for (int i = 0; i < OP_IO_MAX && st == CLSEG_OK; i++) {
        c->in[i].mem = c->out[i].mem = NULL;
        if (w->host_in[i]) {
            st = ctx_buffer(ctx, CLSEG_MAX(shape4_count(ins[i]), 1) * 4, w->host_in[i],
                            &w->in_mem[i]);
            c->in[i].mem = w->in_mem[i];
        }
        if (st != CLSEG_OK || !d->out[i] || !outs[i].n) continue;
        w->out_count[i] = shape4_count(outs[i]);
        w->out_is_int[i] = d->out[i] == OP_ELEM_I32;
        w->tol[i] = d->tolerance(c, i);
        st = ctx_buffer(ctx, CLSEG_MAX(w->out_count[i], 1) * 4, NULL, &w->out_mem[i]);
        c->out[i].mem = w->out_mem[i];
        if (st == CLSEG_OK && want_reference) {
            w->want[i] = clseg_malloc(CLSEG_MAX(w->out_count[i], 1) * 4);
            if (!w->want[i]) st = ctx_fail(ctx, CLSEG_ERR_OUT_OF_MEMORY, "out of memory");
        }
    }
    if (st == CLSEG_OK && want_reference) {
        /* the reference reads the shapes of every slot */
        op_call full = *c;
        for (int i = 0; i < OP_IO_MAX; i++) {
            full.in[i].s = ins[i];
            full.out[i].s = outs[i];
        }
        if (!d->reference(&full, (const void *const *)w->host_in, w->want))
            st = ctx_fail(ctx, CLSEG_ERR_OUT_OF_MEMORY, "out of memory");
    }
    if (st != CLSEG_OK) workload_free(w);
    return st;
}

clseg_status workload_poison(clseg_context *ctx, workload *w) {
    for (int i = 0; i < OP_IO_MAX; i++) {
        if (!w->out_count[i]) continue;
        const uint32_t pattern = w->out_is_int[i] ? 0xffffffffu : 0x7fc00000u; /* -1 / NaN */
        cl_int e = clEnqueueFillBuffer(ctx->queue, w->out_mem[i], &pattern, sizeof pattern, 0,
                                       w->out_count[i] * 4, 0, NULL, NULL);
        if (e != CL_SUCCESS) return ctx_cl_fail(ctx, e, "clEnqueueFillBuffer");
    }
    return CLSEG_OK;
}

int workload_verify(clseg_context *ctx, workload *w, char *msg, size_t len) {
    for (int i = 0; i < OP_IO_MAX; i++) {
        if (!w->out_count[i] || !w->want[i]) continue;
        void *got = clseg_malloc(w->out_count[i] * 4);
        if (!got || ctx_read(ctx, w->out_mem[i], 0, w->out_count[i] * 4, got) != CLSEG_OK) {
            snprintf(msg, len, "cannot read the output back");
            free(got);
            return 0;
        }
        size_t bad = 0, worst = 0;
        double worst_excess = -1;
        for (size_t j = 0; j < w->out_count[i]; j++) {
            double g, want, excess;
            if (w->out_is_int[i]) {
                g = ((const int32_t *)got)[j];
                want = ((const int32_t *)w->want[i])[j];
                excess = g != want ? 1 : -1;
            } else {
                g = ((const float *)got)[j];
                want = ((const float *)w->want[i])[j];
                excess = isnan(g) ? INFINITY
                                  : fabs(g - want) - (w->tol[i].atol + w->tol[i].rtol * fabs(want));
            }
            if (excess > 0) bad++;
            if (excess > worst_excess) {
                worst_excess = excess;
                worst = j;
            }
        }
        if (bad) {
            double g =
                w->out_is_int[i] ? ((const int32_t *)got)[worst] : ((const float *)got)[worst];
            double want = w->out_is_int[i] ? ((const int32_t *)w->want[i])[worst]
                                           : ((const float *)w->want[i])[worst];
            snprintf(msg, len, "%zu of %zu %s differ from the reference, e.g. [%zu] %g vs %g", bad,
                     w->out_count[i], i ? "indices" : "outputs", worst, g, want);
        }
        free(got);
        if (bad) return 0;
    }
    return 1;
}
