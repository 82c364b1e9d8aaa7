/* peak.c - the device's roofline: FMA peak and copy bandwidth from clseg's own micro-kernels
   (kernels/peak.cl), measured once per device and kept in the binary cache directory. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../ops/variant_util.h"
#include "clseg_tune.h"

#define PEAK_MAGIC "clseg-peak-1"

void clseg_peak_options_init(clseg_peak_options *opts) {
    if (!opts) return;
    memset(opts, 0, sizeof *opts);
    opts->struct_size = sizeof *opts;
}

/* The preferred float vector width, as the prelude's FLOATN takes it. */
static int vector_width(const clseg_device_info *d) {
    uint32_t w = d->preferred_vector_width_float ? d->preferred_vector_width_float : 1;
    int v = 1;
    while (v < 16 && (uint32_t)v * 2 <= w) v *= 2;
    return v;
}

/* Everything that can change the figures: the device, its driver and the kernels. */
static void cache_file(const clseg_context *ctx, const char *dir, char *path, size_t len, char *key,
                       size_t key_len) {
    snprintf(key, key_len, "%s | %s | %s | vec %d", ctx->info.name, ctx->info.driver_version,
             ctx->info.platform_version, vector_width(&ctx->info));
    uint64_t h = clseg_fnv1a64(CLSEG_FNV1A64_INIT, key, strlen(key));
    snprintf(path, len, "%s/peak-%016llx.txt", dir, (unsigned long long)h);
}

/* A cached entry: the magic, the key, then "gflops gbs"; anything else is ignored. */
static int cache_read(const clseg_context *ctx, const char *dir, clseg_device_peak *out) {
    char path[4200], key[1024];
    cache_file(ctx, dir, path, sizeof path, key, sizeof key);
    uint8_t *data;
    size_t size;
    if (clseg_read_file(path, 4096, &data, &size, NULL, 0) != CLSEG_OK) return 0;
    char *text = clseg_malloc(size + 1);
    int ok = 0;
    if (text) {
        memcpy(text, data, size);
        text[size] = 0;
        size_t ml = strlen(PEAK_MAGIC), kl = strlen(key);
        double g, b;
        ok = size > ml + kl + 2 && memcmp(text, PEAK_MAGIC "\n", ml + 1) == 0 &&
             memcmp(text + ml + 1, key, kl) == 0 && text[ml + 1 + kl] == '\n' &&
             sscanf(text + ml + 2 + kl, "%lf %lf", &g, &b) == 2 && isfinite(g) && isfinite(b) &&
             g > 0 && b > 0;
        if (ok) {
            out->gflops = g;
            out->gbs = b;
        }
    }
    free(text);
    free(data);
    return ok;
}

/* Best effort: a result that cannot be stored is measured again next time. */
static void cache_write(const clseg_context *ctx, const char *dir, const clseg_device_peak *p) {
    char path[4200], key[1024], text[1400];
    cache_file(ctx, dir, path, sizeof path, key, sizeof key);
    int n = snprintf(text, sizeof text, "%s\n%s\n%.6g %.6g\n", PEAK_MAGIC, key, p->gflops, p->gbs);
    if (n > 0 && (size_t)n < sizeof text) clseg_write_file_atomic(path, text, (size_t)n, NULL, 0);
}

/* Milliseconds of one launch of kernel over gws work-items, waited for. */
static clseg_status timed(clseg_context *ctx, cl_kernel k, const karg *args, int n_args, size_t gws,
                          double *ms) {
    double t0 = clseg_now_ms();
    clseg_status st = ctx_run(ctx, k, args, n_args, 1, &gws, NULL);
    if (st == CLSEG_OK) st = ctx_finish(ctx);
    *ms = clseg_now_ms() - t0;
    return st;
}

static clseg_status measure_fma(clseg_context *ctx, const char *defines, int vec, int quick,
                                double *gflops) {
    cl_kernel k;
    clseg_status st = ctx_kernel(ctx, "peak", defines, "peak_fma", &k);
    size_t gws = (size_t)CLSEG_MAX(ctx->info.compute_units, 1) * 4096;
    cl_mem out = NULL;
    if (st == CLSEG_OK) st = ctx_buffer(ctx, gws * sizeof(float), NULL, &out);
    const karg args[] = {KARG_MEM(out), KARG_FLOAT(0.999f), KARG_FLOAT(1e-3f), KARG_INT(4)};
    karg a[4];
    memcpy(a, args, sizeof a);
    cl_int iters = 4;
    a[3].ptr = &iters;
    /* A first launch (which may finish compiling), then double the work until one launch lasts
       long enough to dwarf its overhead, then keep the best of a few launches. */
    double target = quick ? 2.0 : 20.0, ms = 0, best = 0;
    if (st == CLSEG_OK) st = timed(ctx, k, a, 4, gws, &ms);
    while (st == CLSEG_OK) {
        st = timed(ctx, k, a, 4, gws, &ms);
        if (ms >= target || iters >= (1 << 20)) break;
        iters *= 2;
    }
    for (int rep = 0; st == CLSEG_OK && rep <= (quick ? 0 : 3); rep++) {
        if (rep > 0) st = timed(ctx, k, a, 4, gws, &ms);
        if (st == CLSEG_OK && ms > 0)
            best = CLSEG_MAX(best, (double)gws * iters * 32 * vec * 2 / ms / 1e6);
    }
    if (out) clReleaseMemObject(out);
    *gflops = best;
    return st;
}

static clseg_status measure_copy(clseg_context *ctx, const char *defines, int quick, double *gbs) {
    cl_kernel k;
    clseg_status st = ctx_kernel(ctx, "peak", defines, "peak_copy", &k);
    /* Well beyond any last-level cache, well within what the device may allocate. */
    uint64_t bytes = quick ? (16u << 20) : (128u << 20);
    bytes = CLSEG_MIN(bytes, ctx->info.max_alloc_bytes / 2);
    bytes = CLSEG_MIN(bytes, ctx->info.global_mem_bytes / 8);
    bytes &= ~(uint64_t)15;
    cl_mem src = NULL, dst = NULL;
    if (st == CLSEG_OK) st = ctx_buffer(ctx, (size_t)bytes, NULL, &src);
    if (st == CLSEG_OK) st = ctx_buffer(ctx, (size_t)bytes, NULL, &dst);
    if (st == CLSEG_OK) st = ctx_fill_zero(ctx, src, (size_t)bytes);
    size_t n = (size_t)(bytes / 16);
    double best = 0, ms;
    /* The first launch touches the pages; it is not counted. */
    for (int rep = 0; st == CLSEG_OK && rep < (quick ? 2 : 6); rep++) {
        st = timed(ctx, k, (const karg[]){KARG_MEM(src), KARG_MEM(dst), KARG_INT(n)}, 3, n, &ms);
        if (st == CLSEG_OK && rep > 0 && ms > 0) best = CLSEG_MAX(best, 2.0 * bytes / ms / 1e6);
    }
    if (src) clReleaseMemObject(src);
    if (dst) clReleaseMemObject(dst);
    *gbs = best;
    return st;
}

static clseg_status peak(clseg_context *ctx, const clseg_peak_options *o, clseg_device_peak *out) {
    memset(out, 0, sizeof *out);
    out->vector_width = vector_width(&ctx->info);
    const char *dir = o->cache_dir ? o->cache_dir : ctx->cache_dir;
    if (dir && !o->quick && !o->remeasure && cache_read(ctx, dir, out)) {
        out->from_cache = 1;
        return CLSEG_OK;
    }
    char defines[64];
    snprintf(defines, sizeof defines, "-DVEC=%d%s", out->vector_width,
             ctx_has_fma(ctx) ? " -DUSE_FMA=1" : "");
    clseg_status st = measure_fma(ctx, defines, out->vector_width, o->quick, &out->gflops);
    if (st == CLSEG_OK) st = measure_copy(ctx, defines, o->quick, &out->gbs);
    if (st != CLSEG_OK) return st;
    if (!(out->gflops > 0) || !(out->gbs > 0))
        return ctx_fail(ctx, CLSEG_ERR_INTERNAL, "peak measurement on %s gave no time",
                        ctx->info.name);
    if (dir && !o->quick) cache_write(ctx, dir, out);
    return CLSEG_OK;
}

clseg_status clseg_device_peak_measure(clseg_context *ctx, const clseg_peak_options *opts,
                                       clseg_device_peak *out) {
    if (!ctx) return CLSEG_ERR_INVALID_ARGUMENT;
    if (!out) return ctx_fail(ctx, CLSEG_ERR_INVALID_ARGUMENT, "clseg_device_peak_measure: NULL");
    clseg_peak_options o;
    clseg_peak_options_init(&o);
    if (opts) {
        if (opts->struct_size == 0)
            return ctx_fail(ctx, CLSEG_ERR_INVALID_ARGUMENT,
                            "clseg_peak_options: struct_size is 0 (not initialised)");
        memcpy(&o, opts, CLSEG_MIN(opts->struct_size, sizeof o));
    }
    return CTX_LOCKED(ctx, peak(ctx, &o, out));
}
