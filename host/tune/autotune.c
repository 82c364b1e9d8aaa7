/* autotune.c - budgeted search over variants and their parameters, verified against the C
   reference, plus CLBlast Xgemm parameter sets for the GEMM variants. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../ops/desc.h"
#include "attach.h"
#include "autotune.h"
#include "choose.h"

/* ---- distinct layers ------------------------------------------------------------------------ */

/* A layer's claim on the budget: its time, estimated as FLOPs plus 8 FLOP-equivalents per byte
   moved (on the CPUs here a conv sustains ~50 GFLOP/s and a memory-bound op ~6 GB/s), times the
   layers that share the signature. */
static double weight(const tune_layer *L) {
    return (L->flops + 8 * L->bytes) * L->count;
}

static int by_weight(const void *a, const void *b) {
    double x = weight(a), y = weight(b);
    return x > y ? -1 : x < y ? 1 : 0;
}

int tune_distinct_layers(const op_named_call *calls, int n, tune_layer *out, int max) {
    int m = 0;
    for (int i = 0; i < n; i++) {
        char sig[256];
        op_signature(&calls[i].call, sig, sizeof sig);
        int j = 0;
        while (j < m && strcmp(out[j].sig, sig)) j++;
        if (j < m) {
            out[j].count++;
            continue;
        }
        if (m == max) break;
        tune_layer *L = &out[m++];
        memset(L, 0, sizeof *L);
        L->call = calls[i].call;
        snprintf(L->sig, sizeof L->sig, "%s", sig);
        snprintf(L->name, sizeof L->name, "%s", calls[i].name);
        L->count = 1;
        L->first = i;
        op_desc_get(L->call.kind)->cost(&L->call, &L->flops, &L->bytes);
    }
    qsort(out, (size_t)m, sizeof *out, by_weight);
    return m;
}

/* ---- timing --------------------------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static clseg_status run_once(clseg_context *ctx, const op_call *call, const op_choice *c,
                             double *ms) {
    double t0 = clseg_now_ms();
    clseg_status st = op_run_choice(ctx, call, c);
    if (st == CLSEG_OK) st = ctx_finish(ctx);
    *ms = clseg_now_ms() - t0;
    return st;
}

/* Runs after the warm-up: the first tells whether the rest are worth it (a candidate 1.3x
   slower than the best so far is not timed further). */
static clseg_status timed_runs(clseg_context *ctx, const op_call *call, const op_choice *c,
                               int reps, double give_up_ms, double *median_ms) {
    double t[9];
    int n = 0;
    clseg_status st = run_once(ctx, call, c, &t[n++]);
    if (st != CLSEG_OK) return st;
    if (reps <= 0) reps = t[0] < 5 ? 5 : 3;
    if (reps > 9) reps = 9;
    if (give_up_ms > 0 && t[0] > give_up_ms) reps = 1;
    while (n < reps && st == CLSEG_OK) st = run_once(ctx, call, c, &t[n++]);
    qsort(t, (size_t)n, sizeof t[0], cmp_double);
    *median_ms = t[n / 2];
    return st;
}

clseg_status tune_time_choice(clseg_context *ctx, workload *w, const op_choice *c, int reps,
                              double *median_ms) {
    double warm;
    clseg_status st = op_prepare_choice(ctx, &w->call, c);
    if (st == CLSEG_OK) st = run_once(ctx, &w->call, c, &warm);
    if (st == CLSEG_OK) st = timed_runs(ctx, &w->call, c, reps, 0, median_ms);
    return st;
}

/* ---- search state --------------------------------------------------------------------------- */

typedef struct evaluated {
    const op_variant *v;
    op_config cfg;
    double ms; /* < 0: rejected */
} evaluated;

typedef struct search {
    clseg_context *ctx;
    workload *w;
    const tune_layer *L;
    const tune_options *opt;
    tune_progress prog;
    double t0_ms;
    uint64_t rng;
    evaluated *seen;
    int n_seen, cap_seen;
    op_choice best;
    double best_ms;
    tune_outcome *out;
    double *rate;     /* per op_variant_table entry: its best GFLOP/s on any layer so far */
    op_config *carry; /* per entry: its best configuration on the last layer it won a time on */
    int *has_carry;
} search;

static size_t variant_index(const op_variant *v) {
    size_t i = 0;
    while (i < op_variant_table_len && op_variant_table[i] != v) i++;
    return i;
}

/* A variant that reached less than a third of this layer's best rate on every layer it ran on
   so far is not worth its compile and runs here (im2col + an untuned GEMM on a CPU: ~2 GFLOP/s
   against ~60). Layers are tuned heaviest first, so the first ones try everything. */
static int hopeless(const search *s, const op_variant *v) {
    if (s->L->flops <= 0 || s->best_ms <= 0 || v == s->best.variant) return 0;
    double r = s->rate[variant_index(v)];
    return r > 0 && s->L->flops / (s->best_ms * 1e6) > 3 * r;
}

static uint64_t rnd(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void report(search *s, const char *phase) {
    if (!s->opt->progress) return;
    s->prog.phase = phase;
    s->prog.tried = s->out ? s->out->tried : 0;
    s->prog.best_ms = s->best_ms;
    s->prog.best = s->best_ms > 0 ? &s->best : NULL;
    s->prog.elapsed_s = (clseg_now_ms() - s->t0_ms) / 1000;
    s->opt->progress(s->opt->user, &s->prog);
}

static int same_cfg(const op_variant *v, const op_config *a, const op_config *b) {
    for (int i = 0; i < v->n_params && i < OP_MAX_PARAMS; i++)
        if (a->v[i] != b->v[i]) return 0;
    return 1;
}

static evaluated *find_seen(search *s, const op_variant *v, const op_config *cfg) {
    for (int i = 0; i < s->n_seen; i++)
        if (s->seen[i].v == v && same_cfg(v, &s->seen[i].cfg, cfg)) return &s->seen[i];
    return NULL;
}

static void note_problem(search *s, const op_variant *v, const op_config *cfg, const char *what) {
    if (!s->out || s->out->first_problem[0]) return;
    char params[160];
    tune_config_to_params(v, cfg, params, sizeof params);
    if (snprintf(s->out->first_problem, sizeof s->out->first_problem, "%s [%s]: %s", v->name,
                 params, what) < 0)
        s->out->first_problem[0] = 0;
}

/* Builds, runs once into poisoned outputs, verifies, then times one configuration. Rejections
   are counted, not errors. ms < 0 when rejected. */
static clseg_status evaluate(search *s, const op_variant *v, const op_config *cfg, double *ms) {
    evaluated *e = find_seen(s, v, cfg);
    if (e) {
        *ms = e->ms;
        return CLSEG_OK;
    }
    if (s->n_seen == s->cap_seen) {
        int cap = s->cap_seen ? s->cap_seen * 2 : 32;
        evaluated *seen = clseg_realloc(s->seen, (size_t)cap * sizeof *seen);
        if (!seen) return ctx_fail(s->ctx, CLSEG_ERR_OUT_OF_MEMORY, "out of memory");
        s->seen = seen;
        s->cap_seen = cap;
    }
    e = &s->seen[s->n_seen++];
    *e = (evaluated){v, *cfg, -1};
    *ms = -1;
    op_choice c = {v, *cfg, CHOICE_TUNED};
    clseg_context *ctx = s->ctx;
    workload *w = s->w;
    double warm;
    clseg_status st = op_prepare_choice(ctx, &w->call, &c);
    if (st == CLSEG_OK) st = workload_poison(ctx, w);
    if (st == CLSEG_OK) st = run_once(ctx, &w->call, &c, &warm);
    if (st != CLSEG_OK) {
        s->out->failed++;
        note_problem(s, v, cfg, ctx->error);
        return CLSEG_OK;
    }
    char why[256];
    if (!workload_verify(ctx, w, why, sizeof why)) {
        s->out->wrong++;
        note_problem(s, v, cfg, why);
        return CLSEG_OK;
    }
    double t;
    st = timed_runs(ctx, &w->call, &c, 0, s->best_ms > 0 ? 1.3 * s->best_ms : 0, &t);
    if (st != CLSEG_OK) {
        s->out->failed++;
        note_problem(s, v, cfg, ctx->error);
        return CLSEG_OK;
    }
    e->ms = *ms = t;
    s->out->tried++;
    if (s->L->flops > 0) {
        double r = s->L->flops / (t * 1e6), *best_rate = &s->rate[variant_index(v)];
        if (r > *best_rate) *best_rate = r;
    }
    if (s->best_ms < 0 || t < s->best_ms) {
        s->best = c;
        s->best_ms = t;
    }
    report(s, "search");
    return CLSEG_OK;
}

static int legal(const search *s, const op_variant *v, const op_config *cfg) {
    return tune_config_legal(&s->ctx->info, v, &s->L->call, cfg);
}

/* Configurations one step away from cfg: one parameter moved to the next smaller or larger of
   its choices. */
static int neighbours(const op_variant *v, const op_config *cfg, op_config *out, int max) {
    int n = 0;
    for (int i = 0; i < v->n_params && i < OP_MAX_PARAMS; i++) {
        const variant_param *p = &v->params[i];
        int at = -1;
        for (int j = 0; j < p->n_choices; j++)
            if (p->choices[j] <= cfg->v[i]) at = j;
        for (int d = -1; d <= 1; d += 2) {
            int j = at + d;
            if (at >= 0 && p->choices[at] != cfg->v[i] && d < 0) j = at;
            if (j < 0 || j >= p->n_choices || n == max) continue;
            out[n] = *cfg;
            out[n].v[i] = p->choices[j];
            n++;
        }
    }
    return n;
}

static op_config random_cfg(const op_variant *v, uint64_t *r) {
    op_config c = op_default_config(v);
    for (int i = 0; i < v->n_params && i < OP_MAX_PARAMS; i++)
        if (v->params[i].n_choices > 0)
            c.v[i] = v->params[i].choices[rnd(r) % (uint64_t)v->params[i].n_choices];
    return c;
}

/* The variants that support the call with some configuration (their defaults, else a random
   legal one). */
static int candidate_variants(search *s, const op_variant **vs, int max) {
    int n = 0;
    for (size_t i = 0; i < op_variant_table_len && n < max; i++) {
        const op_variant *v = op_variant_table[i];
        if (v->kind != s->L->call.kind) continue;
        op_config c = op_default_config(v);
        int ok = legal(s, v, &c);
        for (int k = 0; k < 32 && !ok && v->n_params; k++) {
            c = random_cfg(v, &s->rng);
            ok = legal(s, v, &c);
        }
        if (ok) vs[n++] = v;
    }
    return n;
}

/* The best configuration seen for v (its incumbent); 0 if none passed. */
static int incumbent(const search *s, const op_variant *v, op_config *cfg, double *ms) {
    int found = 0;
    for (int i = 0; i < s->n_seen; i++)
        if (s->seen[i].v == v && s->seen[i].ms > 0 && (!found || s->seen[i].ms < *ms)) {
            *cfg = s->seen[i].cfg;
            *ms = s->seen[i].ms;
            found = 1;
        }
    return found;
}

/* Greedy first-improvement descent from the incumbents (best variant first), then random
   configurations once every neighbourhood is exhausted, until the deadline. */
static clseg_status search_until(search *s, const op_variant **vs, int nv, double deadline_ms) {
    while (clseg_now_ms() < deadline_ms) {
        const op_variant *pick = NULL;
        op_config next;
        /* rank variants by their incumbents */
        int order[16], no = 0;
        double ms_of[16];
        for (int i = 0; i < nv && i < 16; i++) {
            op_config c;
            double ms = 0;
            if (incumbent(s, vs[i], &c, &ms)) {
                int j = no++;
                while (j > 0 && ms_of[order[j - 1]] > ms) {
                    order[j] = order[j - 1];
                    j--;
                }
                order[j] = i;
                ms_of[i] = ms;
            }
        }
        for (int k = 0; k < no && !pick; k++) {
            const op_variant *v = vs[order[k]];
            if (hopeless(s, v)) continue;
            op_config inc, nb[2 * OP_MAX_PARAMS];
            double ms;
            incumbent(s, v, &inc, &ms);
            int n = neighbours(v, &inc, nb, 2 * OP_MAX_PARAMS);
            int start = n ? (int)(rnd(&s->rng) % (uint64_t)n) : 0;
            for (int j = 0; j < n && !pick; j++) {
                const op_config *c = &nb[(start + j) % n];
                if (legal(s, v, c) && !find_seen(s, v, c)) {
                    pick = v;
                    next = *c;
                }
            }
        }
        for (int tries = 0; tries < 256 && !pick && nv > 0; tries++) {
            /* mostly around the best variant, sometimes any */
            const op_variant *v =
                (no && rnd(&s->rng) % 4) ? vs[order[0]] : vs[rnd(&s->rng) % (uint64_t)nv];
            op_config c = random_cfg(v, &s->rng);
            if (!hopeless(s, v) && legal(s, v, &c) && !find_seen(s, v, &c)) {
                pick = v;
                next = c;
            }
        }
        if (!pick) break; /* nothing left to try */
        double ms;
        clseg_status st = evaluate(s, pick, &next, &ms);
        if (st != CLSEG_OK) return st;
    }
    return CLSEG_OK;
}

static int is_gemm(const op_variant *v) {
    return strstr(v->name, "gemm") != NULL;
}

/* The GEMM variant (and its configuration) to use for L, if one is legal. */
static int gemm_choice(clseg_context *ctx, const tune_layer *L, op_choice *out) {
    for (size_t i = 0; i < op_variant_table_len; i++) {
        const op_variant *v = op_variant_table[i];
        if (v->kind != L->call.kind || !is_gemm(v)) continue;
        op_choice c;
        if (op_class_default(&ctx->info, &L->call, &c) && c.variant == v) {
            *out = c;
            return 1;
        }
        op_config cfg = op_default_config(v);
        if (tune_config_legal(&ctx->info, v, &L->call, &cfg)) {
            *out = (op_choice){v, cfg, CHOICE_GENERIC};
            return 1;
        }
    }
    return 0;
}

static clseg_status put_record(clseg_context *ctx, const tune_layer *L, const op_choice *c,
                               double ms) {
    tune_record r;
    memset(&r, 0, sizeof r);
    r.kind = TREC_OP;
    tune_device_key(&ctx->info, r.device, r.driver);
    snprintf(r.key, sizeof r.key, "%s", L->sig);
    snprintf(r.variant, sizeof r.variant, "%s", c->variant->name);
    tune_config_to_params(c->variant, &c->cfg, r.params, sizeof r.params);
    r.ms = ms;
    r.gflops = L->flops > 0 ? L->flops / (ms * 1e6) : 0;
    return tunedb_put(ctx->tuning, &r) == CLSEG_OK
               ? CLSEG_OK
               : ctx_fail(ctx, CLSEG_ERR_OUT_OF_MEMORY, "out of memory");
}

/* ---- CLBlast -------------------------------------------------------------------------------- */

/* CLBlast's parameters are per device, not per shape: the heaviest GEMM layer stands for all.
   Each set costs a CLBlast compile (~7 s on PoCL), so a set gets one verified warm-up and one
   timed run. */
#define CLBLAST_LAYERS 1

/* Total time of the GEMM variant over the heaviest GEMM layers under the CLBlast parameters in
   effect, each verified; < 0 if any fails. */
static clseg_status clblast_total(search *base, workload **ws, const tune_layer **Ls,
                                  const op_choice *gc, int n, double *total) {
    *total = 0;
    for (int i = 0; i < n; i++) {
        clseg_context *ctx = base->ctx;
        double warm, t;
        clseg_status st = op_prepare_choice(ctx, &ws[i]->call, &gc[i]);
        if (st == CLSEG_OK) st = workload_poison(ctx, ws[i]);
        if (st == CLSEG_OK) st = run_once(ctx, &ws[i]->call, &gc[i], &warm);
        char why[256];
        if (st == CLSEG_OK && !workload_verify(ctx, ws[i], why, sizeof why)) {
            ctx_fail(ctx, CLSEG_ERR_INTERNAL, "%s", why);
            st = CLSEG_ERR_INTERNAL;
        }
        if (st == CLSEG_OK) st = timed_runs(ctx, &ws[i]->call, &gc[i], 1, 0, &t);
        if (st != CLSEG_OK) {
            *total = -1;
            return CLSEG_OK;
        }
        *total += t * Ls[i]->count;
    }
    return CLSEG_OK;
}

static clseg_status tune_clblast(search *base, const tune_layer *layers, int n, workload *ws,
                                 double deadline_ms, tune_clblast_outcome *out) {
    clseg_context *ctx = base->ctx;
    const tune_layer *Ls[CLBLAST_LAYERS];
    workload *W[CLBLAST_LAYERS];
    op_choice gc[CLBLAST_LAYERS];
    int m = 0;
    for (int i = 0; i < n && m < CLBLAST_LAYERS; i++) {
        if (!workload_kind_supported(layers[i].call.kind) || !gemm_choice(ctx, &layers[i], &gc[m]))
            continue;
        if (!ws[i].call.in[0].mem) {
            base->prog.layer = i;
            base->prog.L = &layers[i];
            report(base, "reference");
            clseg_status st =
                workload_create(ctx, &layers[i].call, base->opt->seed + (uint64_t)i, 1, &ws[i]);
            if (st != CLSEG_OK) return st;
        }
        Ls[m] = &layers[i];
        W[m++] = &ws[i];
    }
    if (m == 0) return CLSEG_OK;
    out->ran = 1;
    base->prog.layer = n;
    base->prog.L = NULL;
    report(base, "clblast");
    clseg_status st = clblast_total(base, W, Ls, gc, m, &out->before_ms);
    if (st != CLSEG_OK) return st;

    char device[256], driver[128];
    tune_device_key(&ctx->info, device, driver);
    const tune_record *prev = tunedb_find(ctx->tuning, TREC_CLBLAST, device, driver, "Xgemm");
    char prev_params[512] = "";
    if (prev) snprintf(prev_params, sizeof prev_params, "%s", prev->params);
    out->best_ms = -1;
    const char *best = NULL;
    /* a set costs about what the last one did: start one only if it can finish in time */
    double cost = 0;
    for (size_t k = 0; k < clblast_xgemm_candidates_len && clseg_now_ms() + cost < deadline_ms;
         k++) {
        const char *set = clblast_xgemm_candidates[k];
        if (!clblast_params_fit(&ctx->info, set) || !strcmp(set, prev_params)) continue;
        double total = -1, started = clseg_now_ms();
        if (clblast_apply(ctx, set) == CLSEG_OK) {
            st = clblast_total(base, W, Ls, gc, m, &total);
            if (st != CLSEG_OK) return st;
        }
        cost = clseg_now_ms() - started;
        if (total < 0) {
            out->rejected++;
            continue;
        }
        out->tried++;
        if (out->best_ms < 0 || total < out->best_ms) {
            out->best_ms = total;
            best = set;
        }
        base->best_ms = out->best_ms;
        report(base, "clblast");
    }
    /* what the GEMM variant reaches, for hopeless() in the search that follows */
    double gemm_ms = out->before_ms;
    if (out->best_ms > 0 && (gemm_ms <= 0 || out->best_ms < gemm_ms)) gemm_ms = out->best_ms;
    if (gemm_ms > 0 && Ls[0]->flops > 0) {
        double r = Ls[0]->flops * Ls[0]->count / (gemm_ms * 1e6);
        double *rate = &base->rate[variant_index(gc[0].variant)];
        if (r > *rate) *rate = r;
    }
    if (best && (out->before_ms < 0 || out->best_ms < out->before_ms)) {
        snprintf(out->best, sizeof out->best, "%s", best);
        clblast_apply(ctx, best);
        tune_record r;
        memset(&r, 0, sizeof r);
        r.kind = TREC_CLBLAST;
        snprintf(r.device, sizeof r.device, "%s", device);
        snprintf(r.driver, sizeof r.driver, "%s", driver);
        snprintf(r.key, sizeof r.key, "Xgemm");
        snprintf(r.params, sizeof r.params, "%s", best);
        r.ms = out->best_ms;
        return tunedb_put(ctx->tuning, &r) == CLSEG_OK
                   ? CLSEG_OK
                   : ctx_fail(ctx, CLSEG_ERR_OUT_OF_MEMORY, "out of memory");
    }
    /* The parameters in effect before won. CLBlast cannot go back to its built-in set once
       overridden: restore the database's set if there was one, else keep the best candidate
       applied for the rest of this process (nothing is stored). */
    if (*prev_params)
        clblast_apply(ctx, prev_params);
    else if (best)
        clblast_apply(ctx, best);
    return CLSEG_OK;
}

/* ---- the whole network ---------------------------------------------------------------------- */

static int tunable(clseg_context *ctx, const tune_layer *L) {
    int variants = 0, params = 0;
    for (size_t i = 0; i < op_variant_table_len; i++) {
        const op_variant *v = op_variant_table[i];
        op_config c = op_default_config(v);
        if (v->kind != L->call.kind || !op_variant_supports(v, &ctx->info, &L->call, &c)) continue;
        variants++;
        for (int p = 0; p < v->n_params; p++) params += v->params[p].n_choices > 1;
    }
    return workload_kind_supported(L->call.kind) && (variants > 1 || params > 0);
}

clseg_status tune_network(clseg_context *ctx, const tune_layer *layers, int n,
                          const tune_options *opt, tune_outcome *out, tune_clblast_outcome *blas) {
    const double t0 = clseg_now_ms(), end = t0 + opt->budget_s * 1000;
    memset(blas, 0, sizeof *blas);
    workload *ws = clseg_calloc((size_t)(n ? n : 1), sizeof *ws);
    double *rate = clseg_calloc(op_variant_table_len + 1, sizeof *rate);
    op_config *carry = clseg_calloc(op_variant_table_len + 1, sizeof *carry);
    int *has_carry = clseg_calloc(op_variant_table_len + 1, sizeof *has_carry);
    if (!ws || !rate || !carry || !has_carry) {
        free(ws);
        free(rate);
        free(carry);
        free(has_carry);
        return ctx_fail(ctx, CLSEG_ERR_OUT_OF_MEMORY, "out of memory");
    }
    search s;
    memset(&s, 0, sizeof s);
    s.ctx = ctx;
    s.opt = opt;
    s.t0_ms = t0;
    s.rng = opt->seed ? opt->seed : 1;
    s.best_ms = -1;
    s.rate = rate;
    s.carry = carry;
    s.has_carry = has_carry;
    s.prog.n_layers = n;
    s.prog.budget_s = opt->budget_s;

    /* CLBlast first, so that the GEMM variants compete below with good parameters: a fifth of
       the budget, when that leaves room for a few parameter sets (each costs a CLBlast compile,
       ~7 s on PoCL). */
    int any_gemm = 0;
    op_choice g;
    for (int i = 0; i < n; i++) any_gemm |= gemm_choice(ctx, &layers[i], &g);
    double reserve = any_gemm && opt->budget_s >= 50 ? opt->budget_s * 200 : 0;
    clseg_status st = CLSEG_OK;
    if (reserve > 0) st = tune_clblast(&s, layers, n, ws, t0 + reserve, blas);

    double total_weight = 0;
    for (int i = 0; i < n; i++) total_weight += weight(&layers[i]);
    for (int i = 0; i < n && st == CLSEG_OK; i++) {
        const tune_layer *L = &layers[i];
        tune_outcome *o = &out[i];
        memset(o, 0, sizeof *o);
        o->before_ms = o->best_ms = -1;
        double now = clseg_now_ms();
        double share = (end - now) * (total_weight > 0 ? weight(L) / total_weight : 1.0 / (n - i));
        total_weight -= weight(L);
        if (!tune_select_on(&ctx->info, ctx->tuning, 0, &L->call, &o->before) || !tunable(ctx, L)) {
            o->skipped = 1;
            o->best = o->before;
            workload_free(&ws[i]);
            continue;
        }
        s.L = L;
        s.out = o;
        s.n_seen = 0;
        s.best_ms = -1;
        s.prog.layer = i;
        s.prog.L = L;
        report(&s, "reference");
        if (!ws[i].call.in[0].mem)
            st = workload_create(ctx, &L->call, opt->seed + (uint64_t)i, 1, &ws[i]);
        if (st != CLSEG_OK) break;
        s.w = &ws[i];

        /* the starting choice, each variant's class default and generic default */
        st = evaluate(&s, o->before.variant, &o->before.cfg, &o->before_ms);
        const op_variant *vs[16];
        int nv = candidate_variants(&s, vs, 16);
        for (int k = 0; k < nv && st == CLSEG_OK && clseg_now_ms() < now + share; k++) {
            if (hopeless(&s, vs[k])) continue;
            double ms;
            op_choice cd;
            op_config def = op_default_config(vs[k]);
            if (op_class_default(&ctx->info, &L->call, &cd) && cd.variant == vs[k])
                st = evaluate(&s, vs[k], &cd.cfg, &ms);
            if (st == CLSEG_OK && legal(&s, vs[k], &def)) st = evaluate(&s, vs[k], &def, &ms);
            /* what won for this variant on the previous layer: shapes of one network are
               alike, so it is often close to this layer's best */
            size_t vi = variant_index(vs[k]);
            if (st == CLSEG_OK && s.has_carry[vi] && legal(&s, vs[k], &s.carry[vi]))
                st = evaluate(&s, vs[k], &s.carry[vi], &ms);
        }
        if (st == CLSEG_OK) st = search_until(&s, vs, nv, now + share);
        for (int k = 0; k < nv; k++) {
            op_config inc;
            double ms;
            if (incumbent(&s, vs[k], &inc, &ms)) {
                s.carry[variant_index(vs[k])] = inc;
                s.has_carry[variant_index(vs[k])] = 1;
            }
        }
        if (st == CLSEG_OK && s.best_ms > 0) {
            o->best = s.best;
            o->best.source = CHOICE_TUNED;
            o->best_ms = s.best_ms;
            st = put_record(ctx, L, &o->best, o->best_ms);
        }
        workload_free(&ws[i]);
    }
    for (int i = 0; i < n; i++) workload_free(&ws[i]);
    free(ws);
    free(rate);
    free(carry);
    free(has_carry);
    free(s.seen);
    return st;
}
