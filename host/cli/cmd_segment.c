/* cmd_segment.c - `clseg segment`: PNG in, colour-coded label map (and overlay, raw labels) out. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "clseg_image.h"

static void help(void) {
    printf(
        "usage: clseg segment --model MODEL.clsm [options] INPUT.png\n"
        "       clseg segment --model MODEL.clsm --out-dir DIR [options] INPUT.png...\n\n"
        "Segments road-scene images. Any PNG works (8/16-bit, gray, RGB, RGBA, palette,\n"
        "interlaced) at any size that fits the device.\n\n"
        "  --model FILE       model file (.clsm), e.g. from 'clseg init' or models/\n"
        "  --device SEL       OpenCL device: P:D index or a name substring (pocl, llvmpipe,\n"
        "                     nvidia); default $CLSEG_DEVICE, else the first GPU, else the first\n"
        "                     device ('clseg devices' lists them)\n"
        "  -o, --output FILE  colour-coded label map (default: INPUT's name + _seg.png in the\n"
        "                     current directory); one input only\n"
        "  --overlay FILE     the label colours blended over the input, with a legend\n"
        "  --labels FILE      class indices as 8-bit gray PNG\n"
        "  --out-dir DIR      several inputs: writes DIR/NAME_seg.png for each, plus\n"
        "                     NAME_overlay.png / NAME_labels.png with --with-overlay /\n"
        "                     --with-labels\n"
        "  --db FILE          tuning database written by 'clseg tune' (default $CLSEG_TUNING_DB,\n"
        "                     else tuning.db in the cache directory)\n"
        "  --test-flip on|off average the class scores of the image and of its mirror (about\n"
        "                     twice the time; default: the model's test_flip)\n"
        "  --timing           print start-up (model load, kernel compile or cache), per-image\n"
        "                     times (one input or --no-pipeline) and images per second on\n"
        "                     stderr, then each kernel program built: the layer and variant\n"
        "                     it was for, compiled / from the cache / left to the driver's\n"
        "                     own cache (PoCL), and its time\n"
        "  --no-pipeline      several inputs one after another; by default a decoder thread,\n"
        "                     the device (two frames in flight) and an encoder thread overlap\n"
        "  -h, --help         this text\n\n"
        "Output files are written atomically: a failure never leaves a partial file.\n");
}

/* "dir/name.png" -> "name" */
static void stem_of(const char *path, char *out, size_t size) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    snprintf(out, size, "%s", base);
    char *dot = strrchr(out, '.');
    if (dot && dot != out) *dot = 0;
}

typedef struct outputs {
    const char *seg, *overlay, *labels;
} outputs;
/* "DIR/STEM" + suffix, allocated; NULL when out of memory. */
static char *path_in(const char *dir, const char *stem, const char *suffix) {
    size_t len = strlen(dir) + strlen(stem) + strlen(suffix) + 2;
    char *p = malloc(len);
    if (p) snprintf(p, len, "%s%s%s%s", dir, *dir ? "/" : "", stem, suffix);
    return p;
}

int cmd_segment(int argc, char **argv) {
    const char *model_path = NULL, *device = NULL, *out_dir = NULL, *db = NULL;
    outputs single = {0};
    int with_overlay = 0, with_labels = 0, timing = 0, c, test_flip = -1, pipelined = 1;
    enum {
        OPT_OVERLAY = 256,
        OPT_LABELS,
        OPT_OUTDIR,
        OPT_WITH_OV,
        OPT_WITH_LAB,
        OPT_TIMING,
        OPT_DB,
        OPT_TEST_FLIP,
        OPT_NO_PIPELINE
    };
    static const struct option opts[] = {{"model", required_argument, 0, 'm'},
                                         {"device", required_argument, 0, 'd'},
                                         {"output", required_argument, 0, 'o'},
                                         {"overlay", required_argument, 0, OPT_OVERLAY},
                                         {"labels", required_argument, 0, OPT_LABELS},
                                         {"out-dir", required_argument, 0, OPT_OUTDIR},
                                         {"with-overlay", no_argument, 0, OPT_WITH_OV},
                                         {"with-labels", no_argument, 0, OPT_WITH_LAB},
                                         {"timing", no_argument, 0, OPT_TIMING},
                                         {"db", required_argument, 0, OPT_DB},
                                         {"test-flip", required_argument, 0, OPT_TEST_FLIP},
                                         {"no-pipeline", no_argument, 0, OPT_NO_PIPELINE},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":m:d:o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'm':
            model_path = optarg;
            break;
        case 'd':
            device = optarg;
            break;
        case 'o':
            single.seg = optarg;
            break;
        case OPT_OVERLAY:
            single.overlay = optarg;
            break;
        case OPT_LABELS:
            single.labels = optarg;
            break;
        case OPT_OUTDIR:
            out_dir = optarg;
            break;
        case OPT_WITH_OV:
            with_overlay = 1;
            break;
        case OPT_WITH_LAB:
            with_labels = 1;
            break;
        case OPT_DB:
            db = optarg;
            break;
        case OPT_TIMING:
            timing = 1;
            break;
        case OPT_NO_PIPELINE:
            pipelined = 0;
            break;
        case OPT_TEST_FLIP:
            if (!cli_parse_on_off(optarg, &test_flip))
                return cli_usage_error("segment", "--test-flip must be on or off, not '%s'",
                                       optarg);
            break;
        case 'h':
            help();
            return EXIT_OK;
        case ':':
            return cli_usage_error("segment", "option '%s' needs a value", argv[optind - 1]);
        default:
            return cli_usage_error("segment", "unknown option '%s'", argv[optind - 1]);
        }
    }
    int n_inputs = argc - optind;
    if (!model_path) return cli_usage_error("segment", "--model is required");
    if (n_inputs < 1) return cli_usage_error("segment", "no input image given");
    if (!out_dir && n_inputs > 1)
        return cli_usage_error("segment", "several inputs need --out-dir DIR");
    if (out_dir && (single.seg || single.overlay || single.labels))
        return cli_usage_error("segment",
                               "with --out-dir use --with-overlay / --with-labels instead of "
                               "-o / --overlay / --labels");
    if (out_dir) {
        struct stat sb;
        if (stat(out_dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
            return cli_error("%s: not a directory", out_dir);
    }

    double t0 = clseg_now_ms();
    char err[2048];
    clseg_model *model = NULL;
    if (clseg_model_load(&model, model_path, err, sizeof err) != CLSEG_OK)
        return cli_error("%s", err);
    double t_model = clseg_now_ms();
    clseg_context *ctx = NULL;
    clseg_context_options copts = {CLSEG_CONTEXT_OPTIONS_INIT, .device = device, .tuning_db = db};
    if (clseg_context_create(&ctx, &copts, err, sizeof err) != CLSEG_OK) {
        cli_error("%s", err);
        clseg_model_free(model);
        return EXIT_FAILURE_RUN;
    }
    if (*clseg_context_warning(ctx))
        fprintf(stderr, "clseg: warning: %s\n", clseg_context_warning(ctx));
    double t_ctx = clseg_now_ms();
    clseg_net *net = NULL;
    if (clseg_net_create(&net, ctx, model) != CLSEG_OK) {
        cli_error("%s", clseg_context_error(ctx));
        if (*clseg_context_build_log(ctx))
            fprintf(stderr, "build log:\n%s\n", clseg_context_build_log(ctx));
        clseg_context_free(ctx);
        clseg_model_free(model);
        return EXIT_FAILURE_RUN;
    }
    if (test_flip >= 0) clseg_net_set_test_flip(net, test_flip);
    if (timing) {
        clseg_startup_stats s;
        clseg_context_startup_stats(ctx, &s);
        fprintf(stderr,
                "clseg: device %s; model load %.1f ms, context %.1f ms, network ready %.1f ms "
                "(%d programs compiled in %.0f ms, %d from cache in %.0f ms)\n",
                clseg_context_device(ctx)->name, t_model - t0, t_ctx - t_model,
                clseg_now_ms() - t_ctx, s.programs_built, s.build_ms, s.programs_from_cache,
                s.cache_load_ms);
    }

    seg_job *jobs = calloc((size_t)n_inputs, sizeof *jobs);
    char **paths = calloc((size_t)n_inputs * 3, sizeof *paths);
    int failures = n_inputs;
    if (!jobs || !paths) {
        cli_error("out of memory for %d inputs", n_inputs);
        goto done;
    }
    for (int i = 0; i < n_inputs; i++) {
        seg_job *job = &jobs[i];
        char **p = &paths[3 * i], stem[1024];
        job->in = argv[optind + i];
        stem_of(job->in, stem, sizeof stem);
        if (out_dir) {
            p[0] = path_in(out_dir, stem, "_seg.png");
            p[1] = with_overlay ? path_in(out_dir, stem, "_overlay.png") : NULL;
            p[2] = with_labels ? path_in(out_dir, stem, "_labels.png") : NULL;
            if (!p[0] || (with_overlay && !p[1]) || (with_labels && !p[2])) {
                cli_error("out of memory for %d inputs", n_inputs);
                goto done;
            }
            job->seg = p[0], job->overlay = p[1], job->labels_png = p[2];
        } else {
            job->seg = single.seg ? single.seg : (p[0] = path_in("", stem, "_seg.png"));
            job->overlay = single.overlay;
            job->labels_png = single.labels;
            if (!job->seg) {
                cli_error("out of memory");
                goto done;
            }
        }
    }
    failures = segment_run(net, ctx, model, jobs, n_inputs, pipelined, timing);
    if (timing) {
        /* After the images: a size the net was not prepared for builds more programs. */
        fprintf(stderr, "clseg: programs (%s):\n", clseg_context_program_cache(ctx));
        clseg_program_info pi;
        for (int i = 0; clseg_context_program_get(ctx, i, &pi) == CLSEG_OK; i++)
            fprintf(stderr, "clseg:   %-16s %-8s %6.0f ms  %s%s%s\n", pi.name,
                    program_origin_name(pi.origin), pi.ms, *pi.reason ? pi.reason : "-",
                    *pi.defines ? "  " : "", pi.defines);
    }
done:
    for (int i = 0; paths && i < 3 * n_inputs; i++) free(paths[i]);
    free(paths);
    free(jobs);
    clseg_net_free(net);
    clseg_context_free(ctx);
    clseg_model_free(model);
    if (failures && n_inputs > 1) cli_error("%d of %d images failed", failures, n_inputs);
    return failures ? EXIT_FAILURE_RUN : EXIT_OK;
}
