/* plan_api.c - public plans (the selector's choice for every layer of a model at one size, on a
   context or a recorded device) and the list of kernel variants. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clseg_tune.h"
#include "net/model.h"
#include "ops/desc.h"
#include "tuning_db.h"
#include "tune/autotune.h"
#include "tune/choose.h"
#include "../net/calls.h"

struct clseg_plan {
    clseg_device_info dev;
    op_named_call *calls;
    op_choice *choices;
    int n;
    int plain;
};

const char *clseg_choice_source_name(clseg_choice_source source) {
    switch (source) {
    case CLSEG_CHOICE_TUNED:
        return "tuned";
    case CLSEG_CHOICE_CLASS_DEFAULT:
        return "class default";
    case CLSEG_CHOICE_GENERIC:
        return "generic";
    case CLSEG_CHOICE_PLAIN:
        return "plain";
    }
    return "?";
}

void clseg_plan_free(clseg_plan *plan) {
    if (!plan) return;
    free(plan->calls);
    free(plan->choices);
    free(plan);
}

/* The calls of model at n x height x width and the choice for each on dev. */
static clseg_status plan_build(clseg_plan **out, const clseg_device_info *dev, const tunedb *db,
                               int plain, const clseg_model *model, int n, int height, int width,
                               char *err, size_t errlen) {
    if (out) *out = NULL;
    if (!out || !dev || !model)
        return clseg_fail(err, errlen, CLSEG_ERR_INVALID_ARGUMENT, "NULL %s",
                          !out   ? "out"
                          : !dev ? "device"
                                 : "model");
    if (n < 1 || height < 1 || width < 1 || height > CLSEG_MAX_DIM || width > CLSEG_MAX_DIM)
        return clseg_fail(err, errlen, CLSEG_ERR_INVALID_ARGUMENT, "bad input size %dx%dx%d", n,
                          height, width);
    clseg_plan *p = clseg_calloc(1, sizeof *p);
    if (p) p->calls = clseg_calloc(SPEC_MAX_LAYERS + 1, sizeof *p->calls);
    if (p) p->choices = clseg_calloc(SPEC_MAX_LAYERS + 1, sizeof *p->choices);
    if (!p || !p->calls || !p->choices) {
        clseg_plan_free(p);
        return clseg_fail(err, errlen, CLSEG_ERR_OUT_OF_MEMORY, "out of memory");
    }
    p->dev = *dev;
    p->plain = plain;
    const shape4 in = {n, model->spec.input_channels, height, width};
    clseg_status st = net_calls(&model->spec, model->classes, in, p->calls, &p->n, err, errlen);
    for (int i = 0; st == CLSEG_OK && i < p->n; i++) {
        const op_call *c = &p->calls[i].call;
        if (!tune_select_on(dev, db, plain, c, &p->choices[i]))
            st = clseg_fail(err, errlen, CLSEG_ERR_UNSUPPORTED,
                            "layer %s: no %s variant supports it on %s", p->calls[i].name,
                            op_kind_name(c->kind), dev->name);
    }
    if (st != CLSEG_OK) {
        clseg_plan_free(p);
        return st;
    }
    *out = p;
    return CLSEG_OK;
}

clseg_status clseg_plan_create(clseg_plan **out, clseg_context *ctx, const clseg_model *model,
                               int n, int height, int width) {
    if (!ctx) {
        if (out) *out = NULL;
        return CLSEG_ERR_INVALID_ARGUMENT;
    }
    char err[1024];
    clseg_status st = plan_build(out, &ctx->info, ctx->tuning, ctx->plain_kernels, model, n, height,
                                 width, err, sizeof err);
    return st == CLSEG_OK ? st : ctx_fail(ctx, st, "%s", err);
}

clseg_status clseg_plan_create_for_device(clseg_plan **out, const clseg_device_info *dev,
                                          const clseg_tuning_db *db, int plain,
                                          const clseg_model *model, int n, int height, int width,
                                          char *errbuf, size_t errbuf_size) {
    return plan_build(out, dev, db ? &db->db : NULL, plain, model, n, height, width, errbuf,
                      errbuf_size);
}

int clseg_plan_layer_count(const clseg_plan *plan) {
    return plan ? plan->n : 0;
}

clseg_status clseg_plan_layer_get(const clseg_plan *plan, int i, clseg_plan_layer *out) {
    if (!plan || !out || i < 0 || i >= plan->n) return CLSEG_ERR_INVALID_ARGUMENT;
    const op_call *c = &plan->calls[i].call;
    const op_choice *ch = &plan->choices[i];
    memset(out, 0, sizeof *out);
    snprintf(out->name, sizeof out->name, "%s", plan->calls[i].name);
    snprintf(out->op, sizeof out->op, "%s", op_kind_name(c->kind));
    const shape4 s = c->out[0].s;
    out->out_shape[0] = s.n;
    out->out_shape[1] = s.c;
    out->out_shape[2] = s.h;
    out->out_shape[3] = s.w;
    op_desc_get(c->kind)->cost(c, &out->flop, &out->bytes);
    snprintf(out->variant, sizeof out->variant, "%s", ch->variant->name);
    tune_config_to_params(ch->variant, &ch->cfg, out->params, sizeof out->params);
    out->source = plan->plain                          ? CLSEG_CHOICE_PLAIN
                  : ch->source == CHOICE_TUNED         ? CLSEG_CHOICE_TUNED
                  : ch->source == CHOICE_CLASS_DEFAULT ? CLSEG_CHOICE_CLASS_DEFAULT
                                                       : CLSEG_CHOICE_GENERIC;
    return CLSEG_OK;
}

clseg_status clseg_plan_time_layer(const clseg_plan *plan, clseg_context *ctx, int i, int reps,
                                   double *ms) {
    if (!ctx) return CLSEG_ERR_INVALID_ARGUMENT;
    if (!plan || !ms)
        return ctx_fail(ctx, CLSEG_ERR_INVALID_ARGUMENT, "clseg_plan_time_layer: NULL %s",
                        plan ? "ms" : "plan");
    if (i < 0 || i >= plan->n)
        return ctx_fail(ctx, CLSEG_ERR_INVALID_ARGUMENT,
                        "clseg_plan_time_layer: layer %d is not in 0..%d", i, plan->n - 1);
    if (reps < 1)
        return ctx_fail(ctx, CLSEG_ERR_INVALID_ARGUMENT,
                        "clseg_plan_time_layer: reps %d is below 1", reps);
    if (plan->dev.platform_index != ctx->info.platform_index ||
        plan->dev.device_index != ctx->info.device_index || strcmp(plan->dev.name, ctx->info.name))
        return ctx_fail(ctx, CLSEG_ERR_INVALID_ARGUMENT,
                        "the plan was made for %s, not for the context's device %s", plan->dev.name,
                        ctx->info.name);
    workload w;
    clseg_status st = workload_create(ctx, &plan->calls[i].call, 1 + (uint64_t)i, 0, &w);
    if (st == CLSEG_OK) st = tune_time_choice(ctx, &w, &plan->choices[i], reps, ms);
    workload_free(&w);
    return st;
}

/* ---- kernel variants ----------------------------------------------------------------------- */

/* The i-th entry of the variant table that the tuner can verify, or NULL. */
static const op_variant *listed_variant(int i) {
    for (size_t k = 0; k < op_variant_table_len; k++) {
        if (!workload_kind_supported(op_variant_table[k]->kind)) continue;
        if (i-- == 0) return op_variant_table[k];
    }
    return NULL;
}

int clseg_variant_count(void) {
    int n = 0;
    while (listed_variant(n)) n++;
    return n;
}

clseg_status clseg_variant_get(int i, clseg_variant_info *out) {
    const op_variant *v = i >= 0 ? listed_variant(i) : NULL;
    if (!v || !out) return CLSEG_ERR_INVALID_ARGUMENT;
    memset(out, 0, sizeof *out);
    snprintf(out->op, sizeof out->op, "%s", op_kind_name(v->kind));
    snprintf(out->name, sizeof out->name, "%s", v->name);
    if (v->n_params > CLSEG_VARIANT_MAX_PARAMS) return CLSEG_ERR_INTERNAL;
    out->n_params = v->n_params;
    for (int p = 0; p < v->n_params; p++) {
        clseg_variant_param *q = &out->params[p];
        if (v->params[p].n_choices > CLSEG_VARIANT_MAX_CHOICES) return CLSEG_ERR_INTERNAL;
        snprintf(q->name, sizeof q->name, "%s", v->params[p].name);
        q->default_value = v->params[p].def;
        q->n_choices = v->params[p].n_choices;
        for (int c = 0; c < q->n_choices; c++) q->choices[c] = v->params[p].choices[c];
    }
    return CLSEG_OK;
}

clseg_status clseg_plan_layer_why(const clseg_plan *plan, int i, char *buf, size_t len) {
    if (!plan || !buf || !len || i < 0 || i >= plan->n) return CLSEG_ERR_INVALID_ARGUMENT;
    const op_call *c = &plan->calls[i].call;
    const op_choice *ch = &plan->choices[i];
    size_t o = 0;
    buf[0] = 0;
    for (size_t k = 0; k < op_variant_table_len && o < len; k++) {
        const op_variant *v = op_variant_table[k];
        if (v->kind != c->kind) continue;
        char why[200] = "";
        op_config cfg = op_default_config(v);
        int w;
        if (v == ch->variant)
            w = snprintf(buf + o, len - o, "%s: chosen\n", v->name);
        else if (op_variant_refuses(v, &plan->dev, c, &cfg, why, sizeof why))
            w = snprintf(buf + o, len - o, "%s: refused: %s\n", v->name, why);
        else if (!tune_config_legal(&plan->dev, v, c, &cfg))
            w = snprintf(buf + o, len - o, "%s: refused: its defaults exceed the device's limits\n",
                         v->name);
        else
            w = snprintf(buf + o, len - o, "%s: supported, not preferred\n", v->name);
        if (w < 0) break;
        o += (size_t)w;
    }
    return CLSEG_OK;
}
