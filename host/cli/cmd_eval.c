/* cmd_eval.c - `clseg eval`: confusion matrix, per-class IoU, mIoU and accuracies of a model
   over a directory of images and their label PNGs. */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "clseg_train.h"

static void help(void) {
    printf("usage: clseg eval --model MODEL.clsm --images DIR --labels DIR [--ignore I]\n"
           "                  [--device SEL] [--db FILE] [--json OUT.json]\n\n"
           "Segments every PNG in --images and compares it with the label PNG of the same name\n"
           "in --labels (8-bit gray class indices). The confusion matrix is summed over the whole\n"
           "set; from it: per-class IoU = TP / (TP + FP + FN), their mean (mIoU, over the classes\n"
           "with a defined IoU), global pixel accuracy and mean class accuracy, all in %%.\n\n"
           "  --model FILE    model to evaluate\n"
           "  --images DIR    RGB PNG images\n"
           "  --labels DIR    label PNGs with the same file names\n"
           "  --ignore I      label index left out of every metric (CamVid: 11); default none\n"
           "  --device SEL    OpenCL device (P:D or a name substring; default $CLSEG_DEVICE)\n"
           "  --db FILE       tuning database from 'clseg tune' (default $CLSEG_TUNING_DB, else\n"
           "                  tuning.db in the cache directory)\n"
           "  --test-flip on|off  average each image's class scores with its mirror's (about\n"
           "                  twice the time; default: the model's test_flip)\n"
           "  --json FILE     also write the results as JSON (keys: miou, pixel_accuracy,\n"
           "                  mean_class_accuracy, per_class_iou, confusion, images, ...)\n"
           "  --device-per-rank  under mpirun: each rank takes the next GPU of its node\n"
           "Under mpirun the ranks share the images (rank r scores images r, r + N, ...) and\n"
           "rank 0 reports the whole set's metrics (docs/distributed.md); %%r in --device\n"
           "becomes the rank.\n"
           "  -h, --help      this text\n");
}

static void on_progress(void *user, int done, int total, double elapsed_s) {
    cli_progress *bar = user;
    bar->total = total;
    cli_progress_update(bar, done, elapsed_s, "eval", NULL, 30);
}

int cmd_eval(int argc, char **argv) {
    const char *model_path = NULL, *images = NULL, *labels = NULL, *device = NULL, *json = NULL;
    const char *db = NULL;
    long ignore = -1;
    int test_flip = -1;
    static const struct option opts[] = {{"model", required_argument, 0, 'm'},
                                         {"test-flip", required_argument, 0, 'f'},
                                         {"images", required_argument, 0, 'i'},
                                         {"labels", required_argument, 0, 'l'},
                                         {"ignore", required_argument, 0, 'g'},
                                         {"device", required_argument, 0, 'd'},
                                         {"json", required_argument, 0, 'j'},
                                         {"db", required_argument, 0, 'b'},
                                         {"device-per-rank", no_argument, 0, 'r'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    int per_rank = 0;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":m:i:l:g:d:j:b:h", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            if (!cli_parse_on_off(optarg, &test_flip))
                return cli_usage_error("eval", "--test-flip must be on or off, not '%s'", optarg);
            break;
        case 'm':
            model_path = optarg;
            break;
        case 'i':
            images = optarg;
            break;
        case 'l':
            labels = optarg;
            break;
        case 'g':
            if (!cli_parse_int(optarg, -1, 255, &ignore))
                return cli_usage_error("eval", "--ignore must be an integer in -1..255, not '%s'",
                                       optarg);
            break;
        case 'd':
            device = optarg;
            break;
        case 'r':
            per_rank = 1;
            break;
        case 'j':
            json = optarg;
            break;
        case 'b':
            db = optarg;
            break;
        case 'h':
            help();
            return EXIT_OK;
        case ':':
            return cli_usage_error("eval", "option '%s' needs a value", argv[optind - 1]);
        default:
            return cli_usage_error("eval", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) return cli_usage_error("eval", "unexpected argument '%s'", argv[optind]);
    if (!model_path) return cli_usage_error("eval", "--model is required");
    if (!images) return cli_usage_error("eval", "--images is required");
    if (!labels) return cli_usage_error("eval", "--labels is required");

    cli_mpi mpi;
    if (!cli_mpi_begin(&mpi)) return EXIT_FAILURE_RUN;
    const int talk = mpi.rank == 0; /* one rank reports for all */
    int coordinated = 0;            /* every rank knows of the failure */
    char err[1024], dev_buf[64];
    clseg_model *model = NULL;
    if (clseg_model_load(&model, model_path, err, sizeof err) != CLSEG_OK)
        return cli_mpi_end(&mpi, cli_error("%s", err), 0);
    int rc = EXIT_FAILURE_RUN;
    clseg_context *ctx = NULL;
    clseg_net *net = NULL;
    clseg_metrics *m = NULL;
    device = cli_mpi_device(&mpi, device, per_rank, dev_buf, sizeof dev_buf);
    if (!cli_open_tuned_context(device, db, 0, &ctx)) goto done;
    if (clseg_net_create(&net, ctx, model) != CLSEG_OK) {
        cli_error("%s: %s", model_path, clseg_context_error(ctx));
        goto done;
    }
    if (test_flip >= 0) clseg_net_set_test_flip(net, test_flip);
    if (talk && clseg_net_test_flip(net))
        fprintf(stderr, "eval: test-time flip on (image + mirror)\n");
    cli_progress bar;
    cli_progress_start(&bar, stderr, 0, 0);
    clseg_eval_options eo;
    clseg_eval_options_init(&eo);
    eo.image_dir = images;
    eo.label_dir = labels;
    eo.ignore_index = (int)ignore;
    eo.progress = talk ? on_progress : NULL;
    eo.progress_user = &bar;
    eo.reducer = cli_mpi_reducer(&mpi);
    clseg_status st = clseg_eval(&m, ctx, net, model, &eo, err, sizeof err);
    cli_progress_end(&bar);
    if (st != CLSEG_OK) {
        /* The evaluation sums every rank's result, failed or not: all ranks stop together,
           and the rank that failed says why. */
        coordinated = 1;
        if (strncmp(err, "stopped: ", 9) != 0) {
            if (mpi.size > 1 && !talk)
                cli_error("rank %d: %s", mpi.rank, err);
            else
                cli_error("%s", err);
        }
        goto done;
    }
    if (!talk) {
        rc = EXIT_OK;
        goto done;
    }
    printf("model %s on %s: %d images, %.1f ms/image (segment), %.1f ms/image (with PNG "
           "decoding)\n",
           model_path, m->device, m->images, m->segment_ms / m->images, m->wall_ms / m->images);
    printf("%-20s %8s %8s %14s\n", "class", "IoU %", "acc %", "pixels");
    for (int k = 0; k < m->classes; k++) {
        if (k == ignore) continue;
        uint64_t row = 0;
        for (int j = 0; j < m->classes; j++) row += m->confusion[(size_t)k * m->classes + j];
        printf("%-20s %8.2f %8.2f %14llu\n", m->class_names[k], m->iou[k], m->accuracy[k],
               (unsigned long long)row);
    }
    printf("mIoU %.2f  pixel accuracy %.2f  mean class accuracy %.2f  (%d classes scored%s)\n",
           m->miou, m->pixel_accuracy, m->mean_class_accuracy, m->scored_classes,
           ignore >= 0 ? ", ignore index excluded" : "");
    if (json && clseg_metrics_write_json(m, json, model_path, err, sizeof err) != CLSEG_OK) {
        cli_error("%s", err);
        goto done;
    }
    rc = EXIT_OK;
done:
    clseg_metrics_free(m);
    clseg_net_free(net);
    clseg_context_free(ctx);
    clseg_model_free(model);
    return cli_mpi_end(&mpi, rc, coordinated);
}
