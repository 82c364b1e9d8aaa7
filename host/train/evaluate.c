/* evaluate.c - whole-set evaluation through the public network API, and the metrics object of
   clseg_train.h around the confusion matrix of metrics.c. */
#include <stdlib.h>
#include <string.h>

#include "evaluate.h"
#include "net/model.h"

/* The public struct first, so a clseg_metrics pointer is one of these. */
typedef struct metrics_obj {
    clseg_metrics pub;
    confusion cm;
    seg_metrics sm;
    char (*names)[MODEL_CLASS_NAME_MAX];
    const char *name_ptrs[MODEL_MAX_CLASSES + 1];
    char device[256];
} metrics_obj;

static metrics_obj *metrics_new(const clseg_model *model, int ignore, const char *device) {
    metrics_obj *o = clseg_calloc(1, sizeof *o);
    if (!o) return NULL;
    o->names = clseg_calloc((size_t)model->classes, sizeof *o->names);
    if (!o->names || confusion_init(&o->cm, model->classes, ignore) != CLSEG_OK) {
        free(o->names);
        free(o);
        return NULL;
    }
    for (int c = 0; c < model->classes; c++) {
        memcpy(o->names[c], model->class_names[c], sizeof o->names[c]);
        o->name_ptrs[c] = o->names[c];
    }
    snprintf(o->device, sizeof o->device, "%s", device);
    return o;
}

/* Fills the public view once the confusion matrix is complete. */
static void metrics_finish(metrics_obj *o, int images, double segment_ms, double wall_ms) {
    confusion_metrics(&o->cm, &o->sm);
    clseg_metrics *m = &o->pub;
    m->classes = o->cm.classes;
    m->ignore_index = o->cm.ignore;
    m->scored_classes = o->sm.classes;
    m->miou = o->sm.miou;
    m->pixel_accuracy = o->sm.pixel_accuracy;
    m->mean_class_accuracy = o->sm.mean_class_accuracy;
    m->labelled_pixels = o->sm.labelled;
    m->iou = o->sm.iou;
    m->accuracy = o->sm.accuracy;
    m->confusion = o->cm.m;
    m->class_names = o->name_ptrs;
    m->images = images;
    m->segment_ms = segment_ms;
    m->wall_ms = wall_ms;
    m->device = o->device;
}

void clseg_metrics_free(clseg_metrics *metrics) {
    metrics_obj *o = (metrics_obj *)metrics;
    if (!o) return;
    confusion_free(&o->cm);
    free(o->names);
    free(o);
}

clseg_status clseg_metrics_write_json(const clseg_metrics *metrics, const char *path,
                                      const char *model_label, char *errbuf, size_t errbuf_size) {
    const metrics_obj *o = (const metrics_obj *)metrics;
    if (!o || !path)
        return clseg_fail(errbuf, errbuf_size, CLSEG_ERR_INVALID_ARGUMENT,
                          "clseg_metrics_write_json: NULL %s", o ? "path" : "metrics");
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return clseg_fail(errbuf, errbuf_size, CLSEG_ERR_OUT_OF_MEMORY, "out of memory");
    metrics_write_json(f, &o->cm, &o->sm, (const char(*)[64])o->names, metrics->images,
                       metrics->segment_ms / metrics->images, model_label, metrics->device);
    fclose(f);
    clseg_status st = clseg_write_file_atomic(path, buf, len, errbuf, errbuf_size);
    free(buf);
    return st;
}

clseg_status clseg_metrics_create(clseg_metrics **out, const clseg_model *model, int ignore_index,
                                  const char *device, char *errbuf, size_t errbuf_size) {
    if (out) *out = NULL;
    if (!out || !model)
        return clseg_fail(errbuf, errbuf_size, CLSEG_ERR_INVALID_ARGUMENT,
                          "clseg_metrics_create: %s is NULL", out ? "model" : "out");
    if (ignore_index < -1 || ignore_index > 255)
        return clseg_fail(errbuf, errbuf_size, CLSEG_ERR_INVALID_ARGUMENT,
                          "ignore index %d is not in -1..255", ignore_index);
    metrics_obj *o = metrics_new(model, ignore_index, device ? device : "");
    if (!o) return clseg_fail(errbuf, errbuf_size, CLSEG_ERR_OUT_OF_MEMORY, "out of memory");
    metrics_finish(o, 0, 0, 0);
    *out = &o->pub;
    return CLSEG_OK;
}

clseg_status clseg_metrics_add(clseg_metrics *metrics, const uint8_t *truth, const uint8_t *pred,
                               size_t pixels, double segment_ms, char *errbuf, size_t errbuf_size) {
    metrics_obj *o = (metrics_obj *)metrics;
    if (!o || !truth || !pred)
        return clseg_fail(errbuf, errbuf_size, CLSEG_ERR_INVALID_ARGUMENT,
                          "clseg_metrics_add: %s is NULL",
                          !o       ? "metrics"
                          : !truth ? "truth"
                                   : "pred");
    const int k = o->cm.classes;
    for (size_t i = 0; i < pixels; i++) {
        if (truth[i] >= k && truth[i] != o->cm.ignore)
            return clseg_fail(errbuf, errbuf_size, CLSEG_ERR_FORMAT,
                              "label %d at pixel %zu is neither a class (0..%d) nor the ignore "
                              "index",
                              truth[i], i, k - 1);
        if (pred[i] >= k)
            return clseg_fail(errbuf, errbuf_size, CLSEG_ERR_FORMAT,
                              "prediction %d at pixel %zu is not a class (0..%d)", pred[i], i,
                              k - 1);
    }
    confusion_add(&o->cm, truth, pred, pixels);
    metrics_finish(o, metrics->images + 1, metrics->segment_ms + segment_ms, metrics->wall_ms);
    return CLSEG_OK;
}

void clseg_eval_options_init(clseg_eval_options *opts) {
    if (!opts) return;
    memset(opts, 0, sizeof *opts);
    opts->struct_size = sizeof *opts;
    opts->ignore_index = -1;
}

/* Sums the confusion matrix and segment time over the ranks; `failed` says this rank failed
   (it joins the sum anyway, so nobody waits for it). CLSEG_ERR_IO when another rank failed. */
static clseg_status reduce_metrics(metrics_obj *o, const clseg_reducer *r, double *segment_ms,
                                   int failed, char *err, size_t errlen) {
    const size_t cells = (size_t)o->cm.classes * o->cm.classes;
    double *buf = clseg_malloc((cells + 2) * sizeof *buf);
    if (!buf) return clseg_fail(err, errlen, CLSEG_ERR_OUT_OF_MEMORY, "out of memory");
    /* Pixel counts are exact in a double up to 2^53. */
    for (size_t i = 0; i < cells; i++) buf[i] = (double)o->cm.m[i];
    buf[cells] = *segment_ms;
    buf[cells + 1] = failed;
    char why[512] = "";
    clseg_status st =
        r->allreduce_sum(r->user, buf, cells + 2, CLSEG_REDUCE_DOUBLE, why, sizeof why);
    if (st != CLSEG_OK) {
        if (!failed) clseg_fail(err, errlen, st, "summing the confusion matrices: %s", why);
    } else if (!failed && buf[cells + 1] > 0) {
        st = clseg_fail(err, errlen, CLSEG_ERR_IO, "stopped: %.0f other rank(s) failed evaluating",
                        buf[cells + 1]);
    } else if (!failed) {
        for (size_t i = 0; i < cells; i++) o->cm.m[i] = (uint64_t)buf[i];
        *segment_ms = buf[cells];
    }
    free(buf);
    return st;
}

clseg_status evaluate_dataset(clseg_context *ctx, clseg_net *net, const clseg_model *model,
                              const dataset *ds, int ignore, const clseg_reducer *reducer,
                              clseg_eval_progress_fn progress, void *user, clseg_metrics **out,
                              char *err, size_t errlen) {
    *out = NULL;
    metrics_obj *o = metrics_new(model, ignore, clseg_context_device(ctx)->name);
    if (!o) return clseg_fail(err, errlen, CLSEG_ERR_OUT_OF_MEMORY, "out of memory");
    const int ranks = reducer && reducer->size > 1 ? reducer->size : 1;
    const int rank = ranks > 1 ? reducer->rank : 0;
    const int mine = ds->count / ranks + (rank < ds->count % ranks);
    double segment_ms = 0, t0 = clseg_now_ms();
    clseg_status st = CLSEG_OK;
    for (int i = rank, done = 0; i < ds->count && st == CLSEG_OK; i += ranks) {
        image_rgb img;
        uint8_t *labels = NULL, *pred = NULL;
        st = dataset_load(ds, i, o->cm.classes, o->cm.ignore, &img, &labels, err, errlen);
        if (st != CLSEG_OK) break;
        pred = clseg_malloc((size_t)img.width * img.height);
        if (!pred) {
            st = clseg_fail(err, errlen, CLSEG_ERR_OUT_OF_MEMORY, "out of memory");
        } else {
            double t1 = clseg_now_ms();
            st = clseg_net_segment(net, img.rgb, img.width, img.height, pred);
            segment_ms += clseg_now_ms() - t1;
            if (st != CLSEG_OK)
                clseg_fail(err, errlen, st, "%s: %s", ds->names[i], clseg_context_error(ctx));
        }
        if (st == CLSEG_OK) confusion_add(&o->cm, labels, pred, (size_t)img.width * img.height);
        image_rgb_free(&img);
        free(labels);
        free(pred);
        if (st == CLSEG_OK && progress)
            progress(user, ++done, mine, (clseg_now_ms() - t0) / 1000.0);
    }
    if (ranks > 1) {
        clseg_status rs = reduce_metrics(o, reducer, &segment_ms, st != CLSEG_OK, err, errlen);
        if (st == CLSEG_OK) st = rs;
    }
    if (st != CLSEG_OK) {
        clseg_metrics_free(&o->pub);
        return st;
    }
    metrics_finish(o, ds->count, segment_ms, clseg_now_ms() - t0);
    *out = &o->pub;
    return CLSEG_OK;
}

clseg_status clseg_eval(clseg_metrics **out, clseg_context *ctx, clseg_net *net,
                        const clseg_model *model, const clseg_eval_options *opts, char *errbuf,
                        size_t errbuf_size) {
    if (out) *out = NULL;
    if (!out || !ctx || !net || !model || !opts)
        return clseg_fail(errbuf, errbuf_size, CLSEG_ERR_INVALID_ARGUMENT, "clseg_eval: NULL %s",
                          !out     ? "out"
                          : !ctx   ? "context"
                          : !net   ? "net"
                          : !model ? "model"
                                   : "options");
    if (!opts->struct_size)
        return clseg_fail(errbuf, errbuf_size, CLSEG_ERR_INVALID_ARGUMENT,
                          "evaluation options not initialised (struct_size 0)");
    clseg_eval_options o;
    clseg_eval_options_init(&o);
    memcpy(&o, opts, CLSEG_MIN(opts->struct_size, sizeof o));
    if (!o.image_dir || !o.label_dir)
        return clseg_fail(errbuf, errbuf_size, CLSEG_ERR_INVALID_ARGUMENT,
                          "clseg_eval needs image and label directories");
    dataset ds;
    clseg_status st = dataset_open(&ds, o.image_dir, o.label_dir, errbuf, errbuf_size);
    if (st != CLSEG_OK) return st;
    if (o.reducer && (!o.reducer->struct_size || o.reducer->size < 1 || o.reducer->rank < 0 ||
                      o.reducer->rank >= o.reducer->size || !o.reducer->allreduce_sum))
        st = clseg_fail(errbuf, errbuf_size, CLSEG_ERR_INVALID_ARGUMENT,
                        "the reducer needs struct_size, 0 <= rank < size and allreduce_sum");
    else
        st = evaluate_dataset(ctx, net, model, &ds, o.ignore_index, o.reducer, o.progress,
                              o.progress_user, out, errbuf, errbuf_size);
    dataset_free(&ds);
    return st;
}
