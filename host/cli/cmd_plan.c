/* cmd_plan.c - `clseg plan`: per layer, the kernel variant and parameters the selector picks on
   a device (or a recorded one), why, the layer's GFLOP and bytes, and optionally its time. Also
   the network / context helpers that `clseg tune` shares. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "device/runtime.h"
#include "net/model.h"
#include "net/calls.h"
#include "tune/autotune.h"
#include "tune/choose.h"

/* ---- shared with cmd_tune.c ----------------------------------------------------------------- */

int cli_parse_size(const char *s, int *w, int *h) {
    char a[32], b[32];
    const char *x = s ? strchr(s, 'x') : NULL;
    if (!x || x == s || (size_t)(x - s) >= sizeof a || strlen(x + 1) >= sizeof b) return 0;
    memcpy(a, s, (size_t)(x - s));
    a[x - s] = 0;
    snprintf(b, sizeof b, "%s", x + 1);
    long lw, lh;
    if (!cli_parse_int(a, 1, CLSEG_MAX_DIM, &lw) || !cli_parse_int(b, 1, CLSEG_MAX_DIM, &lh))
        return 0;
    *w = (int)lw;
    *h = (int)lh;
    return 1;
}

/* A .clsm model (*model kept when model != NULL), or a .cfg network spec with `classes`. */
int cli_load_network(const char *path, int classes, net_spec *spec, int *classes_out,
                     clseg_model **model) {
    char err[2048];
    size_t n = strlen(path);
    if (model) *model = NULL;
    if (n > 4 && !strcmp(path + n - 4, ".cfg")) {
        uint8_t *text;
        size_t size;
        if (clseg_read_file(path, (size_t)1 << 20, &text, &size, err, sizeof err) != CLSEG_OK)
            return cli_error("%s", err), 0;
        clseg_status st = spec_parse((const char *)text, spec, err, sizeof err);
        free(text);
        if (st != CLSEG_OK) return cli_error("%s: %s", path, err), 0;
        *classes_out = classes;
        return 1;
    }
    clseg_model *m;
    if (clseg_model_load(&m, path, err, sizeof err) != CLSEG_OK) return cli_error("%s", err), 0;
    *spec = m->spec;
    *classes_out = m->classes;
    if (model)
        *model = m;
    else
        clseg_model_free(m);
    return 1;
}

int cli_open_tuned_context(const char *device, const char *db, int plain, clseg_context **out) {
    char err[2048];
    clseg_context_options o = {CLSEG_CONTEXT_OPTIONS_INIT, .device = device, .tuning_db = db,
                               .plain_kernels = plain};
    if (clseg_context_create(out, &o, err, sizeof err) != CLSEG_OK) return cli_error("%s", err), 0;
    if (*clseg_context_warning(*out))
        fprintf(stderr, "clseg: warning: %s\n", clseg_context_warning(*out));
    return 1;
}

const char *cli_choice_why(const op_choice *c, int plain) {
    if (plain) return "plain";
    switch (c->source) {
    case CHOICE_TUNED:
        return "tuned";
    case CHOICE_CLASS_DEFAULT:
        return "class default";
    default:
        return "generic";
    }
}

/* ---- plan ----------------------------------------------------------------------------------- */

static void help(void) {
    printf(
        "usage: clseg plan (--model MODEL.clsm | --spec NET.cfg [--classes K]) --size WxH "
        "[options]\n\n"
        "Shows, for every layer of the network at this input size, the kernel variant and the\n"
        "parameters the selector picks on the device and why: 'tuned' (the tuning database has\n"
        "a measured winner for this exact device, driver and layer shape), 'class default'\n"
        "(the defaults table for the device's class: pocl-cpu, llvmpipe, intel-gpu, amd-gpu,\n"
        "mali-bifrost, mali-valhall, adreno, nvidia, unknown-gpu, unknown-cpu) or 'generic'\n"
        "(the first variant that supports the layer, with its generic defaults); plus the\n"
        "layer's GFLOP and the megabytes it reads and writes. docs/tuning.md explains.\n\n"
        "  --model FILE     model file (.clsm); only its network description is used\n"
        "  --spec FILE      or a network description (.cfg), e.g. models/seednet.cfg\n"
        "  --classes K      classes for --spec (default 12)\n"
        "  --size WxH       input width x height, e.g. 480x352\n"
        "  --batch N        batch size (default 1)\n"
        "  --device SEL     OpenCL device (P:D or a name substring); default $CLSEG_DEVICE, else\n"
        "                   the first GPU\n"
        "  --db FILE        tuning database (default $CLSEG_TUNING_DB, else tuning.db in the\n"
        "                   cache directory)\n"
        "  --plain          show (and with --time, run) the plain kernels instead: each op's\n"
        "                   last-resort variant with its smallest tiles, the baseline\n"
        "  --time           also run each layer on the device (random data; one warm-up, median\n"
        "                   of 3) and print its time and GFLOP/s\n"
        "  --list-variants  list every kernel variant with its parameters (default{choices})\n"
        "                   and exit\n"
        "  -h, --help       this text\n");
}

/* Every forward variant with its parameters: the generic default and the tuner's choices. */
static void list_variants(void) {
    for (size_t i = 0; i < op_variant_table_len; i++) {
        const op_variant *v = op_variant_table[i];
        if (!workload_kind_supported(v->kind)) continue;
        printf("%-10s %-18s", op_kind_name(v->kind), v->name);
        for (int p = 0; p < v->n_params; p++) {
            printf(" %s=%d{", v->params[p].name, v->params[p].def);
            for (int c = 0; c < v->params[p].n_choices; c++)
                printf("%s%d", c ? "," : "", v->params[p].choices[c]);
            printf("}");
        }
        printf("\n");
    }
}

typedef struct plan_opts {
    const char *model, *spec, *device, *db, *fixture;
    int classes, n, w, h, plain, time;
} plan_opts;

static int plan_network(const plan_opts *o, const clseg_device_info *dev, const tunedb *db,
                        clseg_context *ctx, const char *db_desc) {
    net_spec *spec = clseg_calloc(1, sizeof *spec);
    op_named_call *calls = clseg_calloc(SPEC_MAX_LAYERS + 1, sizeof *calls);
    int classes, n = 0, rc = EXIT_FAILURE_RUN;
    char err[1024];
    if (!spec || !calls) {
        cli_error("out of memory");
        goto done;
    }
    if (!cli_load_network(o->model ? o->model : o->spec, o->classes, spec, &classes, NULL))
        goto done;
    if (net_calls(spec, classes, (shape4){o->n, spec->input_channels, o->h, o->w}, calls, &n, err,
                  sizeof err) != CLSEG_OK) {
        cli_error("%s", err);
        goto done;
    }
    char devkey[256], driver[128];
    tune_device_key(dev, devkey, driver);
    printf("%s at %dx%d, batch %d, on %s (class %s, driver %s)\n", spec->name, o->w, o->h, o->n,
           dev->name, dev_class_name(dev_classify(dev)), dev->driver_version);
    printf("tuning database: %s\n\n", db_desc);
    printf("%-12s %-9s %-14s %8s %8s", "layer", "op", "output", "GFLOP", "MB");
    if (o->time) printf(" %9s %8s", "ms", "GFLOP/s");
    printf("  %-13s %s\n", "why", "variant and parameters");
    double tot_f = 0, tot_b = 0, tot_ms = 0;
    for (int i = 0; i < n; i++) {
        const op_call *c = &calls[i].call;
        op_choice ch;
        if (!tune_select_on(dev, db, o->plain, c, &ch)) {
            cli_error("layer %s: no %s variant supports it on %s", calls[i].name,
                      op_kind_name(c->kind), dev->name);
            goto done;
        }
        double f, b, ms = -1;
        op_cost(c, &f, &b);
        if (o->time) {
            workload w;
            clseg_status st = workload_create(ctx, c, 1 + (uint64_t)i, 0, &w);
            if (st == CLSEG_OK) st = tune_time_choice(ctx, &w, &ch, 3, &ms);
            workload_free(&w);
            if (st != CLSEG_OK) {
                cli_error("layer %s: %s", calls[i].name, clseg_context_error(ctx));
                goto done;
            }
            tot_ms += ms;
        }
        tot_f += f;
        tot_b += b;
        char out[32], params[160];
        snprintf(out, sizeof out, "%dx%dx%d", c->out[0].s.c, c->out[0].s.h, c->out[0].s.w);
        tune_config_to_params(ch.variant, &ch.cfg, params, sizeof params);
        printf("%-12s %-9s %-14s %8.3f %8.1f", calls[i].name, op_kind_name(c->kind), out, f / 1e9,
               b / 1e6);
        if (o->time && f > 0)
            printf(" %9.2f %8.1f", ms, f / (ms * 1e6));
        else if (o->time)
            printf(" %9.2f %8s", ms, "-");
        printf("  %-13s %s%s%s\n", cli_choice_why(&ch, o->plain), ch.variant->name,
               *params ? " " : "", params);
    }
    printf("%-12s %-9s %-14s %8.3f %8.1f", "total", "", "", tot_f / 1e9, tot_b / 1e6);
    if (o->time) printf(" %9.2f %8.1f", tot_ms, tot_f / (tot_ms * 1e6));
    printf("\n");
    rc = EXIT_OK;
done:
    free(spec);
    free(calls);
    return rc;
}

int cmd_plan(int argc, char **argv) {
    plan_opts o = {.classes = 12, .n = 1};
    const char *size = NULL;
    int c;
    enum {
        OPT_SPEC = 256,
        OPT_CLASSES,
        OPT_BATCH,
        OPT_DB,
        OPT_FIXTURE,
        OPT_PLAIN,
        OPT_TIME,
        OPT_LIST
    };
    static const struct option opts[] = {{"model", required_argument, 0, 'm'},
                                         {"spec", required_argument, 0, OPT_SPEC},
                                         {"classes", required_argument, 0, OPT_CLASSES},
                                         {"size", required_argument, 0, 's'},
                                         {"batch", required_argument, 0, OPT_BATCH},
                                         {"device", required_argument, 0, 'd'},
                                         {"db", required_argument, 0, OPT_DB},
                                         {"fixture", required_argument, 0, OPT_FIXTURE},
                                         {"plain", no_argument, 0, OPT_PLAIN},
                                         {"time", no_argument, 0, OPT_TIME},
                                         {"list-variants", no_argument, 0, OPT_LIST},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    optind = 1;
    opterr = 0;
    long v;
    while ((c = getopt_long(argc, argv, ":m:s:d:h", opts, NULL)) != -1) {
        switch (c) {
        case 'm':
            o.model = optarg;
            break;
        case OPT_SPEC:
            o.spec = optarg;
            break;
        case OPT_CLASSES:
            if (!cli_parse_int(optarg, 1, 255, &v))
                return cli_usage_error("plan", "--classes must be 1 to 255");
            o.classes = (int)v;
            break;
        case 's':
            size = optarg;
            break;
        case OPT_BATCH:
            if (!cli_parse_int(optarg, 1, 4096, &v))
                return cli_usage_error("plan", "--batch must be 1 to 4096");
            o.n = (int)v;
            break;
        case 'd':
            o.device = optarg;
            break;
        case OPT_DB:
            o.db = optarg;
            break;
        case OPT_FIXTURE: /* undocumented: a recorded device (tests/fixtures/devices/) */
            o.fixture = optarg;
            break;
        case OPT_PLAIN:
            o.plain = 1;
            break;
        case OPT_TIME:
            o.time = 1;
            break;
        case OPT_LIST:
            list_variants();
            return EXIT_OK;
        case 'h':
            help();
            return EXIT_OK;
        case ':':
            return cli_usage_error("plan", "option '%s' needs a value", argv[optind - 1]);
        default:
            return cli_usage_error("plan", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) return cli_usage_error("plan", "unexpected argument '%s'", argv[optind]);
    if (!o.model == !o.spec) return cli_usage_error("plan", "give one of --model or --spec");
    if (!size) return cli_usage_error("plan", "--size WxH is required");
    if (!cli_parse_size(size, &o.w, &o.h))
        return cli_usage_error("plan", "--size must be WxH, e.g. 480x352");
    if (o.fixture && (o.time || o.device))
        return cli_usage_error("plan", "--fixture runs nothing: no --time or --device with it");

    char desc[4200];
    if (o.fixture) {
        char err[1024];
        clseg_device_info dev;
        if (dev_fixture_load(o.fixture, &dev, NULL, err, sizeof err) != CLSEG_OK)
            return cli_error("%s", err);
        tunedb db = {0};
        tunedb_state state = TUNEDB_EMPTY;
        if (o.db && tunedb_load(o.db, &db, &state, err, sizeof err) != CLSEG_OK)
            fprintf(stderr, "clseg: warning: tuning database ignored: %s\n", err);
        snprintf(desc, sizeof desc, "%s (%zu records)", o.db ? o.db : "none", db.n);
        int rc = plan_network(&o, &dev, &db, NULL, desc);
        tunedb_free(&db);
        return rc;
    }
    clseg_context *ctx;
    if (!cli_open_tuned_context(o.device, o.db, o.plain, &ctx)) return EXIT_FAILURE_RUN;
    char devkey[256], driver[128];
    tune_device_key(&ctx->info, devkey, driver);
    size_t mine = 0;
    for (size_t i = 0; i < ctx->tuning->n; i++)
        mine += !strcmp(ctx->tuning->recs[i].device, devkey) &&
                !strcmp(ctx->tuning->recs[i].driver, driver);
    snprintf(desc, sizeof desc, "%s (%zu records, %zu for this device and driver)",
             ctx->tuning_path ? ctx->tuning_path : "none", ctx->tuning->n, mine);
    int rc = plan_network(&o, &ctx->info, ctx->tuning, ctx, desc);
    clseg_context_free(ctx);
    return rc;
}
