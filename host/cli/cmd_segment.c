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
        "  --timing           print start-up (model load, kernel compile or cache) and per-image\n"
        "                     times on stderr, then each kernel program built: the layer and\n"
        "                     variant it was for, compiled / from the cache / left to the\n"
        "                     driver's own cache (PoCL), and its time\n"
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

static int segment_one(clseg_net *net, clseg_context *ctx, const clseg_model *model, const char *in,
                       const outputs *o, int timing) {
    char err[1024];
    uint8_t *rgb = NULL;
    int width = 0, height = 0;
    if (clseg_image_load_png(in, 0, &rgb, &width, &height, err, sizeof err) != CLSEG_OK)
        return cli_error("%s", err);
    int k = clseg_model_num_classes(model);
    uint8_t *palette = malloc((size_t)k * 3);
    const char **names = malloc((size_t)k * sizeof *names);
    size_t plane = (size_t)width * height;
    uint8_t *labels = malloc(plane), *colour = malloc(plane * 3);
    uint8_t *overlay = o->overlay ? malloc(plane * 3) : NULL;
    int rc = EXIT_OK;
    if (!palette || !names || !labels || !colour || (o->overlay && !overlay)) {
        rc = cli_error("%s: out of memory for a %dx%d image", in, width, height);
        goto done;
    }
    for (int i = 0; i < k; i++) {
        memcpy(palette + 3 * i, clseg_model_class_color(model, i), 3);
        names[i] = clseg_model_class_name(model, i);
    }
    double t0 = clseg_now_ms();
    clseg_status st = clseg_net_segment(net, rgb, width, height, labels);
    if (st != CLSEG_OK) {
        rc = cli_error("%s: %s", in, clseg_context_error(ctx));
        goto done;
    }
    if (timing)
        fprintf(stderr, "clseg: %s: %dx%d segmented in %.1f ms\n", in, width, height,
                clseg_now_ms() - t0);
    st = clseg_image_colorize(labels, width, height, palette, k, colour, err, sizeof err);
    if (st == CLSEG_OK && o->seg)
        st = clseg_image_save_png_rgb(o->seg, colour, width, height, err, sizeof err);
    if (st == CLSEG_OK && o->labels)
        st = clseg_image_save_png_gray(o->labels, labels, width, height, err, sizeof err);
    if (st == CLSEG_OK && o->overlay) {
        st = clseg_image_overlay(rgb, width, height, labels, palette, names, k, 0.5f, overlay, err,
                                 sizeof err);
        if (st == CLSEG_OK)
            st = clseg_image_save_png_rgb(o->overlay, overlay, width, height, err, sizeof err);
    }
    if (st != CLSEG_OK) rc = cli_error("%s", err);
done:
    clseg_free(rgb);
    free(palette);
    free(names);
    free(labels);
    free(colour);
    free(overlay);
    return rc;
}

int cmd_segment(int argc, char **argv) {
    const char *model_path = NULL, *device = NULL, *out_dir = NULL, *db = NULL;
    outputs single = {0};
    int with_overlay = 0, with_labels = 0, timing = 0, c, test_flip = -1;
    enum {
        OPT_OVERLAY = 256,
        OPT_LABELS,
        OPT_OUTDIR,
        OPT_WITH_OV,
        OPT_WITH_LAB,
        OPT_TIMING,
        OPT_DB,
        OPT_TEST_FLIP
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

    int failures = 0;
    for (int i = 0; i < n_inputs; i++) {
        const char *in = argv[optind + i];
        outputs o = single;
        char stem[512], seg[4096], ov[4096], lab[4096], def[1024];
        stem_of(in, stem, sizeof stem);
        if (out_dir) {
            snprintf(seg, sizeof seg, "%s/%s_seg.png", out_dir, stem);
            snprintf(ov, sizeof ov, "%s/%s_overlay.png", out_dir, stem);
            snprintf(lab, sizeof lab, "%s/%s_labels.png", out_dir, stem);
            o.seg = seg;
            o.overlay = with_overlay ? ov : NULL;
            o.labels = with_labels ? lab : NULL;
        } else if (!o.seg) {
            snprintf(def, sizeof def, "%s_seg.png", stem);
            o.seg = def;
        }
        if (n_inputs > 1) fprintf(stderr, "[%d/%d] %s\n", i + 1, n_inputs, in);
        if (segment_one(net, ctx, model, in, &o, timing) != EXIT_OK) failures++;
    }
    if (timing) {
        /* After the images: a size the net was not prepared for builds more programs. */
        fprintf(stderr, "clseg: programs (%s):\n", clseg_context_program_cache(ctx));
        clseg_program_info p;
        for (int i = 0; clseg_context_program_get(ctx, i, &p) == CLSEG_OK; i++)
            fprintf(stderr, "clseg:   %-16s %-8s %6.0f ms  %s%s%s\n", p.name,
                    program_origin_name(p.origin), p.ms, *p.reason ? p.reason : "-",
                    *p.defines ? "  " : "", p.defines);
    }
    clseg_net_free(net);
    clseg_context_free(ctx);
    clseg_model_free(model);
    if (failures && n_inputs > 1) cli_error("%d of %d images failed", failures, n_inputs);
    return failures ? EXIT_FAILURE_RUN : EXIT_OK;
}
