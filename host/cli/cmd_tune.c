/* cmd_tune.c - `clseg tune`: times kernel variants and parameters for each distinct layer of a
   network on the device, verifies them against the C reference, and stores the winners in the
   tuning database; optionally compares whole-network forward times. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "clseg_tune.h"

static void help(void) {
    printf(
        "usage: clseg tune --model MODEL.clsm --size WxH [--train] [options]\n\n"
        "Finds the fastest kernel variant and parameters for each distinct layer shape of the\n"
        "network on this device: starts from the current choice, then searches each variant's\n"
        "parameters (greedy steps, then random), timing every candidate (one warm-up, median of\n"
        "3 to 5 runs) and checking its output against the C reference before accepting it.\n"
        "Where a GEMM variant can run, CLBlast's Xgemm parameters are tuned first. The budget is\n"
        "shared out by the layers' cost, most to the heaviest; when it runs out the best so far\n"
        "is kept. Winners go to the tuning database, which segment, bench, train and eval read\n"
        "at start-up ('clseg plan' shows them as 'tuned'). Progress goes to stderr. See\n"
        "docs/tuning.md.\n\n"
        "  --model FILE     model file (.clsm; a .cfg network description also works)\n"
        "  --size WxH       input width x height, e.g. 480x352\n"
        "  --batch N        batch size (default 1)\n"
        "  --device SEL     OpenCL device (P:D or a name substring); default $CLSEG_DEVICE, else\n"
        "                   the first GPU\n"
        "  --budget SEC     tuning time in seconds (default 60; every layer gets at least its\n"
        "                   current choice measured, so small budgets may run over a little)\n"
        "  --db FILE        tuning database to update (default $CLSEG_TUNING_DB, else tuning.db\n"
        "                   in the cache directory); written atomically\n"
        "  --seed N         seed of the random search and test data (default 1)\n"
        "  --bench          afterwards, time whole forward passes (one warm-up, median of 3)\n"
        "                   with the plain kernels, the untuned choices and the tuned ones\n"
        "  --train          also tune the forward ops a training step runs for the data\n"
        "                   gradients (a conv's is a transposed conv, and the other way round);\n"
        "                   give the training batch and crop as --batch and --size\n"
        "  -h, --help       this text\n");
}

typedef struct progress_state {
    int tty;
    int last_layer;
    const char *last_phase;
} progress_state;

/* "variant[PARAMS]", or just the variant when it has no parameters. */
static void describe(const char *variant, const char *params, char *buf, size_t len) {
    snprintf(buf, len, "%s%s%s%s", variant, *params ? "[" : "", params, *params ? "]" : "");
}

static void on_progress(void *user, const clseg_tune_progress *p) {
    progress_state *s = user;
    double frac = p->budget_s > 0 ? p->elapsed_s / p->budget_s : 1;
    if (frac > 1) frac = 1;
    char bar[21];
    int fill = (int)(frac * 20 + 0.5);
    for (int i = 0; i < 20; i++) bar[i] = i < fill ? '#' : '.';
    bar[20] = 0;
    char best[200] = "";
    if (p->best_ms > 0 && p->layer_name && p->best_variant) {
        char d[180];
        describe(p->best_variant, p->best_params, d, sizeof d);
        if (p->layer_flop > 0)
            snprintf(best, sizeof best, "best %s %.1f GFLOP/s", d,
                     p->layer_flop / (p->best_ms * 1e6));
        else
            snprintf(best, sizeof best, "best %s %.3f ms", d, p->best_ms);
    } else if (p->best_ms > 0) {
        snprintf(best, sizeof best, "best %.1f ms", p->best_ms);
    }
    const char *what = p->layer_name ? p->layer_name : "CLBlast Xgemm";
    if (s->tty) {
        fprintf(stderr, "\r\033[K[%s] %3.0f%% %d/%d %s: %s, %d tried %s", bar, frac * 100,
                p->layer + 1 > p->n_layers ? p->n_layers : p->layer + 1, p->n_layers, what,
                p->phase, p->tried, best);
    } else if (p->layer != s->last_layer || strcmp(p->phase, s->last_phase)) {
        /* a log, not a bar: one line when a layer or phase starts */
        fprintf(stderr, "[%s] %3.0f%% %s: %s\n", bar, frac * 100, what, p->phase);
    }
    s->last_layer = p->layer;
    s->last_phase = p->phase;
    fflush(stderr);
}

/* Median of 3 forward passes after a warm-up, on a fresh context (tuning database `db`, plain
   kernels or not). A first pass over 5 s is taken as the measurement: kernel compilation is then
   a small part of it, and the plain kernels take minutes per pass. */
static int time_forward(const char *device, const char *db, int plain, const clseg_model *model,
                        int n, int h, int w, double *ms, int *runs) {
    clseg_context *ctx;
    clseg_context_options o = {CLSEG_CONTEXT_OPTIONS_INIT, .device = device, .tuning_db = db,
                               .plain_kernels = plain};
    char err[1024];
    if (clseg_context_create(&ctx, &o, err, sizeof err) != CLSEG_OK) return cli_error("%s", err), 0;
    clseg_net *net = NULL;
    size_t y_count = (size_t)n * (size_t)clseg_model_num_classes(model) * (size_t)h * (size_t)w;
    size_t x_count = (size_t)n * (size_t)clseg_model_input_channels(model) * (size_t)h * (size_t)w;
    float *x = calloc(x_count ? x_count : 1, sizeof *x), *y = malloc(y_count * sizeof *y);
    int ok = x && y && clseg_net_create(&net, ctx, model) == CLSEG_OK &&
             clseg_net_prepare(net, n, h, w) == CLSEG_OK;
    for (size_t i = 0; ok && i < x_count; i++) x[i] = (float)((i * 2654435761u) % 1000) / 500 - 1;
    double t[4];
    int r = 0;
    for (; ok && r < 4; r++) {
        double t0 = clseg_now_ms();
        ok = clseg_net_forward(net, x, n, h, w, y) == CLSEG_OK;
        t[r] = clseg_now_ms() - t0;
        if (r == 0 && t[0] > 5000) break;
    }
    if (!ok) cli_error("forward pass failed: %s", clseg_context_error(ctx));
    if (ok && r == 0) {
        *ms = t[0];
        *runs = 1;
    } else if (ok) {
        double a = t[1], b = t[2], c = t[3]; /* median of the three after the warm-up */
        *ms = a > b ? (b > c ? b : (a > c ? c : a)) : (a > c ? a : (b > c ? c : b));
        *runs = 3;
    }
    clseg_net_free(net);
    clseg_context_free(ctx);
    free(x);
    free(y);
    return ok;
}

static void print_summary(const clseg_tuner *tuner) {
    printf("\n%-12s %-9s %6s %-9s %10s %9s  %10s %9s %7s  %s\n", "layer", "op", "count", "GFLOP",
           "before ms", "GFLOP/s", "after ms", "GFLOP/s", "speedup", "winner");
    for (int k = 0; k < clseg_tuner_layer_count(tuner); k++) { /* in network order */
        clseg_tune_layer L;
        clseg_tuner_layer_get(tuner, k, &L);
        char win[200];
        describe(L.best_variant, L.best_params, win, sizeof win);
        printf("%-12s %-9s %6d %-9.3f", L.name, L.op, L.count, L.flop / 1e9);
        if (L.skipped) {
            printf(" %10s %9s  %10s %9s %7s  %s (nothing to tune)\n", "-", "-", "-", "-", "-", win);
            continue;
        }
        char rate[2][16] = {"-", "-"};
        if (L.flop > 0 && L.before_ms > 0)
            snprintf(rate[0], sizeof rate[0], "%.1f", L.flop / (L.before_ms * 1e6));
        if (L.flop > 0 && L.best_ms > 0)
            snprintf(rate[1], sizeof rate[1], "%.1f", L.flop / (L.best_ms * 1e6));
        if (L.before_ms > 0)
            printf(" %10.3f %9s", L.before_ms, rate[0]);
        else
            printf(" %10s %9s", "failed", "-");
        if (L.best_ms > 0)
            printf("  %10.3f %9s", L.best_ms, rate[1]);
        else
            printf("  %10s %9s", "none", "-");
        if (L.before_ms > 0 && L.best_ms > 0)
            printf(" %6.2fx", L.before_ms / L.best_ms);
        else
            printf(" %7s", "-");
        printf("  %s (%d timed, %d wrong, %d failed)\n", L.best_ms > 0 ? win : "-", L.tried,
               L.wrong, L.failed);
        if (L.first_problem[0]) printf("%12s first rejection: %s\n", "", L.first_problem);
    }
    clseg_tune_gemm blas;
    clseg_tuner_gemm_get(tuner, &blas);
    if (blas.ran) {
        printf("\nCLBlast Xgemm on the heaviest GEMM layer: %.3f ms with the parameters in "
               "effect before",
               blas.before_ms);
        if (blas.best[0])
            printf(", %.3f ms with %s (%d sets timed, %d rejected)\n", blas.best_ms, blas.best,
                   blas.tried, blas.rejected);
        else
            printf("; none of %d sets beat them (%d rejected)\n", blas.tried, blas.rejected);
    }
}

int cmd_tune(int argc, char **argv) {
    const char *model_path = NULL, *device = NULL, *db = NULL, *size = NULL;
    int n = 1, w = 0, h = 0, bench = 0, train = 0, c;
    double budget = 60;
    uint64_t seed = 1;
    long v;
    enum { OPT_BATCH = 256, OPT_BUDGET, OPT_DB, OPT_SEED, OPT_BENCH, OPT_TRAIN };
    static const struct option opts[] = {{"model", required_argument, 0, 'm'},
                                         {"size", required_argument, 0, 's'},
                                         {"batch", required_argument, 0, OPT_BATCH},
                                         {"device", required_argument, 0, 'd'},
                                         {"budget", required_argument, 0, OPT_BUDGET},
                                         {"db", required_argument, 0, OPT_DB},
                                         {"seed", required_argument, 0, OPT_SEED},
                                         {"bench", no_argument, 0, OPT_BENCH},
                                         {"train", no_argument, 0, OPT_TRAIN},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":m:s:d:h", opts, NULL)) != -1) {
        switch (c) {
        case 'm':
            model_path = optarg;
            break;
        case 's':
            size = optarg;
            break;
        case OPT_BATCH:
            if (!cli_parse_int(optarg, 1, 4096, &v))
                return cli_usage_error("tune", "--batch must be 1 to 4096");
            n = (int)v;
            break;
        case 'd':
            device = optarg;
            break;
        case OPT_BUDGET:
            if (!cli_parse_int(optarg, 1, 7 * 24 * 3600, &v))
                return cli_usage_error("tune", "--budget must be a whole number of seconds >= 1");
            budget = (double)v;
            break;
        case OPT_DB:
            db = optarg;
            break;
        case OPT_SEED:
            if (!cli_parse_int(optarg, 0, 2147483647L, &v))
                return cli_usage_error("tune", "--seed must be a non-negative integer");
            seed = (uint64_t)v;
            break;
        case OPT_BENCH:
            bench = 1;
            break;
        case OPT_TRAIN:
            train = 1;
            break;
        case 'h':
            help();
            return EXIT_OK;
        case ':':
            return cli_usage_error("tune", "option '%s' needs a value", argv[optind - 1]);
        default:
            return cli_usage_error("tune", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) return cli_usage_error("tune", "unexpected argument '%s'", argv[optind]);
    if (!model_path) return cli_usage_error("tune", "--model is required");
    if (!size) return cli_usage_error("tune", "--size WxH is required");
    if (!cli_parse_size(size, &w, &h))
        return cli_usage_error("tune", "--size must be WxH, e.g. 480x352");

    clseg_model *model = NULL;
    clseg_context *ctx = NULL;
    clseg_tuner *tuner = NULL;
    int from_spec, rc = EXIT_FAILURE_RUN;
    char err[2048];
    if (!cli_load_network(model_path, 12, &model, &from_spec)) goto done;
    if (bench && from_spec) {
        cli_usage_error("tune", "--bench needs a .clsm model (weights), not a .cfg");
        rc = EXIT_USAGE;
        goto done;
    }
    progress_state ps = {isatty(2), -1, ""};
    clseg_tune_options topt = {CLSEG_TUNE_OPTIONS_INIT,
                               .batch = n,
                               .height = h,
                               .width = w,
                               .budget_s = budget,
                               .seed = seed,
                               .train = train,
                               .progress = on_progress,
                               .user = &ps};
    if (clseg_tuner_create(&tuner, model, &topt, err, sizeof err) != CLSEG_OK) {
        cli_error("%s", err);
        goto done;
    }
    if (!cli_open_tuned_context(device, db, 0, &ctx)) goto done;
    const char *db_path = clseg_context_tuning_path(ctx);
    if (!db_path) {
        cli_error("no place for the tuning database (no cache directory); give --db FILE");
        goto done;
    }
    if (clseg_context_tuning_state(ctx) == CLSEG_TUNING_DB_FOREIGN) {
        cli_error("%s is not a clseg tuning database this version writes; refusing to overwrite "
                  "it (give another --db)",
                  db_path);
        goto done;
    }
    const clseg_device_info *dev = clseg_context_device(ctx);
    int n_layers = clseg_tuner_layer_count(tuner);
    fprintf(stderr,
            "clseg: tuning %d distinct layers of %s at %dx%d (batch %d) on %s (%s) for %.0f s\n",
            n_layers, clseg_model_network_name(model), w, h, n, dev->name,
            clseg_device_class_name(dev), budget);
    double t0 = clseg_now_ms();
    clseg_status st = clseg_tuner_run(tuner, ctx);
    if (ps.tty) fprintf(stderr, "\n");
    if (st != CLSEG_OK) {
        cli_error("tuning failed: %s", clseg_context_error(ctx));
        goto done;
    }
    fprintf(stderr, "clseg: tuned in %.1f s\n", (clseg_now_ms() - t0) / 1000);
    print_summary(tuner);
    if (clseg_context_save_tuning(ctx) != CLSEG_OK) {
        cli_error("%s", clseg_context_error(ctx));
        goto done;
    }
    printf("\nwrote %s (%zu records)\n", db_path, clseg_context_tuning_record_count(ctx, 0));
    rc = EXIT_OK;
    if (bench) {
        /* Fresh contexts: the plain kernels, no database (class defaults / generic), and the
           database just written. */
        double ms[3];
        int runs[3];
        static const char *const label[3] = {"plain kernels", "untuned", "tuned"};
        fprintf(stderr, "clseg: timing whole forward passes (plain, untuned, tuned)\n");
        if (time_forward(device, db_path, 1, model, n, h, w, &ms[0], &runs[0]) &&
            time_forward(device, "", 0, model, n, h, w, &ms[1], &runs[1]) &&
            time_forward(device, db_path, 0, model, n, h, w, &ms[2], &runs[2])) {
            double gf = 0;
            for (int i = 0; i < n_layers; i++) {
                clseg_tune_layer L;
                clseg_tuner_layer_get(tuner, i, &L);
                gf += L.flop * L.count / 1e9;
            }
            printf("\nforward pass, %.2f GFLOP (wall clock; median of 3 after a warm-up, or one "
                   "pass when it takes over 5 s):\n",
                   gf);
            for (int k = 0; k < 3; k++)
                printf("  %-14s %10.1f ms %8.1f GFLOP/s  %6.2fx plain  (%d run%s)\n", label[k],
                       ms[k], gf / ms[k] * 1e3, ms[0] / ms[k], runs[k], runs[k] > 1 ? "s" : "");
        } else {
            rc = EXIT_FAILURE_RUN;
        }
    }
done:
    clseg_tuner_free(tuner);
    clseg_context_free(ctx);
    clseg_model_free(model);
    return rc;
}
