/* cmd_bench.c - `clseg bench`: per-layer and whole-network times, cold and warm start-up and peak
   device memory of a model on one device or every device, as text, JSON and CSV. */
#define _XOPEN_SOURCE 700 /* nftw */
#include <ftw.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "clseg_tune.h"

typedef struct bench_opts {
    const char *model, *device, *db, *json, *csv;
    int n, c, h, w, iters, warmup, memplan, plain;
    double max_time_ms;
    char command[2048];
} bench_opts;

typedef struct stat3 {
    double median, min, max;
} stat3;

typedef struct layer_result {
    clseg_layer_info info;
    stat3 ms;
} layer_result;

typedef struct bench_result {
    clseg_device_info dev;
    char error[1024];  /* "" = ran */
    char warning[512]; /* what the context ignored, e.g. a corrupt tuning database */
    char network[64];
    stat3 forward;
    double first_forward_ms, cold_ms, warm_ms, gflop;
    int iters_done, warmup_done;
    clseg_layer_timing timing;
    clseg_startup_stats cold_stats, warm_stats;
    double cold_ready_ms;    /* of cold_ms: model, context and net ready (programs built) */
    char program_cache[256]; /* how the context caches programs, in words */
    int n_programs;          /* the programs the cold start built, and what for */
    clseg_program_info *programs;
    clseg_memory_stats mem;
    clseg_device_peak peak; /* gflops 0: not measured */
    int n_layers;
    layer_result *layers;
} bench_result;

static void help(void) {
    printf(
        "usage: clseg bench --model MODEL.clsm --size WxH [options]\n\n"
        "Times a model's forward pass on a device: per layer (OpenCL profiling events, the sum of\n"
        "each layer's kernels) and the whole network (wall clock around forward + clFinish),\n"
        "median / min / max over the iterations, with GFLOP/s, GB/s and the kernel variant and\n"
        "parameters used per layer; cold start-up (kernels compiled from source with an empty\n"
        "private cache) and warm start-up (from the binary cache: model load, context, net,\n"
        "ready to run); peak device memory with and without the memory planner. A model from\n"
        "'clseg init' (random weights) is enough. Progress goes to stderr. docs/bench.md\n"
        "describes the output.\n\n"
        "  --model FILE     model file (.clsm)\n"
        "  --size WxH       input width x height, e.g. 480x352\n"
        "  --batch N        batch size (default 1)\n"
        "  --device SEL     OpenCL device (P:D or a name substring), or 'all' for every device\n"
        "                   side by side; default $CLSEG_DEVICE, else the first GPU\n"
        "  --iters N        timed iterations (default 10)\n"
        "  --warmup N       untimed iterations first (default 2)\n"
        "  --max-time SEC   cap a device's warm-up and timed iterations at about SEC seconds\n"
        "                   each (one timed iteration always runs; default: no limit)\n"
        "  --db FILE        tuning database written by 'clseg tune' (default $CLSEG_TUNING_DB,\n"
        "                   else tuning.db in the binary cache directory, as other commands)\n"
        "  --plain          run every op's plain kernel (the untuned baseline)\n"
        "  --json FILE      write the results as JSON\n"
        "  --csv FILE       write the per-layer results as CSV\n"
        "  --no-memplan     give every activation its own buffer (no memory planning)\n"
        "  -h, --help       this text\n");
}

/* ---- measuring ----------------------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sorts v. */
static stat3 stats_of(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    stat3 s = {v[n / 2], v[0], v[n - 1]};
    if (n % 2 == 0) s.median = (v[n / 2 - 1] + v[n / 2]) / 2;
    return s;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void remove_tree(const char *dir) {
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static clseg_status fail(bench_result *r, clseg_status st, const char *what, const char *msg) {
    snprintf(r->error, sizeof r->error, "%s: %s", what, msg && *msg ? msg : clseg_status_str(st));
    return st;
}

/* Model load + context + net + prepare for the benchmark size, on a fresh context. */
static clseg_status open_net(const bench_opts *o, const char *sel, const char *cache,
                             bench_result *r, clseg_model **m, clseg_context **ctx,
                             clseg_net **net) {
    char err[1024] = "";
    clseg_status st = clseg_model_load(m, o->model, err, sizeof err);
    if (st != CLSEG_OK) return fail(r, st, "model", err);
    clseg_context_options co = {CLSEG_CONTEXT_OPTIONS_INIT, .device = sel,
                                .cache_dir = cache,         .enable_profiling = 1,
                                .tuning_db = o->db,         .plain_kernels = o->plain};
    st = clseg_context_create(ctx, &co, err, sizeof err);
    if (st != CLSEG_OK) return fail(r, st, "context", err);
    snprintf(r->warning, sizeof r->warning, "%s", clseg_context_warning(*ctx));
    st = clseg_net_create(net, *ctx, *m);
    if (st == CLSEG_OK && !o->memplan) st = clseg_net_set_memory_planning(*net, 0);
    if (st == CLSEG_OK) st = clseg_net_prepare(*net, o->n, o->h, o->w);
    if (st != CLSEG_OK) return fail(r, st, "net", clseg_context_error(*ctx));
    return CLSEG_OK;
}

static void close_net(clseg_model *m, clseg_context *ctx, clseg_net *net) {
    clseg_net_free(net);
    clseg_context_free(ctx);
    clseg_model_free(m);
}

static void progress(const bench_result *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void progress(const bench_result *r, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "bench %d:%d: ", r->dev.platform_index, r->dev.device_index);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void fill_input(float *x, size_t n) {
    uint32_t s = 12345;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = (float)(s >> 8) / 16777216.0f * 4.0f - 2.0f;
    }
}

/* Host input (pseudo-random) and logits buffers for the prepared net; 0 when out of memory. */
static int io_buffers(const bench_opts *o, const clseg_net *net, float **x, float **y) {
    size_t in_count = (size_t)o->n * o->c * o->h * o->w;
    clseg_layer_info last;
    clseg_net_layer_info(net, clseg_net_layer_count(net) - 1, &last);
    size_t out_count =
        (size_t)last.out_shape[0] * last.out_shape[1] * last.out_shape[2] * last.out_shape[3];
    *x = malloc(in_count * sizeof **x);
    *y = malloc(out_count * sizeof **y);
    if (*x) fill_input(*x, in_count);
    return *x && *y;
}

static clseg_status time_iterations(const bench_opts *o, clseg_net *net, clseg_context *ctx,
                                    bench_result *r) {
    int nl = clseg_net_layer_count(net);
    float *x, *y;
    int have_io = io_buffers(o, net, &x, &y);
    double *wall = malloc((size_t)o->iters * sizeof *wall);
    double *lay = malloc((size_t)o->iters * nl * sizeof *lay),
           *col = malloc(o->iters * sizeof *col);
    r->layers = calloc((size_t)nl, sizeof *r->layers);
    clseg_status st = CLSEG_OK;
    if (!have_io || !wall || !lay || !col || !r->layers) {
        st = fail(r, CLSEG_ERR_OUT_OF_MEMORY, "bench", "out of memory");
        goto done;
    }
    r->n_layers = nl;

    /* The first forward also shows whether the driver's events carry durations: Mesa 22's
       rusticl reports about a nanosecond for every kernel, where only the host clock can time
       the layers. Real durations add up to far more than 1e-4 of the wall clock, even when a
       tiny network's first forward is mostly the driver's launch-time compilation. */
    r->timing = CLSEG_LAYER_TIMING_EVENTS;
    double t0 = clseg_now_ms();
    st = clseg_net_forward_profiled(net, x, o->n, o->h, o->w, y, lay, r->timing);
    r->first_forward_ms = clseg_now_ms() - t0;
    double sum = 0;
    for (int l = 0; l < nl; l++) sum += lay[l];
    if (st == CLSEG_OK && sum < 1e-4 * r->first_forward_ms) {
        progress(r,
                 "the driver's profiling events add up to %.2g of %.0f ms: timing layers on the "
                 "host instead, with a clFinish after each",
                 sum, r->first_forward_ms);
        r->timing = CLSEG_LAYER_TIMING_HOST;
    }
    for (; st == CLSEG_OK && r->warmup_done < o->warmup; r->warmup_done++) {
        if (o->max_time_ms > 0 && clseg_now_ms() - t0 > o->max_time_ms) break;
        st = clseg_net_forward(net, x, o->n, o->h, o->w, y);
    }
    if (st == CLSEG_OK)
        progress(r, "first forward %.0f ms, %d warm-up; timing %d iterations", r->first_forward_ms,
                 r->warmup_done, o->iters);
    double start = clseg_now_ms();
    int it = 0;
    for (; st == CLSEG_OK && it < o->iters; it++) {
        if (it > 0 && o->max_time_ms > 0 && clseg_now_ms() - start > o->max_time_ms) break;
        t0 = clseg_now_ms();
        st = clseg_net_forward_profiled(net, x, o->n, o->h, o->w, y, lay + (size_t)it * nl,
                                        r->timing);
        wall[it] = clseg_now_ms() - t0;
    }
    if (st != CLSEG_OK) {
        fail(r, st, "forward", clseg_context_error(ctx));
        goto done;
    }
    r->iters_done = it;
    r->forward = stats_of(wall, it);
    for (int l = 0; l < nl; l++) {
        clseg_net_layer_info(net, l, &r->layers[l].info);
        for (int k = 0; k < it; k++) col[k] = lay[(size_t)k * nl + l];
        r->layers[l].ms = stats_of(col, it);
        r->gflop += r->layers[l].info.flop / 1e9;
    }
done:
    free(x);
    free(y);
    free(wall);
    free(lay);
    free(col);
    return st;
}

/* The roofline, cached next to the default tuning database (not in this run's private binary
   cache) so that later runs reuse it. Without it the report still stands: a failure is a
   warning. */
static void measure_peak(clseg_context *ctx, bench_result *r) {
    char db[4096];
    clseg_peak_options po;
    clseg_peak_options_init(&po);
    if (clseg_tuning_db_default_path(NULL, db, sizeof db)) {
        char *slash = strrchr(db, '/');
        if (slash) *slash = 0;
        po.cache_dir = db;
    }
    progress(r, "device peak (FMA and copy micro-kernels, cached in %s)",
             po.cache_dir ? po.cache_dir : "no directory");
    clseg_status st = clseg_device_peak_measure(ctx, &po, &r->peak);
    if (st != CLSEG_OK) {
        memset(&r->peak, 0, sizeof r->peak);
        progress(r, "warning: no device peak: %s", clseg_context_error(ctx));
        return;
    }
    progress(r, "device peak %.1f GFLOP/s, %.1f GB/s (%s)", r->peak.gflops, r->peak.gbs,
             r->peak.from_cache ? "cached" : "measured");
}

/* What the cold start built and why, for the report (best effort: none on out of memory). */
static void keep_programs(const clseg_context *ctx, bench_result *r) {
    snprintf(r->program_cache, sizeof r->program_cache, "%s", clseg_context_program_cache(ctx));
    int n = clseg_context_program_count(ctx);
    r->programs = n > 0 ? calloc((size_t)n, sizeof *r->programs) : NULL;
    for (int i = 0; r->programs && i < n; i++)
        if (clseg_context_program_get(ctx, i, &r->programs[r->n_programs]) == CLSEG_OK)
            r->n_programs++;
}

static void run_device(const bench_opts *o, const clseg_device_info *dev, bench_result *r) {
    memset(r, 0, sizeof *r);
    r->dev = *dev;
    char sel[32], cache[] = "/tmp/clseg-bench-cache-XXXXXX";
    snprintf(sel, sizeof sel, "%d:%d", dev->platform_index, dev->device_index);
    if (!mkdtemp(cache)) {
        fail(r, CLSEG_ERR_IO, "cache", "cannot create a temporary cache directory");
        return;
    }
    progress(r, "%s: cold start-up (compiling kernels into an empty cache)", dev->name);
    clseg_model *m = NULL;
    clseg_context *ctx = NULL;
    clseg_net *net = NULL;
    double t0 = clseg_now_ms();
    clseg_status st = open_net(o, sel, cache, r, &m, &ctx, &net);
    r->cold_ready_ms = clseg_now_ms() - t0;
    if (st == CLSEG_OK) {
        float *x, *y;
        st = io_buffers(o, net, &x, &y) ? clseg_net_forward(net, x, o->n, o->h, o->w, y)
                                        : CLSEG_ERR_OUT_OF_MEMORY;
        r->cold_ms = clseg_now_ms() - t0;
        if (st != CLSEG_OK) fail(r, st, "forward", clseg_context_error(ctx));
        clseg_context_startup_stats(ctx, &r->cold_stats);
        keep_programs(ctx, r);
        snprintf(r->network, sizeof r->network, "%s", clseg_model_network_name(m));
        free(x);
        free(y);
    }
    close_net(m, ctx, net);
    m = NULL, ctx = NULL, net = NULL;
    if (st == CLSEG_OK) {
        progress(r, "cold start-up %.0f ms (%d programs compiled); warm start-up", r->cold_ms,
                 r->cold_stats.programs_built);
        t0 = clseg_now_ms();
        st = open_net(o, sel, cache, r, &m, &ctx, &net);
        r->warm_ms = clseg_now_ms() - t0;
    }
    if (st == CLSEG_OK) {
        clseg_context_startup_stats(ctx, &r->warm_stats);
        progress(r, "warm start-up %.0f ms (%d programs from the cache, %d compiled)", r->warm_ms,
                 r->warm_stats.programs_from_cache, r->warm_stats.programs_built);
        if (*r->warning) progress(r, "warning: %s", r->warning);
        st = time_iterations(o, net, ctx, r);
        measure_peak(ctx, r);
        clseg_net_memory_stats(net, &r->mem);
    }
    if (st == CLSEG_OK)
        progress(r, "forward median %.1f ms (min %.1f, max %.1f) over %d iterations",
                 r->forward.median, r->forward.min, r->forward.max, r->iters_done);
    else
        progress(r, "failed: %s", r->error);
    close_net(m, ctx, net);
    remove_tree(cache);
}

/* ---- output ------------------------------------------------------------------------------- */

static double peak_with(const clseg_memory_stats *m, uint64_t activations) {
    return (double)(m->weight_bytes + m->io_bytes + activations + m->scratch_bytes);
}
static double peak_planned(const clseg_memory_stats *m) {
    return peak_with(m, m->activation_bytes_planned);
}
static double peak_unplanned(const clseg_memory_stats *m) {
    return peak_with(m, m->activation_bytes_unplanned);
}
static double peak_now(const clseg_memory_stats *m) {
    return peak_with(m, m->activation_bytes);
}

static const char *type_name(clseg_device_type t) {
    return t == CLSEG_DEVICE_CPU ? "CPU" : t == CLSEG_DEVICE_GPU ? "GPU" : "other";
}

static void print_text(const bench_opts *o, const bench_result *r) {
    printf("%s %dx%d batch %d on %d:%d %s (%s)\n", r->network, o->w, o->h, o->n,
           r->dev.platform_index, r->dev.device_index, r->dev.name, r->dev.platform_name);
    if (*r->error) {
        printf("  failed: %s\n\n", r->error);
        return;
    }
    printf("  %-14s %-9s %-17s %9s %9s %9s %8s %8s %7s  %s\n", "layer", "op", "variant", "ms med",
           "min", "max", "GFLOP", "GFLOP/s", "GB/s", "parameters");
    double sum = 0;
    for (int l = 0; l < r->n_layers; l++) {
        const layer_result *L = &r->layers[l];
        double ms = L->ms.median;
        sum += ms;
        printf("  %-14s %-9s %-17s %9.2f %9.2f %9.2f %8.3f %8.1f %7.1f  %s\n", L->info.name,
               L->info.op, L->info.variant, ms, L->ms.min, L->ms.max, L->info.flop / 1e9,
               ms > 0 ? L->info.flop / ms / 1e6 : 0, ms > 0 ? L->info.bytes / ms / 1e6 : 0,
               L->info.params);
    }
    printf("  %-42s %9.2f\n",
           r->timing == CLSEG_LAYER_TIMING_HOST ? "sum of layers (host, finish each)"
                                                : "sum of layers (device time)",
           sum);
    printf("  forward (wall clock)  median %.1f ms, min %.1f, max %.1f over %d iterations: %.1f "
           "GFLOP at %.1f GFLOP/s\n",
           r->forward.median, r->forward.min, r->forward.max, r->iters_done, r->gflop,
           r->gflop / r->forward.median * 1e3);
    printf("  start-up              cold %.0f ms (%d programs compiled, with the first forward), "
           "warm %.0f ms (%d from the cache, %d compiled); first forward after it %.0f ms\n",
           r->cold_ms, r->cold_stats.programs_built, r->warm_ms, r->warm_stats.programs_from_cache,
           r->warm_stats.programs_built, r->first_forward_ms);
    printf("  cold start-up         %.0f ms to a ready network, %.0f ms in the first forward "
           "(where drivers such as PoCL compile a work-group function per kernel and local "
           "size); programs: %s\n",
           r->cold_ready_ms, r->cold_ms - r->cold_ready_ms, r->program_cache);
    for (int i = 0; i < r->n_programs; i++) {
        const clseg_program_info *p = &r->programs[i];
        printf("    %-10s %-8s %7.0f ms  %-36s %s\n", p->name, program_origin_name(p->origin),
               p->ms, *p->reason ? p->reason : "-", p->defines);
    }
    if (r->peak.gflops > 0)
        printf("  roofline              %.1f GFLOP/s FMA peak, %.1f GB/s copy (%s)\n",
               r->peak.gflops, r->peak.gbs, r->peak.from_cache ? "cached" : "measured");
    printf("  peak device memory    %.1f MiB with the memory planner (weights %.1f, input+labels "
           "%.1f, activations %.1f in %d buffers, live peak %.1f, scratch %.1f), %.1f MiB "
           "without it%s\n\n",
           peak_planned(&r->mem) / 1048576, r->mem.weight_bytes / 1048576.0,
           r->mem.io_bytes / 1048576.0, r->mem.activation_bytes_planned / 1048576.0,
           r->mem.memory_planning ? r->mem.activation_buffers : 0,
           r->mem.activation_bytes_live_peak / 1048576.0, r->mem.scratch_bytes / 1048576.0,
           peak_unplanned(&r->mem) / 1048576, r->mem.memory_planning ? "" : " (as run)");
}

/* Every device in one table: a column per device, a row per layer and per summary figure. */
static void print_side_by_side(const bench_result *r, int n) {
    printf("side by side (ms, medians):\n");
    for (int d = 0; d < n; d++)
        printf("  [%d] %d:%d %s (%s)%s%s\n", d + 1, r[d].dev.platform_index, r[d].dev.device_index,
               r[d].dev.name, r[d].dev.platform_name, *r[d].error ? ": failed: " : "", r[d].error);
    const bench_result *ref = NULL;
    for (int d = 0; d < n && !ref; d++)
        if (!*r[d].error) ref = &r[d];
    if (!ref) return;
    printf("  %-14s %-11s", "layer", "op");
    for (int d = 0; d < n; d++) printf(" %9s[%d]", "", d + 1);
    printf("\n");
    for (int l = 0; l < ref->n_layers; l++) {
        printf("  %-14s %-11s", ref->layers[l].info.name, ref->layers[l].info.op);
        for (int d = 0; d < n; d++)
            if (*r[d].error || l >= r[d].n_layers)
                printf(" %12s", "-");
            else
                printf(" %12.2f", r[d].layers[l].ms.median);
        printf("\n");
    }
    static const char *rows[] = {"forward median",   "forward min",       "forward max",
                                 "GFLOP/s",          "cold start-up",     "warm start-up",
                                 "peak MiB planned", "peak MiB unplanned"};
    for (size_t k = 0; k < sizeof rows / sizeof *rows; k++) {
        printf("  %-26s", rows[k]);
        for (int d = 0; d < n; d++) {
            const bench_result *x = &r[d];
            double v[] = {x->forward.median,
                          x->forward.min,
                          x->forward.max,
                          x->gflop / x->forward.median * 1e3,
                          x->cold_ms,
                          x->warm_ms,
                          peak_planned(&x->mem) / 1048576,
                          peak_unplanned(&x->mem) / 1048576};
            if (*x->error)
                printf(" %12s", "-");
            else
                printf(" %12.1f", v[k]);
        }
        printf("\n");
    }
}

static void json_stat(FILE *f, const char *key, stat3 s) {
    fprintf(f, "\"%s\": {\"median\": ", key);
    cli_json_num(f, s.median);
    fputs(", \"min\": ", f);
    cli_json_num(f, s.min);
    fputs(", \"max\": ", f);
    cli_json_num(f, s.max);
    fputc('}', f);
}

static void json_num_or_null(FILE *f, double v) {
    if (v > 0)
        cli_json_num(f, v);
    else
        fputs("null", f);
}

/* The layer's time at its roofline bound, min(peak flop rate, intensity x peak bandwidth), over
   its measured time (0: no peak). */
static double roofline_fraction(const clseg_device_peak *p, const clseg_layer_info *I, double ms) {
    if (!(p->gflops > 0) || !(p->gbs > 0) || !(ms > 0)) return 0;
    double compute_ms = I->flop / p->gflops / 1e6, memory_ms = I->bytes / p->gbs / 1e6;
    double bound_ms = compute_ms > memory_ms ? compute_ms : memory_ms;
    return bound_ms / ms;
}

static void json_result(FILE *f, const bench_opts *o, const bench_result *r, const char *date,
                        const char *host, const char *ind) {
    const clseg_device_info *d = &r->dev;
    fprintf(f, "%s\"schema\": \"clseg-bench/1\",\n%s\"clseg_version\": ", ind, ind);
    cli_json_str(f, clseg_version());
    fprintf(f, ",\n%s\"date\": \"%s\",\n%s\"host\": ", ind, date, ind);
    cli_json_str(f, host);
    fprintf(f, ",\n%s\"command\": ", ind);
    cli_json_str(f, o->command);
    fprintf(f, ",\n%s\"model\": ", ind);
    cli_json_str(f, o->model);
    fprintf(f, ",\n%s\"network\": ", ind);
    cli_json_str(f, r->network);
    fprintf(f, ",\n%s\"input\": {\"n\": %d, \"c\": %d, \"h\": %d, \"w\": %d},\n", ind, o->n, o->c,
            o->h, o->w);
    fprintf(f, "%s\"iters\": %d,\n%s\"warmup\": %d,\n%s\"memplan\": %s,\n%s\"tuning_db\": ", ind,
            r->iters_done, ind, r->warmup_done, ind, o->memplan ? "true" : "false", ind);
    if (o->db)
        cli_json_str(f, o->db);
    else
        fputs("null", f);
    fprintf(f, ",\n%s\"plain_kernels\": %s", ind, o->plain ? "true" : "false");
    if (*r->warning) {
        fprintf(f, ",\n%s\"warning\": ", ind);
        cli_json_str(f, r->warning);
    }
    fprintf(f, ",\n%s\"device\": ", ind);
    cli_json_str(f, d->name);
    fprintf(f, ",\n%s\"selector\": \"%d:%d\",\n%s\"platform\": ", ind, d->platform_index,
            d->device_index, ind);
    cli_json_str(f, d->platform_name);
    fprintf(f, ",\n%s\"platform_version\": ", ind);
    cli_json_str(f, d->platform_version);
    fprintf(f, ",\n%s\"driver_version\": ", ind);
    cli_json_str(f, d->driver_version);
    fprintf(f, ",\n%s\"device_type\": \"%s\",\n%s\"compute_units\": %u", ind, type_name(d->type),
            ind, d->compute_units);
    if (*r->error) {
        fprintf(f, ",\n%s\"error\": ", ind);
        cli_json_str(f, r->error);
        fputc('\n', f);
        return;
    }
    fprintf(f, ",\n%s\"layer_timing\": \"%s\",\n%s", ind,
            r->timing == CLSEG_LAYER_TIMING_HOST ? "host" : "events", ind);
    json_stat(f, "forward_ms", r->forward);
    fprintf(f, ",\n%s\"first_forward_ms\": ", ind);
    cli_json_num(f, r->first_forward_ms);
    fprintf(f, ",\n%s\"gflop\": ", ind);
    cli_json_num(f, r->gflop);
    fprintf(f, ",\n%s\"gflops\": ", ind);
    cli_json_num(f, r->gflop / r->forward.median * 1e3);
    fprintf(f, ",\n%s\"peak_gflops\": ", ind);
    json_num_or_null(f, r->peak.gflops);
    fprintf(f, ",\n%s\"peak_gbs\": ", ind);
    json_num_or_null(f, r->peak.gbs);
    fprintf(f, ",\n%s\"startup_ms\": {\"cold\": ", ind);
    cli_json_num(f, r->cold_ms);
    fputs(", \"warm\": ", f);
    cli_json_num(f, r->warm_ms);
    fprintf(f,
            ", \"cold_programs_built\": %d, \"warm_programs_from_cache\": %d, "
            "\"warm_programs_built\": %d},\n",
            r->cold_stats.programs_built, r->warm_stats.programs_from_cache,
            r->warm_stats.programs_built);
    fprintf(f, "%s\"startup\": {\"cold_ready_ms\": ", ind);
    cli_json_num(f, r->cold_ready_ms);
    fputs(", \"cold_first_forward_ms\": ", f);
    cli_json_num(f, r->cold_ms - r->cold_ready_ms);
    fputs(", \"program_cache\": ", f);
    cli_json_str(f, r->program_cache);
    fputs(", \"programs\": [", f);
    for (int i = 0; i < r->n_programs; i++) {
        const clseg_program_info *p = &r->programs[i];
        fprintf(f, "%s\n%s  {\"name\": ", i ? "," : "", ind);
        cli_json_str(f, p->name);
        fputs(", \"defines\": ", f);
        cli_json_str(f, p->defines);
        fputs(", \"for\": ", f);
        cli_json_str(f, p->reason);
        fprintf(f, ", \"origin\": \"%s\", \"ms\": ", program_origin_name(p->origin));
        cli_json_num(f, p->ms);
        fputs("}", f);
    }
    fprintf(f, "]},\n");
    const clseg_memory_stats *m = &r->mem;
    fprintf(f, "%s\"peak_bytes\": %.0f,\n%s\"peak_bytes_memplan\": %.0f,\n", ind, peak_now(m), ind,
            peak_planned(m));
    fprintf(f, "%s\"peak_bytes_no_memplan\": %.0f,\n", ind, peak_unplanned(m));
    fprintf(f,
            "%s\"memory\": {\"weight_bytes\": %llu, \"io_bytes\": %llu, \"activation_bytes\": "
            "%llu, \"activation_bytes_planned\": %llu, \"activation_bytes_unplanned\": %llu, "
            "\"activation_bytes_live_peak\": %llu, \"activation_buffers\": %d, "
            "\"scratch_bytes\": %llu},\n",
            ind, (unsigned long long)m->weight_bytes, (unsigned long long)m->io_bytes,
            (unsigned long long)m->activation_bytes,
            (unsigned long long)m->activation_bytes_planned,
            (unsigned long long)m->activation_bytes_unplanned,
            (unsigned long long)m->activation_bytes_live_peak, m->activation_buffers,
            (unsigned long long)m->scratch_bytes);
    fprintf(f, "%s\"layers\": [", ind);
    for (int l = 0; l < r->n_layers; l++) {
        const layer_result *L = &r->layers[l];
        const clseg_layer_info *I = &L->info;
        double ms = L->ms.median;
        fprintf(f, "%s\n%s  {\"name\": ", l ? "," : "", ind);
        cli_json_str(f, I->name);
        fputs(", \"op\": ", f);
        cli_json_str(f, I->op);
        fputs(", \"variant\": ", f);
        cli_json_str(f, I->variant);
        fputs(", \"source\": ", f);
        cli_json_str(f, I->source);
        fputs(", \"params\": ", f);
        cli_json_params(f, I->params);
        fprintf(f, ", \"out_shape\": [%d, %d, %d, %d], \"ms\": ", I->out_shape[0], I->out_shape[1],
                I->out_shape[2], I->out_shape[3]);
        cli_json_num(f, ms);
        fputs(", \"ms_min\": ", f);
        cli_json_num(f, L->ms.min);
        fputs(", \"ms_max\": ", f);
        cli_json_num(f, L->ms.max);
        fputs(", \"gflop\": ", f);
        cli_json_num(f, I->flop / 1e9);
        fputs(", \"gflops\": ", f);
        cli_json_num(f, ms > 0 ? I->flop / ms / 1e6 : 0);
        fputs(", \"mbytes\": ", f);
        cli_json_num(f, I->bytes / 1e6);
        fputs(", \"gbs\": ", f);
        cli_json_num(f, ms > 0 ? I->bytes / ms / 1e6 : 0);
        fputs(", \"roofline_fraction\": ", f);
        json_num_or_null(f, roofline_fraction(&r->peak, I, ms));
        fputc('}', f);
    }
    fprintf(f, "\n%s]\n", ind);
}

static void csv_str(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void csv_results(FILE *f, const bench_result *r, int n) {
    fprintf(f, "device,selector,layer,op,variant,params,out_shape,ms_median,ms_min,ms_max,gflop,"
               "gflops,gbs\n");
    for (int d = 0; d < n; d++) {
        if (*r[d].error) continue;
        for (int l = 0; l <= r[d].n_layers; l++) {
            csv_str(f, r[d].dev.name);
            fprintf(f, ",%d:%d,", r[d].dev.platform_index, r[d].dev.device_index);
            if (l == r[d].n_layers) {
                fprintf(f, "forward,network,,,,%.4f,%.4f,%.4f,%.4f,%.3f,\n", r[d].forward.median,
                        r[d].forward.min, r[d].forward.max, r[d].gflop,
                        r[d].gflop / r[d].forward.median * 1e3);
                continue;
            }
            const layer_result *L = &r[d].layers[l];
            const clseg_layer_info *I = &L->info;
            double ms = L->ms.median;
            csv_str(f, I->name);
            fprintf(f, ",%s,%s,", I->op, I->variant);
            csv_str(f, I->params);
            fprintf(f, ",%dx%dx%dx%d,%.4f,%.4f,%.4f,%.6f,%.3f,%.3f\n", I->out_shape[0],
                    I->out_shape[1], I->out_shape[2], I->out_shape[3], ms, L->ms.min, L->ms.max,
                    I->flop / 1e9, ms > 0 ? I->flop / ms / 1e6 : 0,
                    ms > 0 ? I->bytes / ms / 1e6 : 0);
        }
    }
}

/* Writes the JSON (json = 1) or CSV form of the results to path, atomically. */
static int write_output(const char *path, const bench_opts *o, const bench_result *r, int n,
                        int json) {
    char *buf = NULL, err[1024];
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    if (!f) return cli_error("%s: out of memory", path);
    if (json) {
        char date[32], host[256] = "";
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &tm);
        gethostname(host, sizeof host - 1);
        if (n == 1 && strcmp(o->device ? o->device : "", "all") != 0) {
            fputs("{\n", f);
            json_result(f, o, r, date, host, "  ");
            fputs("}\n", f);
        } else {
            fprintf(f,
                    "{\n  \"schema\": \"clseg-bench/1\",\n  \"date\": \"%s\",\n  \"host\": ", date);
            cli_json_str(f, host);
            fputs(",\n  \"command\": ", f);
            cli_json_str(f, o->command);
            fputs(",\n  \"results\": [\n", f);
            for (int d = 0; d < n; d++) {
                fputs("    {\n", f);
                json_result(f, o, &r[d], date, host, "      ");
                fprintf(f, "    }%s\n", d + 1 < n ? "," : "");
            }
            fputs("  ]\n}\n", f);
        }
    } else {
        csv_results(f, r, n);
    }
    fclose(f);
    clseg_status st = clseg_write_file_atomic(path, buf, size, err, sizeof err);
    free(buf);
    if (st != CLSEG_OK) return cli_error("%s", err);
    fprintf(stderr, "bench: wrote %s\n", path);
    return EXIT_OK;
}

/* ---- command line ------------------------------------------------------------------------- */

static int parse_size(const char *s, int *w, int *h) {
    char *x = strchr(s, 'x');
    if (!x) return 0;
    char ws[32];
    size_t len = (size_t)(x - s);
    if (len == 0 || len >= sizeof ws) return 0;
    memcpy(ws, s, len);
    ws[len] = 0;
    long a, b;
    if (!cli_parse_int(ws, 1, CLSEG_MAX_DIM, &a) || !cli_parse_int(x + 1, 1, CLSEG_MAX_DIM, &b))
        return 0;
    *w = (int)a;
    *h = (int)b;
    return 1;
}

/* The kernel compilers' own disk caches (PoCL's, Mesa's) would make a second "cold" start warm:
   unless the user points them somewhere, they go to a private directory for this run. */
static void private_driver_caches(const char *dir) {
    static const char *vars[] = {"POCL_CACHE_DIR", "MESA_SHADER_CACHE_DIR"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++) {
        const char *v = getenv(vars[i]);
        if (v && *v) continue;
        char path[256];
        snprintf(path, sizeof path, "%s/%s", dir, vars[i]);
        setenv(vars[i], path, 1);
    }
}

int cmd_bench(int argc, char **argv) {
    bench_opts o = {.n = 1, .iters = 10, .warmup = 2, .memplan = 1};
    int c;
    long v;
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'},    {"size", required_argument, 0, 's'},
        {"batch", required_argument, 0, 'b'},    {"device", required_argument, 0, 'd'},
        {"iters", required_argument, 0, 'i'},    {"warmup", required_argument, 0, 'W'},
        {"max-time", required_argument, 0, 'T'}, {"db", required_argument, 0, 'D'},
        {"json", required_argument, 0, 'j'},     {"csv", required_argument, 0, 'c'},
        {"no-memplan", no_argument, 0, 'P'},     {"plain", no_argument, 0, 'p'},
        {"help", no_argument, 0, 'h'},           {0, 0, 0, 0}};
    size_t off = (size_t)snprintf(o.command, sizeof o.command, "clseg");
    for (int i = 0; i < argc && off < sizeof o.command; i++)
        off += (size_t)snprintf(o.command + off, sizeof o.command - off, " %s", argv[i]);
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":m:s:b:d:i:h", opts, NULL)) != -1) {
        switch (c) {
        case 'm':
            o.model = optarg;
            break;
        case 's':
            if (!parse_size(optarg, &o.w, &o.h))
                return cli_usage_error("bench", "--size must be WxH (e.g. 480x352), not '%s'",
                                       optarg);
            break;
        case 'b':
            if (!cli_parse_int(optarg, 1, 4096, &v))
                return cli_usage_error("bench", "--batch must be an integer in 1..4096, not '%s'",
                                       optarg);
            o.n = (int)v;
            break;
        case 'd':
            o.device = optarg;
            break;
        case 'i':
            if (!cli_parse_int(optarg, 1, 100000, &v))
                return cli_usage_error("bench", "--iters must be an integer in 1..100000, not '%s'",
                                       optarg);
            o.iters = (int)v;
            break;
        case 'W':
            if (!cli_parse_int(optarg, 0, 100000, &v))
                return cli_usage_error(
                    "bench", "--warmup must be an integer in 0..100000, not '%s'", optarg);
            o.warmup = (int)v;
            break;
        case 'T':
            if (!cli_parse_int(optarg, 1, 86400, &v))
                return cli_usage_error("bench", "--max-time must be seconds in 1..86400, not '%s'",
                                       optarg);
            o.max_time_ms = v * 1e3;
            break;
        case 'D':
            o.db = optarg;
            break;
        case 'j':
            o.json = optarg;
            break;
        case 'c':
            o.csv = optarg;
            break;
        case 'P':
            o.memplan = 0;
            break;
        case 'p':
            o.plain = 1;
            break;
        case 'h':
            help();
            return EXIT_OK;
        case ':':
            return cli_usage_error("bench", "option '%s' needs a value", argv[optind - 1]);
        default:
            return cli_usage_error("bench", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) return cli_usage_error("bench", "unexpected argument '%s'", argv[optind]);
    if (!o.model) return cli_usage_error("bench", "--model is required");
    if (!o.w) return cli_usage_error("bench", "--size is required");
    /* The bench compiles into a private cache directory, whose tuning.db would be empty: without
       --db it reads the database every other command would, the library's default. */
    char db[4096];
    if (!o.db && clseg_tuning_db_default_path(NULL, db, sizeof db)) o.db = db;

    /* A bad model is one error, not one per device. */
    char err[2048];
    clseg_model *model;
    if (clseg_model_load(&model, o.model, err, sizeof err) != CLSEG_OK) return cli_error("%s", err);
    o.c = clseg_model_input_channels(model);
    clseg_model_free(model);

    char tmp[] = "/tmp/clseg-bench-XXXXXX";
    if (!mkdtemp(tmp)) return cli_error("cannot create a temporary directory in /tmp");
    private_driver_caches(tmp);

    clseg_device_info *devs = NULL;
    size_t n_devs = 0, pick = 0;
    clseg_status st = clseg_devices_list(&devs, &n_devs);
    int all = o.device && !strcmp(o.device, "all");
    if (st != CLSEG_OK) {
        remove_tree(tmp);
        return cli_error("cannot list OpenCL devices: %s", clseg_status_str(st));
    }
    if (!all) {
        const char *sel = o.device && *o.device ? o.device : getenv("CLSEG_DEVICE");
        clseg_context *probe;
        clseg_context_options co = {CLSEG_CONTEXT_OPTIONS_INIT, .device = sel, .disable_cache = 1};
        /* The library resolves the selector (and its default) exactly as every other command. */
        if (clseg_context_create(&probe, &co, err, sizeof err) != CLSEG_OK) {
            clseg_free(devs);
            remove_tree(tmp);
            return cli_error("%s", err);
        }
        const clseg_device_info *d = clseg_context_device(probe);
        for (size_t i = 0; i < n_devs; i++)
            if (devs[i].platform_index == d->platform_index &&
                devs[i].device_index == d->device_index)
                pick = i;
        clseg_context_free(probe);
    } else if (n_devs == 0) {
        clseg_free(devs);
        remove_tree(tmp);
        return cli_error("no OpenCL devices");
    }
    int n = all ? (int)n_devs : 1;
    bench_result *res = calloc((size_t)n, sizeof *res);
    if (!res) {
        clseg_free(devs);
        remove_tree(tmp);
        return cli_error("out of memory");
    }
    int failed = 0;
    for (int d = 0; d < n; d++) {
        run_device(&o, &devs[all ? (size_t)d : pick], &res[d]);
        failed += *res[d].error != 0;
    }
    for (int d = 0; d < n; d++) print_text(&o, &res[d]);
    if (all) print_side_by_side(res, n);
    int rc = failed ? EXIT_FAILURE_RUN : EXIT_OK;
    if (o.json && write_output(o.json, &o, res, n, 1) != EXIT_OK) rc = EXIT_FAILURE_RUN;
    if (o.csv && write_output(o.csv, &o, res, n, 0) != EXIT_OK) rc = EXIT_FAILURE_RUN;
    for (int d = 0; d < n; d++) {
        if (*res[d].error)
            cli_error("%s (%d:%d): %s", res[d].dev.name, res[d].dev.platform_index,
                      res[d].dev.device_index, res[d].error);
        free(res[d].layers);
        free(res[d].programs);
    }
    free(res);
    clseg_free(devs);
    remove_tree(tmp);
    return rc;
}
