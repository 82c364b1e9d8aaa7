/* choose.c - the variant lookup order (tuned -> class default -> generic -> plain) and the
   legality check every candidate passes, whatever its source. */
#include <string.h>

#include "choose.h"

static int in_choices(const variant_param *p, int v) {
    if (v == p->def) return 1;
    for (int i = 0; i < p->n_choices; i++)
        if (p->choices[i] == v) return 1;
    return 0;
}

int tune_config_legal(const clseg_device_info *dev, const op_variant *v, const op_call *call,
                      const op_config *cfg) {
    if (!op_variant_supports(v, dev, call, cfg)) return 0;
    if ((v->requires & VARIANT_NEEDS_FP16) && !dev->has_fp16) return 0;
    if ((v->requires & VARIANT_NEEDS_SUBGROUPS) && !dev->has_subgroups) return 0;
    size_t wg[3] = {1, 1, 1};
    for (int i = 0; i < v->n_params && i < OP_MAX_PARAMS; i++) {
        const variant_param *p = &v->params[i];
        int val = cfg->v[i];
        if (val < 1 || !in_choices(p, val)) return 0;
        if (p->role == PARAM_VECTOR_WIDTH && (val > 16 || (val != 3 && (val & (val - 1)))))
            return 0;
        if (param_is_local_size(p->role)) wg[p->role - PARAM_LOCAL_X] *= (size_t)val;
    }
    for (int d = 0; d < 3; d++)
        if (dev->max_work_item_sizes[d] && wg[d] > dev->max_work_item_sizes[d]) return 0;
    return !dev->max_work_group_size || wg[0] * wg[1] * wg[2] <= dev->max_work_group_size;
}

int op_plain_choice(const clseg_device_info *dev, const op_call *call, op_choice *out) {
    for (size_t i = op_variant_table_len; i-- > 0;) {
        const op_variant *v = op_variant_table[i];
        if (v->kind != call->kind) continue;
        op_config def = op_default_config(v), small = def;
        for (int p = 0; p < v->n_params && p < OP_MAX_PARAMS; p++)
            if (!param_is_local_size(v->params[p].role) && v->params[p].n_choices > 0)
                small.v[p] = v->params[p].choices[0];
        const op_config *cand[2] = {&small, &def};
        for (int t = 0; t < 2; t++)
            if (tune_config_legal(dev, v, call, cand[t])) {
                *out = (op_choice){v, *cand[t], CHOICE_GENERIC};
                return 1;
            }
    }
    return 0;
}

static int in_range(long v, long lo, long hi) {
    return (lo == 0 || v >= lo) && (hi == 0 || v <= hi);
}

static int rule_matches(const default_rule *r, const op_call *call) {
    int k = 0, stride = 0, cout = 0;
    if (call->kind == OP_CONV2D) {
        k = call->p.conv.k;
        stride = call->p.conv.stride;
        cout = call->p.conv.cout;
    } else if (call->kind == OP_DECONV2D) {
        k = call->p.deconv.k;
        stride = call->p.deconv.stride;
        cout = call->p.deconv.cout;
    }
    const shape4 x = call->in[0].s, y = call->out[0].s;
    return (r->k == 0 || r->k == k) && (r->stride == 0 || r->stride == stride) &&
           in_range(x.c, r->cin_min, r->cin_max) && in_range(cout, r->cout_min, r->cout_max) &&
           in_range((long)y.h * y.w, r->px_min, r->px_max);
}

int op_class_default(const clseg_device_info *dev, const op_call *call, op_choice *out) {
    dev_class cls = dev_classify(dev);
    cpu_isa isa = dev_cpu_isa(dev);
    for (size_t i = 0; i < default_rules_len; i++) {
        const default_rule *r = &default_rules[i];
        if (r->cls != cls || (r->isa != ISA_ANY && r->isa != isa) || r->kind != call->kind ||
            !rule_matches(r, call))
            continue;
        const op_variant *v = op_variant_find(call->kind, r->variant);
        op_config cfg;
        if (!v || !tune_params_to_config(v, r->params, &cfg)) continue;
        if (tune_config_legal(dev, v, call, &cfg)) {
            *out = (op_choice){v, cfg, CHOICE_CLASS_DEFAULT};
            return 1;
        }
    }
    return 0;
}

static int tuned_choice(const clseg_device_info *dev, const tunedb *db, const op_call *call,
                        op_choice *out) {
    if (!db || db->n == 0) return 0;
    char device[256], driver[128], sig[256];
    tune_device_key(dev, device, driver);
    op_signature(call, sig, sizeof sig);
    const tune_record *r = tunedb_find(db, TREC_OP, device, driver, sig);
    if (!r) return 0;
    /* A record names a variant and parameters by name; one that this build no longer has, or
       that is no longer legal, is skipped rather than trusted. */
    const op_variant *v = op_variant_find(call->kind, r->variant);
    op_config cfg;
    if (!v || !tune_params_to_config(v, r->params, &cfg) || !tune_config_legal(dev, v, call, &cfg))
        return 0;
    *out = (op_choice){v, cfg, CHOICE_TUNED};
    return 1;
}

static int outer_choice(const clseg_device_info *dev, const tunedb *db, int plain,
                        const op_call *call, op_choice *out) {
    if (plain) return op_plain_choice(dev, call, out);
    if (tuned_choice(dev, db, call, out) || op_class_default(dev, call, out)) return 1;
    for (size_t i = 0; i < op_variant_table_len; i++) {
        const op_variant *v = op_variant_table[i];
        if (v->kind != call->kind) continue;
        op_config cfg = op_default_config(v);
        if (tune_config_legal(dev, v, call, &cfg)) {
            *out = (op_choice){v, cfg, CHOICE_GENERIC};
            return 1;
        }
    }
    return op_plain_choice(dev, call, out);
}

int tune_complete_choice(const clseg_device_info *dev, const tunedb *db, int plain,
                         const op_call *call, op_choice *c) {
    c->cfg.inner = NULL;
    if (!c->variant->inner_call) return 1;
    op_call inner;
    op_choice ic;
    if (!c->variant->inner_call(call, &inner) || !tune_select_on(dev, db, plain, &inner, &ic) ||
        ic.variant->inner_call)
        return 0;
    c->cfg.inner = ic.variant;
    memcpy(c->cfg.inner_v, ic.cfg.v, sizeof c->cfg.inner_v);
    return 1;
}

int tune_select_on(const clseg_device_info *dev, const tunedb *db, int plain, const op_call *call,
                   op_choice *out) {
    return outer_choice(dev, db, plain, call, out) &&
           tune_complete_choice(dev, db, plain, call, out);
}
