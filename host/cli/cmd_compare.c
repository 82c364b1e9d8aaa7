/* cmd_compare.c - `clseg compare`: runs a model on several devices and on the C reference over the
   same frames and says whether each device computes what the reference computes, end to end and
   (--layers) layer by layer, naming the first layer that departs. docs/compare.md. */
#include <dirent.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "clseg_image.h"
#include "clseg_train.h"

/* End-to-end thresholds, as tests/test_e2e_seednet.c holds every device to: the largest logit
   error over the largest reference logit (float32 sums in another order stay far below it), and
   the share of pixels whose label (argmax) is the reference's. */
#define LOGIT_TOL   1e-3
#define LABEL_AGREE 0.999

#define MAX_DEVICES 32

typedef struct frame {
    char name[256]; /* file name */
    char path[4096];
    char label_path[4096]; /* "" without --labels */
} frame;

typedef struct opts {
    const char *model, *device, *images, *labels, *json, *md, *db;
    int ignore, layers;
    char images_default[4096];
    char command[2048];
} opts;

/* One device's run and what it gave, summed over the frames. */
typedef struct device_run {
    char selector[256]; /* as given, or "P:D" for --device all */
    char id[32];        /* "P:D" of the device the selector resolved to */
    clseg_device_info info;
    clseg_context *ctx;
    clseg_net *net;
    char error[2048]; /* why the device could not run ("" if it did) */
    int frames;
    double forward_ms;         /* summed over frames */
    double max_abs_err;        /* max |logit - reference| over every frame */
    double logit_rel;          /* max over frames of max |error| / max |reference logit| */
    clseg_metrics *metrics;    /* --labels */
    clseg_layer_check *layers; /* --layers: per layer, the worst over the frames */
    int *worst_frame;          /* ... and the frame of its worst element */
    int n_layers;
    int first_departure; /* --layers: first layer that fails, -1 if none */
    int agrees;
} device_run;

typedef struct compare_run {
    opts o;
    clseg_model *model;
    frame *frames;
    int n_frames;
    device_run dev[MAX_DEVICES];
    int n_dev;
    double ref_ms;
    uint64_t pixels;
    uint64_t agree[MAX_DEVICES + 1][MAX_DEVICES + 1]; /* 0 = reference, d + 1 = device d */
    clseg_metrics *ref_metrics;
} compare_run;

static void help(void) {
    printf(
        "usage: clseg compare --model MODEL.clsm [--device all|SEL,SEL,...] [--images DIR]\n"
        "                     [--labels DIR] [--ignore I] [--layers] [--json F] [--md F]\n\n"
        "Runs the model on every selected device and on the C reference (plain C on the host)\n"
        "over the same frames, with the same normalised input, and reports per device: the\n"
        "largest logit error relative to the largest reference logit, the share of pixels whose\n"
        "label agrees with the reference and with every other device, mIoU against label PNGs,\n"
        "and the forward time. A device agrees when its logit error is at most 1e-3 and its\n"
        "labels agree with the reference on at least 99.9%% of pixels (and, with --layers, every\n"
        "layer is within its op's tolerance). Exit status: 0 every device agrees, 1 one departs\n"
        "or fails to run, 2 bad options.\n\n"
        "  --model FILE     model to compare (.clsm)\n"
        "  --device LIST    'all' (default: every OpenCL device present) or selectors (P:D or a\n"
        "                   name substring) separated by commas\n"
        "  --images DIR     RGB PNG frames (every *.png but *_labels.png); default: samples/ next\n"
        "                   to the model (the bundled models/samples)\n"
        "  --labels DIR     label PNGs (8-bit gray class indices) named NAME_labels.png or like\n"
        "                   the frame: adds mIoU per device and for the reference\n"
        "  --ignore I       label left out of mIoU (CamVid: 11); default none\n"
        "  --layers         also check every layer: its op's C reference run on the device's own\n"
        "                   inputs to that layer, at the op's tolerance (docs/ops.md); names the\n"
        "                   first layer that departs, with its variant and parameters\n"
        "  --db FILE        tuning database (default $CLSEG_TUNING_DB, else tuning.db in the\n"
        "                   cache directory)\n"
        "  --json FILE      the report as JSON (schema clseg-compare/1, docs/compare.md)\n"
        "  --md FILE        the report as Markdown\n"
        "  -h, --help       this text\n");
}

/* ---- frames -----------------------------------------------------------------------------------
 */

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

static int is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int by_name(const void *a, const void *b) {
    return strcmp(((const frame *)a)->name, ((const frame *)b)->name);
}

/* Every *.png of dir but *_labels.png, sorted by name, each with its label file under
   label_dir (NAME_labels.png, as in models/samples, else NAME.png, as in CamVid's *annot
   directories) when label_dir is given. Prints its errors. */
static int list_frames(const char *dir, const char *label_dir, frame **out, int *count) {
    DIR *d = opendir(dir);
    if (!d) return cli_error("%s: cannot open the directory", dir), 0;
    frame *f = NULL;
    int n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!ends_with(e->d_name, ".png") || ends_with(e->d_name, "_labels.png")) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            frame *g = realloc(f, (size_t)cap * sizeof *g);
            if (!g) break;
            f = g;
        }
        memset(&f[n], 0, sizeof f[n]);
        snprintf(f[n].name, sizeof f[n].name, "%s", e->d_name);
        snprintf(f[n].path, sizeof f[n].path, "%s/%s", dir, e->d_name);
        n++;
    }
    closedir(d);
    if (n == 0) {
        free(f);
        return cli_error("%s: no PNG frames (*.png other than *_labels.png)", dir), 0;
    }
    qsort(f, (size_t)n, sizeof *f, by_name);
    for (int i = 0; label_dir && i < n; i++) {
        int stem = (int)strlen(f[i].name) - 4;
        snprintf(f[i].label_path, sizeof f[i].label_path, "%s/%.*s_labels.png", label_dir, stem,
                 f[i].name);
        if (!is_file(f[i].label_path))
            snprintf(f[i].label_path, sizeof f[i].label_path, "%s/%s", label_dir, f[i].name);
        if (!is_file(f[i].label_path)) {
            cli_error("%s: no label file %s/%.*s_labels.png or %s", f[i].name, label_dir, stem,
                      f[i].name, f[i].label_path);
            free(f);
            return 0;
        }
    }
    *out = f;
    *count = n;
    return 1;
}

/* A label PNG as class indices: gray, which clseg_image_load_png replicates into R, G, B. */
static int load_labels(const char *path, int w, int h, uint8_t **out) {
    uint8_t *rgb;
    int lw, lh;
    char err[1024];
    if (clseg_image_load_png(path, 0, &rgb, &lw, &lh, err, sizeof err) != CLSEG_OK)
        return cli_error("%s", err), 0;
    if (lw != w || lh != h) {
        clseg_free(rgb);
        return cli_error("%s: labels are %dx%d, the frame %dx%d", path, lw, lh, w, h), 0;
    }
    uint8_t *lab = malloc((size_t)w * h);
    size_t plane = (size_t)w * h, i = 0;
    for (; lab && i < plane; i++) {
        if (rgb[3 * i] != rgb[3 * i + 1] || rgb[3 * i] != rgb[3 * i + 2]) break;
        lab[i] = rgb[3 * i];
    }
    clseg_free(rgb);
    if (!lab) return cli_error("out of memory"), 0;
    if (i < plane) {
        free(lab);
        return cli_error("%s: not a gray label image (pixel %zu has colour)", path, i), 0;
    }
    *out = lab;
    return 1;
}

/* ---- devices ----------------------------------------------------------------------------------
 */

/* The selectors of --device: every device present for "all", else the comma-separated list. */
static int select_devices(compare_run *r) {
    const char *list = r->o.device;
    if (!strcmp(list, "all")) {
        clseg_device_info *devs = NULL;
        size_t n = 0;
        clseg_status st = clseg_devices_list(&devs, &n);
        if (st != CLSEG_OK)
            return cli_error("cannot list OpenCL devices: %s", clseg_status_str(st));
        if (n == 0) {
            clseg_free(devs);
            return cli_error("no OpenCL devices");
        }
        for (size_t i = 0; i < n && r->n_dev < MAX_DEVICES; i++)
            snprintf(r->dev[r->n_dev++].selector, sizeof r->dev[0].selector, "%d:%d",
                     devs[i].platform_index, devs[i].device_index);
        clseg_free(devs);
        return EXIT_OK;
    }
    const char *p = list;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == 0 || len >= sizeof r->dev[0].selector)
            return cli_usage_error("compare", "--device: empty or overlong selector in '%s'", list);
        if (r->n_dev == MAX_DEVICES)
            return cli_usage_error("compare", "--device: at most %d devices", MAX_DEVICES);
        memcpy(r->dev[r->n_dev].selector, p, len);
        r->dev[r->n_dev++].selector[len] = 0;
        p += len + (comma ? 1 : 0);
        if (comma && !*p) return cli_usage_error("compare", "--device: trailing comma");
    }
    return EXIT_OK;
}

/* A context and net on the device; a failure is the device's error, not the command's. */
static void open_device(compare_run *r, device_run *d) {
    clseg_context_options co = {CLSEG_CONTEXT_OPTIONS_INIT, .device = d->selector,
                                .tuning_db = r->o.db};
    if (clseg_context_create(&d->ctx, &co, d->error, sizeof d->error) != CLSEG_OK) return;
    d->info = *clseg_context_device(d->ctx);
    snprintf(d->id, sizeof d->id, "%d:%d", d->info.platform_index, d->info.device_index);
    if (*clseg_context_warning(d->ctx))
        fprintf(stderr, "clseg: warning: %s: %s\n", d->id, clseg_context_warning(d->ctx));
    if (clseg_net_create(&d->net, d->ctx, r->model) != CLSEG_OK) {
        snprintf(d->error, sizeof d->error, "%s", clseg_context_error(d->ctx));
        return;
    }
    d->n_layers = clseg_net_layer_count(d->net);
    d->first_departure = -1;
    char err[1024];
    if (r->o.labels && clseg_metrics_create(&d->metrics, r->model, r->o.ignore, d->info.name, err,
                                            sizeof err) != CLSEG_OK)
        snprintf(d->error, sizeof d->error, "%s", err);
    if (r->o.layers) {
        d->layers = calloc((size_t)d->n_layers, sizeof *d->layers);
        d->worst_frame = calloc((size_t)d->n_layers, sizeof *d->worst_frame);
        if (!d->layers || !d->worst_frame) snprintf(d->error, sizeof d->error, "out of memory");
    }
}

static void close_device(device_run *d) {
    clseg_metrics_free(d->metrics);
    free(d->layers);
    free(d->worst_frame);
    clseg_net_free(d->net);
    clseg_context_free(d->ctx);
}

/* A short name for the driver stack: "PoCL 3.1+debian", "rusticl", or the platform's first word. */
static void platform_label(const clseg_device_info *info, char *buf, size_t len) {
    if (strstr(info->platform_name, "Portable Computing Language"))
        snprintf(buf, len, "PoCL %s", info->driver_version);
    else if (strstr(info->platform_name, "rusticl"))
        snprintf(buf, len, "rusticl %s", info->driver_version);
    else
        snprintf(buf, len, "%s %s", info->platform_name, info->driver_version);
}

/* ---- one frame --------------------------------------------------------------------------------
 */

static void argmax_labels(const float *logits, const int s[4], uint8_t *labels) {
    size_t plane = (size_t)s[2] * s[3];
    for (int n = 0; n < s[0]; n++) {
        const float *x = logits + (size_t)n * s[1] * plane;
        for (size_t i = 0; i < plane; i++) {
            int best = 0;
            for (int c = 1; c < s[1]; c++)
                if (x[c * plane + i] > x[best * plane + i]) best = c;
            labels[(size_t)n * plane + i] = (uint8_t)best;
        }
    }
}

/* Folds one frame's layer check into the worst over the frames. */
static void merge_layers(device_run *d, const clseg_layer_check *now, int frame_index) {
    for (int i = 0; i < d->n_layers; i++) {
        clseg_layer_check *acc = &d->layers[i];
        const clseg_layer_check *c = &now[i];
        if (!d->frames || c->worst_ratio > acc->worst_ratio || isnan(c->max_abs_error)) {
            clseg_layer_check keep = *acc;
            *acc = *c;
            d->worst_frame[i] = frame_index;
            if (d->frames) {
                acc->elements += keep.elements;
                acc->failures += keep.failures;
                if (!isnan(acc->max_abs_error) &&
                    (isnan(keep.max_abs_error) || keep.max_abs_error > acc->max_abs_error))
                    acc->max_abs_error = keep.max_abs_error;
                acc->max_abs_ref = fmax(acc->max_abs_ref, keep.max_abs_ref);
            }
        } else {
            acc->elements += c->elements;
            acc->failures += c->failures;
            if (!isnan(acc->max_abs_error) &&
                (isnan(c->max_abs_error) || c->max_abs_error > acc->max_abs_error))
                acc->max_abs_error = c->max_abs_error;
            acc->max_abs_ref = fmax(acc->max_abs_ref, c->max_abs_ref);
        }
        acc->pass = acc->failures == 0;
    }
}

/* Runs device d on frame fi (input x), compares its logits with ref; its labels go to labels. */
static void run_device_frame(compare_run *r, device_run *d, int fi, const float *x, int w, int h,
                             const float *ref, const int shape[4], uint8_t *labels,
                             const uint8_t *truth) {
    size_t count = (size_t)shape[0] * shape[1] * shape[2] * shape[3];
    float *logits = malloc(count * sizeof *logits);
    clseg_layer_check *checks = r->o.layers ? calloc((size_t)d->n_layers, sizeof *checks) : NULL;
    if (!logits || (r->o.layers && !checks)) {
        snprintf(d->error, sizeof d->error, "out of memory");
        goto done;
    }
    /* The first forward at a size also builds what the size needs: prepare first, so the time
       is the forward's. */
    double t0 = 0, ms = 0;
    clseg_status st = clseg_net_prepare(d->net, 1, h, w);
    if (st == CLSEG_OK) {
        t0 = clseg_now_ms();
        st = clseg_net_forward_into(d->net, x, 1, h, w, logits, count);
        ms = clseg_now_ms() - t0;
    }
    if (st == CLSEG_OK && checks)
        st = clseg_net_check_layers(d->net, x, 1, h, w, checks, d->n_layers);
    if (st != CLSEG_OK) {
        snprintf(d->error, sizeof d->error, "%s: %s", r->frames[fi].name,
                 clseg_context_error(d->ctx));
        goto done;
    }
    double err = 0, ref_max = 0;
    for (size_t i = 0; i < count; i++) {
        double e = fabs((double)logits[i] - ref[i]);
        if (isnan(e))
            err = NAN;
        else if (e > err)
            err = e;
        ref_max = fmax(ref_max, fabs(ref[i]));
    }
    double rel = isnan(err) ? NAN : ref_max > 0 ? err / ref_max : err > 0 ? INFINITY : 0;
    if (!isnan(d->max_abs_err) && (isnan(err) || err > d->max_abs_err)) d->max_abs_err = err;
    if (!isnan(d->logit_rel) && (isnan(rel) || rel > d->logit_rel)) d->logit_rel = rel;
    argmax_labels(logits, shape, labels);
    if (checks) merge_layers(d, checks, fi);
    if (truth) {
        char msg[1024];
        if (clseg_metrics_add(d->metrics, truth, labels, (size_t)w * h, ms, msg, sizeof msg) !=
            CLSEG_OK)
            snprintf(d->error, sizeof d->error, "%s labels: %s", r->frames[fi].name, msg);
    }
    d->forward_ms += ms;
    d->frames++;
    fprintf(stderr, "compare: %s %s: forward %.1f ms, max |logit error| / max |logit| %.2e%s\n",
            r->frames[fi].name, d->id, ms, rel, checks ? ", layers checked" : "");
done:
    free(logits);
    free(checks);
}

/* The reference and every device on frame fi. Returns 0 on an error that stops the command. */
static int run_frame(compare_run *r, int fi) {
    const frame *f = &r->frames[fi];
    char err[2048];
    uint8_t *rgb = NULL, *truth = NULL;
    int w, h, ok = 0, ns = r->n_dev + 1;
    if (clseg_image_load_png(f->path, 0, &rgb, &w, &h, err, sizeof err) != CLSEG_OK)
        return cli_error("%s", err), 0;
    if (*f->label_path && !load_labels(f->label_path, w, h, &truth)) {
        clseg_free(rgb);
        return 0;
    }
    /* The output shape from a net that is up (the reference needs the buffer). */
    int shape[4] = {0};
    for (int d = 0; d < r->n_dev && !shape[0]; d++)
        if (!*r->dev[d].error &&
            clseg_net_output_shape(r->dev[d].net, 1, h, w, shape) != CLSEG_OK) {
            cli_error("%s: %s", f->name, clseg_context_error(r->dev[d].ctx));
            goto done;
        }
    size_t plane = (size_t)shape[0] * shape[2] * shape[3];
    size_t count = plane * shape[1];
    float *x = malloc((size_t)3 * w * h * sizeof *x), *ref = malloc(count * sizeof *ref);
    uint8_t *labels = malloc(plane * ns);
    if (!shape[0]) {
        ok = 1; /* no device is up: nothing to compare, each says why */
    } else if (!x || !ref || !labels) {
        cli_error("out of memory");
    } else if (clseg_model_normalize_rgb(r->model, rgb, w, h, x) != CLSEG_OK) {
        cli_error("%s: the model does not take RGB input", f->name);
    } else {
        fprintf(stderr, "compare: %s (%dx%d): C reference...\n", f->name, w, h);
        double t0 = clseg_now_ms();
        if (clseg_model_reference_forward(r->model, x, 1, h, w, ref, count, err, sizeof err) !=
            CLSEG_OK) {
            cli_error("%s: reference: %s", f->name, err);
            goto free_all;
        }
        double ms = clseg_now_ms() - t0;
        r->ref_ms += ms;
        fprintf(stderr, "compare: %s: C reference %.0f ms\n", f->name, ms);
        argmax_labels(ref, shape, labels);
        int scored = truth && (size_t)w * h == plane;
        if (scored && clseg_metrics_add(r->ref_metrics, truth, labels, plane, ms, err,
                                        sizeof err) != CLSEG_OK) {
            cli_error("%s: %s", f->label_path, err);
            goto free_all;
        }
        int ran[MAX_DEVICES + 1] = {1};
        for (int d = 0; d < r->n_dev; d++) {
            device_run *dv = &r->dev[d];
            if (*dv->error) continue;
            run_device_frame(r, dv, fi, x, w, h, ref, shape, labels + (size_t)(d + 1) * plane,
                             scored ? truth : NULL);
            ran[d + 1] = !*dv->error;
        }
        for (int a = 0; a < ns; a++)
            for (int b = 0; b < ns; b++) {
                if (!ran[a] || !ran[b]) continue;
                const uint8_t *la = labels + (size_t)a * plane, *lb = labels + (size_t)b * plane;
                uint64_t same = 0;
                for (size_t i = 0; i < plane; i++) same += la[i] == lb[i];
                r->agree[a][b] += same;
            }
        r->pixels += plane;
        ok = 1;
    }
free_all:
    free(x);
    free(ref);
    free(labels);
done:
    clseg_free(rgb);
    free(truth);
    return ok;
}

/* ---- verdicts and reports ---------------------------------------------------------------------
 */

static double agreement(const compare_run *r, int a, int b) {
    return r->pixels ? (double)r->agree[a][b] / (double)r->pixels : NAN;
}

static void decide(compare_run *r, device_run *d, int index) {
    d->first_departure = -1;
    for (int i = 0; d->layers && i < d->n_layers && d->frames; i++)
        if (!d->layers[i].pass) {
            d->first_departure = i;
            break;
        }
    d->agrees = !*d->error && d->frames == r->n_frames && d->logit_rel <= LOGIT_TOL &&
                agreement(r, index + 1, 0) >= LABEL_AGREE && d->first_departure < 0;
}

/* Why a device does not agree, in a few words ("" if it does). */
static void departure_reason(const compare_run *r, const device_run *d, int index, char *buf,
                             size_t len) {
    if (*d->error)
        snprintf(buf, len, "failed to run");
    else if (d->first_departure >= 0)
        snprintf(buf, len, "layer %s", d->layers[d->first_departure].info.name);
    else if (!(d->logit_rel <= LOGIT_TOL))
        snprintf(buf, len, "logits");
    else if (!(agreement(r, index + 1, 0) >= LABEL_AGREE))
        snprintf(buf, len, "labels");
    else
        *buf = 0;
}

static void shape_str(const int s[4], char *buf, size_t len) {
    snprintf(buf, len, "%dx%dx%dx%d", s[0], s[1], s[2], s[3]);
}

/* The line a driver bug report needs: the layer, its op, variant and parameters, and the
   worst element. */
static void departure_line(const compare_run *r, const device_run *d, char *buf, size_t len) {
    const int i = d->first_departure;
    const clseg_layer_check *c = &d->layers[i];
    char shape[64], plat[300];
    shape_str(c->info.out_shape, shape, sizeof shape);
    platform_label(&d->info, plat, sizeof plat);
    snprintf(
        buf, len,
        "%s %s (%s): first departure at layer %d '%s' (%s, output %s), variant %s%s%s "
        "(%s choice): %llu of %llu values beyond %.2g + %.2g*|ref|, max |error| %.3g; worst at n%d "
        "c%d y%d x%d of %s: device %.9g, reference %.9g",
        d->id, d->info.name, plat, i, c->info.name, c->info.op, shape,
        *c->info.variant ? c->info.variant : "-", *c->info.params ? " " : "", c->info.params,
        c->info.source, (unsigned long long)c->failures, (unsigned long long)c->elements, c->atol,
        c->rtol, c->max_abs_error, c->worst_index[0], c->worst_index[1], c->worst_index[2],
        c->worst_index[3], r->frames[d->worst_frame[i]].name, c->worst_got, c->worst_want);
}

static void fmt_pct(double v, char *buf, size_t len) {
    if (isnan(v))
        snprintf(buf, len, "-");
    else
        snprintf(buf, len, "%.3f%%", 100 * v);
}

static void print_text(const compare_run *r) {
    printf("compare %s (%s): %d frame%s from %s, C reference %.0f ms per frame\n",
           clseg_model_network_name(r->model), r->o.model, r->n_frames, r->n_frames == 1 ? "" : "s",
           r->o.images, r->n_frames ? r->ref_ms / r->n_frames : 0);
    printf("agrees when max |logit error| / max |logit| <= %g and labels match the reference on "
           ">= %g%% of pixels%s\n\n",
           LOGIT_TOL, 100 * LABEL_AGREE,
           r->o.layers ? ", and every layer is within its op's tolerance" : "");
    printf("%-5s %-40s %-22s %10s %12s %10s %7s  %s\n", "id", "device", "driver", "forward ms",
           "|err|/|max|", "labels=ref", "mIoU", "verdict");
    if (r->ref_metrics)
        printf("%-5s %-40s %-22s %10s %12s %10s %7.2f\n", "ref", "C reference (host)", "-", "-",
               "-", "-", r->ref_metrics->miou);
    for (int d = 0; d < r->n_dev; d++) {
        const device_run *dv = &r->dev[d];
        char plat[300], why[128], agree[32], miou[32] = "-";
        departure_reason(r, dv, d, why, sizeof why);
        if (*dv->error) {
            printf("%-5s %-40.40s %s: %s\n", *dv->id ? dv->id : dv->selector,
                   *dv->info.name ? dv->info.name : dv->selector, "FAILED", dv->error);
            continue;
        }
        platform_label(&dv->info, plat, sizeof plat);
        fmt_pct(agreement(r, d + 1, 0), agree, sizeof agree);
        if (dv->metrics) snprintf(miou, sizeof miou, "%.2f", dv->metrics->miou);
        printf("%-5s %-40.40s %-22.22s %10.1f %12.2e %10s %7s  %s%s\n", dv->id, dv->info.name, plat,
               dv->frames ? dv->forward_ms / dv->frames : 0, dv->logit_rel, agree, miou,
               dv->agrees ? "agrees" : "DEPARTS: ", why);
    }
    if (r->n_dev > 1 && r->pixels) {
        printf("\nlabel agreement, %% of pixels:\n%-10s", "");
        printf(" %9s", "ref");
        for (int d = 0; d < r->n_dev; d++) printf(" %9s", r->dev[d].id);
        printf("\n");
        for (int a = 0; a <= r->n_dev; a++) {
            printf("%-10s", a ? r->dev[a - 1].id : "ref");
            for (int b = 0; b <= r->n_dev; b++) {
                double v = agreement(r, a, b);
                if (r->agree[a][a] == 0 || r->agree[b][b] == 0)
                    printf(" %9s", "-");
                else
                    printf(" %9.3f", 100 * v);
            }
            printf("\n");
        }
    }
    for (int d = 0; r->o.layers && d < r->n_dev; d++) {
        const device_run *dv = &r->dev[d];
        if (*dv->error || !dv->frames) continue;
        printf("\n%s layers (ratio = max |error| / tolerance, above 1 departs):\n", dv->id);
        printf("  %-3s %-14s %-9s %-18s %10s %10s %10s\n", "#", "layer", "op", "variant",
               "max |err|", "ratio", "beyond");
        for (int i = 0; i < dv->n_layers; i++) {
            const clseg_layer_check *c = &dv->layers[i];
            printf("  %-3d %-14.14s %-9.9s %-18.18s %10.2e %10.3g %10llu%s\n", i, c->info.name,
                   c->info.op, c->info.variant, c->max_abs_error, c->worst_ratio,
                   (unsigned long long)c->failures, c->pass ? "" : "  DEPARTS");
        }
    }
    int first = 1;
    for (int d = 0; d < r->n_dev; d++) {
        if (r->dev[d].first_departure < 0) continue;
        char line[2048];
        departure_line(r, &r->dev[d], line, sizeof line);
        printf("%s%s\n", first ? "\n" : "", line);
        first = 0;
    }
}

static void json_layer(FILE *f, const compare_run *r, const device_run *d, int i, const char *ind) {
    const clseg_layer_check *c = &d->layers[i];
    const clseg_layer_info *I = &c->info;
    fprintf(f, "{\n%s  \"index\": %d,\n%s  \"name\": ", ind, i, ind);
    cli_json_str(f, I->name);
    fprintf(f, ",\n%s  \"op\": ", ind);
    cli_json_str(f, I->op);
    fprintf(f, ",\n%s  \"variant\": ", ind);
    cli_json_str(f, I->variant);
    fprintf(f, ",\n%s  \"source\": ", ind);
    cli_json_str(f, I->source);
    fprintf(f, ",\n%s  \"params\": ", ind);
    cli_json_params(f, I->params);
    fprintf(f, ",\n%s  \"out_shape\": [%d, %d, %d, %d],\n%s  \"atol\": ", ind, I->out_shape[0],
            I->out_shape[1], I->out_shape[2], I->out_shape[3], ind);
    cli_json_num(f, c->atol);
    fprintf(f, ",\n%s  \"rtol\": ", ind);
    cli_json_num(f, c->rtol);
    fprintf(f, ",\n%s  \"max_abs_error\": ", ind);
    cli_json_num(f, c->max_abs_error);
    fprintf(f, ",\n%s  \"max_abs_ref\": ", ind);
    cli_json_num(f, c->max_abs_ref);
    fprintf(f, ",\n%s  \"worst_ratio\": ", ind);
    cli_json_num(f, c->worst_ratio);
    fprintf(f, ",\n%s  \"elements\": %llu,\n%s  \"failures\": %llu,\n%s  \"pass\": %s", ind,
            (unsigned long long)c->elements, ind, (unsigned long long)c->failures, ind,
            c->pass ? "true" : "false");
    fprintf(f, ",\n%s  \"worst\": {\"frame\": ", ind);
    cli_json_str(f, r->frames[d->worst_frame[i]].name);
    fprintf(f, ", \"index\": [%d, %d, %d, %d], \"device\": ", c->worst_index[0], c->worst_index[1],
            c->worst_index[2], c->worst_index[3]);
    cli_json_num(f, c->worst_got);
    fputs(", \"reference\": ", f);
    cli_json_num(f, c->worst_want);
    fprintf(f, "}\n%s}", ind);
}

static void json_device(FILE *f, const compare_run *r, int index) {
    const device_run *d = &r->dev[index];
    char why[128];
    departure_reason(r, d, index, why, sizeof why);
    fputs("    {\n      \"selector\": ", f);
    cli_json_str(f, d->selector);
    fputs(",\n      \"id\": ", f);
    cli_json_str(f, d->id);
    fputs(",\n      \"device\": ", f);
    cli_json_str(f, d->info.name);
    fputs(",\n      \"platform\": ", f);
    cli_json_str(f, d->info.platform_name);
    fputs(",\n      \"driver\": ", f);
    cli_json_str(f, d->info.driver_version);
    fprintf(f, ",\n      \"agrees\": %s,\n      \"departure\": ", d->agrees ? "true" : "false");
    if (*why)
        cli_json_str(f, why);
    else
        fputs("null", f);
    fputs(",\n      \"error\": ", f);
    if (*d->error)
        cli_json_str(f, d->error);
    else
        fputs("null", f);
    fprintf(f, ",\n      \"frames\": %d,\n      \"forward_ms\": ", d->frames);
    cli_json_num(f, d->frames ? d->forward_ms / d->frames : NAN);
    fputs(",\n      \"max_abs_logit_error\": ", f);
    cli_json_num(f, d->frames ? d->max_abs_err : NAN);
    fputs(",\n      \"logit_error_rel\": ", f);
    cli_json_num(f, d->frames ? d->logit_rel : NAN);
    fputs(",\n      \"label_agreement_reference\": ", f);
    cli_json_num(f, d->frames ? agreement(r, index + 1, 0) : NAN);
    fputs(",\n      \"miou\": ", f);
    cli_json_num(f, d->metrics && d->frames ? d->metrics->miou : NAN);
    fputs(",\n      \"first_departure\": ", f);
    if (d->first_departure >= 0)
        json_layer(f, r, d, d->first_departure, "      ");
    else
        fputs("null", f);
    fputs(",\n      \"layers\": ", f);
    if (d->layers && d->frames) {
        fputs("[\n", f);
        for (int i = 0; i < d->n_layers; i++) {
            fputs("        ", f);
            json_layer(f, r, d, i, "        ");
            fputs(i + 1 < d->n_layers ? ",\n" : "\n", f);
        }
        fputs("      ]", f);
    } else {
        fputs("null", f);
    }
    fputs("\n    }", f);
}

static int all_agree(const compare_run *r) {
    for (int d = 0; d < r->n_dev; d++)
        if (!r->dev[d].agrees) return 0;
    return r->n_dev > 0;
}

static void write_json(FILE *f, const compare_run *r) {
    char date[32], host[256] = "";
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &tm);
    gethostname(host, sizeof host - 1);
    fprintf(f, "{\n  \"schema\": \"clseg-compare/1\",\n  \"clseg_version\": ");
    cli_json_str(f, clseg_version());
    fprintf(f, ",\n  \"date\": \"%s\",\n  \"host\": ", date);
    cli_json_str(f, host);
    fputs(",\n  \"command\": ", f);
    cli_json_str(f, r->o.command);
    fputs(",\n  \"model\": ", f);
    cli_json_str(f, r->o.model);
    fputs(",\n  \"network\": ", f);
    cli_json_str(f, clseg_model_network_name(r->model));
    fputs(",\n  \"images\": ", f);
    cli_json_str(f, r->o.images);
    fputs(",\n  \"labels\": ", f);
    if (r->o.labels)
        cli_json_str(f, r->o.labels);
    else
        fputs("null", f);
    fprintf(f, ",\n  \"ignore_index\": %d,\n  \"frames\": [", r->o.ignore);
    for (int i = 0; i < r->n_frames; i++) {
        fputs(i ? ", " : "", f);
        cli_json_str(f, r->frames[i].name);
    }
    fprintf(f,
            "],\n  \"thresholds\": {\"logit_error_rel\": %g, \"label_agreement\": %g, "
            "\"layers\": %s},\n  \"reference\": {\"forward_ms\": ",
            LOGIT_TOL, LABEL_AGREE, r->o.layers ? "\"op tolerance\"" : "null");
    cli_json_num(f, r->n_frames ? r->ref_ms / r->n_frames : NAN);
    fputs(", \"miou\": ", f);
    cli_json_num(f, r->ref_metrics ? r->ref_metrics->miou : NAN);
    fputs("},\n  \"devices\": [\n", f);
    for (int d = 0; d < r->n_dev; d++) {
        json_device(f, r, d);
        fputs(d + 1 < r->n_dev ? ",\n" : "\n", f);
    }
    fputs("  ],\n  \"label_agreement\": {\"ids\": [\"reference\"", f);
    for (int d = 0; d < r->n_dev; d++) {
        fputs(", ", f);
        cli_json_str(f, *r->dev[d].id ? r->dev[d].id : r->dev[d].selector);
    }
    fputs("], \"matrix\": [", f);
    for (int a = 0; a <= r->n_dev; a++) {
        fputs(a ? ", [" : "[", f);
        for (int b = 0; b <= r->n_dev; b++) {
            fputs(b ? ", " : "", f);
            cli_json_num(f, r->agree[a][a] && r->agree[b][b] ? agreement(r, a, b) : NAN);
        }
        fputs("]", f);
    }
    fprintf(f, "]},\n  \"agree\": %s\n}\n", all_agree(r) ? "true" : "false");
}

static void write_md(FILE *f, const compare_run *r) {
    fprintf(f, "## clseg compare: %s\n\n", clseg_model_network_name(r->model));
    fprintf(f,
            "Model `%s`, %d frame%s from `%s`; C reference %.0f ms per frame. A device agrees "
            "when max |logit error| / max |logit| <= %g and its labels match the reference's "
            "on >= %g%% of pixels%s.\n\n",
            r->o.model, r->n_frames, r->n_frames == 1 ? "" : "s", r->o.images,
            r->n_frames ? r->ref_ms / r->n_frames : 0, LOGIT_TOL, 100 * LABEL_AGREE,
            r->o.layers ? ", and every layer is within its op's tolerance" : "");
    fprintf(f, "| id | device | driver | forward ms | max abs logit error / max logit | labels = "
               "reference | mIoU | verdict |\n|---|---|---|---:|---:|---:|---:|---|\n");
    if (r->ref_metrics)
        fprintf(f, "| ref | C reference (host) | | | | | %.2f | |\n", r->ref_metrics->miou);
    for (int d = 0; d < r->n_dev; d++) {
        const device_run *dv = &r->dev[d];
        char plat[300], why[128], agree[32], miou[32] = "–";
        departure_reason(r, dv, d, why, sizeof why);
        if (*dv->error) {
            fprintf(f, "| %s | %s | | | | | | failed: %s |\n", *dv->id ? dv->id : dv->selector,
                    dv->info.name, dv->error);
            continue;
        }
        platform_label(&dv->info, plat, sizeof plat);
        fmt_pct(agreement(r, d + 1, 0), agree, sizeof agree);
        if (dv->metrics) snprintf(miou, sizeof miou, "%.2f", dv->metrics->miou);
        fprintf(f, "| %s | %s | %s | %.1f | %.2e | %s | %s | %s%s |\n", dv->id, dv->info.name, plat,
                dv->frames ? dv->forward_ms / dv->frames : 0, dv->logit_rel, agree, miou,
                dv->agrees ? "agrees" : "**departs**: ", why);
    }
    if (r->n_dev > 1 && r->pixels) {
        fprintf(f, "\nLabel agreement, %% of pixels:\n\n| | reference |");
        for (int d = 0; d < r->n_dev; d++) fprintf(f, " %s |", r->dev[d].id);
        fprintf(f, "\n|---|");
        for (int d = 0; d <= r->n_dev; d++) fprintf(f, "---:|");
        fprintf(f, "\n");
        for (int a = 0; a <= r->n_dev; a++) {
            fprintf(f, "| %s |", a ? r->dev[a - 1].id : "reference");
            for (int b = 0; b <= r->n_dev; b++) {
                if (r->agree[a][a] == 0 || r->agree[b][b] == 0)
                    fprintf(f, " – |");
                else
                    fprintf(f, " %.3f |", 100 * agreement(r, a, b));
            }
            fprintf(f, "\n");
        }
    }
    for (int d = 0; r->o.layers && d < r->n_dev; d++) {
        const device_run *dv = &r->dev[d];
        if (*dv->error || !dv->frames) continue;
        fprintf(f, "\nLayers on %s %s (ratio = max |error| / tolerance; above 1 departs):\n\n",
                dv->id, dv->info.name);
        fprintf(f, "| # | layer | op | variant | params | max abs error | tolerance | ratio | "
                   "beyond |\n|---:|---|---|---|---|---:|---|---:|---:|\n");
        for (int i = 0; i < dv->n_layers; i++) {
            const clseg_layer_check *c = &dv->layers[i];
            char tol[64] = "exact";
            if (c->atol > 0 || c->rtol > 0)
                snprintf(tol, sizeof tol, "%.2g + %.2g·\\|ref\\|", c->atol, c->rtol);
            fprintf(f, "| %d | %s | %s | %s | %s | %.2e | %s | %.3g | %llu%s |\n", i, c->info.name,
                    c->info.op, c->info.variant, c->info.params, c->max_abs_error, tol,
                    c->worst_ratio, (unsigned long long)c->failures, c->pass ? "" : " **departs**");
        }
    }
    int first = 1;
    for (int d = 0; d < r->n_dev; d++) {
        if (r->dev[d].first_departure < 0) continue;
        char line[2048];
        departure_line(r, &r->dev[d], line, sizeof line);
        fprintf(f, "%s- %s\n", first ? "\nFirst departures:\n\n" : "", line);
        first = 0;
    }
}

/* Writes a report (JSON or Markdown) to path atomically. */
static int write_report(const char *path, const compare_run *r,
                        void (*write)(FILE *, const compare_run *)) {
    char *buf = NULL, err[1024];
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    if (!f) return cli_error("%s: out of memory", path);
    write(f, r);
    fclose(f);
    clseg_status st = clseg_write_file_atomic(path, buf, size, err, sizeof err);
    free(buf);
    if (st != CLSEG_OK) return cli_error("%s", err);
    fprintf(stderr, "compare: wrote %s\n", path);
    return EXIT_OK;
}

/* ---- command line -----------------------------------------------------------------------------
 */

static int parse_options(int argc, char **argv, opts *o) {
    static const struct option longs[] = {{"model", required_argument, 0, 'm'},
                                          {"device", required_argument, 0, 'd'},
                                          {"images", required_argument, 0, 'i'},
                                          {"labels", required_argument, 0, 'l'},
                                          {"ignore", required_argument, 0, 'g'},
                                          {"layers", no_argument, 0, 'L'},
                                          {"json", required_argument, 0, 'j'},
                                          {"md", required_argument, 0, 'k'},
                                          {"db", required_argument, 0, 'b'},
                                          {"help", no_argument, 0, 'h'},
                                          {0, 0, 0, 0}};
    optind = 1;
    opterr = 0;
    o->ignore = -1;
    o->device = "all";
    int c;
    long v;
    while ((c = getopt_long(argc, argv, ":m:d:i:l:g:j:k:b:h", longs, NULL)) != -1) {
        switch (c) {
        case 'm':
            o->model = optarg;
            break;
        case 'd':
            o->device = optarg;
            break;
        case 'i':
            o->images = optarg;
            break;
        case 'l':
            o->labels = optarg;
            break;
        case 'g':
            if (!cli_parse_int(optarg, -1, 255, &v))
                return cli_usage_error("compare",
                                       "--ignore must be an integer in -1..255, not '%s'", optarg);
            o->ignore = (int)v;
            break;
        case 'L':
            o->layers = 1;
            break;
        case 'j':
            o->json = optarg;
            break;
        case 'k':
            o->md = optarg;
            break;
        case 'b':
            o->db = optarg;
            break;
        case 'h':
            help();
            return -1;
        case ':':
            return cli_usage_error("compare", "option '%s' needs a value", argv[optind - 1]);
        default:
            return cli_usage_error("compare", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) return cli_usage_error("compare", "unexpected argument '%s'", argv[optind]);
    if (!o->model) return cli_usage_error("compare", "--model is required");
    if (!*o->device) return cli_usage_error("compare", "--device is empty");
    if (!o->images) {
        const char *slash = strrchr(o->model, '/');
        int dir = slash ? (int)(slash - o->model) : 1;
        snprintf(o->images_default, sizeof o->images_default, "%.*s/samples", dir,
                 slash ? o->model : ".");
        o->images = o->images_default;
    }
    size_t off = (size_t)snprintf(o->command, sizeof o->command, "clseg");
    for (int i = 0; i < argc && off < sizeof o->command; i++)
        off += (size_t)snprintf(o->command + off, sizeof o->command - off, " %s", argv[i]);
    return EXIT_OK;
}

int cmd_compare(int argc, char **argv) {
    compare_run *r = calloc(1, sizeof *r);
    if (!r) return cli_error("out of memory");
    int rc = parse_options(argc, argv, &r->o);
    if (rc != EXIT_OK) {
        free(r);
        return rc < 0 ? EXIT_OK : rc;
    }
    char err[2048];
    rc = EXIT_FAILURE_RUN;
    if ((rc = select_devices(r)) != EXIT_OK) goto done;
    rc = EXIT_FAILURE_RUN;
    if (clseg_model_load(&r->model, r->o.model, err, sizeof err) != CLSEG_OK) {
        cli_error("%s", err);
        goto done;
    }
    if (!list_frames(r->o.images, r->o.labels, &r->frames, &r->n_frames)) goto done;
    if (r->o.labels && clseg_metrics_create(&r->ref_metrics, r->model, r->o.ignore, "C reference",
                                            err, sizeof err) != CLSEG_OK) {
        cli_error("%s", err);
        goto done;
    }
    for (int d = 0; d < r->n_dev; d++) {
        open_device(r, &r->dev[d]);
        if (*r->dev[d].error)
            fprintf(stderr, "compare: %s: %s\n", r->dev[d].selector, r->dev[d].error);
        else
            fprintf(stderr, "compare: %s is %s (%s)\n", r->dev[d].id, r->dev[d].info.name,
                    r->dev[d].info.platform_name);
    }
    for (int i = 0; i < r->n_frames; i++)
        if (!run_frame(r, i)) goto done;
    for (int d = 0; d < r->n_dev; d++) decide(r, &r->dev[d], d);
    print_text(r);
    rc = all_agree(r) ? EXIT_OK : EXIT_FAILURE_RUN;
    if (r->o.json && write_report(r->o.json, r, write_json) != EXIT_OK) rc = EXIT_FAILURE_RUN;
    if (r->o.md && write_report(r->o.md, r, write_md) != EXIT_OK) rc = EXIT_FAILURE_RUN;
done:
    for (int d = 0; d < r->n_dev; d++) close_device(&r->dev[d]);
    clseg_metrics_free(r->ref_metrics);
    clseg_model_free(r->model);
    free(r->frames);
    free(r);
    return rc;
}
