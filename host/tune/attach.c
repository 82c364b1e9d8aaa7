/* attach.c - loading the tuning database into a context and applying CLBlast parameters. */
#include <clblast_c.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../device/runtime.h"
#include "attach.h"
#include "clseg_tune.h"

int clseg_tuning_db_default_path(const char *cache_dir, char *buf, size_t len) {
    if (!buf || !len) return 0;
    const char *env = getenv("CLSEG_TUNING_DB");
    const char *dir = cache_dir, *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    if (!dir || !*dir) dir = getenv("CLSEG_CACHE_DIR");
    int n = -1;
    if (env && *env)
        n = snprintf(buf, len, "%s", env);
    else if (dir && *dir)
        n = snprintf(buf, len, "%s/tuning.db", dir);
    else if (xdg && *xdg)
        n = snprintf(buf, len, "%s/clseg/tuning.db", xdg);
    else if (home && *home)
        n = snprintf(buf, len, "%s/.cache/clseg/tuning.db", home);
    if (n >= 0 && (size_t)n < len) return 1;
    *buf = 0;
    return 0;
}

static char *default_db_path(const clseg_context_options *opts) {
    char buf[4096];
    return clseg_tuning_db_default_path(opts->cache_dir, buf, sizeof buf) ? clseg_strdup(buf)
                                                                          : NULL;
}

__attribute__((format(printf, 2, 3))) static void warn(clseg_context *ctx, const char *fmt, ...) {
    size_t used = strlen(ctx->warning);
    if (used + 3 >= sizeof ctx->warning) return;
    if (used) {
        memcpy(ctx->warning + used, "; ", 3);
        used += 2;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->warning + used, sizeof ctx->warning - used, fmt, ap);
    va_end(ap);
}

clseg_status tuning_attach(clseg_context *ctx, const clseg_context_options *opts) {
    const char *plain = getenv("CLSEG_PLAIN_KERNELS");
    ctx->plain_kernels = opts->plain_kernels || (plain && *plain && strcmp(plain, "0") != 0);
    ctx->tuning = clseg_calloc(1, sizeof *ctx->tuning);
    if (!ctx->tuning) return ctx_fail(ctx, CLSEG_ERR_OUT_OF_MEMORY, "out of memory");
    ctx->tuning_state = TUNEDB_EMPTY;
    if (opts->tuning_db && !*opts->tuning_db) return CLSEG_OK;
    ctx->tuning_path = opts->tuning_db ? clseg_strdup(opts->tuning_db) : default_db_path(opts);
    if (!ctx->tuning_path) return CLSEG_OK; /* no home, no cache directory: no database */

    char err[768];
    tunedb_state state;
    if (tunedb_load(ctx->tuning_path, ctx->tuning, &state, err, sizeof err) != CLSEG_OK)
        warn(ctx, "tuning database ignored: %s", err);
    ctx->tuning_state = (int)state;

    char device[256], driver[128];
    tune_device_key(&ctx->info, device, driver);
    const tune_record *r = tunedb_find(ctx->tuning, TREC_CLBLAST, device, driver, "Xgemm");
    if (r && clblast_apply(ctx, r->params) != CLSEG_OK)
        warn(ctx, "CLBlast parameters from %s not applied: %s", ctx->tuning_path, ctx->error);
    ctx->error[0] = 0;
    return CLSEG_OK;
}

void tuning_detach(clseg_context *ctx) {
    if (ctx->tuning) tunedb_free(ctx->tuning);
    free(ctx->tuning);
    free(ctx->tuning_path);
    ctx->tuning = NULL;
    ctx->tuning_path = NULL;
}

const char *clseg_context_warning(const clseg_context *ctx) {
    return ctx ? ctx->warning : "";
}

/* ---- CLBlast -------------------------------------------------------------------------------- */

const char *const clblast_xgemm_names[CLBLAST_XGEMM_PARAMS] = {
    "GEMMK", "KREG", "KWG", "KWI", "MDIMA", "MDIMC", "MWG", "NDIMB",
    "NDIMC", "NWG",  "SA",  "SB",  "STRM",  "STRN",  "VWM", "VWN"};

/* The first is what clblast_tuner_xgemm found best on PoCL here (146 random configurations:
   68.7 GFLOP/s on 1024^3, a 64x64 tile per 8x8 work-group, 8x8 outputs per work-item, float4);
   then its neighbours (K tile, vector width, local-memory staging, a 128-row tile), then smaller
   and GPU-shaped sets for devices where it does not fit. */
#define XG(mwg, nwg, kwg, mdimc, ndimc, vwm, vwn, sa, sb)                                          \
    "GEMMK=0 KREG=1 KWG=" #kwg " KWI=2 MDIMA=" #mdimc " MDIMC=" #mdimc " MWG=" #mwg                \
    " NDIMB=" #ndimc " NDIMC=" #ndimc " NWG=" #nwg " SA=" #sa " SB=" #sb                           \
    " STRM=0 STRN=0 VWM=" #vwm " VWN=" #vwn
const char *const clblast_xgemm_candidates[] = {
    XG(64, 64, 32, 8, 8, 4, 4, 1, 1),     XG(64, 64, 16, 8, 8, 4, 4, 1, 1),
    XG(64, 64, 32, 8, 8, 8, 8, 1, 1),     XG(64, 64, 32, 8, 8, 4, 4, 0, 0),
    XG(128, 64, 32, 16, 8, 4, 4, 1, 1),   XG(64, 128, 32, 8, 16, 4, 4, 1, 1),
    XG(32, 32, 16, 8, 8, 2, 2, 1, 1),     XG(64, 64, 16, 16, 16, 2, 2, 1, 1),
    XG(128, 128, 16, 16, 16, 4, 4, 1, 1),
};
const size_t clblast_xgemm_candidates_len = CLSEG_ARRAY_LEN(clblast_xgemm_candidates);

static int parse_set(const char *params, size_t values[CLBLAST_XGEMM_PARAMS]) {
    int seen = 0;
    const char *p = params;
    while (*p) {
        while (*p == ' ') p++;
        if (!*p) break;
        const char *eq = strchr(p, '=');
        if (!eq) return 0;
        int idx = -1;
        for (int i = 0; i < CLBLAST_XGEMM_PARAMS; i++)
            if (strlen(clblast_xgemm_names[i]) == (size_t)(eq - p) &&
                !strncmp(p, clblast_xgemm_names[i], (size_t)(eq - p)))
                idx = i;
        char *end;
        long v = strtol(eq + 1, &end, 10);
        if (idx < 0 || end == eq + 1 || (*end && *end != ' ') || v < 0 || v > 4096) return 0;
        values[idx] = (size_t)v;
        seen |= 1 << idx;
        p = end;
    }
    return seen == (1 << CLBLAST_XGEMM_PARAMS) - 1;
}

enum { GEMMK, KREG, KWG, KWI, MDIMA, MDIMC, MWG, NDIMB, NDIMC, NWG, SA, SB, STRM, STRN, VWM, VWN };

int clblast_params_fit(const clseg_device_info *dev, const char *params) {
    size_t v[CLBLAST_XGEMM_PARAMS];
    if (!parse_set(params, v)) return 0;
    for (int i = KWG; i <= NWG; i++)
        if (i != MDIMA && i != NDIMB && v[i] == 0) return 0;
    if (!v[MDIMA] || !v[NDIMB] || !v[VWM] || !v[VWN] || !v[KWI]) return 0;
    /* CLBlast's own constraints for the indirect kernel (GEMMK = 0) */
    if (v[MWG] % (v[MDIMC] * v[VWM]) || v[NWG] % (v[NDIMC] * v[VWN]) ||
        v[MWG] % (v[MDIMA] * v[VWM]) || v[NWG] % (v[NDIMB] * v[VWN]) || v[KWG] % v[KWI] ||
        v[KWG] % ((v[MDIMC] * v[NDIMC]) / v[MDIMA]) || v[KWG] % ((v[MDIMC] * v[NDIMC]) / v[NDIMB]))
        return 0;
    size_t wg = v[MDIMC] * v[NDIMC];
    uint64_t local = (uint64_t)4 * (v[SA] * v[KWG] * v[MWG] + v[SB] * v[KWG] * v[NWG]);
    return wg <= dev->max_work_group_size && v[MDIMC] <= dev->max_work_item_sizes[0] &&
           v[NDIMC] <= dev->max_work_item_sizes[1] && local <= dev->local_mem_bytes;
}

clseg_status clblast_apply(clseg_context *ctx, const char *params) {
    size_t values[CLBLAST_XGEMM_PARAMS];
    if (!parse_set(params, values))
        return ctx_fail(ctx, CLSEG_ERR_FORMAT, "not a complete CLBlast Xgemm parameter set: %s",
                        params);
    const char *names[CLBLAST_XGEMM_PARAMS];
    memcpy(names, clblast_xgemm_names, sizeof names);
    CLBlastStatusCode s = CLBlastOverrideParameters(ctx->device, "Xgemm", CLBlastPrecisionSingle,
                                                    CLBLAST_XGEMM_PARAMS, names, values);
    if (s != CLBlastSuccess)
        return ctx_fail(ctx, CLSEG_ERR_OPENCL, "CLBlastOverrideParameters(Xgemm) failed: %d",
                        (int)s);
    return CLSEG_OK;
}
