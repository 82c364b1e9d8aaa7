/* tune_api.c - public tuning: the autotuner over a model's distinct layers, tuning databases
   from files, and the tuning database a context holds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/model.h"
#include "tune/autotune.h"
#include "tuning_db.h"
#include "../net/calls.h"

_Static_assert(CLSEG_TUNING_DB_EMPTY == (int)TUNEDB_EMPTY &&
                   CLSEG_TUNING_DB_LOADED == (int)TUNEDB_LOADED &&
                   CLSEG_TUNING_DB_CORRUPT == (int)TUNEDB_CORRUPT &&
                   CLSEG_TUNING_DB_FOREIGN == (int)TUNEDB_FOREIGN,
               "the public database states mirror tunedb_state");

/* ---- databases ----------------------------------------------------------------------------- */

clseg_status clseg_tuning_db_load(clseg_tuning_db **out, const char *path,
                                  clseg_tuning_db_state *state, char *errbuf, size_t errbuf_size) {
    if (out) *out = NULL;
    if (state) *state = CLSEG_TUNING_DB_EMPTY;
    if (!out || !path)
        return clseg_fail(errbuf, errbuf_size, CLSEG_ERR_INVALID_ARGUMENT, "NULL argument");
    clseg_tuning_db *db = clseg_calloc(1, sizeof *db);
    if (!db) return clseg_fail(errbuf, errbuf_size, CLSEG_ERR_OUT_OF_MEMORY, "out of memory");
    tunedb_state s = TUNEDB_EMPTY;
    clseg_status st = tunedb_load(path, &db->db, &s, errbuf, errbuf_size);
    if (state) *state = (clseg_tuning_db_state)s;
    if (st != CLSEG_OK) {
        clseg_tuning_db_free(db);
        return st;
    }
    *out = db;
    return CLSEG_OK;
}

void clseg_tuning_db_free(clseg_tuning_db *db) {
    if (!db) return;
    tunedb_free(&db->db);
    free(db);
}

static size_t record_count(const tunedb *db, const clseg_device_info *dev) {
    if (!db) return 0;
    if (!dev) return db->n;
    char device[256], driver[128];
    tune_device_key(dev, device, driver);
    size_t mine = 0;
    for (size_t i = 0; i < db->n; i++)
        mine += !strcmp(db->recs[i].device, device) && !strcmp(db->recs[i].driver, driver);
    return mine;
}

size_t clseg_tuning_db_record_count(const clseg_tuning_db *db, const clseg_device_info *dev) {
    return db ? record_count(&db->db, dev) : 0;
}

const char *clseg_context_tuning_path(const clseg_context *ctx) {
    return ctx ? ctx->tuning_path : NULL;
}

clseg_tuning_db_state clseg_context_tuning_state(const clseg_context *ctx) {
    return ctx ? (clseg_tuning_db_state)ctx->tuning_state : CLSEG_TUNING_DB_EMPTY;
}

size_t clseg_context_tuning_record_count(const clseg_context *ctx, int this_device) {
    return ctx ? record_count(ctx->tuning, this_device ? &ctx->info : NULL) : 0;
}

clseg_status clseg_context_save_tuning(clseg_context *ctx) {
    if (!ctx) return CLSEG_ERR_INVALID_ARGUMENT;
    if (!ctx->tuning_path)
        return ctx_fail(ctx, CLSEG_ERR_INVALID_ARGUMENT, "the context has no tuning database file");
    if (ctx->tuning_state == TUNEDB_FOREIGN)
        return ctx_fail(ctx, CLSEG_ERR_INVALID_ARGUMENT,
                        "%s is not a clseg tuning database this version writes; refusing to "
                        "overwrite it",
                        ctx->tuning_path);
    char err[1024];
    clseg_status st = tunedb_save(ctx->tuning, ctx->tuning_path, err, sizeof err);
    return st == CLSEG_OK ? st : ctx_fail(ctx, st, "%s", err);
}

/* ---- the tuner ----------------------------------------------------------------------------- */

struct clseg_tuner {
    clseg_tune_options opt;
    op_named_call *calls;
    tune_layer *layers; /* tuning order: heaviest first */
    tune_outcome *out;
    int *order; /* network order -> index into layers */
    int n_layers;
    int ran;
    tune_clblast_outcome blas;
};

void clseg_tune_options_init(clseg_tune_options *opts) {
    if (!opts) return;
    memset(opts, 0, sizeof *opts);
    opts->struct_size = sizeof *opts;
}

void clseg_tuner_free(clseg_tuner *t) {
    if (!t) return;
    free(t->calls);
    free(t->layers);
    free(t->out);
    free(t->order);
    free(t);
}

clseg_status clseg_tuner_create(clseg_tuner **out, const clseg_model *model,
                                const clseg_tune_options *opts, char *errbuf, size_t errbuf_size) {
    if (out) *out = NULL;
    if (!out || !model || !opts)
        return clseg_fail(errbuf, errbuf_size, CLSEG_ERR_INVALID_ARGUMENT, "NULL argument");
    if (opts->struct_size == 0)
        return clseg_fail(errbuf, errbuf_size, CLSEG_ERR_INVALID_ARGUMENT,
                          "options struct_size is 0: start from CLSEG_TUNE_OPTIONS_INIT or "
                          "clseg_tune_options_init()");
    clseg_tuner *t = clseg_calloc(1, sizeof *t);
    if (!t) return clseg_fail(errbuf, errbuf_size, CLSEG_ERR_OUT_OF_MEMORY, "out of memory");
    clseg_tune_options_init(&t->opt);
    memcpy(&t->opt, opts, opts->struct_size < sizeof t->opt ? opts->struct_size : sizeof t->opt);
    t->opt.struct_size = sizeof t->opt;
    clseg_tune_options *o = &t->opt;
    if (o->batch == 0) o->batch = 1;
    if (o->budget_s == 0) o->budget_s = 60;
    clseg_status st = CLSEG_OK;
    if (o->batch < 1 || o->height < 1 || o->width < 1 || o->height > CLSEG_MAX_DIM ||
        o->width > CLSEG_MAX_DIM || !(o->budget_s > 0))
        st = clseg_fail(errbuf, errbuf_size, CLSEG_ERR_INVALID_ARGUMENT,
                        "bad tuning options: batch %d, size %dx%d, budget %g s", o->batch, o->width,
                        o->height, o->budget_s);
    if (st == CLSEG_OK) {
        t->calls = clseg_calloc(NET_MAX_TRAIN_CALLS, sizeof *t->calls);
        t->layers = clseg_calloc(NET_MAX_TRAIN_CALLS, sizeof *t->layers);
        t->out = clseg_calloc(NET_MAX_TRAIN_CALLS, sizeof *t->out);
        t->order = clseg_calloc(NET_MAX_TRAIN_CALLS, sizeof *t->order);
        if (!t->calls || !t->layers || !t->out || !t->order)
            st = clseg_fail(errbuf, errbuf_size, CLSEG_ERR_OUT_OF_MEMORY, "out of memory");
    }
    int n_calls = 0;
    const shape4 in = {o->batch, model->spec.input_channels, o->height, o->width};
    if (st == CLSEG_OK)
        st = o->train ? net_train_calls(&model->spec, model->classes, in, t->calls, &n_calls,
                                        errbuf, errbuf_size)
                      : net_calls(&model->spec, model->classes, in, t->calls, &n_calls, errbuf,
                                  errbuf_size);
    if (st != CLSEG_OK) {
        clseg_tuner_free(t);
        return st;
    }
    t->n_layers = tune_distinct_layers(t->calls, n_calls, t->layers, NET_MAX_TRAIN_CALLS);
    /* network order (they are tuned heaviest first) */
    for (int i = 0; i < t->n_layers; i++) {
        int j = i;
        while (j > 0 && t->layers[t->order[j - 1]].first > t->layers[i].first) {
            t->order[j] = t->order[j - 1];
            j--;
        }
        t->order[j] = i;
    }
    *out = t;
    return CLSEG_OK;
}

int clseg_tuner_layer_count(const clseg_tuner *t) {
    return t ? t->n_layers : 0;
}

static void on_progress(void *user, const tune_progress *p) {
    const clseg_tuner *t = user;
    char params[160] = "";
    const op_variant *best = p->best ? p->best->variant : NULL;
    if (best) tune_config_to_params(best, &p->best->cfg, params, sizeof params);
    clseg_tune_progress q = {
        .layer = p->layer,
        .n_layers = p->n_layers,
        .layer_name = p->L ? p->L->name : NULL,
        .layer_flop = p->L ? p->L->flops : 0,
        .phase = p->phase,
        .tried = p->tried,
        .best_ms = p->best_ms,
        .best_variant = best ? best->name : NULL,
        .best_params = params,
        .elapsed_s = p->elapsed_s,
        .budget_s = p->budget_s,
    };
    t->opt.progress(t->opt.user, &q);
}

clseg_status clseg_tuner_run(clseg_tuner *t, clseg_context *ctx) {
    if (!ctx) return CLSEG_ERR_INVALID_ARGUMENT;
    if (!t) return ctx_fail(ctx, CLSEG_ERR_INVALID_ARGUMENT, "NULL tuner");
    if (t->ran) return ctx_fail(ctx, CLSEG_ERR_INVALID_ARGUMENT, "the tuner has run already");
    t->ran = 1;
    tune_options topt = {t->opt.budget_s, t->opt.seed, t->opt.progress ? on_progress : NULL, t};
    return tune_network(ctx, t->layers, t->n_layers, &topt, t->out, &t->blas);
}

clseg_status clseg_tuner_layer_get(const clseg_tuner *t, int i, clseg_tune_layer *out) {
    if (!t || !out || i < 0 || i >= t->n_layers) return CLSEG_ERR_INVALID_ARGUMENT;
    const tune_layer *L = &t->layers[t->order[i]];
    const tune_outcome *o = &t->out[t->order[i]];
    memset(out, 0, sizeof *out);
    snprintf(out->name, sizeof out->name, "%s", L->name);
    snprintf(out->op, sizeof out->op, "%s", op_kind_name(L->call.kind));
    out->count = L->count;
    out->first = L->first;
    out->flop = L->flops;
    out->bytes = L->bytes;
    if (!t->ran) return CLSEG_OK;
    out->skipped = o->skipped;
    out->before_ms = o->before_ms;
    out->best_ms = o->best_ms;
    if (o->best.variant) {
        snprintf(out->best_variant, sizeof out->best_variant, "%s", o->best.variant->name);
        tune_config_to_params(o->best.variant, &o->best.cfg, out->best_params,
                              sizeof out->best_params);
    }
    out->tried = o->tried;
    out->wrong = o->wrong;
    out->failed = o->failed;
    snprintf(out->first_problem, sizeof out->first_problem, "%s", o->first_problem);
    return CLSEG_OK;
}

clseg_status clseg_tuner_gemm_get(const clseg_tuner *t, clseg_tune_gemm *out) {
    if (!t || !out) return CLSEG_ERR_INVALID_ARGUMENT;
    memset(out, 0, sizeof *out);
    out->ran = t->blas.ran;
    out->tried = t->blas.tried;
    out->rejected = t->blas.rejected;
    out->before_ms = t->blas.before_ms;
    out->best_ms = t->blas.best_ms;
    snprintf(out->best, sizeof out->best, "%s", t->blas.best);
    return CLSEG_OK;
}
