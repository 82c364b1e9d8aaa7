/* cmd_train.c - `clseg train`: trains a model on the device from a directory of images and label
   PNGs, validates after every epoch, keeps the best model and writes resumable checkpoints. */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "clseg_train.h"

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
        "Data-parallel, under mpirun (docs/distributed.md): one rank per device, --batch per\n"
        "rank (a step takes ranks x batch images), gradients summed with MPI_Allreduce; rank 0\n"
        "writes the log, checkpoints and models; --device's %%r becomes the rank.\n"
        "  --device-per-rank  each rank takes the next GPU of its node (every device if none)\n"
        "  --no-sync-bn       BatchNorm statistics of each rank's own batch (default: of the\n"
        "                     global batch, as one process with batch ranks x B)\n"
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
    O_DEVICE_PER_RANK,
    O_NO_SYNC_BN,
};

/* The library's options plus what only the command has: the device, the benchmark, and the raw
   --classes and --class-weights (whose class count is known once the model is). */
typedef struct args {
    clseg_train_options o;
    const char *classes, *class_weights, *device, *db;
    long bench;
    int device_per_rank;
    cli_mpi mpi;
    float weights[256];
    int n_weights; /* -1: not a list of non-negative numbers */
} args;

static int parse_double(const char *s, double lo, double hi, double *out) {
    char *end;
    if (!s || !*s) return 0;
    double v = strtod(s, &end);
    if (*end || !isfinite(v) || v < lo || v > hi) return 0;
    *out = v;
    return 1;
}

/* w0,w1,...: how many finite non-negative numbers, or -1. */
static int parse_weights(const char *v, float *w, int max) {
    int n = 0;
    for (const char *p = v;;) {
        char *end;
        double x = strtod(p, &end);
        if (end == p || !isfinite(x) || x < 0 || (*end != ',' && *end != 0) || n == max) return -1;
        w[n++] = (float)x;
        if (!*end) return n;
        p = end + 1;
    }
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
        {"device-per-rank", no_argument, 0, O_DEVICE_PER_RANK},
        {"no-sync-bn", no_argument, 0, O_NO_SYNC_BN},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    memset(a, 0, sizeof *a);
    clseg_train_options *o = &a->o;
    clseg_train_options_init(o);
    long n;
    optind = 1;
    opterr = 0;
    int c;
    const char *cmd = "train";
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        const char *v = optarg;
        switch (c) {
        case O_SPEC:
            o->spec_path = v;
            break;
        case O_TRAIN_IMAGES:
            o->train_images = v;
            break;
        case O_TRAIN_LABELS:
            o->train_labels = v;
            break;
        case O_VAL_IMAGES:
            o->val_images = v;
            break;
        case O_VAL_LABELS:
            o->val_labels = v;
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
            o->out_model = v;
            break;
        case O_CHECKPOINT:
            o->checkpoint = v;
            break;
        case O_RESUME:
            o->resume = v;
            break;
        case O_INIT:
            o->init_model = v;
            break;
        case O_LOSS_LOG:
            o->loss_log = v;
            break;
        case O_CLASS_WEIGHTS:
            a->class_weights = v;
            break;
        case O_NO_FLIP:
            o->flip = 0;
            break;
        case O_DEVICE_PER_RANK:
            a->device_per_rank = 1;
            break;
        case O_NO_SYNC_BN:
            o->sync_bn = 0;
            break;
        case O_IGNORE:
            if (!cli_parse_int(v, -1, 255, &n))
                return cli_usage_error(cmd, "--ignore must be an integer in -1..255, not '%s'", v);
            o->ignore_index = (int)n;
            break;
        case O_EPOCHS:
            if (!cli_parse_int(v, 1, 1000000, &n))
                return cli_usage_error(cmd, "--epochs must be a positive integer, not '%s'", v);
            o->epochs = (int)n;
            break;
        case O_BATCH:
            if (!cli_parse_int(v, 1, 4096, &n))
                return cli_usage_error(cmd, "--batch must be an integer in 1..4096, not '%s'", v);
            o->batch = (int)n;
            break;
        case O_SEED:
            if (!cli_parse_int(v, 0, 0x7fffffffL, &n))
                return cli_usage_error(cmd, "--seed must be a non-negative integer, not '%s'", v);
            o->seed = (uint64_t)n;
            break;
        case O_CHECKPOINT_EVERY:
            if (!cli_parse_int(v, 0, 0x7fffffffL, &o->checkpoint_every))
                return cli_usage_error(cmd, "--checkpoint-every must be a step count, not '%s'", v);
            break;
        case O_STOP_AT:
            if (!cli_parse_int(v, 1, 0x7fffffffL, &o->stop_at_step))
                return cli_usage_error(cmd, "--stop-at-step must be a positive step, not '%s'", v);
            break;
        case O_BENCH:
            if (!cli_parse_int(v, 1, 100000, &a->bench))
                return cli_usage_error(cmd, "--benchmark-steps must be positive, not '%s'", v);
            break;
        case O_VAL_EVERY:
            if (!cli_parse_int(v, 1, 1000000, &n))
                return cli_usage_error(cmd, "--val-every must be a positive epoch count, not '%s'",
                                       v);
            o->val_every = (int)n;
            break;
        case O_LR_STEP:
            if (!cli_parse_int(v, 1, 1000000, &n))
                return cli_usage_error(cmd, "--lr-step must be a positive epoch count, not '%s'",
                                       v);
            o->lr_step = (int)n;
            break;
        case O_WARMUP:
            if (!cli_parse_int(v, 0, 0x7fffffffL, &o->warmup_steps))
                return cli_usage_error(cmd, "--warmup-steps must be a step count, not '%s'", v);
            break;
        case O_CROP:
            if (!cli_parse_size(v, &o->crop_width, &o->crop_height))
                return cli_usage_error(cmd, "--crop must be WxH, not '%s'", v);
            break;
        case O_SCALE: {
            char buf[64];
            snprintf(buf, sizeof buf, "%s", v);
            char *comma = strchr(buf, ',');
            if (comma) *comma = 0;
            if (!comma || !parse_double(buf, 0.05, 20, &o->scale_min) ||
                !parse_double(comma + 1, o->scale_min, 20, &o->scale_max))
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
                ok = ok && parse_double(field, 0, 0.9, &o->jitter[k]);
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
            if (!parse_double(v, 0, 1, &o->class_crop))
                return cli_usage_error(cmd,
                                       "--class-crop must be a probability in [0, 1], not '%s'", v);
            break;
        case O_LR:
            if (!parse_double(v, 1e-12, 1e30, &o->lr))
                return cli_usage_error(cmd, "--lr must be a positive number, not '%s'", v);
            break;
        case O_MOMENTUM:
            if (!parse_double(v, 0, 0.9999, &o->momentum))
                return cli_usage_error(cmd, "--momentum must be in [0, 1), not '%s'", v);
            break;
        case O_WD:
            if (!parse_double(v, 0, 1, &o->weight_decay))
                return cli_usage_error(cmd, "--weight-decay must be in [0, 1], not '%s'", v);
            break;
        case O_LR_GAMMA:
            if (!parse_double(v, 0, 1, &o->lr_gamma))
                return cli_usage_error(cmd, "--lr-gamma must be in [0, 1], not '%s'", v);
            break;
        case O_POLY_POWER:
            if (!parse_double(v, 0, 100, &o->poly_power))
                return cli_usage_error(cmd, "--poly-power must be in [0, 100], not '%s'", v);
            break;
        case O_OPTIMIZER:
            if (!strcmp(v, "adam"))
                o->optimizer = CLSEG_OPTIMIZER_ADAM;
            else if (!strcmp(v, "sgd"))
                o->optimizer = CLSEG_OPTIMIZER_SGD;
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
            o->schedule = (clseg_lr_schedule)found;
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
    if (a->classes) {
        if (cli_parse_int(a->classes, 1, 255, &n))
            o->classes = (int)n;
        else
            o->class_file = a->classes;
    }
    if (a->class_weights && !strcmp(a->class_weights, "median-freq")) {
        o->class_weights_median_freq = 1;
    } else if (a->class_weights) {
        a->n_weights = parse_weights(a->class_weights, a->weights, 256);
        o->class_weights = a->weights;
        o->class_weights_count = a->n_weights > 0 ? a->n_weights : 0;
    }
    if (a->bench) {
        if (!o->spec_path && !o->init_model)
            return cli_usage_error(cmd, "--benchmark-steps needs --spec (or --init)");
        if (!o->crop_width) return cli_usage_error(cmd, "--benchmark-steps needs --crop");
        return 0;
    }
    if (!o->train_images || !o->train_labels)
        return cli_usage_error(cmd, "--train-images and --train-labels are required");
    if (!o->val_images != !o->val_labels)
        return cli_usage_error(cmd, "--val-images and --val-labels go together");
    if (!o->epochs) return cli_usage_error(cmd, "--epochs is required");
    if (!o->out_model) return cli_usage_error(cmd, "--out is required");
    if (o->resume && o->init_model) return cli_usage_error(cmd, "use either --resume or --init");
    if (o->init_model && o->spec_path) return cli_usage_error(cmd, "use either --spec or --init");
    if (!o->resume && !o->init_model && !o->spec_path)
        return cli_usage_error(cmd, "--spec (or --init, or --resume) is required");
    if (o->spec_path && !o->resume && !a->classes)
        return cli_usage_error(cmd, "--classes is required with --spec");
    return 0;
}

/* ---- benchmark ----------------------------------------------------------------------------- */

static void on_bench_step(void *user, int step, double ms, double loss) {
    (void)user;
    fprintf(stderr, "step %d: %.1f ms, loss %.4f\n", step, ms, loss);
}

/* This rank's device selector (buf holds it when it is made here). */
static const char *rank_device(const args *a, char *buf, size_t len) {
    return cli_mpi_device(&a->mpi, a->device, a->device_per_rank, buf, len);
}

static int run_benchmark(const args *a, clseg_train_session *s, clseg_context **ctx) {
    char dev_buf[64];
    if (!cli_open_tuned_context(rank_device(a, dev_buf, sizeof dev_buf), a->db, 0, ctx))
        return EXIT_FAILURE_RUN;
    clseg_train_benchmark b;
    if (clseg_train_session_benchmark(
            s, *ctx, (int)a->bench, a->mpi.rank == 0 ? on_bench_step : NULL, NULL, &b) != CLSEG_OK)
        return cli_error("%s", clseg_train_session_error(s));
    /* Under mpirun: the gradient's allreduce alone, as every data-parallel step does it. */
    size_t floats = clseg_model_parameter_count(clseg_train_session_model(s));
    double allreduce_s = cli_mpi_allreduce_seconds(&a->mpi, floats, 10);
    if (a->mpi.rank != 0) return EXIT_OK;
    clseg_train_info info;
    clseg_train_session_info(s, &info);
    const clseg_device_info *dev = clseg_context_device(*ctx);
    double med = b.median_ms, gflop = b.forward_gflop, tp = b.profiled_step_ms;
    printf("train step: %s batch %d, %dx%d crops, %s on %s\n", info.network_name, info.batch,
           info.crop_width, info.crop_height, info.optimizer, dev->name);
    printf("  median %.1f ms (min %.1f, max %.1f) over %d steps = %.2f images/s\n", med, b.min_ms,
           b.max_ms, b.steps, info.batch * 1000.0 / med);
    printf("  forward %.1f GFLOP, step ~%.1f GFLOP (3x) = ~%.1f GFLOP/s\n", gflop, 3 * gflop,
           3 * gflop / (med / 1000.0));
    printf("  set-up (allocation, kernel compile or cache) %.0f ms, device memory %.1f MiB\n",
           b.setup_ms, b.device_bytes / 1048576.0);
    if (allreduce_s >= 0)
        printf("  MPI_Allreduce of the gradient (%.1f MB) across %d ranks: %.2f ms (best of 10)\n",
               floats * 4 / 1e6, a->mpi.size, allreduce_s * 1000);
    printf("  one profiled step (a wait after every op) %.1f ms:\n", tp);
    for (int k = 0; k < b.op_count; k++)
        printf("    %-22s %9.1f ms %5.1f%%\n", b.op_name[k], b.op_ms[k], 100 * b.op_ms[k] / tp);
    return EXIT_OK;
}

/* ---- training ------------------------------------------------------------------------------ */

/* Draws the library's progress events: the bar of each epoch and validation, and the summary
   lines after each epoch. */
static int on_progress(void *user, const clseg_train_progress *p) {
    cli_progress *bar = user;
    char label[48], extra[160], eta[32], when[32], val_time[32];
    switch (p->event) {
    case CLSEG_TRAIN_EPOCH_BEGIN:
        cli_progress_start(bar, stderr, p->steps_per_epoch * p->batch, p->first_step * p->batch);
        break;
    case CLSEG_TRAIN_STEP:
        cli_format_duration(p->eta_s, eta, sizeof eta);
        snprintf(extra, sizeof extra, "loss %.4f (avg %.4f) lr %.2e, run ETA %s", p->loss,
                 p->loss_avg, p->lr, eta);
        snprintf(label, sizeof label, "epoch %d/%d", p->epoch, p->epochs);
        cli_progress_update(bar, p->step * p->batch, p->elapsed_s, label, extra, 60);
        break;
    case CLSEG_TRAIN_EPOCH_STEPS_END:
        cli_progress_end(bar);
        break;
    case CLSEG_TRAIN_VALIDATION_BEGIN:
        cli_progress_start(bar, stderr, p->val_total, 0);
        break;
    case CLSEG_TRAIN_VALIDATION_PROGRESS:
        cli_progress_update(bar, p->val_done, p->elapsed_s, "  validation", NULL, 60);
        break;
    case CLSEG_TRAIN_EPOCH_END: {
        cli_progress_end(bar);
        cli_format_duration(p->epoch_s, when, sizeof when);
        if (!p->validated) {
            fprintf(stderr, "epoch %d/%d: train loss %.4f (%s)\n", p->epoch, p->epochs,
                    p->train_loss, when);
            break;
        }
        const clseg_metrics *m = p->metrics;
        cli_format_duration(p->validation_s, val_time, sizeof val_time);
        fprintf(stderr,
                "epoch %d/%d: train loss %.4f (%s) | val mIoU %.2f, pixel acc %.2f, class acc "
                "%.2f (%s)%s best %.2f @ epoch %d\n",
                p->epoch, p->epochs, p->train_loss, when, m->miou, m->pixel_accuracy,
                m->mean_class_accuracy, val_time, p->new_best ? " NEW BEST," : "", p->best_miou,
                p->best_epoch);
        fprintf(stderr, "  IoU:");
        for (int c = 0; c < m->classes; c++)
            if (c != m->ignore_index) fprintf(stderr, " %s %.1f", m->class_names[c], m->iou[c]);
        fprintf(stderr, "\n");
        break;
    }
    }
    return 0;
}

/* A failure of this run: rank 0 (or the only process) says it as "clseg: ...", another rank
   as "clseg: rank R: ..."; *coordinated when every rank stops on its own (a NaN anywhere, or a
   rank that told the others it failed): one line then, from rank 0 for a NaN, from the failed
   rank otherwise. */
static int train_failed(const args *a, clseg_train_session *s, int *coordinated) {
    clseg_train_info info;
    clseg_train_session_info(s, &info);
    *coordinated = info.stopped_all;
    if ((info.diverged && a->mpi.rank != 0) || info.peer_failed) return EXIT_FAILURE_RUN;
    if (a->mpi.size > 1 && a->mpi.rank != 0)
        return cli_error("rank %d: %s", a->mpi.rank, clseg_train_session_error(s));
    return cli_error("%s", clseg_train_session_error(s));
}

static int run_training(const args *a, clseg_train_session *s, clseg_context **ctx,
                        int *coordinated) {
    const clseg_train_options *o = &a->o;
    const clseg_model *model = clseg_train_session_model(s);
    const int classes = clseg_model_num_classes(model);
    const int talk = a->mpi.rank == 0; /* one rank speaks for the run */
    if (talk && o->ignore_index >= 0 && o->ignore_index < classes)
        fprintf(stderr, "note: class %d (%s) is the ignore index: never trained nor scored\n",
                o->ignore_index, clseg_model_class_name(model, o->ignore_index));
    if (a->class_weights && !o->class_weights_median_freq && a->n_weights != classes)
        return cli_usage_error("train",
                               "--class-weights needs median-freq or %d non-negative numbers "
                               "separated by commas",
                               classes);
    if (clseg_train_session_load_data(s) != CLSEG_OK) return train_failed(a, s, coordinated);
    clseg_train_info info;
    clseg_train_session_info(s, &info);
    if (info.finished) {
        if (talk)
            fprintf(stderr, "the checkpoint has finished %d epochs already (--epochs %d)\n",
                    info.epoch, o->epochs);
        return EXIT_OK;
    }
    if (talk && a->class_weights) {
        fprintf(stderr, "class weights:");
        for (int c = 0; c < classes; c++)
            fprintf(stderr, " %s %.3f", clseg_model_class_name(model, c), info.class_weights[c]);
        fprintf(stderr, "\n");
    }
    char dev_buf[64];
    if (!cli_open_tuned_context(rank_device(a, dev_buf, sizeof dev_buf), a->db, 0, ctx))
        return EXIT_FAILURE_RUN;
    if (clseg_train_session_start(s, *ctx) != CLSEG_OK) return train_failed(a, s, coordinated);
    clseg_train_session_info(s, &info);
    if (talk && o->resume)
        fprintf(stderr, "resuming %s at epoch %d, step %d (global step %ld)\n", o->resume,
                info.epoch + 1, info.step, info.global_step);
    if (talk)
        fprintf(stderr,
                "training %s (%d classes) on %s: %d images (%d steps of %d per epoch, %dx%d "
                "crops), %d epochs, %s lr %g %s, %.0f MiB on the device\n",
                info.network_name, info.classes, clseg_context_device(*ctx)->name,
                info.train_images, info.steps_per_epoch, info.batch * a->mpi.size, info.crop_width,
                info.crop_height, info.epochs, info.optimizer, info.lr, info.schedule,
                info.device_bytes / 1048576.0);
    if (talk && a->mpi.size > 1)
        fprintf(stderr, "data-parallel: %d ranks x batch %d, BatchNorm statistics %s\n",
                a->mpi.size, info.batch, o->sync_bn ? "of the global batch" : "per rank");
    cli_progress bar;
    cli_progress_start(&bar, NULL, 0, 0);
    clseg_status st = clseg_train_session_run(s, talk ? on_progress : NULL, &bar);
    cli_progress_end(&bar);
    if (st != CLSEG_OK) return train_failed(a, s, coordinated);
    clseg_train_session_info(s, &info);
    if (talk && info.stopped)
        fprintf(stderr, "stopped after global step %ld as asked; resume with --resume %s\n",
                info.global_step, info.checkpoint);
    else if (talk && info.finished)
        fprintf(stderr, "done: %s (best val mIoU %.2f at epoch %d), checkpoint %s\n",
                info.out_model, info.best_miou, info.best_epoch, info.checkpoint);
    return EXIT_OK;
}

int cmd_train(int argc, char **argv) {
    args a;
    int rc = parse_args(argc, argv, &a);
    if (rc < 0) return EXIT_OK;
    if (rc > 0) return rc;
    if (!cli_mpi_begin(&a.mpi)) return EXIT_FAILURE_RUN;
    a.o.reducer = cli_mpi_reducer(&a.mpi);
    char err[1024];
    clseg_train_session *s = NULL;
    if (clseg_train_session_create(&s, &a.o, err, sizeof err) != CLSEG_OK)
        return cli_mpi_end(&a.mpi, cli_error("%s", err), 0);
    clseg_context *ctx = NULL;
    int coordinated = 0;
    rc = a.bench ? run_benchmark(&a, s, &ctx) : run_training(&a, s, &ctx, &coordinated);
    clseg_train_session_free(s); /* before its context */
    clseg_context_free(ctx);
    return cli_mpi_end(&a.mpi, rc, coordinated);
}
