/* cmd_plan.c - `clseg plan`: per layer, the kernel variant and parameters the selector picks on
   a device (or a recorded one), why, the layer's GFLOP and bytes, and optionally its time. Also
   the network / context helpers that `clseg tune` shares. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "clseg_tune.h"

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

int cli_load_network(const char *path, int classes, clseg_model **model, int *from_spec) {
    char err[2048];
    size_t n = strlen(path);
    *from_spec = n > 4 && !strcmp(path + n - 4, ".cfg");
    clseg_status st;
    if (*from_spec) {
        clseg_model_init_options o = {CLSEG_MODEL_INIT_OPTIONS_INIT, .classes = classes, .seed = 1};
        st = clseg_model_init(model, path, &o, err, sizeof err);
    } else {
        st = clseg_model_load(model, path, err, sizeof err);
    }
    if (st != CLSEG_OK) return cli_error("%s", err), 0;
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
    for (int i = 0; i < clseg_variant_count(); i++) {
        clseg_variant_info v;
        if (clseg_variant_get(i, &v) != CLSEG_OK) continue;
        printf("%-10s %-18s", v.op, v.name);
        for (int p = 0; p < v.n_params; p++) {
            printf(" %s=%d{", v.params[p].name, v.params[p].default_value);
            for (int c = 0; c < v.params[p].n_choices; c++)
                printf("%s%d", c ? "," : "", v.params[p].choices[c]);
            printf("}");
        }
        printf("\n");
    }
}

typedef struct plan_opts {
    const char *model, *spec, *device, *db, *fixture;
    int classes, n, w, h, plain, time;
} plan_opts;

/* --model, or --spec with --classes. */
static int load_model(const plan_opts *o, clseg_model **model) {
    int from_spec;
    return cli_load_network(o->model ? o->model : o->spec, o->classes, model, &from_spec);
}

/* Prints the plan; with --time, runs every layer on ctx. */
static int print_plan(const plan_opts *o, const clseg_model *model, const clseg_plan *plan,
                      const clseg_device_info *dev, clseg_context *ctx, const char *db_desc) {
    printf("%s at %dx%d, batch %d, on %s (class %s, driver %s)\n", clseg_model_network_name(model),
           o->w, o->h, o->n, dev->name, clseg_device_class_name(dev), dev->driver_version);
    printf("tuning database: %s\n\n", db_desc);
    printf("%-12s %-9s %-14s %8s %8s", "layer", "op", "output", "GFLOP", "MB");
    if (o->time) printf(" %9s %8s", "ms", "GFLOP/s");
    printf("  %-13s %s\n", "why", "variant and parameters");
    double tot_f = 0, tot_b = 0, tot_ms = 0;
    for (int i = 0; i < clseg_plan_layer_count(plan); i++) {
        clseg_plan_layer L;
        clseg_plan_layer_get(plan, i, &L);
        double f = L.flop, b = L.bytes, ms = -1;
        if (o->time) {
            if (clseg_plan_time_layer(plan, ctx, i, 3, &ms) != CLSEG_OK)
                return cli_error("layer %s: %s", L.name, clseg_context_error(ctx));
            tot_ms += ms;
        }
        tot_f += f;
        tot_b += b;
        char out[32];
        snprintf(out, sizeof out, "%dx%dx%d", L.out_shape[1], L.out_shape[2], L.out_shape[3]);
        printf("%-12s %-9s %-14s %8.3f %8.1f", L.name, L.op, out, f / 1e9, b / 1e6);
        if (o->time && f > 0)
            printf(" %9.2f %8.1f", ms, f / (ms * 1e6));
        else if (o->time)
            printf(" %9.2f %8s", ms, "-");
        printf("  %-13s %s%s%s\n", clseg_choice_source_name(L.source), L.variant,
               *L.params ? " " : "", L.params);
    }
    printf("%-12s %-9s %-14s %8.3f %8.1f", "total", "", "", tot_f / 1e9, tot_b / 1e6);
    if (o->time) printf(" %9.2f %8.1f", tot_ms, tot_f / (tot_ms * 1e6));
    printf("\n");
    return EXIT_OK;
}

/* The plan on a recorded device: nothing runs, the database is read directly. */
static int plan_fixture(const plan_opts *o) {
    char err[1024], desc[4200];
    clseg_device_info dev;
    if (clseg_device_info_load(o->fixture, &dev, err, sizeof err) != CLSEG_OK)
        return cli_error("%s", err);
    clseg_tuning_db *db = NULL;
    if (o->db && clseg_tuning_db_load(&db, o->db, NULL, err, sizeof err) != CLSEG_OK)
        fprintf(stderr, "clseg: warning: tuning database ignored: %s\n", err);
    snprintf(desc, sizeof desc, "%s (%zu records)", o->db ? o->db : "none",
             clseg_tuning_db_record_count(db, NULL));
    clseg_model *model = NULL;
    clseg_plan *plan = NULL;
    int rc = EXIT_FAILURE_RUN;
    if (load_model(o, &model)) {
        if (clseg_plan_create_for_device(&plan, &dev, db, o->plain, model, o->n, o->h, o->w, err,
                                         sizeof err) != CLSEG_OK)
            rc = cli_error("%s", err);
        else
            rc = print_plan(o, model, plan, &dev, NULL, desc);
    }
    clseg_plan_free(plan);
    clseg_model_free(model);
    clseg_tuning_db_free(db);
    return rc;
}

static int plan_on_device(const plan_opts *o) {
    clseg_context *ctx;
    if (!cli_open_tuned_context(o->device, o->db, o->plain, &ctx)) return EXIT_FAILURE_RUN;
    const char *path = clseg_context_tuning_path(ctx);
    char desc[4200];
    snprintf(desc, sizeof desc, "%s (%zu records, %zu for this device and driver)",
             path ? path : "none", clseg_context_tuning_record_count(ctx, 0),
             clseg_context_tuning_record_count(ctx, 1));
    clseg_model *model = NULL;
    clseg_plan *plan = NULL;
    int rc = EXIT_FAILURE_RUN;
    if (load_model(o, &model)) {
        if (clseg_plan_create(&plan, ctx, model, o->n, o->h, o->w) != CLSEG_OK)
            rc = cli_error("%s", clseg_context_error(ctx));
        else
            rc = print_plan(o, model, plan, clseg_context_device(ctx), ctx, desc);
    }
    clseg_plan_free(plan);
    clseg_model_free(model);
    clseg_context_free(ctx);
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

    return o.fixture ? plan_fixture(&o) : plan_on_device(&o);
}
