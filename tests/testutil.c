/* testutil.c - the test harness behind testutil.h. */
#include "testutil.h"
#include "tune/choose.h"
#include "tune/select.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int tu_checks, tu_failures;

int tu_finish(const char *test_name) {
    printf("%s: %d checks passed, %d failed\n", test_name, tu_checks - tu_failures, tu_failures);
    return tu_failures ? 1 : 0;
}

void tu_fill_uniform(float *x, size_t n, uint64_t seed, float lo, float hi) {
    uint64_t s = seed * 0x9e3779b97f4a7c15ull + 1;
    for (size_t i = 0; i < n; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        x[i] = lo + (hi - lo) * (float)((s >> 40) * (1.0 / 16777216.0));
    }
}

int tu_allclose(const char *what, const float *got, const float *want, size_t n, float atol,
                float rtol) {
    double max_abs = 0;
    size_t bad = 0, first_bad = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)want[i]);
        if (!(d <= atol + rtol * fabs((double)want[i]))) {
            if (!bad) first_bad = i;
            bad++;
        }
        if (d > max_abs || d != d) max_abs = d;
    }
    if (bad) {
        fprintf(stderr, "  %s: %zu of %zu differ (max abs err %g); first at %zu: got %g want %g\n",
                what, bad, n, max_abs, first_bad, got[first_bad], want[first_bad]);
    }
    return bad == 0;
}

int tu_contexts(clseg_context ***out) {
    clseg_device_info *devs = NULL;
    size_t n = 0;
    *out = NULL;
    if (clseg_devices_list(&devs, &n) != CLSEG_OK) n = 0;
    const char *sel = getenv("CLSEG_DEVICE");
    clseg_context **ctxs = calloc(n ? n : 1, sizeof *ctxs);
    int count = 0;
    for (size_t i = 0; i < n; i++) {
        char spec[32], err[512];
        if (sel && *sel) {
            size_t pick;
            if (device_select(devs, n, sel, &pick, err, sizeof err) != CLSEG_OK) {
                fprintf(stderr, "%s\n", err);
                break;
            }
            if (pick != i) continue;
        }
        snprintf(spec, sizeof spec, "%d:%d", devs[i].platform_index, devs[i].device_index);
        clseg_context_options o = {CLSEG_CONTEXT_OPTIONS_INIT, .device = spec};
        if (clseg_context_create(&ctxs[count], &o, err, sizeof err) == CLSEG_OK) {
            printf("device %s: %s\n", spec, devs[i].name);
            count++;
        } else {
            fprintf(stderr, "device %s: %s\n", spec, err);
            tu_failures++;
        }
    }
    clseg_free(devs);
    if (count == 0) {
        const char *allow = getenv("CLSEG_ALLOW_NO_DEVICE");
        if (!(allow && strcmp(allow, "1") == 0)) {
            fprintf(stderr, "no OpenCL device to test on\n");
            tu_failures++;
        }
    }
    *out = ctxs;
    return count;
}

void tu_contexts_free(clseg_context **ctxs, int n) {
    for (int i = 0; i < n; i++) clseg_context_free(ctxs[i]);
    free(ctxs);
}

/* Large enough for any CL_DEVICE_MEM_BASE_ADDR_ALIGN a sub-buffer origin must respect. */
#define GUARD_BYTES 4096
static const uint32_t guard_word = 0x7fc0dead; /* a NaN no kernel produces */

int tu_guarded_create(clseg_context *ctx, size_t count, const void *init, tu_guarded *g) {
    memset(g, 0, sizeof *g);
    size_t bytes = count ? count * 4 : 4;
    size_t total = bytes + 2 * GUARD_BYTES;
    uint32_t *host = malloc(total);
    for (size_t i = 0; i < total / 4; i++) host[i] = guard_word;
    if (init) memcpy((char *)host + GUARD_BYTES, init, count * 4);
    cl_int e;
    g->parent = clCreateBuffer(ctx->cl, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, total, host, &e);
    free(host);
    if (e != CL_SUCCESS) return 0;
    cl_buffer_region r = {GUARD_BYTES, bytes};
    g->mem = clCreateSubBuffer(g->parent, CL_MEM_READ_WRITE, CL_BUFFER_CREATE_TYPE_REGION, &r, &e);
    g->count = count;
    return e == CL_SUCCESS;
}

int tu_guarded_read(clseg_context *ctx, tu_guarded *g, void *out) {
    size_t bytes = g->count ? g->count * 4 : 4;
    size_t total = bytes + 2 * GUARD_BYTES;
    uint32_t *host = malloc(total);
    if (clEnqueueReadBuffer(ctx->queue, g->parent, CL_TRUE, 0, total, host, 0, NULL, NULL) !=
        CL_SUCCESS) {
        free(host);
        return 0;
    }
    int ok = 1;
    for (size_t i = 0; i < GUARD_BYTES / 4; i++)
        if (host[i] != guard_word || host[(GUARD_BYTES + bytes) / 4 + i] != guard_word) ok = 0;
    if (out) memcpy(out, (char *)host + GUARD_BYTES, g->count * 4);
    free(host);
    if (!ok) fprintf(stderr, "  guard region overwritten (out-of-bounds write)\n");
    return ok;
}

void tu_guarded_free(tu_guarded *g) {
    if (g->mem) clReleaseMemObject(g->mem);
    if (g->parent) clReleaseMemObject(g->parent);
    memset(g, 0, sizeof *g);
}

static void config_label(const op_variant *v, const op_config *cfg, const char *extra, char *out,
                         size_t size) {
    size_t off = (size_t)snprintf(out, size, "%s_%s", op_kind_name(v->kind), v->name);
    for (int i = 0; extra && i < v->n_params && off < size; i++)
        off += (size_t)snprintf(out + off, size - off, "%s%s=%d", i ? " " : "[", v->params[i].name,
                                cfg->v[i]);
    if (extra && v->n_params && off < size) snprintf(out + off, size - off, "]");
}

int tu_op_configs(const clseg_context *ctx, const op_call *call, tu_config *out, int max) {
    int n = 0;
    if (n < max) {
        memset(&out[n], 0, sizeof out[n]);
        snprintf(out[n].label, sizeof out[n].label, "op_run");
        n++;
    }
    for (size_t i = 0; i < op_variant_table_len; i++) {
        const op_variant *v = op_variant_table[i];
        if (v->kind != call->kind) continue;
        op_config cfgs[3];
        cfgs[0] = op_default_config(v);
        int nc = 1;
        if (v->n_params) {
            cfgs[1] = cfgs[2] = cfgs[0];
            for (int p = 0; p < v->n_params; p++) {
                cfgs[1].v[p] = v->params[p].choices[0];
                cfgs[2].v[p] = v->params[p].choices[v->params[p].n_choices - 1];
            }
            nc = 3;
        }
        for (int k = 0; k < nc && n < max; k++) {
            if (!op_variant_supports(v, &ctx->info, call, &cfgs[k])) continue;
            /* a composite runs its inner call with the context's own choice for it */
            op_choice c = {v, cfgs[k], CHOICE_GENERIC};
            if (!tune_complete_choice(&ctx->info, ctx->tuning, ctx->plain_kernels, call, &c))
                continue;
            out[n].variant = v;
            out[n].cfg = c.cfg;
            config_label(v, &cfgs[k], k ? "params" : NULL, out[n].label, sizeof out[n].label);
            n++;
        }
    }
    return n;
}

clseg_status tu_run_config(clseg_context *ctx, const tu_config *c, const op_call *call) {
    if (!c->variant) {
        clseg_status st = tune_prepare_call(ctx, call);
        return st == CLSEG_OK ? tune_run_call(ctx, call) : st;
    }
    clseg_status st = c->variant->prepare ? c->variant->prepare(ctx, call, &c->cfg) : CLSEG_OK;
    return st == CLSEG_OK ? c->variant->run(ctx, call, &c->cfg) : st;
}
