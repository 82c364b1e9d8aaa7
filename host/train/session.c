/* session.c - the training session of clseg_train.h: the model, the data, class weights, the run
   configuration and its check on resume, the epoch loop with validation, best-model and
   checkpoint writing, the loss log and the stop on non-finite values. */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "evaluate.h"
#include "loader.h"
#include "session.h"

_Static_assert((int)CLSEG_OPTIMIZER_SGD == (int)OPTIM_SGD &&
                   (int)CLSEG_OPTIMIZER_ADAM == (int)OPTIM_ADAM,
               "public optimiser values are the internal ones");
_Static_assert((int)CLSEG_SCHEDULE_CONST == (int)SCHED_CONST &&
                   (int)CLSEG_SCHEDULE_STEP == (int)SCHED_STEP &&
                   (int)CLSEG_SCHEDULE_POLY == (int)SCHED_POLY &&
                   (int)CLSEG_SCHEDULE_COSINE == (int)SCHED_COSINE,
               "public schedule values are the internal ones");

void clseg_train_options_init(clseg_train_options *o) {
    if (!o) return;
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->val_every = 1;
    o->ignore_index = -1;
    o->scale_min = 0.75;
    o->scale_max = 1.25;
    o->flip = 1;
    o->batch = 4;
    o->optimizer = CLSEG_OPTIMIZER_ADAM;
    o->momentum = 0.9;
    o->weight_decay = -1;
    o->schedule = CLSEG_SCHEDULE_POLY;
    o->lr_gamma = 0.1;
    o->poly_power = 0.9;
    o->seed = 1;
    o->sync_bn = 1;
}

const char *clseg_optimizer_name(clseg_optimizer k) {
    return optim_name((optim_kind)k);
}

const char *clseg_lr_schedule_name(clseg_lr_schedule k) {
    return schedule_name((lr_schedule)k);
}

clseg_status session_fail(clseg_train_session *s, clseg_status status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    clseg_vfail(s->error, sizeof s->error, status, fmt, ap);
    va_end(ap);
    return status;
}

trainer_config session_trainer_config(const clseg_train_session *s, const float *weights) {
    const clseg_train_options *o = &s->o;
    return (trainer_config){
        o->batch,
        o->crop_height,
        o->crop_width,
        o->ignore_index,
        weights,
        {(optim_kind)o->optimizer, o->lr, o->momentum, o->weight_decay, 0.9, 0.999, 1e-8},
        o->reducer,
        o->sync_bn};
}

/* ---- create: options and model ------------------------------------------------------------- */

static clseg_status check_options(const clseg_train_options *o, char *err, size_t errlen) {
    const char *why = NULL;
    if (o->resume && o->init_model)
        why = "use either --resume or --init";
    else if (o->init_model && o->spec_path)
        why = "use either --spec or --init";
    else if (!o->resume && !o->init_model && !o->spec_path)
        why = "--spec (or --init, or --resume) is required";
    else if (o->spec_path && !o->resume && !o->classes && !o->class_file)
        why = "--classes is required with --spec";
    else if (o->classes < 0 || o->classes > MODEL_MAX_CLASSES)
        why = "--classes must be in 1..255";
    else if (o->batch < 1 || o->batch > 4096)
        why = "--batch must be in 1..4096";
    else if (o->crop_width < 0 || o->crop_height < 0 || o->crop_width > CLSEG_MAX_DIM ||
             o->crop_height > CLSEG_MAX_DIM || !o->crop_width != !o->crop_height)
        why = "--crop must be WxH";
    else if (o->ignore_index < -1 || o->ignore_index > 255)
        why = "--ignore must be in -1..255";
    else if (!(o->scale_min >= 0.05 && o->scale_min <= o->scale_max && o->scale_max <= 20))
        why = "--scale must be MIN,MAX with 0.05 <= MIN <= MAX";
    else if (!(o->class_crop >= 0 && o->class_crop <= 1))
        why = "--class-crop must be a probability in [0, 1]";
    else if (!(o->lr >= 0 && o->momentum >= 0 && o->momentum < 1 && o->weight_decay <= 1 &&
               o->lr_gamma >= 0 && o->lr_gamma <= 1 && o->poly_power >= 0 && o->poly_power <= 100 &&
               o->warmup_steps >= 0 && o->lr_step >= 0))
        why = "optimiser or schedule option out of range";
    else if ((unsigned)o->optimizer > CLSEG_OPTIMIZER_ADAM ||
             (unsigned)o->schedule > CLSEG_SCHEDULE_COSINE)
        why = "unknown optimiser or schedule";
    else if (o->val_every < 1 || o->checkpoint_every < 0 || o->stop_at_step < 0)
        why = "--val-every, --checkpoint-every or --stop-at-step out of range";
    else if (o->class_weights_count < 0 || (o->class_weights_count && !o->class_weights))
        why = "class_weights_count without class_weights";
    else if (o->reducer && (!o->reducer->struct_size || o->reducer->size < 1 ||
                            o->reducer->rank < 0 || o->reducer->rank >= o->reducer->size ||
                            !o->reducer->allreduce_sum || !o->reducer->broadcast))
        why = "the reducer needs struct_size, 0 <= rank < size and both callbacks";
    for (int k = 0; k < 3 && !why; k++)
        if (!(o->jitter[k] >= 0 && o->jitter[k] <= 0.9))
            why = "--jitter must be BRIGHTNESS,CONTRAST,SATURATION, each in [0, 0.9]";
    return why ? clseg_fail(err, errlen, CLSEG_ERR_INVALID_ARGUMENT, "%s", why) : CLSEG_OK;
}

/* A class file: "name [R G B]" lines. */
static clseg_status load_class_file(const char *path, int *k, char ***names, uint8_t (**palette)[3],
                                    char *err, size_t errlen) {
    char why[512];
    uint8_t *text;
    size_t size;
    *names = NULL;
    *palette = NULL;
    clseg_status st = clseg_read_file(path, 1 << 20, &text, &size, why, sizeof why);
    if (st != CLSEG_OK) return clseg_fail(err, errlen, st, "--classes: not a number, and %s", why);
    char **nm = calloc(MODEL_MAX_CLASSES, sizeof *nm);
    uint8_t(*pal)[3] = calloc(MODEL_MAX_CLASSES, 3);
    int n = 0, colours = 0, line_no = 0;
    st = nm && pal ? CLSEG_OK : CLSEG_ERR_OUT_OF_MEMORY;
    for (char *line = strtok((char *)text, "\n"); st == CLSEG_OK && line;
         line = strtok(NULL, "\n")) {
        line_no++;
        char *hash = strchr(line, '#');
        if (hash) *hash = 0;
        char name[MODEL_CLASS_NAME_MAX];
        int r, g, b, got = sscanf(line, "%63s %d %d %d", name, &r, &g, &b);
        if (got <= 0) continue;
        if (n == MODEL_MAX_CLASSES || (got != 1 && got != 4) ||
            (got == 4 && (r < 0 || r > 255 || g < 0 || g > 255 || b < 0 || b > 255))) {
            st = clseg_fail(err, errlen, CLSEG_ERR_FORMAT,
                            "%s: line %d: expected 'name' or 'name R G B' (at most %d classes)",
                            path, line_no, MODEL_MAX_CLASSES);
            break;
        }
        nm[n] = strdup(name);
        if (got == 4) {
            pal[n][0] = (uint8_t)r;
            pal[n][1] = (uint8_t)g;
            pal[n][2] = (uint8_t)b;
            colours++;
        }
        if (!nm[n++]) st = CLSEG_ERR_OUT_OF_MEMORY;
    }
    free(text);
    if (st == CLSEG_ERR_OUT_OF_MEMORY) clseg_fail(err, errlen, st, "out of memory");
    if (st == CLSEG_OK && n == 0)
        st = clseg_fail(err, errlen, CLSEG_ERR_FORMAT, "%s: no classes", path);
    if (st == CLSEG_OK && colours && colours != n)
        st = clseg_fail(err, errlen, CLSEG_ERR_FORMAT,
                        "%s: give a colour for every class or for none", path);
    if (st != CLSEG_OK) {
        for (int i = 0; nm && i < n; i++) free(nm[i]);
        free(nm);
        free(pal);
        return st;
    }
    *k = n;
    *names = nm;
    if (colours)
        *palette = pal;
    else
        free(pal);
    return CLSEG_OK;
}

/* --init or --resume given --classes: it must be the model's count. */
static clseg_status check_classes(const clseg_train_options *o, const clseg_model *m,
                                  const char *what, char *err, size_t errlen) {
    if (o->class_file)
        return clseg_fail(err, errlen, CLSEG_ERR_INVALID_ARGUMENT, "--classes %s does not match %s",
                          o->class_file, what);
    if (o->classes && o->classes != m->classes)
        return clseg_fail(err, errlen, CLSEG_ERR_INVALID_ARGUMENT, "--classes %d does not match %s",
                          o->classes, what);
    return CLSEG_OK;
}

static clseg_status build_model(clseg_train_session *s, char *err, size_t errlen) {
    const clseg_train_options *o = &s->o;
    char what[600];
    clseg_status st;
    if (o->resume) {
        st = checkpoint_load(o->resume, &s->model, &s->resumed, &s->moments, err, errlen);
        if (st != CLSEG_OK) return st;
        snprintf(what, sizeof what, "the checkpoint's %d classes", s->model->classes);
        st = check_classes(o, s->model, what, err, errlen);
        if (st != CLSEG_OK || !o->spec_path) return st;
        uint8_t *text;
        size_t size;
        st = clseg_read_file(o->spec_path, 1 << 20, &text, &size, err, errlen);
        if (st != CLSEG_OK) return st;
        int same = !strcmp((const char *)text, s->model->spec_text);
        free(text);
        return same ? CLSEG_OK
                    : clseg_fail(err, errlen, CLSEG_ERR_INVALID_ARGUMENT,
                                 "--spec %s differs from the network in %s", o->spec_path,
                                 o->resume);
    }
    if (o->init_model) {
        st = clseg_model_load(&s->model, o->init_model, err, errlen);
        if (st != CLSEG_OK) return st;
        snprintf(what, sizeof what, "the %d classes of %.500s", s->model->classes, o->init_model);
        return check_classes(o, s->model, what, err, errlen);
    }
    int k = o->classes;
    char **names = NULL;
    uint8_t(*palette)[3] = NULL;
    if (o->class_file) {
        st = load_class_file(o->class_file, &k, &names, &palette, err, errlen);
        if (st != CLSEG_OK) return st;
    }
    uint8_t *text;
    size_t size;
    char why[1024];
    st = clseg_read_file(o->spec_path, 1 << 20, &text, &size, err, errlen);
    if (st == CLSEG_OK) {
        st = model_init((const char *)text, k, o->seed, (const char *const *)names,
                        (const uint8_t(*)[3])palette, &s->model, why, sizeof why);
        if (st != CLSEG_OK) clseg_fail(err, errlen, st, "%s: %s", o->spec_path, why);
        free(text);
    }
    for (int i = 0; names && i < k; i++) free(names[i]);
    free(names);
    free(palette);
    return st;
}

clseg_status clseg_train_session_create(clseg_train_session **out, const clseg_train_options *opts,
                                        char *errbuf, size_t errbuf_size) {
    if (!out) return clseg_fail(errbuf, errbuf_size, CLSEG_ERR_INVALID_ARGUMENT, "out is NULL");
    *out = NULL;
    if (!opts) return clseg_fail(errbuf, errbuf_size, CLSEG_ERR_INVALID_ARGUMENT, "opts is NULL");
    if (!opts->struct_size)
        return clseg_fail(errbuf, errbuf_size, CLSEG_ERR_INVALID_ARGUMENT,
                          "training options not initialised (struct_size 0)");
    clseg_train_session *s = clseg_calloc(1, sizeof *s);
    if (!s) return clseg_fail(errbuf, errbuf_size, CLSEG_ERR_OUT_OF_MEMORY, "out of memory");
    clseg_train_options_init(&s->o);
    memcpy(&s->o, opts, CLSEG_MIN(opts->struct_size, sizeof s->o));
    s->o.struct_size = sizeof s->o;
    s->o.flip = !!s->o.flip;
    s->o.sync_bn = !!s->o.sync_bn;
    s->ranks = s->o.reducer ? s->o.reducer->size : 1;
    s->rank = s->o.reducer ? s->o.reducer->rank : 0;
    if (s->o.lr <= 0) s->o.lr = s->o.optimizer == CLSEG_OPTIMIZER_ADAM ? 1e-3 : 1e-2;
    if (s->o.weight_decay < 0)
        s->o.weight_decay = s->o.optimizer == CLSEG_OPTIMIZER_ADAM ? 1e-4 : 5e-4;
    clseg_status st = check_options(&s->o, errbuf, errbuf_size);
    if (st == CLSEG_OK) st = build_model(s, errbuf, errbuf_size);
    if (st != CLSEG_OK) {
        clseg_train_session_free(s);
        return st;
    }
    *out = s;
    return CLSEG_OK;
}

void clseg_train_session_free(clseg_train_session *s) {
    if (!s) return;
    if (s->loss_log) fclose(s->loss_log);
    trainer_free(s->t);
    dataset_free(&s->train);
    dataset_free(&s->val);
    clseg_model_free(s->model);
    ckpt_moments_free(&s->moments);
    free(s->weights);
    free(s->ckpt_path);
    free(s);
}

const char *clseg_train_session_error(const clseg_train_session *s) {
    return s ? s->error : "";
}

const clseg_model *clseg_train_session_model(const clseg_train_session *s) {
    return s ? s->model : NULL;
}

/* ---- load_data: data, class weights, the run configuration --------------------------------- */

static void config_text(const clseg_train_session *s, char *buf, size_t len) {
    const clseg_train_options *o = &s->o;
    const int classes = s->model->classes;
    size_t n = 0;
    n += (size_t)snprintf(buf + n, len - n,
                          "seed %" PRIu64 "\nbatch %d\ncrop %dx%d\nscale %.9g,%.9g\nflip %d\n"
                          "optimizer %s\nlr %.17g\nmomentum %.17g\nweight_decay %.17g\n"
                          "schedule %s\nlr_step %d\nlr_gamma %.17g\npoly_power %.17g\n"
                          "warmup_steps %ld\nepochs %d\nclasses %d\nignore %d\n"
                          "train_images %d\njitter %.9g,%.9g,%.9g\nclass_crop %.9g\n"
                          "class_weights ",
                          o->seed, o->batch * s->ranks, o->crop_width, o->crop_height, o->scale_min,
                          o->scale_max, o->flip, clseg_optimizer_name(o->optimizer), o->lr,
                          o->momentum, o->weight_decay, clseg_lr_schedule_name(o->schedule),
                          o->lr_step, o->lr_gamma, o->poly_power, o->warmup_steps, o->epochs,
                          classes, o->ignore_index, s->train.count, o->jitter[0], o->jitter[1],
                          o->jitter[2], o->class_crop);
    for (int c = 0; c < classes && n < len; c++)
        n += (size_t)snprintf(buf + n, len - n, "%s%.9g", c ? "," : "", (double)s->weights[c]);
    if (n < len) snprintf(buf + n, len - n, "\n");
}

/* Every rank must run the same configuration (the same options and data), or their gradients
   would not belong to one run: rank 0's is broadcast and compared. */
static clseg_status same_as_rank0(clseg_train_session *s) {
    const clseg_reducer *r = s->o.reducer;
    char theirs[TRAIN_CONFIG_MAX], err[512] = "", diff[512];
    memcpy(theirs, s->state.config, sizeof theirs);
    clseg_status st = r->broadcast(r->user, theirs, sizeof theirs, err, sizeof err);
    if (st != CLSEG_OK) return session_fail(s, st, "broadcast from rank 0: %s", err);
    theirs[sizeof theirs - 1] = 0;
    static const char *const none[] = {NULL};
    if (!train_config_compare(theirs, s->state.config, none, diff, sizeof diff))
        return session_fail(s, CLSEG_ERR_INVALID_ARGUMENT,
                            "rank %d runs another configuration than rank 0 (%s): give every "
                            "rank the same options and data",
                            s->rank, diff);
    return CLSEG_OK;
}

static clseg_status class_weights(clseg_train_session *s) {
    const clseg_train_options *o = &s->o;
    const int classes = s->model->classes;
    s->weights = calloc((size_t)classes, sizeof *s->weights);
    if (!s->weights) return session_fail(s, CLSEG_ERR_OUT_OF_MEMORY, "out of memory");
    if (o->class_weights_median_freq) {
        uint64_t *counts = calloc((size_t)classes, 8), *present = calloc((size_t)classes, 8);
        char err[1024];
        clseg_status st = counts && present
                              ? dataset_class_stats(&s->train, classes, o->ignore_index, counts,
                                                    present, err, sizeof err)
                              : CLSEG_ERR_OUT_OF_MEMORY;
        if (st == CLSEG_OK) class_weights_median_freq(counts, present, classes, s->weights);
        free(counts);
        free(present);
        if (st != CLSEG_OK)
            return session_fail(s, st, "median-freq class weights: %s",
                                st == CLSEG_ERR_OUT_OF_MEMORY ? "out of memory" : err);
        return CLSEG_OK;
    }
    if (o->class_weights_count && o->class_weights_count != classes)
        return session_fail(s, CLSEG_ERR_INVALID_ARGUMENT,
                            "--class-weights needs median-freq or %d non-negative numbers "
                            "separated by commas",
                            classes);
    for (int c = 0; c < classes; c++) {
        float w = o->class_weights_count ? o->class_weights[c] : 1;
        if (!(w >= 0) || !isfinite(w))
            return session_fail(s, CLSEG_ERR_INVALID_ARGUMENT,
                                "--class-weights: class %d has weight %g", c, (double)w);
        s->weights[c] = w;
    }
    return CLSEG_OK;
}

static clseg_status check_data_options(clseg_train_session *s) {
    const clseg_train_options *o = &s->o;
    const char *why = NULL;
    if (!o->train_images || !o->train_labels)
        why = "--train-images and --train-labels are required";
    else if (!o->val_images != !o->val_labels)
        why = "--val-images and --val-labels go together";
    else if (o->epochs < 1)
        why = "--epochs is required";
    else if (!o->out_model)
        why = "--out is required";
    return why ? session_fail(s, CLSEG_ERR_INVALID_ARGUMENT, "%s", why) : CLSEG_OK;
}

clseg_status clseg_train_session_load_data(clseg_train_session *s) {
    if (!s) return CLSEG_ERR_INVALID_ARGUMENT;
    if (s->phase != SESSION_CREATED)
        return session_fail(s, CLSEG_ERR_INVALID_ARGUMENT, "the data are loaded already");
    clseg_train_options *o = &s->o;
    char err[1024];
    clseg_status st = check_data_options(s);
    if (st != CLSEG_OK) return st;
    st = dataset_open(&s->train, o->train_images, o->train_labels, err, sizeof err);
    if (st != CLSEG_OK) return session_fail(s, st, "%s", err);
    if (o->val_images) {
        st = dataset_open(&s->val, o->val_images, o->val_labels, err, sizeof err);
        if (st != CLSEG_OK) return session_fail(s, st, "%s", err);
        s->has_val = 1;
    }
    s->phase = SESSION_DATA;
    if (!o->crop_width) { /* the first image's size */
        image_rgb img;
        st = dataset_load(&s->train, 0, s->model->classes, o->ignore_index, &img, NULL, err,
                          sizeof err);
        if (st != CLSEG_OK) return session_fail(s, st, "%s", err);
        o->crop_width = img.width;
        o->crop_height = img.height;
        image_rgb_free(&img);
    }
    s->steps_per_epoch = loader_steps(s->train.count, o->batch * s->ranks);
    if (s->steps_per_epoch < 1)
        return session_fail(s, CLSEG_ERR_INVALID_ARGUMENT,
                            "%s: %d images, fewer than one batch of %d", o->train_images,
                            s->train.count, o->batch * s->ranks);
    s->total_steps = (long)s->steps_per_epoch * o->epochs;
    if (!o->lr_step && o->resume) {
        /* The default depends on epochs, which a resumed run may change: keep the run's. */
        size_t n = 0;
        const char *v = train_config_value(s->resumed.config, "lr_step", &n);
        if (v) o->lr_step = (int)strtol(v, NULL, 10);
    }
    if (!o->lr_step) o->lr_step = o->epochs >= 3 ? o->epochs / 3 : 1;
    st = class_weights(s);
    if (st != CLSEG_OK) return st;
    config_text(s, s->state.config, sizeof s->state.config);
    if (s->ranks > 1) {
        st = same_as_rank0(s);
        if (st != CLSEG_OK) return st;
    }
    if (o->resume) {
        static const char *const may_change[] = {"epochs", NULL};
        char diff[512];
        if (!train_config_compare(s->resumed.config, s->state.config, may_change, diff,
                                  sizeof diff))
            return session_fail(s, CLSEG_ERR_INVALID_ARGUMENT,
                                "--resume: this run differs from the checkpoint's (%s); resume "
                                "with the same options",
                                diff);
        char config[TRAIN_CONFIG_MAX];
        memcpy(config, s->state.config, sizeof config);
        s->state = s->resumed;
        memcpy(s->state.config, config, sizeof config);
        if (s->state.epoch >= o->epochs) return CLSEG_OK; /* finished: info says so */
    } else {
        s->state.best_miou = -1;
    }
    snprintf(s->last_good, sizeof s->last_good, "none written by this run yet");
    const char *ckpt = o->checkpoint;
    char *path = NULL;
    if (!ckpt) {
        size_t n = strlen(o->out_model) + 8;
        if ((path = malloc(n))) snprintf(path, n, "%s.ckpt", o->out_model);
    } else {
        path = strdup(ckpt);
    }
    if (!path) return session_fail(s, CLSEG_ERR_OUT_OF_MEMORY, "out of memory");
    s->ckpt_path = path;
    const clseg_model *m = s->model;
    s->aug = (augment_opts){o->crop_width,
                            o->crop_height,
                            (float)o->scale_min,
                            (float)o->scale_max,
                            o->flip,
                            o->ignore_index,
                            {m->mean[0], m->mean[1], m->mean[2]},
                            {m->std[0], m->std[1], m->std[2]},
                            {(float)o->jitter[0], (float)o->jitter[1], (float)o->jitter[2]},
                            (float)o->class_crop};
    if (m->channels != 3)
        return session_fail(s, CLSEG_ERR_INVALID_ARGUMENT,
                            "training reads RGB images; the model takes %d channels", m->channels);
    return CLSEG_OK;
}

/* ---- start: the trainer on a device -------------------------------------------------------- */

clseg_status clseg_train_session_start(clseg_train_session *s, clseg_context *ctx) {
    if (!s) return CLSEG_ERR_INVALID_ARGUMENT;
    if (!ctx) return session_fail(s, CLSEG_ERR_INVALID_ARGUMENT, "start needs a context (NULL)");
    if (s->phase != SESSION_DATA || !s->ckpt_path)
        return session_fail(s, CLSEG_ERR_INVALID_ARGUMENT,
                            "start needs loaded data and a run that is not finished");
    const clseg_train_options *o = &s->o;
    trainer_config cfg = session_trainer_config(s, s->weights);
    clseg_status st = trainer_create(&s->t, ctx, s->model, &cfg);
    if (st != CLSEG_OK) return session_fail(s, st, "%s", clseg_context_error(ctx));
    s->ctx = ctx;
    if (o->resume) {
        char err[1024];
        st = checkpoint_apply(s->t, &s->moments, err, sizeof err);
        if (st != CLSEG_OK) return session_fail(s, st, "%s: %s", o->resume, err);
        trainer_set_updates(s->t, s->state.updates);
        snprintf(s->last_good, sizeof s->last_good, "%.400s (epoch %d, step %d, resumed from)",
                 o->resume, s->state.epoch + 1, s->state.step);
    }
    /* Every rank starts from rank 0's weights (equal already when all read the same files or
       seed; this makes it so whatever the ranks read). */
    st = trainer_broadcast(s->t, 1);
    if (st != CLSEG_OK) return session_fail(s, st, "%s", clseg_context_error(ctx));
    if (o->loss_log && session_writer(s) && !(s->loss_log = fopen(o->loss_log, "a")))
        return session_fail(s, CLSEG_ERR_IO, "%s: cannot open for appending", o->loss_log);
    s->phase = SESSION_STARTED;
    return CLSEG_OK;
}

void clseg_train_session_info(const clseg_train_session *s, clseg_train_info *out) {
    if (!out) return;
    memset(out, 0, sizeof *out);
    if (!s) return;
    const clseg_train_options *o = &s->o;
    out->network_name = s->model->spec.name;
    out->classes = s->model->classes;
    out->crop_width = o->crop_width;
    out->crop_height = o->crop_height;
    out->batch = o->batch;
    out->epochs = o->epochs;
    out->train_images = s->train.count;
    out->val_images = s->has_val ? s->val.count : 0;
    out->steps_per_epoch = s->steps_per_epoch;
    out->total_steps = s->total_steps;
    out->class_weights = s->weights;
    out->lr = o->lr;
    out->optimizer = clseg_optimizer_name(o->optimizer);
    out->schedule = clseg_lr_schedule_name(o->schedule);
    out->checkpoint = s->ckpt_path;
    out->out_model = o->out_model;
    out->epoch = s->state.epoch;
    out->step = s->state.step;
    out->global_step = s->state.global_step;
    out->best_miou = s->phase >= SESSION_DATA ? s->state.best_miou : -1;
    out->best_epoch = s->state.best_epoch;
    out->finished = s->phase >= SESSION_DATA && o->epochs > 0 && s->state.epoch >= o->epochs;
    out->stopped = s->stopped;
    out->diverged = s->diverged;
    out->peer_failed = s->peer_failed;
    out->stopped_all = s->stopped_all;
    out->device_bytes = s->t ? trainer_device_bytes(s->t) : 0;
}

/* ---- run: the epoch loop ------------------------------------------------------------------- */

typedef struct run {
    clseg_train_session *s;
    clseg_train_progress_fn cb;
    void *user;
    double session_start; /* for the run ETA: this run's mean step time */
    long session_steps;
    int stop;
} run;

static clseg_train_progress progress_base(const run *r, int epoch, clseg_train_event event) {
    const clseg_train_session *s = r->s;
    clseg_train_progress p;
    memset(&p, 0, sizeof p);
    p.event = event;
    p.epoch = epoch + 1;
    p.epochs = s->o.epochs;
    p.step = s->state.step;
    p.steps_per_epoch = s->steps_per_epoch;
    p.batch = s->o.batch * s->ranks;
    p.global_step = s->state.global_step;
    p.total_steps = s->total_steps;
    p.best_miou = s->state.best_miou;
    p.best_epoch = s->state.best_epoch;
    return p;
}

static int emit(const run *r, const clseg_train_progress *p) {
    return r->cb ? r->cb(r->user, p) : 0;
}

static clseg_status save_checkpoint(clseg_train_session *s) {
    char err[1024];
    if (!session_writer(s)) return CLSEG_OK;
    clseg_status st = checkpoint_save(s->ckpt_path, s->t, &s->state, err, sizeof err);
    if (st != CLSEG_OK) return session_fail(s, st, "%s", err);
    snprintf(s->last_good, sizeof s->last_good, "%.400s (epoch %d, step %d)", s->ckpt_path,
             s->state.epoch + 1, s->state.step);
    return CLSEG_OK;
}

typedef struct val_progress {
    const run *r;
    clseg_train_progress p;
} val_progress;

static void on_val_progress(void *user, int done, int total, double elapsed_s) {
    val_progress *v = user;
    v->p.val_done = done;
    v->p.val_total = total;
    v->p.elapsed_s = elapsed_s;
    emit(v->r, &v->p);
}

/* Validates the current weights (when due) and writes out_model when they are the best so far
   (every time without a validation set). */
static clseg_status end_of_epoch(run *r, int epoch, double train_loss, double epoch_s) {
    clseg_train_session *s = r->s;
    const clseg_train_options *o = &s->o;
    const clseg_model *m;
    char err[1024];
    /* Per-rank BatchNorm statistics: the model keeps rank 0's running statistics, on every
       rank, so that validation scores the model that is saved. */
    clseg_status st = o->sync_bn ? CLSEG_OK : trainer_broadcast(s->t, 0);
    if (st == CLSEG_OK) st = trainer_sync_model(s->t, &m);
    if (st != CLSEG_OK) return session_fail(s, st, "%s", clseg_context_error(s->ctx));
    clseg_train_progress p = progress_base(r, epoch - 1, CLSEG_TRAIN_EPOCH_END);
    p.train_loss = train_loss;
    p.epoch_s = epoch_s;
    if (s->has_val && epoch % o->val_every && epoch != o->epochs) {
        emit(r, &p);
        return CLSEG_OK;
    }
    if (!s->has_val) {
        s->state.best_epoch = epoch;
        p.best_epoch = epoch;
        st = session_writer(s) ? model_save(m, o->out_model, err, sizeof err) : CLSEG_OK;
        if (st != CLSEG_OK) return session_fail(s, st, "%s", err);
        emit(r, &p);
        return CLSEG_OK;
    }
    clseg_net *net = NULL;
    st = clseg_net_create(&net, s->ctx, m);
    if (st != CLSEG_OK) return session_fail(s, st, "validation: %s", clseg_context_error(s->ctx));
    val_progress vp = {r, progress_base(r, epoch - 1, CLSEG_TRAIN_VALIDATION_BEGIN)};
    vp.p.val_total = s->val.count;
    emit(r, &vp.p);
    vp.p.event = CLSEG_TRAIN_VALIDATION_PROGRESS;
    double t0 = clseg_now_ms();
    clseg_metrics *metrics = NULL;
    st = evaluate_dataset(s->ctx, net, m, &s->val, o->ignore_index, o->reducer, on_val_progress,
                          &vp, &metrics, err, sizeof err);
    clseg_net_free(net);
    if (st != CLSEG_OK && s->ranks > 1) { /* every rank joined the failed evaluation's sum */
        s->stopped_all = 1;
        s->peer_failed = !strncmp(err, "stopped: ", 9);
    }
    if (st != CLSEG_OK) return session_fail(s, st, "validation: %s", err);
    p.new_best = metrics->miou > s->state.best_miou;
    if (p.new_best) {
        s->state.best_miou = metrics->miou;
        s->state.best_epoch = epoch;
        st = session_writer(s) ? model_save(m, o->out_model, err, sizeof err) : CLSEG_OK;
        if (st != CLSEG_OK) {
            clseg_metrics_free(metrics);
            return session_fail(s, st, "%s", err);
        }
    }
    p.validated = 1;
    p.metrics = metrics;
    p.validation_s = (clseg_now_ms() - t0) / 1000.0;
    p.best_miou = s->state.best_miou;
    p.best_epoch = s->state.best_epoch;
    emit(r, &p);
    clseg_metrics_free(metrics);
    return CLSEG_OK;
}

/* The steps of epoch e from the current position; sets r->stop when asked to stop. */
static clseg_status run_epoch(run *r, int e) {
    clseg_train_session *s = r->s;
    const clseg_train_options *o = &s->o;
    char err[1024];
    loader *ld = NULL;
    clseg_status st = loader_start(&ld, &s->train, s->model->classes, &s->aug, o->batch, s->ranks,
                                   s->rank, o->seed, e, s->state.step, err, sizeof err);
    if (st != CLSEG_OK) return session_fail(s, st, "%s", err);
    const int first = s->state.step;
    clseg_train_progress p = progress_base(r, e, CLSEG_TRAIN_EPOCH_BEGIN);
    p.first_step = first;
    emit(r, &p);
    double loss_sum = 0, epoch_start = clseg_now_ms();
    int loss_n = 0;
    const schedule_config sched = {(lr_schedule)o->schedule, o->lr_step, o->lr_gamma, o->poly_power,
                                   (int)o->warmup_steps};
    for (int i = first; i < s->steps_per_epoch && st == CLSEG_OK; i++) {
        const batch *b;
        st = loader_next(ld, &b, err, sizeof err);
        if (st != CLSEG_OK) {
            step_stats none;
            if (s->ranks > 1) { /* stops the others at this step */
                trainer_step(s->t, NULL, NULL, 0, 0, &none);
                s->stopped_all = 1;
            }
            session_fail(s, st, "%s", err);
            break;
        }
        double lr =
            schedule_lr(&sched, o->lr, s->state.global_step, s->total_steps, s->steps_per_epoch);
        step_stats ss;
        st = trainer_step(s->t, b->x, b->y, lr, 1, &ss);
        if (st != CLSEG_OK) {
            s->peer_failed = s->stopped_all = trainer_peer_failed(s->t);
            session_fail(s, st, "%s", clseg_context_error(s->ctx));
            break;
        }
        if (!ss.finite) {
            double bad = isfinite(ss.loss) ? ss.grad_sumsq : ss.loss;
            s->diverged = s->stopped_all = 1;
            st = session_fail(s, CLSEG_ERR_INVALID_ARGUMENT,
                              "training stopped: the %s is %s at epoch %d, step %d (global step "
                              "%ld, lr %.3g); nothing was updated or saved after it; last good "
                              "checkpoint: %s. Lower --lr or check the data.",
                              isfinite(ss.loss) ? "gradient" : "loss", isnan(bad) ? "NaN" : "Inf",
                              e + 1, i, s->state.global_step, lr, s->last_good);
            break;
        }
        if (s->loss_log) {
            fprintf(s->loss_log, "%d %d %ld %.17g %.17g\n", e, i, s->state.global_step, ss.loss,
                    lr);
            fflush(s->loss_log);
        }
        loss_sum += ss.loss;
        loss_n++;
        s->state.global_step++;
        s->state.step = i + 1;
        s->state.updates = trainer_updates(s->t);
        r->session_steps++;
        double now = clseg_now_ms();
        double per_step = (now - r->session_start) / r->session_steps / 1000.0;
        p = progress_base(r, e, CLSEG_TRAIN_STEP);
        p.first_step = first;
        p.elapsed_s = (now - epoch_start) / 1000.0;
        p.loss = ss.loss;
        p.loss_avg = loss_sum / loss_n;
        p.lr = lr;
        p.images_per_s = p.elapsed_s > 0 ? (i + 1 - first) * p.batch / p.elapsed_s : 0;
        p.eta_s = per_step * (double)(s->total_steps - s->state.global_step);
        if (emit(r, &p)) r->stop = 1;
        if (o->stop_at_step && s->state.global_step >= o->stop_at_step) r->stop = 1;
        int last = i + 1 == s->steps_per_epoch;
        if (!last &&
            (r->stop || (o->checkpoint_every && s->state.global_step % o->checkpoint_every == 0)))
            st = save_checkpoint(s);
        if (r->stop) break;
    }
    loader_stop(ld);
    p = progress_base(r, e, CLSEG_TRAIN_EPOCH_STEPS_END);
    p.first_step = first;
    p.elapsed_s = (clseg_now_ms() - epoch_start) / 1000.0;
    emit(r, &p);
    if (st != CLSEG_OK || s->state.step < s->steps_per_epoch) return st; /* stopped mid-epoch */
    s->state.epoch = e + 1;
    s->state.step = 0;
    st = end_of_epoch(r, e + 1, loss_n ? loss_sum / loss_n : NAN,
                      (clseg_now_ms() - epoch_start) / 1000.0);
    return st == CLSEG_OK ? save_checkpoint(s) : st;
}

clseg_status clseg_train_session_run(clseg_train_session *s, clseg_train_progress_fn progress,
                                     void *user) {
    if (!s) return CLSEG_ERR_INVALID_ARGUMENT;
    if (s->phase != SESSION_STARTED)
        return session_fail(s, CLSEG_ERR_INVALID_ARGUMENT, "run needs a started session");
    if (s->diverged)
        return session_fail(s, CLSEG_ERR_INVALID_ARGUMENT, "the run diverged; nothing to resume");
    run r = {s, progress, user, clseg_now_ms(), 0, 0};
    s->stopped = 0;
    for (int e = s->state.epoch; e < s->o.epochs && !r.stop; e++) {
        clseg_status st = run_epoch(&r, e);
        if (st != CLSEG_OK) return st;
    }
    s->stopped = r.stop;
    return CLSEG_OK;
}
