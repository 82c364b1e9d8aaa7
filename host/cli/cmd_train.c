/* cmd_train.c - `clseg train`: trains a model on the device from a directory of images and label
   PNGs, validates after every epoch, keeps the best model and writes resumable checkpoints. */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "net/model.h"
#include "net/plan.h"
#include "train/checkpoint.h"
#include "train/evaluate.h"
#include "train/loader.h"
#include "train/progress.h"

static void help(void) {
    printf(
        "usage: clseg train --spec SPEC.cfg --classes FILE|K --train-images DIR --train-labels "
        "DIR\n"
        "                   --epochs E --out MODEL.clsm [options]\n"
        "       clseg train --resume CKPT --train-images DIR --train-labels DIR --epochs E\n"
        "                   --out MODEL.clsm [options]           (same options as the first run)\n"
        "       clseg train --spec SPEC.cfg --classes K --batch B --crop WxH --benchmark-steps "
        "N\n\n"
        "Trains on the OpenCL device: per-pixel softmax cross-entropy averaged over the labelled\n"
        "pixels of the minibatch, BatchNorm on batch statistics, loading and augmentation (random\n"
        "scale, crop and horizontal flip) on a separate thread. After every epoch the model is\n"
        "scored on the validation set (mIoU, ignore index excluded) and the best one is written\n"
        "to --out; a checkpoint (weights, optimiser state, position) is written every epoch.\n"
        "The same seed gives the same run, and a resumed run continues the same loss curve.\n\n"
        "Data:\n"
        "  --train-images DIR, --train-labels DIR   RGB PNGs and 8-bit gray label PNGs with\n"
        "                     the same file names (label = class index)\n"
        "  --val-images DIR, --val-labels DIR       validation set (optional)\n"
        "  --val-every N      validate every N epochs (and after the last; default 1)\n"
        "  --classes FILE|K   number of classes, or a file with one class per line: 'name' or\n"
        "                     'name R G B' (K = 12 uses CamVid's names and colours)\n"
        "  --ignore I         label excluded from loss and metrics (CamVid: 11); default none\n"
        "  --crop WxH         training crop (default: the first image's size)\n"
        "  --scale MIN,MAX    random scale range (default 0.75,1.25; 1,1 = off)\n"
        "  --no-flip          no random horizontal flips\n"
        "  --jitter B,C,S     colour jitter: brightness, contrast and saturation scaled by\n"
        "                     factors in [1-B,1+B], ... (default 0,0,0 = off)\n"
        "  --class-crop P     with probability P, place the crop on a pixel of a class drawn\n"
        "                     uniformly from those in the image (small classes; default 0)\n"
        "Model:\n"
        "  --spec FILE        network description; weights He-initialised from --seed\n"
        "  --init MODEL.clsm  start from this model's weights (fresh optimiser)\n"
        "  --resume CKPT      continue a run from its checkpoint\n"
        "Optimisation:\n"
        "  --epochs E         epochs in the whole run (required)\n"
        "  --batch B          images per step (default 4)\n"
        "  --optimizer adam|sgd      default adam (AdamW: decoupled weight decay)\n"
        "  --lr LR            base learning rate (default 1e-3 adam, 1e-2 sgd)\n"
        "  --momentum M       SGD momentum (default 0.9)\n"
        "  --weight-decay WD  conv weights only (default 1e-4 adam, 5e-4 sgd)\n"
        "  --schedule const|step|poly|cosine       per step (default poly)\n"
        "  --lr-step N, --lr-gamma G   step: lr * G every N epochs (default E/3, 0.1)\n"
        "  --poly-power P     poly exponent (default 0.9)\n"
        "  --warmup-steps N   linear warm-up over the first N steps (default 0)\n"
        "  --class-weights median-freq|w0,w1,...  per-class loss weights (default all 1)\n"
        "  --seed S           initialisation, shuffling and augmentation (default 1)\n"
        "Output:\n"
        "  --out FILE         best model by validation mIoU (the last one without --val-*)\n"
        "  --checkpoint FILE  checkpoint file (default OUT.ckpt), written atomically\n"
        "  --checkpoint-every N   also every N steps\n"
        "  --loss-log FILE    append 'epoch step global_step loss lr' per step\n"
        "  --stop-at-step N   stop after global step N with a checkpoint (as if interrupted)\n"
        "  --device SEL       OpenCL device (default $CLSEG_DEVICE, else first GPU)\n"
        "  --db FILE          tuning database from 'clseg tune' (default $CLSEG_TUNING_DB, else\n"
        "                     tuning.db in the cache directory)\n"
        "  --benchmark-steps N   time N training steps on random data and exit\n"
        "  -h, --help         this text\n");
}

enum {
    O_SPEC = 256,
    O_TRAIN_IMAGES,
    O_TRAIN_LABELS,
    O_VAL_IMAGES,
    O_VAL_LABELS,
    O_CLASSES,
    O_IGNORE,
    O_EPOCHS,
    O_BATCH,
    O_CROP,
    O_SCALE,
    O_NO_FLIP,
    O_LR,
    O_OPTIMIZER,
    O_MOMENTUM,
    O_WD,
    O_SCHEDULE,
    O_LR_STEP,
    O_LR_GAMMA,
    O_POLY_POWER,
    O_WARMUP,
    O_CLASS_WEIGHTS,
    O_SEED,
    O_DEVICE,
    O_OUT,
    O_CHECKPOINT,
    O_CHECKPOINT_EVERY,
    O_RESUME,
    O_INIT,
    O_LOSS_LOG,
    O_STOP_AT,
    O_BENCH,
    O_VAL_EVERY,
    O_DB,
    O_JITTER,
    O_CLASS_CROP,
};

typedef struct args {
    const char *spec, *train_images, *train_labels, *val_images, *val_labels, *classes;
    const char *device, *db, *out, *checkpoint, *resume, *init, *loss_log, *class_weights;
    long ignore, epochs, batch, seed, checkpoint_every, stop_at, bench, lr_step, warmup, val_every;
    int crop_w, crop_h, flip;
    double lr, momentum, wd, gamma, power, scale_min, scale_max, class_crop;
    double jitter[3];
    optim_kind optimizer;
    lr_schedule schedule;
} args;

static int parse_double(const char *s, double lo, double hi, double *out) {
    char *end;
    if (!s || !*s) return 0;
    double v = strtod(s, &end);
    if (*end || !isfinite(v) || v < lo || v > hi) return 0;
    *out = v;
    return 1;
}

static int parse_args(int argc, char **argv, args *a) {
    static const struct option opts[] = {
        {"spec", required_argument, 0, O_SPEC},
        {"train-images", required_argument, 0, O_TRAIN_IMAGES},
        {"train-labels", required_argument, 0, O_TRAIN_LABELS},
        {"val-images", required_argument, 0, O_VAL_IMAGES},
        {"val-labels", required_argument, 0, O_VAL_LABELS},
        {"classes", required_argument, 0, O_CLASSES},
        {"ignore", required_argument, 0, O_IGNORE},
        {"epochs", required_argument, 0, O_EPOCHS},
        {"batch", required_argument, 0, O_BATCH},
        {"crop", required_argument, 0, O_CROP},
        {"scale", required_argument, 0, O_SCALE},
        {"no-flip", no_argument, 0, O_NO_FLIP},
        {"lr", required_argument, 0, O_LR},
        {"optimizer", required_argument, 0, O_OPTIMIZER},
        {"momentum", required_argument, 0, O_MOMENTUM},
        {"weight-decay", required_argument, 0, O_WD},
        {"schedule", required_argument, 0, O_SCHEDULE},
        {"lr-step", required_argument, 0, O_LR_STEP},
        {"lr-gamma", required_argument, 0, O_LR_GAMMA},
        {"poly-power", required_argument, 0, O_POLY_POWER},
        {"warmup-steps", required_argument, 0, O_WARMUP},
        {"class-weights", required_argument, 0, O_CLASS_WEIGHTS},
        {"seed", required_argument, 0, O_SEED},
        {"device", required_argument, 0, O_DEVICE},
        {"out", required_argument, 0, O_OUT},
        {"checkpoint", required_argument, 0, O_CHECKPOINT},
        {"checkpoint-every", required_argument, 0, O_CHECKPOINT_EVERY},
        {"resume", required_argument, 0, O_RESUME},
        {"init", required_argument, 0, O_INIT},
        {"loss-log", required_argument, 0, O_LOSS_LOG},
        {"stop-at-step", required_argument, 0, O_STOP_AT},
        {"benchmark-steps", required_argument, 0, O_BENCH},
        {"val-every", required_argument, 0, O_VAL_EVERY},
        {"db", required_argument, 0, O_DB},
        {"jitter", required_argument, 0, O_JITTER},
        {"class-crop", required_argument, 0, O_CLASS_CROP},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    memset(a, 0, sizeof *a);
    a->ignore = -1;
    a->batch = 4;
    a->seed = 1;
    a->flip = 1;
    a->val_every = 1;
    a->lr = a->wd = -1;
    a->momentum = 0.9;
    a->gamma = 0.1;
    a->power = 0.9;
    a->scale_min = 0.75;
    a->scale_max = 1.25;
    a->optimizer = OPTIM_ADAM;
    a->schedule = SCHED_POLY;
    optind = 1;
    opterr = 0;
    int c;
    const char *cmd = "train";
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        const char *v = optarg;
        switch (c) {
        case O_SPEC:
            a->spec = v;
            break;
        case O_TRAIN_IMAGES:
            a->train_images = v;
            break;
        case O_TRAIN_LABELS:
            a->train_labels = v;
            break;
        case O_VAL_IMAGES:
            a->val_images = v;
            break;
        case O_VAL_LABELS:
            a->val_labels = v;
            break;
        case O_CLASSES:
            a->classes = v;
            break;
        case O_DEVICE:
            a->device = v;
            break;
        case O_DB:
            a->db = v;
            break;
        case O_OUT:
            a->out = v;
            break;
        case O_CHECKPOINT:
            a->checkpoint = v;
            break;
        case O_RESUME:
            a->resume = v;
            break;
        case O_INIT:
            a->init = v;
            break;
        case O_LOSS_LOG:
            a->loss_log = v;
            break;
        case O_CLASS_WEIGHTS:
            a->class_weights = v;
            break;
        case O_NO_FLIP:
            a->flip = 0;
            break;
        case O_IGNORE:
            if (!cli_parse_int(v, -1, 255, &a->ignore))
                return cli_usage_error(cmd, "--ignore must be an integer in -1..255, not '%s'", v);
            break;
        case O_EPOCHS:
            if (!cli_parse_int(v, 1, 1000000, &a->epochs))
                return cli_usage_error(cmd, "--epochs must be a positive integer, not '%s'", v);
            break;
        case O_BATCH:
            if (!cli_parse_int(v, 1, 4096, &a->batch))
                return cli_usage_error(cmd, "--batch must be an integer in 1..4096, not '%s'", v);
            break;
        case O_SEED:
            if (!cli_parse_int(v, 0, 0x7fffffffL, &a->seed))
                return cli_usage_error(cmd, "--seed must be a non-negative integer, not '%s'", v);
            break;
        case O_CHECKPOINT_EVERY:
            if (!cli_parse_int(v, 0, 0x7fffffffL, &a->checkpoint_every))
                return cli_usage_error(cmd, "--checkpoint-every must be a step count, not '%s'", v);
            break;
        case O_STOP_AT:
            if (!cli_parse_int(v, 1, 0x7fffffffL, &a->stop_at))
                return cli_usage_error(cmd, "--stop-at-step must be a positive step, not '%s'", v);
            break;
        case O_BENCH:
            if (!cli_parse_int(v, 1, 100000, &a->bench))
                return cli_usage_error(cmd, "--benchmark-steps must be positive, not '%s'", v);
            break;
        case O_VAL_EVERY:
            if (!cli_parse_int(v, 1, 1000000, &a->val_every))
                return cli_usage_error(cmd, "--val-every must be a positive epoch count, not '%s'",
                                       v);
            break;
        case O_LR_STEP:
            if (!cli_parse_int(v, 1, 1000000, &a->lr_step))
                return cli_usage_error(cmd, "--lr-step must be a positive epoch count, not '%s'",
                                       v);
            break;
        case O_WARMUP:
            if (!cli_parse_int(v, 0, 0x7fffffffL, &a->warmup))
                return cli_usage_error(cmd, "--warmup-steps must be a step count, not '%s'", v);
            break;
        case O_CROP: {
            long w, h;
            char wb[32], hb[32];
            const char *x = strchr(v, 'x');
            if (!x || x - v >= (long)sizeof wb || strlen(x + 1) >= sizeof hb)
                return cli_usage_error(cmd, "--crop must be WxH, not '%s'", v);
            memcpy(wb, v, (size_t)(x - v));
            wb[x - v] = 0;
            strcpy(hb, x + 1);
            if (!cli_parse_int(wb, 1, CLSEG_MAX_DIM, &w) ||
                !cli_parse_int(hb, 1, CLSEG_MAX_DIM, &h))
                return cli_usage_error(cmd, "--crop must be WxH, not '%s'", v);
            a->crop_w = (int)w;
            a->crop_h = (int)h;
            break;
        }
        case O_SCALE: {
            char buf[64];
            snprintf(buf, sizeof buf, "%s", v);
            char *comma = strchr(buf, ',');
            if (comma) *comma = 0;
            if (!comma || !parse_double(buf, 0.05, 20, &a->scale_min) ||
                !parse_double(comma + 1, a->scale_min, 20, &a->scale_max))
                return cli_usage_error(cmd,
                                       "--scale must be MIN,MAX with 0.05 <= MIN <= MAX, "
                                       "not '%s'",
                                       v);
            break;
        }
        case O_JITTER: {
            char buf[96], *field = buf;
            snprintf(buf, sizeof buf, "%s", v);
            int ok = 1;
            for (int k = 0; k < 3 && ok; k++) {
                char *comma = strchr(field, ',');
                if ((k < 2) != (comma != NULL)) ok = 0;
                if (comma) *comma = 0;
                ok = ok && parse_double(field, 0, 0.9, &a->jitter[k]);
                if (comma) field = comma + 1;
            }
            if (!ok)
                return cli_usage_error(cmd,
                                       "--jitter must be BRIGHTNESS,CONTRAST,SATURATION, each in "
                                       "[0, 0.9], not '%s'",
                                       v);
            break;
        }
        case O_CLASS_CROP:
            if (!parse_double(v, 0, 1, &a->class_crop))
                return cli_usage_error(cmd,
                                       "--class-crop must be a probability in [0, 1], not '%s'", v);
            break;
        case O_LR:
            if (!parse_double(v, 1e-12, 1e30, &a->lr))
                return cli_usage_error(cmd, "--lr must be a positive number, not '%s'", v);
            break;
        case O_MOMENTUM:
            if (!parse_double(v, 0, 0.9999, &a->momentum))
                return cli_usage_error(cmd, "--momentum must be in [0, 1), not '%s'", v);
            break;
        case O_WD:
            if (!parse_double(v, 0, 1, &a->wd))
                return cli_usage_error(cmd, "--weight-decay must be in [0, 1], not '%s'", v);
            break;
        case O_LR_GAMMA:
            if (!parse_double(v, 0, 1, &a->gamma))
                return cli_usage_error(cmd, "--lr-gamma must be in [0, 1], not '%s'", v);
            break;
        case O_POLY_POWER:
            if (!parse_double(v, 0, 100, &a->power))
                return cli_usage_error(cmd, "--poly-power must be in [0, 100], not '%s'", v);
            break;
        case O_OPTIMIZER:
            if (!strcmp(v, "adam"))
                a->optimizer = OPTIM_ADAM;
            else if (!strcmp(v, "sgd"))
                a->optimizer = OPTIM_SGD;
            else
                return cli_usage_error(cmd, "--optimizer must be adam or sgd, not '%s'", v);
            break;
        case O_SCHEDULE: {
            static const char *const names[] = {"const", "step", "poly", "cosine"};
            int found = -1;
            for (int i = 0; i < 4; i++)
                if (!strcmp(v, names[i])) found = i;
            if (found < 0)
                return cli_usage_error(cmd,
                                       "--schedule must be const, step, poly or cosine, "
                                       "not '%s'",
                                       v);
            a->schedule = (lr_schedule)found;
            break;
        }
        case 'h':
            help();
            return -1;
        case ':':
            return cli_usage_error(cmd, "option '%s' needs a value", argv[optind - 1]);
        default:
            return cli_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (a->lr < 0) a->lr = a->optimizer == OPTIM_ADAM ? 1e-3 : 1e-2;
    if (a->wd < 0) a->wd = a->optimizer == OPTIM_ADAM ? 1e-4 : 5e-4;
    if (a->bench) {
        if (!a->spec && !a->init)
            return cli_usage_error(cmd, "--benchmark-steps needs --spec (or --init)");
        if (!a->crop_w) return cli_usage_error(cmd, "--benchmark-steps needs --crop");
        return 0;
    }
    if (!a->train_images || !a->train_labels)
        return cli_usage_error(cmd, "--train-images and --train-labels are required");
    if (!a->val_images != !a->val_labels)
        return cli_usage_error(cmd, "--val-images and --val-labels go together");
    if (!a->epochs) return cli_usage_error(cmd, "--epochs is required");
    if (!a->out) return cli_usage_error(cmd, "--out is required");
    if (a->resume && a->init) return cli_usage_error(cmd, "use either --resume or --init");
    if (a->init && a->spec) return cli_usage_error(cmd, "use either --spec or --init");
    if (!a->resume && !a->init && !a->spec)
        return cli_usage_error(cmd, "--spec (or --init, or --resume) is required");
    if (a->spec && !a->resume && !a->classes)
        return cli_usage_error(cmd, "--classes is required with --spec");
    return 0;
}

/* --classes: K, or a file of "name [R G B]" lines. */
static int load_classes(const char *arg, int *k, char ***names, uint8_t (**palette)[3]) {
    long v;
    *names = NULL;
    *palette = NULL;
    if (cli_parse_int(arg, 1, MODEL_MAX_CLASSES, &v)) {
        *k = (int)v;
        return 1;
    }
    char err[512];
    uint8_t *text;
    size_t size;
    if (clseg_read_file(arg, 1 << 20, &text, &size, err, sizeof err) != CLSEG_OK) {
        cli_error("--classes: not a number, and %s", err);
        return 0;
    }
    char **nm = calloc(MODEL_MAX_CLASSES, sizeof *nm);
    uint8_t(*pal)[3] = calloc(MODEL_MAX_CLASSES, 3);
    int n = 0, colours = 0, ok = nm && pal, line_no = 0;
    for (char *line = strtok((char *)text, "\n"); ok && line; line = strtok(NULL, "\n")) {
        line_no++;
        char *hash = strchr(line, '#');
        if (hash) *hash = 0;
        char name[MODEL_CLASS_NAME_MAX];
        int r, g, b, got = sscanf(line, "%63s %d %d %d", name, &r, &g, &b);
        if (got <= 0) continue;
        if (n == MODEL_MAX_CLASSES || (got != 1 && got != 4) ||
            (got == 4 && (r < 0 || r > 255 || g < 0 || g > 255 || b < 0 || b > 255))) {
            cli_error("%s: line %d: expected 'name' or 'name R G B' (at most %d classes)", arg,
                      line_no, MODEL_MAX_CLASSES);
            ok = 0;
            break;
        }
        nm[n] = strdup(name);
        if (got == 4) {
            pal[n][0] = (uint8_t)r;
            pal[n][1] = (uint8_t)g;
            pal[n][2] = (uint8_t)b;
            colours++;
        }
        ok = nm[n++] != NULL;
    }
    free(text);
    if (ok && n == 0) {
        cli_error("%s: no classes", arg);
        ok = 0;
    }
    if (ok && colours && colours != n) {
        cli_error("%s: give a colour for every class or for none", arg);
        ok = 0;
    }
    if (!ok) {
        for (int i = 0; nm && i < n; i++) free(nm[i]);
        free(nm);
        free(pal);
        return 0;
    }
    *k = n;
    *names = nm;
    if (colours)
        *palette = pal;
    else
        free(pal);
    return 1;
}

static clseg_model *build_model(const args *a, clseg_model **out) {
    char err[1024];
    *out = NULL;
    if (a->init) {
        long k;
        if (clseg_model_load(out, a->init, err, sizeof err) != CLSEG_OK) {
            cli_error("%s", err);
        } else if (a->classes && (!cli_parse_int(a->classes, 1, 255, &k) || k != (*out)->classes)) {
            cli_error("--classes %s does not match the %d classes of %s", a->classes,
                      (*out)->classes, a->init);
            clseg_model_free(*out);
            *out = NULL;
        }
        return *out;
    }
    int k = 0;
    char **names = NULL;
    uint8_t(*palette)[3] = NULL;
    if (!load_classes(a->classes, &k, &names, &palette)) return NULL;
    uint8_t *text;
    size_t size;
    if (clseg_read_file(a->spec, 1 << 20, &text, &size, err, sizeof err) != CLSEG_OK) {
        cli_error("%s", err);
    } else {
        if (model_init((const char *)text, k, (uint64_t)a->seed, (const char *const *)names,
                       (const uint8_t(*)[3])palette, out, err, sizeof err) != CLSEG_OK)
            cli_error("%s: %s", a->spec, err);
        free(text);
    }
    for (int i = 0; names && i < k; i++) free(names[i]);
    free(names);
    free(palette);
    return *out;
}

/* ---- benchmark ----------------------------------------------------------------------------- */

static int cmp_double(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

static int run_benchmark(const args *a) {
    clseg_model *model = NULL;
    if (!build_model(a, &model)) return EXIT_FAILURE_RUN;
    trainer_config cfg = {
        (int)a->batch,  a->crop_h, a->crop_w,
        (int)a->ignore, NULL,      {a->optimizer, a->lr, a->momentum, a->wd, 0.9, 0.999, 1e-8}};
    clseg_context *ctx = NULL;
    trainer *t = NULL;
    int rc = EXIT_FAILURE_RUN;
    size_t px = (size_t)a->batch * a->crop_w * a->crop_h;
    float *x = malloc(px * (size_t)model->channels * sizeof *x);
    int32_t *y = malloc(px * sizeof *y);
    double *ms = calloc((size_t)a->bench, sizeof *ms);
    if (!x || !y || !ms) {
        cli_error("out of memory");
        goto done;
    }
    uint64_t s = (uint64_t)a->seed;
    for (size_t i = 0; i < px * (size_t)model->channels; i++)
        x[i] = (float)(rng_uniform(&s) * 4.0 - 2.0);
    for (size_t i = 0; i < px; i++) y[i] = (int32_t)(rng_uniform(&s) * model->classes);
    if (!cli_open_tuned_context(a->device, a->db, 0, &ctx)) goto done;
    double t0 = clseg_now_ms();
    if (trainer_create(&t, ctx, model, &cfg) != CLSEG_OK) {
        cli_error("%s", clseg_context_error(ctx));
        goto done;
    }
    double setup_ms = clseg_now_ms() - t0;
    /* Forward FLOPs from the plan; a training step is about three times that (forward, data
       gradient, weight gradient). */
    layer_step *steps = calloc(SPEC_MAX_LAYERS, sizeof *steps);
    double gflop = 0;
    shape4 in = {(int)a->batch, model->channels, a->crop_h, a->crop_w};
    char err[512];
    if (steps && net_plan(&model->spec, model->classes, in, steps, err, sizeof err) == CLSEG_OK)
        for (int i = 0; i < model->spec.n_layers; i++) {
            shape4 xs = steps[i].in[0] == SPEC_INPUT ? in : steps[steps[i].in[0]].out;
            if (steps[i].op == OP_CONV2D) gflop += conv2d_flops(xs, &steps[i].p.conv) / 1e9;
            if (steps[i].op == OP_DECONV2D) gflop += deconv2d_flops(xs, &steps[i].p.deconv) / 1e9;
        }
    free(steps);
    step_stats st;
    /* One warm-up step (first launches), then the timed ones; updates are applied, as in real
       training. */
    for (long i = -1; i < a->bench; i++) {
        double t1 = clseg_now_ms();
        if (trainer_step(t, x, y, a->lr, 1, &st) != CLSEG_OK || ctx_finish(ctx) != CLSEG_OK) {
            cli_error("%s", clseg_context_error(ctx));
            goto done;
        }
        if (i >= 0) ms[i] = clseg_now_ms() - t1;
        fprintf(stderr, "step %ld: %.1f ms, loss %.4f\n", i + 1, clseg_now_ms() - t1, st.loss);
    }
    /* One more step with a wait after every op: where the time goes. */
    double kind_ms[OP_KIND_COUNT + 1] = {0};
    trainer_profile(t, kind_ms);
    double tp = clseg_now_ms();
    if (trainer_step(t, x, y, a->lr, 1, &st) != CLSEG_OK) {
        cli_error("%s", clseg_context_error(ctx));
        goto done;
    }
    tp = clseg_now_ms() - tp;
    trainer_profile(t, NULL);
    qsort(ms, (size_t)a->bench, sizeof *ms, cmp_double);
    const clseg_device_info *dev = clseg_context_device(ctx);
    double med = ms[a->bench / 2];
    printf("train step: %s batch %ld, %dx%d crops, %s on %s\n", model->spec.name, a->batch,
           a->crop_w, a->crop_h, optim_name(a->optimizer), dev->name);
    printf("  median %.1f ms (min %.1f, max %.1f) over %ld steps = %.2f images/s\n", med, ms[0],
           ms[a->bench - 1], a->bench, a->batch * 1000.0 / med);
    printf("  forward %.1f GFLOP, step ~%.1f GFLOP (3x) = ~%.1f GFLOP/s\n", gflop, 3 * gflop,
           3 * gflop / (med / 1000.0));
    printf("  set-up (allocation, kernel compile or cache) %.0f ms, device memory %.1f MiB\n",
           setup_ms, trainer_device_bytes(t) / 1048576.0);
    printf("  one profiled step (a wait after every op) %.1f ms:\n", tp);
    for (int k = 0; k <= OP_KIND_COUNT; k++)
        if (kind_ms[k] > 0)
            printf("    %-22s %9.1f ms %5.1f%%\n",
                   k < OP_KIND_COUNT ? op_kind_name((op_kind)k) : "optimizer+grad check",
                   kind_ms[k], 100 * kind_ms[k] / tp);
    rc = EXIT_OK;
done:
    trainer_free(t);
    clseg_context_free(ctx);
    clseg_model_free(model);
    free(x);
    free(y);
    free(ms);
    return rc;
}

/* ---- training ------------------------------------------------------------------------------ */

static void config_text(const args *a, int classes, int crop_w, int crop_h, const float *weights,
                        int n_train, char *buf, size_t len) {
    size_t o = 0;
    o += (size_t)snprintf(buf + o, len - o,
                          "seed %ld\nbatch %ld\ncrop %dx%d\nscale %.9g,%.9g\nflip %d\n"
                          "optimizer %s\nlr %.17g\nmomentum %.17g\nweight_decay %.17g\n"
                          "schedule %s\nlr_step %ld\nlr_gamma %.17g\npoly_power %.17g\n"
                          "warmup_steps %ld\nepochs %ld\nclasses %d\nignore %ld\n"
                          "train_images %d\njitter %.9g,%.9g,%.9g\nclass_crop %.9g\n"
                          "class_weights ",
                          a->seed, a->batch, crop_w, crop_h, a->scale_min, a->scale_max, a->flip,
                          optim_name(a->optimizer), a->lr, a->momentum, a->wd,
                          schedule_name(a->schedule), a->lr_step, a->gamma, a->power, a->warmup,
                          a->epochs, classes, a->ignore, n_train, a->jitter[0], a->jitter[1],
                          a->jitter[2], a->class_crop);
    for (int c = 0; c < classes && o < len; c++)
        o += (size_t)snprintf(buf + o, len - o, "%s%.9g", c ? "," : "",
                              weights ? (double)weights[c] : 1.0);
    if (o < len) snprintf(buf + o, len - o, "\n");
}

/* NULL on failure, with *usage set when the option itself is malformed. */
static float *class_weights(const args *a, const dataset *ds, int classes, int *usage) {
    float *w = calloc((size_t)classes, sizeof *w);
    if (!w) return NULL;
    if (!a->class_weights) {
        for (int c = 0; c < classes; c++) w[c] = 1;
        return w;
    }
    if (!strcmp(a->class_weights, "median-freq")) {
        uint64_t *counts = calloc((size_t)classes, 8), *present = calloc((size_t)classes, 8);
        char err[1024];
        clseg_status st = counts && present ? dataset_class_stats(ds, classes, (int)a->ignore,
                                                                  counts, present, err, sizeof err)
                                            : CLSEG_ERR_OUT_OF_MEMORY;
        if (st == CLSEG_OK) class_weights_median_freq(counts, present, classes, w);
        free(counts);
        free(present);
        if (st != CLSEG_OK) {
            cli_error("median-freq class weights: %s",
                      st == CLSEG_ERR_OUT_OF_MEMORY ? "out of memory" : err);
            free(w);
            return NULL;
        }
        return w;
    }
    const char *p = a->class_weights;
    for (int c = 0; c < classes; c++) {
        char *end;
        double v = strtod(p, &end);
        if (end == p || !isfinite(v) || v < 0 || (*end != ',' && *end != 0) ||
            (*end == 0) != (c == classes - 1)) {
            cli_usage_error("train",
                            "--class-weights needs median-freq or %d non-negative "
                            "numbers separated by commas",
                            classes);
            *usage = 1;
            free(w);
            return NULL;
        }
        w[c] = (float)v;
        p = end + 1;
    }
    return w;
}

typedef struct run {
    args a;
    clseg_model *model;
    dataset train, val;
    int has_val;
    clseg_context *ctx;
    trainer *t;
    train_state state;
    const char *ckpt_path;
    char last_good[600]; /* what a failure message points the user to */
    FILE *loss_log;
    augment_opts aug;
    int steps_per_epoch;
    long total_steps;
} run;

static int save_checkpoint(run *r) {
    char err[1024];
    if (checkpoint_save(r->ckpt_path, r->t, &r->state, err, sizeof err) != CLSEG_OK)
        return cli_error("%s", err);
    snprintf(r->last_good, sizeof r->last_good, "%.400s (epoch %d, step %d)", r->ckpt_path,
             r->state.epoch + 1, r->state.step);
    return EXIT_OK;
}

static void on_val_progress(void *user, int done, int total) {
    (void)total;
    progress_update(user, done, "  validation", NULL, 60);
}

/* Scores the current weights on the validation set (when due) and writes --out when they are
   the best so far. Returns an exit code. */
static int end_of_epoch(run *r, int epoch, double train_loss, double epoch_s) {
    const clseg_model *m;
    char err[1024];
    if (trainer_sync_model(r->t, &m) != CLSEG_OK)
        return cli_error("%s", clseg_context_error(r->ctx));
    char when[32];
    progress_format_duration(epoch_s, when, sizeof when);
    if (r->has_val && epoch % r->a.val_every && epoch != r->a.epochs) {
        fprintf(stderr, "epoch %d/%ld: train loss %.4f (%s)\n", epoch, r->a.epochs, train_loss,
                when);
        return EXIT_OK;
    }
    if (!r->has_val) {
        fprintf(stderr, "epoch %d/%ld: train loss %.4f (%s)\n", epoch, r->a.epochs, train_loss,
                when);
        r->state.best_epoch = epoch;
        if (model_save(m, r->a.out, err, sizeof err) != CLSEG_OK) return cli_error("%s", err);
        return EXIT_OK;
    }
    clseg_net *net = NULL;
    if (clseg_net_create(&net, r->ctx, m) != CLSEG_OK)
        return cli_error("validation: %s", clseg_context_error(r->ctx));
    confusion cm;
    if (confusion_init(&cm, m->classes, (int)r->a.ignore) != CLSEG_OK) {
        clseg_net_free(net);
        return cli_error("out of memory");
    }
    progress bar;
    progress_start(&bar, stderr, r->val.count);
    double seg_ms, t0 = clseg_now_ms();
    clseg_status st = evaluate_dataset(r->ctx, net, &r->val, &cm, &seg_ms, on_val_progress, &bar,
                                       err, sizeof err);
    progress_end(&bar);
    clseg_net_free(net);
    if (st != CLSEG_OK) {
        confusion_free(&cm);
        return cli_error("validation: %s", err);
    }
    seg_metrics sm;
    confusion_metrics(&cm, &sm);
    confusion_free(&cm);
    int best = sm.miou > r->state.best_miou;
    if (best) {
        r->state.best_miou = sm.miou;
        r->state.best_epoch = epoch;
        if (model_save(m, r->a.out, err, sizeof err) != CLSEG_OK) return cli_error("%s", err);
    }
    char val_time[32];
    progress_format_duration((clseg_now_ms() - t0) / 1000.0, val_time, sizeof val_time);
    fprintf(stderr,
            "epoch %d/%ld: train loss %.4f (%s) | val mIoU %.2f, pixel acc %.2f, class acc %.2f "
            "(%s)%s best %.2f @ epoch %d\n",
            epoch, r->a.epochs, train_loss, when, sm.miou, sm.pixel_accuracy,
            sm.mean_class_accuracy, val_time, best ? " NEW BEST," : "", r->state.best_miou,
            r->state.best_epoch);
    fprintf(stderr, "  IoU:");
    for (int c = 0; c < m->classes; c++)
        if (c != r->a.ignore) fprintf(stderr, " %s %.1f", m->class_names[c], sm.iou[c]);
    fprintf(stderr, "\n");
    return EXIT_OK;
}

/* The steps of epoch e from the current position; sets *stop when --stop-at-step is reached.
   Returns an exit code. */
static int run_epoch(run *r, int e, int *stop, double session_start, long *session_steps) {
    char err[1024];
    loader *ld = NULL;
    if (loader_start(&ld, &r->train, r->model->classes, &r->aug, (int)r->a.batch,
                     (uint64_t)r->a.seed, e, r->state.step, err, sizeof err) != CLSEG_OK)
        return cli_error("%s", err);
    int first = r->state.step, rc = EXIT_OK;
    progress bar;
    progress_start_at(&bar, stderr, r->steps_per_epoch * (int)r->a.batch, first * (int)r->a.batch);
    double loss_sum = 0, epoch_start = clseg_now_ms();
    int loss_n = 0;
    const schedule_config sched = {r->a.schedule, (int)r->a.lr_step, r->a.gamma, r->a.power,
                                   (int)r->a.warmup};
    for (int s = first; s < r->steps_per_epoch && rc == EXIT_OK; s++) {
        const batch *b;
        if (loader_next(ld, &b, err, sizeof err) != CLSEG_OK) {
            rc = cli_error("%s", err);
            break;
        }
        double lr =
            schedule_lr(&sched, r->a.lr, r->state.global_step, r->total_steps, r->steps_per_epoch);
        step_stats st;
        if (trainer_step(r->t, b->x, b->y, lr, 1, &st) != CLSEG_OK) {
            rc = cli_error("%s", clseg_context_error(r->ctx));
            break;
        }
        if (!st.finite) {
            progress_end(&bar);
            double bad = isfinite(st.loss) ? st.grad_sumsq : st.loss;
            rc = cli_error("training stopped: the %s is %s at epoch %d, step %d (global step %ld, "
                           "lr %.3g); nothing was updated or saved after it; last good "
                           "checkpoint: %s. Lower --lr or check the data.",
                           isfinite(st.loss) ? "gradient" : "loss", isnan(bad) ? "NaN" : "Inf",
                           e + 1, s, r->state.global_step, lr, r->last_good);
            break;
        }
        if (r->loss_log) {
            fprintf(r->loss_log, "%d %d %ld %.17g %.17g\n", e, s, r->state.global_step, st.loss,
                    lr);
            fflush(r->loss_log);
        }
        loss_sum += st.loss;
        loss_n++;
        r->state.global_step++;
        r->state.step = s + 1;
        r->state.updates = trainer_updates(r->t);
        ++*session_steps;
        double per_step = (clseg_now_ms() - session_start) / *session_steps / 1000.0;
        char eta[32], extra[160], label[48];
        progress_format_duration(per_step * (r->total_steps - r->state.global_step), eta,
                                 sizeof eta);
        snprintf(extra, sizeof extra, "loss %.4f (avg %.4f) lr %.2e, run ETA %s", st.loss,
                 loss_sum / loss_n, lr, eta);
        snprintf(label, sizeof label, "epoch %d/%ld", e + 1, r->a.epochs);
        progress_update(&bar, (s + 1) * (int)r->a.batch, label, extra, 60);
        int last = s + 1 == r->steps_per_epoch;
        if (r->a.stop_at && r->state.global_step >= r->a.stop_at) *stop = 1;
        if (!last &&
            (*stop || (r->a.checkpoint_every && r->state.global_step % r->a.checkpoint_every == 0)))
            rc = save_checkpoint(r);
        if (*stop) break;
    }
    loader_stop(ld);
    progress_end(&bar);
    if (rc != EXIT_OK || r->state.step < r->steps_per_epoch) return rc; /* stopped mid-epoch */
    r->state.epoch = e + 1;
    r->state.step = 0;
    rc = end_of_epoch(r, e + 1, loss_n ? loss_sum / loss_n : NAN,
                      (clseg_now_ms() - epoch_start) / 1000.0);
    return rc == EXIT_OK ? save_checkpoint(r) : rc;
}

static int train_loop(run *r) {
    double session_start = clseg_now_ms();
    long session_steps = 0;
    int stop = 0;
    for (int e = r->state.epoch; e < r->a.epochs && !stop; e++) {
        int rc = run_epoch(r, e, &stop, session_start, &session_steps);
        if (rc != EXIT_OK) return rc;
    }
    if (stop)
        fprintf(stderr, "stopped after global step %ld as asked; resume with --resume %s\n",
                r->state.global_step, r->ckpt_path);
    return EXIT_OK;
}

int cmd_train(int argc, char **argv) {
    run r;
    memset(&r, 0, sizeof r);
    int prc = parse_args(argc, argv, &r.a);
    if (prc < 0) return EXIT_OK;
    if (prc > 0) return prc;
    if (r.a.bench) return run_benchmark(&r.a);
    args *a = &r.a;
    char err[1024];
    int rc = EXIT_FAILURE_RUN;
    float *weights = NULL;
    char *ckpt_default = NULL, *config = NULL;
    ckpt_moments mo = {0};
    train_state resumed;
    memset(&resumed, 0, sizeof resumed);

    if (a->resume) {
        if (checkpoint_load(a->resume, &r.model, &resumed, &mo, err, sizeof err) != CLSEG_OK)
            return cli_error("%s", err);
        long k;
        if (a->classes && (!cli_parse_int(a->classes, 1, 255, &k) || k != r.model->classes)) {
            cli_error("--classes %s does not match the checkpoint's %d classes", a->classes,
                      r.model->classes);
            goto done;
        }
        if (a->spec) {
            uint8_t *text;
            size_t size;
            if (clseg_read_file(a->spec, 1 << 20, &text, &size, err, sizeof err) != CLSEG_OK) {
                cli_error("%s", err);
                goto done;
            }
            int same = !strcmp((const char *)text, r.model->spec_text);
            free(text);
            if (!same) {
                cli_error("--spec %s differs from the network in %s", a->spec, a->resume);
                goto done;
            }
        }
    } else if (!build_model(a, &r.model)) {
        return EXIT_FAILURE_RUN;
    }
    if (a->ignore >= 0 && a->ignore < r.model->classes)
        fprintf(stderr, "note: class %ld (%s) is the ignore index: never trained nor scored\n",
                a->ignore, r.model->class_names[a->ignore]);
    if (dataset_open(&r.train, a->train_images, a->train_labels, err, sizeof err) != CLSEG_OK) {
        cli_error("%s", err);
        goto done;
    }
    if (a->val_images) {
        if (dataset_open(&r.val, a->val_images, a->val_labels, err, sizeof err) != CLSEG_OK) {
            cli_error("%s", err);
            goto done;
        }
        r.has_val = 1;
    }
    if (!a->crop_w) { /* the first image's size */
        image_rgb img;
        if (dataset_load(&r.train, 0, r.model->classes, (int)a->ignore, &img, NULL, err,
                         sizeof err) != CLSEG_OK) {
            cli_error("%s", err);
            goto done;
        }
        a->crop_w = img.width;
        a->crop_h = img.height;
        image_rgb_free(&img);
    }
    r.steps_per_epoch = loader_steps(r.train.count, (int)a->batch);
    if (r.steps_per_epoch < 1) {
        cli_error("%s: %d images, fewer than one batch of %ld", a->train_images, r.train.count,
                  a->batch);
        goto done;
    }
    r.total_steps = (long)r.steps_per_epoch * a->epochs;
    if (!a->lr_step && a->resume) {
        /* The default depends on --epochs, which a resumed run may change: keep the run's. */
        size_t n = 0;
        const char *v = train_config_value(resumed.config, "lr_step", &n);
        if (v) a->lr_step = strtol(v, NULL, 10);
    }
    if (!a->lr_step) a->lr_step = a->epochs >= 3 ? a->epochs / 3 : 1;
    int usage = 0;
    weights = class_weights(a, &r.train, r.model->classes, &usage);
    if (!weights) {
        if (usage) rc = EXIT_USAGE;
        goto done;
    }
    config = malloc(TRAIN_CONFIG_MAX);
    if (!config) {
        cli_error("out of memory");
        goto done;
    }
    config_text(a, r.model->classes, a->crop_w, a->crop_h, weights, r.train.count, config,
                TRAIN_CONFIG_MAX);
    if (a->resume) {
        static const char *const may_change[] = {"epochs", NULL};
        char diff[512];
        if (!train_config_compare(resumed.config, config, may_change, diff, sizeof diff)) {
            cli_error("--resume: this run differs from the checkpoint's (%s); resume with the "
                      "same options",
                      diff);
            goto done;
        }
        r.state = resumed;
        if (r.state.epoch >= a->epochs) {
            fprintf(stderr, "the checkpoint has finished %d epochs already (--epochs %ld)\n",
                    r.state.epoch, a->epochs);
            rc = EXIT_OK;
            goto done;
        }
    } else {
        r.state.best_miou = -1;
    }
    snprintf(r.state.config, sizeof r.state.config, "%s", config);
    if (a->class_weights) {
        fprintf(stderr, "class weights:");
        for (int c = 0; c < r.model->classes; c++)
            fprintf(stderr, " %s %.3f", r.model->class_names[c], weights[c]);
        fprintf(stderr, "\n");
    }

    snprintf(r.last_good, sizeof r.last_good, "none written by this run yet");
    r.ckpt_path = a->checkpoint;
    if (!r.ckpt_path) {
        size_t n = strlen(a->out) + 8;
        ckpt_default = malloc(n);
        if (!ckpt_default) goto done;
        snprintf(ckpt_default, n, "%s.ckpt", a->out);
        r.ckpt_path = ckpt_default;
    }
    r.aug = (augment_opts){a->crop_w,
                           a->crop_h,
                           (float)a->scale_min,
                           (float)a->scale_max,
                           a->flip,
                           (int)a->ignore,
                           {r.model->mean[0], r.model->mean[1], r.model->mean[2]},
                           {r.model->std[0], r.model->std[1], r.model->std[2]},
                           {(float)a->jitter[0], (float)a->jitter[1], (float)a->jitter[2]},
                           (float)a->class_crop};
    if (r.model->channels != 3) {
        cli_error("training reads RGB images; the model takes %d channels", r.model->channels);
        goto done;
    }
    if (!cli_open_tuned_context(a->device, a->db, 0, &r.ctx)) goto done;
    trainer_config cfg = {
        (int)a->batch,  a->crop_h, a->crop_w,
        (int)a->ignore, weights,   {a->optimizer, a->lr, a->momentum, a->wd, 0.9, 0.999, 1e-8}};
    if (trainer_create(&r.t, r.ctx, r.model, &cfg) != CLSEG_OK) {
        cli_error("%s", clseg_context_error(r.ctx));
        goto done;
    }
    if (a->resume) {
        if (checkpoint_apply(r.t, &mo, err, sizeof err) != CLSEG_OK) {
            cli_error("%s: %s", a->resume, err);
            goto done;
        }
        trainer_set_updates(r.t, r.state.updates);
        snprintf(r.last_good, sizeof r.last_good, "%.400s (epoch %d, step %d, resumed from)",
                 a->resume, r.state.epoch + 1, r.state.step);
        fprintf(stderr, "resuming %s at epoch %d, step %d (global step %ld)\n", a->resume,
                r.state.epoch + 1, r.state.step, r.state.global_step);
    }
    if (a->loss_log && !(r.loss_log = fopen(a->loss_log, "a"))) {
        cli_error("%s: cannot open for appending", a->loss_log);
        goto done;
    }
    const clseg_device_info *dev = clseg_context_device(r.ctx);
    fprintf(stderr,
            "training %s (%d classes) on %s: %d images (%d steps of %ld per epoch, %dx%d crops), "
            "%ld epochs, %s lr %g %s, %.0f MiB on the device\n",
            r.model->spec.name, r.model->classes, dev->name, r.train.count, r.steps_per_epoch,
            a->batch, a->crop_w, a->crop_h, a->epochs, optim_name(a->optimizer), a->lr,
            schedule_name(a->schedule), trainer_device_bytes(r.t) / 1048576.0);
    rc = train_loop(&r);
    if (rc == EXIT_OK) {
        if (r.state.epoch >= a->epochs)
            fprintf(stderr, "done: %s (best val mIoU %.2f at epoch %d), checkpoint %s\n", a->out,
                    r.state.best_miou, r.state.best_epoch, r.ckpt_path);
    }
done:
    if (r.loss_log) fclose(r.loss_log);
    trainer_free(r.t);
    clseg_context_free(r.ctx);
    dataset_free(&r.train);
    dataset_free(&r.val);
    clseg_model_free(r.model);
    ckpt_moments_free(&mo);
    free(weights);
    free(config);
    free(ckpt_default);
    return rc;
}
