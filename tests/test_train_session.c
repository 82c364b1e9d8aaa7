/* test_train_session.c - the public training API (clseg_train.h) alone: a tiny net trained on
   generated data lowers its loss, the progress callback sees sane values, an interrupted and
   resumed session repeats the uninterrupted one bit for bit, a changed option is refused on
   resume, and clseg_eval agrees with the validation and with its own JSON. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <clseg_train.h>
#include "public_check.h"

#define EPOCHS    6
#define MAX_STEPS 64

static char dir[256]; /* scratch directory with the generated data */

static void path(char *buf, size_t len, const char *name) {
    snprintf(buf, len, "%s/%s", dir, name);
}

/* What the progress callback saw. */
typedef struct seen {
    int begins, steps, steps_ends, val_begins, val_progress, epoch_ends, validated;
    double loss[MAX_STEPS]; /* by global step (1-based index - 1) */
    double first_epoch_loss, last_epoch_loss, last_val_miou;
    long stop_after; /* return non-zero at this global step (0 = never) */
    int insane;      /* a value out of range (described on stderr) */
} seen;

static int on_progress(void *user, const clseg_train_progress *p) {
    seen *s = user;
    if (p->epoch < 1 || p->epoch > p->epochs || p->epochs != EPOCHS || p->batch != 4 ||
        p->steps_per_epoch != 2 || p->total_steps != EPOCHS * 2) {
        fprintf(stderr, "bad position: epoch %d/%d batch %d steps %d total %ld\n", p->epoch,
                p->epochs, p->batch, p->steps_per_epoch, p->total_steps);
        s->insane++;
    }
    switch (p->event) {
    case CLSEG_TRAIN_EPOCH_BEGIN:
        s->begins++;
        break;
    case CLSEG_TRAIN_STEP:
        s->steps++;
        if (p->step < 1 || p->step > p->steps_per_epoch || p->global_step < 1 ||
            p->global_step > MAX_STEPS || !isfinite(p->loss) || p->loss <= 0 ||
            !isfinite(p->loss_avg) || p->lr <= 0 || !(p->images_per_s >= 0) || !(p->eta_s >= 0) ||
            !(p->elapsed_s >= 0)) {
            fprintf(stderr, "bad step: step %d global %ld loss %g avg %g lr %g img/s %g eta %g\n",
                    p->step, p->global_step, p->loss, p->loss_avg, p->lr, p->images_per_s,
                    p->eta_s);
            s->insane++;
        } else {
            s->loss[p->global_step - 1] = p->loss;
        }
        return s->stop_after && p->global_step == s->stop_after;
    case CLSEG_TRAIN_EPOCH_STEPS_END:
        s->steps_ends++;
        break;
    case CLSEG_TRAIN_VALIDATION_BEGIN:
        s->val_begins++;
        if (p->val_total != 4) s->insane++;
        break;
    case CLSEG_TRAIN_VALIDATION_PROGRESS:
        s->val_progress++;
        if (p->val_done < 1 || p->val_done > p->val_total) s->insane++;
        break;
    case CLSEG_TRAIN_EPOCH_END:
        s->epoch_ends++;
        if (p->epoch == 1) s->first_epoch_loss = p->train_loss;
        s->last_epoch_loss = p->train_loss;
        if (p->validated) {
            s->validated++;
            if (!p->metrics || p->metrics->images != 4 || !(p->metrics->miou >= 0) ||
                p->best_epoch < 1 || p->best_miou < p->metrics->miou) {
                fprintf(stderr, "bad validation at epoch %d\n", p->epoch);
                s->insane++;
            } else {
                s->last_val_miou = p->metrics->miou;
            }
        }
        break;
    }
    return 0;
}

static void options(clseg_train_options *o, const char *tag) {
    static char names[4][8][300];
    static int slot;
    char(*n)[300] = names[slot++ % 4];
    clseg_train_options_init(o);
    path(n[0], sizeof n[0], "train/images");
    path(n[1], sizeof n[1], "train/labels");
    path(n[2], sizeof n[2], "val/images");
    path(n[3], sizeof n[3], "val/labels");
    snprintf(n[4], sizeof n[4], "%s/%s.clsm", dir, tag);
    snprintf(n[5], sizeof n[5], "%s/%s.ckpt", dir, tag);
    snprintf(n[6], sizeof n[6], "%s/%s.log", dir, tag);
    o->spec_path = CLSEG_SOURCE_DIR "/tests/fixtures/train/tiny_train.cfg";
    o->classes = 4;
    o->ignore_index = 255;
    o->train_images = n[0];
    o->train_labels = n[1];
    o->val_images = n[2];
    o->val_labels = n[3];
    o->val_every = 2;
    o->epochs = EPOCHS;
    o->batch = 4;
    o->lr = 0.02;
    o->schedule = CLSEG_SCHEDULE_COSINE;
    o->class_weights_median_freq = 1;
    o->jitter[0] = 0.1;
    o->class_crop = 0.5;
    o->seed = 7;
    o->out_model = n[4];
    o->checkpoint = n[5];
    o->loss_log = n[6];
}

/* create + load_data + start; NULL (with a failed check) on error. */
static clseg_train_session *session(const clseg_train_options *o, clseg_context *ctx) {
    clseg_train_session *s = NULL;
    char err[1024];
    clseg_status st = clseg_train_session_create(&s, o, err, sizeof err);
    CHECK(st == CLSEG_OK, "create: %s", err);
    if (st != CLSEG_OK) return NULL;
    st = clseg_train_session_load_data(s);
    if (st == CLSEG_OK) st = clseg_train_session_start(s, ctx);
    CHECK(st == CLSEG_OK, "load/start: %s", clseg_train_session_error(s));
    if (st != CLSEG_OK) {
        clseg_train_session_free(s);
        return NULL;
    }
    return s;
}

static char *read_all(const char *name, size_t *len) {
    FILE *f = fopen(name, "rb");
    char *buf = NULL;
    *len = 0;
    if (!f) return NULL;
    if (fseek(f, 0, SEEK_END) == 0) {
        long n = ftell(f);
        rewind(f);
        buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
        if (buf && fread(buf, 1, (size_t)n, f) == (size_t)n) {
            buf[n] = 0;
            *len = (size_t)n;
        } else {
            free(buf);
            buf = NULL;
        }
    }
    fclose(f);
    return buf;
}

static int same_file(const char *a, const char *b) {
    size_t na, nb;
    char *x = read_all(a, &na), *y = read_all(b, &nb);
    int same = x && y && na == nb && !memcmp(x, y, na);
    free(x);
    free(y);
    return same;
}

static void test_on(clseg_context *ctx) {
    const clseg_device_info *dev = clseg_context_device(ctx);
    printf("device %s\n", dev->name);
    char name[300], other[300];

    /* An uninterrupted run. */
    clseg_train_options o;
    options(&o, "a");
    clseg_train_session *s = session(&o, ctx);
    if (!s) return;
    clseg_train_info info;
    clseg_train_session_info(s, &info);
    CHECK(info.classes == 4 && info.train_images == 8 && info.val_images == 4 &&
              info.steps_per_epoch == 2 && info.crop_width == 32 && info.crop_height == 24 &&
              info.class_weights && info.class_weights[0] > 0 && info.device_bytes > 0 &&
              !strcmp(info.optimizer, "adam") && !strcmp(info.schedule, "cosine"),
          "info: classes %d images %d/%d steps %d crop %dx%d", info.classes, info.train_images,
          info.val_images, info.steps_per_epoch, info.crop_width, info.crop_height);
    seen a = {0};
    clseg_status st = clseg_train_session_run(s, on_progress, &a);
    CHECK(st == CLSEG_OK, "run: %s", clseg_train_session_error(s));
    clseg_train_session_info(s, &info);
    CHECK(info.finished && !info.stopped && info.global_step == EPOCHS * 2 && info.best_epoch >= 1,
          "finished %d stopped %d global %ld best epoch %d", info.finished, info.stopped,
          info.global_step, info.best_epoch);
    double best_miou = info.best_miou;
    clseg_train_session_free(s);
    CHECK(!a.insane && a.begins == EPOCHS && a.steps == EPOCHS * 2 && a.steps_ends == EPOCHS &&
              a.epoch_ends == EPOCHS && a.validated == EPOCHS / 2 && a.val_begins == EPOCHS / 2 &&
              a.val_progress == 4 * EPOCHS / 2,
          "events: insane %d begins %d steps %d ends %d epoch ends %d validated %d", a.insane,
          a.begins, a.steps, a.steps_ends, a.epoch_ends, a.validated);
    CHECK(a.last_epoch_loss < 0.8 * a.first_epoch_loss, "loss %g -> %g", a.first_epoch_loss,
          a.last_epoch_loss);
    printf("train loss %.4f -> %.4f, best val mIoU %.2f\n", a.first_epoch_loss, a.last_epoch_loss,
           info.best_miou);

    /* The same run stopped by the callback after step 3, then resumed: the same losses, models
       and checkpoint. */
    options(&o, "b");
    s = session(&o, ctx);
    if (!s) return;
    seen b = {0};
    b.stop_after = 3;
    CHECK(clseg_train_session_run(s, on_progress, &b) == CLSEG_OK, "run b: %s",
          clseg_train_session_error(s));
    clseg_train_session_info(s, &info);
    CHECK(info.stopped && !info.finished && info.global_step == 3 && info.epoch == 1 &&
              info.step == 1,
          "stopped %d at global %ld (epoch %d step %d)", info.stopped, info.global_step, info.epoch,
          info.step);
    clseg_train_session_free(s);

    options(&o, "b");
    o.resume = o.checkpoint;
    o.spec_path = NULL;
    o.lr = 0.03;
    char err[1024];
    CHECK(clseg_train_session_create(&s, &o, err, sizeof err) == CLSEG_OK, "%s", err);
    st = clseg_train_session_load_data(s);
    CHECK(st == CLSEG_ERR_INVALID_ARGUMENT && strstr(clseg_train_session_error(s), "lr: "),
          "resume with another lr: %s: %s", clseg_status_str(st), clseg_train_session_error(s));
    clseg_train_session_free(s);

    o.lr = 0.02;
    s = session(&o, ctx);
    if (!s) return;
    clseg_train_session_info(s, &info);
    CHECK(info.global_step == 3 && info.epoch == 1 && info.step == 1, "resumed at %ld",
          info.global_step);
    b.stop_after = 0;
    CHECK(clseg_train_session_run(s, on_progress, &b) == CLSEG_OK, "resumed run: %s",
          clseg_train_session_error(s));
    clseg_train_session_free(s);
    CHECK(!b.insane && !memcmp(a.loss, b.loss, sizeof a.loss), "resumed losses differ");
    path(name, sizeof name, "a.log");
    path(other, sizeof other, "b.log");
    CHECK(same_file(name, other), "loss logs differ");
    path(name, sizeof name, "a.ckpt");
    path(other, sizeof other, "b.ckpt");
    CHECK(same_file(name, other), "final checkpoints differ");
    path(name, sizeof name, "a.clsm");
    path(other, sizeof other, "b.clsm");
    CHECK(same_file(name, other), "best models differ");

    /* clseg_eval of the best model gives the best validation mIoU, and its JSON says so. */
    clseg_model *model = NULL;
    path(name, sizeof name, "a.clsm");
    CHECK(clseg_model_load(&model, name, err, sizeof err) == CLSEG_OK, "%s", err);
    clseg_net *net = NULL;
    if (model) CHECK(clseg_net_create(&net, ctx, model) == CLSEG_OK, "net");
    if (!net) {
        clseg_model_free(model);
        return;
    }
    clseg_eval_options eo;
    clseg_eval_options_init(&eo);
    char images[300], labels[300];
    path(images, sizeof images, "val/images");
    path(labels, sizeof labels, "val/labels");
    eo.image_dir = images;
    eo.label_dir = labels;
    eo.ignore_index = 255;
    clseg_metrics *m = NULL;
    st = clseg_eval(&m, ctx, net, model, &eo, err, sizeof err);
    CHECK(st == CLSEG_OK, "eval: %s", err);
    if (m) {
        uint64_t sum = 0;
        for (int i = 0; i < m->classes * m->classes; i++) sum += m->confusion[i];
        CHECK(m->classes == 4 && m->scored_classes == 4 && m->images == 4 &&
                  m->labelled_pixels == 4 * 30 * 22 && sum == m->labelled_pixels,
              "classes %d images %d labelled %llu sum %llu", m->classes, m->images,
              (unsigned long long)m->labelled_pixels, (unsigned long long)sum);
        CHECK(m->miou == best_miou, "eval mIoU %.17g, best validation %.17g", m->miou, best_miou);
        CHECK(!strcmp(m->device, dev->name) && !strcmp(m->class_names[0], "class0"), "%s %s",
              m->device, m->class_names[0]);
        path(name, sizeof name, "eval.json");
        CHECK(clseg_metrics_write_json(m, name, "a.clsm", err, sizeof err) == CLSEG_OK, "%s", err);
        size_t len;
        char *json = read_all(name, &len), want[64];
        snprintf(want, sizeof want, "\"miou\": %.4f,", m->miou);
        CHECK(json && strstr(json, want) && strstr(json, "\"images\": 4,") &&
                  strstr(json, "\"model\": \"a.clsm\""),
              "json lacks %s:\n%s", want, json ? json : "(none)");
        free(json);
        clseg_metrics_free(m);
    }
    /* A label outside the classes is an error naming the file. */
    eo.ignore_index = -1;
    st = clseg_eval(&m, ctx, net, model, &eo, err, sizeof err);
    CHECK(st != CLSEG_OK && !m && strstr(err, ".png"), "eval without ignore: %s", err);
    clseg_net_free(net);
    clseg_model_free(model);
}

int main(void) {
    clseg_train_options o;
    clseg_train_session *s = (clseg_train_session *)&o;
    memset(&o, 0, sizeof o);
    CHECK(clseg_train_session_create(&s, &o, NULL, 0) == CLSEG_ERR_INVALID_ARGUMENT && !s,
          "uninitialised options accepted");

    snprintf(dir, sizeof dir, "/tmp/clseg_train_session_XXXXXX");
    if (!mkdtemp(dir)) return 1;
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "python3 %s/tests/fixtures/train/make_dataset.py regions %s/train 8 32 24 1 4 255 && "
             "python3 %s/tests/fixtures/train/make_dataset.py regions %s/val 4 32 24 2 4 255",
             CLSEG_SOURCE_DIR, dir, CLSEG_SOURCE_DIR, dir);
    CHECK(system(cmd) == 0, "generating the data");

    /* $CLSEG_DEVICE when set, else every device. */
    clseg_device_info *devs = NULL;
    size_t n = 0;
    const char *env = getenv("CLSEG_DEVICE");
    if (clseg_devices_list(&devs, &n) != CLSEG_OK) n = 0;
    int ran = 0;
    for (size_t i = 0; i < (env && *env ? 1 : n); i++) {
        char sel[32];
        snprintf(sel, sizeof sel, "%d:%d", devs[i].platform_index, devs[i].device_index);
        clseg_context_options co;
        clseg_context_options_init(&co);
        co.device = env && *env ? NULL : sel;
        clseg_context *ctx = NULL;
        char err[1024];
        if (clseg_context_create(&ctx, &co, err, sizeof err) != CLSEG_OK) {
            CHECK(0, "context %s: %s", co.device ? co.device : env, err);
            continue;
        }
        test_on(ctx);
        clseg_context_free(ctx);
        ran++;
    }
    clseg_free(devs);
    const char *allow = getenv("CLSEG_ALLOW_NO_DEVICE");
    CHECK(ran > 0 || (allow && !strcmp(allow, "1")), "no device");

    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0, "cleanup");
    return check_finish("test_train_session");
}
