/* test_train_data.c - the trainer's host side: augmentation, shuffling, dataset listing and label
   checks, the loader thread, median-frequency weights, metrics, schedules, config comparison. */
/* ctest-label: host */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "io/image.h"
#include "train/checkpoint.h"
#include "train/dataset.h"
#include "train/loader.h"
#include "train/metrics.h"
#include "testutil.h"

static const augment_opts plain = {8, 6, 1, 1, 0, 255, {0, 0, 0}, {1, 1, 1}, {0, 0, 0}, 0};

static image_rgb make_image(int w, int h, uint8_t *labels) {
    image_rgb img = {w, h, malloc((size_t)w * h * 3)};
    for (int i = 0; i < w * h; i++) {
        img.rgb[3 * i] = (uint8_t)(i * 7);
        img.rgb[3 * i + 1] = (uint8_t)(i * 13 + 5);
        img.rgb[3 * i + 2] = (uint8_t)(255 - i);
        if (labels) labels[i] = (uint8_t)(i % 5);
    }
    return img;
}

static void test_augment(void) {
    uint8_t labels[48];
    image_rgb img = make_image(8, 6, labels);
    float x[3 * 48], x2[3 * 48];
    int32_t y[48], y2[48];
    /* scale 1, crop = image, no flip: an exact copy (normalised with mean 0, std 1: p / 255) */
    augment_sample(&img, labels, &plain, 42, x, y);
    int exact = 1;
    for (int i = 0; i < 48; i++) {
        exact &= y[i] == labels[i];
        for (int c = 0; c < 3; c++)
            exact &= fabsf(x[c * 48 + i] - img.rgb[3 * i + c] / 255.0f) < 1e-6f;
    }
    CHECK(exact, "identity augmentation changed the sample");

    /* flip: every stream that flips mirrors the rows exactly */
    augment_opts o = plain;
    o.flip = 1;
    int flips = 0, ok = 1;
    for (uint64_t s = 0; s < 32; s++) {
        augment_sample(&img, labels, &o, s, x2, y2);
        int same = !memcmp(y2, y, sizeof y);
        int mirrored = 1;
        for (int r = 0; r < 6; r++)
            for (int c = 0; c < 8; c++) {
                mirrored &= y2[r * 8 + c] == y[r * 8 + 7 - c];
                mirrored &= x2[r * 8 + c] == x[r * 8 + 7 - c];
            }
        flips += !same;
        ok &= same || mirrored;
    }
    CHECK(ok, "a flip is not an exact mirror");
    CHECK(flips > 4 && flips < 28, "%d of 32 streams flipped", flips);

    /* a crop larger than the image pads with the ignore label and the mean colour (0) */
    o = plain;
    o.crop_w = 12;
    o.crop_h = 9;
    float xp[3 * 108];
    int32_t yp[108];
    augment_sample(&img, labels, &o, 7, xp, yp);
    int pads = 0, copied = 0, pad_ok = 1;
    for (int i = 0; i < 108; i++) {
        if (yp[i] == 255) {
            pads++;
            pad_ok &= xp[i] == 0 && xp[108 + i] == 0 && xp[216 + i] == 0;
        } else {
            copied++;
        }
    }
    CHECK(pads == 108 - 48 && copied == 48 && pad_ok, "padding: %d padded, %d copied", pads,
          copied);

    /* scale jitter: labels stay labels (nearest), deterministic per stream */
    o = plain;
    o.scale_min = 0.5f;
    o.scale_max = 2.0f;
    o.flip = 1;
    augment_sample(&img, labels, &o, 99, x, y);
    augment_sample(&img, labels, &o, 99, x2, y2);
    CHECK(!memcmp(x, x2, sizeof x) && !memcmp(y, y2, sizeof y), "same stream, different sample");
    int valid = 1;
    for (int i = 0; i < 48; i++) valid &= (y[i] >= 0 && y[i] < 5) || y[i] == 255;
    CHECK(valid, "scaled labels are not labels");
    image_rgb_free(&img);
}

/* Class-balanced crops: a class with one pixel in a 32x24 frame lands in an 8x6 crop about half of
   the time (two classes present) instead of 8 in 475 windows; the other class never goes away. */
static void test_class_crop(void) {
    uint8_t labels[32 * 24];
    image_rgb img = make_image(32, 24, NULL);
    memset(labels, 0, sizeof labels);
    labels[20 * 32 + 30] = 3;
    augment_opts o = plain;
    float x[3 * 48];
    int32_t y[48];
    int hits[2] = {0, 0};
    for (int balanced = 0; balanced < 2; balanced++) {
        o.class_crop = (float)balanced;
        for (uint64_t s = 0; s < 200; s++) {
            augment_sample(&img, labels, &o, s, x, y);
            int found = 0;
            for (int i = 0; i < 48; i++) found |= y[i] == 3;
            hits[balanced] += found;
        }
    }
    CHECK(hits[0] < 20, "random crops held the one-pixel class %d of 200 times", hits[0]);
    CHECK(hits[1] > 70 && hits[1] < 130, "class-balanced crops held it %d of 200 times", hits[1]);
    image_rgb_free(&img);
}

/* Colour jitter: a grey image stays grey under saturation jitter; brightness alone scales every
   pixel by one factor; zero jitter is the plain path bit for bit. */
static void test_colour_jitter(void) {
    image_rgb img = make_image(8, 6, NULL);
    for (int i = 0; i < 48; i++) img.rgb[3 * i + 1] = img.rgb[3 * i + 2] = img.rgb[3 * i] / 2;
    float base[3 * 48], x[3 * 48];
    augment_sample(&img, NULL, &plain, 5, base, NULL);
    augment_opts o = plain;
    o.jitter[0] = 0.4f;
    int scaled = 1, changed = 0;
    for (uint64_t s = 0; s < 16; s++) {
        augment_sample(&img, NULL, &o, s, x, NULL);
        float f = 0;
        for (int i = 0; i < 3 * 48; i++) {
            if (base[i] > 0.02f && x[i] < 0.999f) {
                if (f == 0) f = x[i] / base[i];
                scaled &= fabsf(x[i] / base[i] - f) < 1e-4f;
            }
        }
        scaled &= f >= 0.6f - 1e-4f && f <= 1.4f + 1e-4f;
        changed += fabsf(f - 1) > 1e-3f;
    }
    CHECK(scaled && changed > 10, "brightness jitter is not one gain per sample in [0.6, 1.4]");
    for (int i = 0; i < 48; i++) img.rgb[3 * i + 1] = img.rgb[3 * i + 2] = img.rgb[3 * i];
    augment_sample(&img, NULL, &plain, 5, base, NULL);
    o = plain;
    o.jitter[2] = 0.9f;
    augment_sample(&img, NULL, &o, 3, x, NULL);
    int grey = 1;
    for (int i = 0; i < 3 * 48; i++) grey &= fabsf(x[i] - base[i]) < 1e-5f;
    CHECK(grey, "saturation jitter changed a grey image");
    image_rgb_free(&img);
}

static void test_shuffle(void) {
    int a[100], b[100], c[100], seen[100] = {0};
    shuffle_epoch(5, 3, 100, a);
    shuffle_epoch(5, 3, 100, b);
    shuffle_epoch(5, 4, 100, c);
    for (int i = 0; i < 100; i++) seen[a[i]]++;
    int perm = 1;
    for (int i = 0; i < 100; i++) perm &= seen[i] == 1;
    CHECK(perm, "not a permutation");
    CHECK(!memcmp(a, b, sizeof a), "same seed and epoch, different order");
    CHECK(memcmp(a, c, sizeof a), "two epochs share an order");
}

static char tmp[64];

static void write_sample(const char *name, int w, int h, int label_kind) {
    char path[256], err[256];
    uint8_t labels[64 * 64];
    image_rgb img = make_image(w, h, labels);
    snprintf(path, sizeof path, "%s/img/%s", tmp, name);
    CHECK_OK(clseg_image_save_png_rgb(path, img.rgb, w, h, err, sizeof err));
    snprintf(path, sizeof path, "%s/lab/%s", tmp, name);
    if (label_kind == 1) { /* colour labels: rejected */
        CHECK_OK(clseg_image_save_png_rgb(path, img.rgb, w, h, err, sizeof err));
    } else if (label_kind >= 0) {
        if (label_kind == 2) labels[3] = 9; /* out of range for 5 classes */
        CHECK_OK(clseg_image_save_png_gray(path, labels, w, h, err, sizeof err));
    }
    image_rgb_free(&img);
}

static void test_dataset_and_loader(void) {
    snprintf(tmp, sizeof tmp, "/tmp/clseg_train_data_XXXXXX");
    CHECK(mkdtemp(tmp) != NULL, "mkdtemp");
    char img_dir[128], lab_dir[128], err[512];
    snprintf(img_dir, sizeof img_dir, "%s/img", tmp);
    snprintf(lab_dir, sizeof lab_dir, "%s/lab", tmp);
    CHECK(mkdir(img_dir, 0755) == 0 && mkdir(lab_dir, 0755) == 0, "mkdir");
    const char *names[] = {"c.png", "a.png", "e.png", "b.png", "d.png", "f.PNG", "g.png"};
    for (int i = 0; i < 7; i++) write_sample(names[i], 8, 6, 0);

    dataset ds;
    CHECK_OK(dataset_open(&ds, img_dir, lab_dir, err, sizeof err));
    CHECK(ds.count == 7 && !strcmp(ds.names[0], "a.png") && !strcmp(ds.names[6], "g.png"),
          "listing: %d files, first %s", ds.count, ds.count ? ds.names[0] : "-");

    /* the loader's batches equal a sequential computation, from any starting step */
    augment_opts o = plain;
    o.scale_min = 0.8f;
    o.scale_max = 1.3f;
    o.flip = 1;
    o.crop_w = 5;
    o.crop_h = 4;
    const int B = 2, steps = loader_steps(ds.count, B);
    CHECK(steps == 3, "steps %d", steps);
    int order[7];
    shuffle_epoch(11, 2, ds.count, order);
    for (int first = 0; first < steps; first++) {
        loader *l;
        CHECK_OK(loader_start(&l, &ds, 5, &o, B, 1, 0, 11, 2, first, err, sizeof err));
        for (int s = first; s < steps; s++) {
            const batch *b;
            CHECK_OK(loader_next(l, &b, err, sizeof err));
            int same = b->step == s;
            for (int k = 0; k < B; k++) {
                image_rgb img;
                uint8_t *lab;
                float x[3 * 20];
                int32_t y[20];
                int sample = order[s * B + k];
                CHECK_OK(dataset_load(&ds, sample, 5, 255, &img, &lab, err, sizeof err));
                augment_sample(&img, lab, &o, rng_stream(11, 2, (uint64_t)sample), x, y);
                same &= b->samples[k] == sample && !memcmp(b->x + k * 60, x, sizeof x) &&
                        !memcmp(b->y + k * 20, y, sizeof y);
                image_rgb_free(&img);
                free(lab);
            }
            CHECK(same, "loader batch %d (from %d) differs", s, first);
        }
        const batch *extra;
        CHECK(loader_next(l, &extra, err, sizeof err) != CLSEG_OK, "a batch past the epoch");
        loader_stop(l);
    }
    /* data-parallel: ranks 0 and 1 with batch 1 take the halves of one process's batch of 2,
       bit for bit */
    {
        loader *one, *r0, *r1;
        CHECK_OK(loader_start(&one, &ds, 5, &o, 2, 1, 0, 11, 2, 1, err, sizeof err));
        CHECK_OK(loader_start(&r0, &ds, 5, &o, 1, 2, 0, 11, 2, 1, err, sizeof err));
        CHECK_OK(loader_start(&r1, &ds, 5, &o, 1, 2, 1, 11, 2, 1, err, sizeof err));
        for (int s = 1; s < steps; s++) {
            const batch *b, *b0, *b1;
            CHECK_OK(loader_next(one, &b, err, sizeof err));
            CHECK_OK(loader_next(r0, &b0, err, sizeof err));
            CHECK_OK(loader_next(r1, &b1, err, sizeof err));
            CHECK(b->samples[0] == b0->samples[0] && b->samples[1] == b1->samples[0] &&
                      !memcmp(b->x, b0->x, 60 * sizeof(float)) &&
                      !memcmp(b->x + 60, b1->x, 60 * sizeof(float)) &&
                      !memcmp(b->y, b0->y, 20 * sizeof(int32_t)) &&
                      !memcmp(b->y + 20, b1->y, 20 * sizeof(int32_t)),
                  "step %d: 2 ranks x 1 differ from 1 x 2", s);
        }
        loader_stop(one);
        loader_stop(r0);
        loader_stop(r1);
        CHECK(loader_start(&one, &ds, 5, &o, 4, 2, 0, 11, 2, 0, err, sizeof err) != CLSEG_OK,
              "2 ranks x 4 accepted with 7 images");
    }
    /* stopping mid-epoch with batches queued */
    loader *l;
    CHECK_OK(loader_start(&l, &ds, 5, &o, 1, 1, 0, 1, 0, 0, err, sizeof err));
    nanosleep(&(struct timespec){0, 20000000}, NULL);
    loader_stop(l);

    /* median frequency: counts from the labels i % 5 of an 8x6 image: 10,10,10,9,9 */
    uint64_t counts[5], present[5];
    CHECK_OK(dataset_class_stats(&ds, 5, 255, counts, present, err, sizeof err));
    CHECK(counts[0] == 70 && counts[3] == 63 && present[0] == 7 * 48, "counts %llu %llu %llu",
          (unsigned long long)counts[0], (unsigned long long)counts[3],
          (unsigned long long)present[0]);
    dataset_free(&ds);

    /* bad labels are refused with the file and pixel named */
    write_sample("h.png", 8, 6, 2);
    CHECK_OK(dataset_open(&ds, img_dir, lab_dir, err, sizeof err));
    image_rgb img;
    uint8_t *lab;
    CHECK(dataset_load(&ds, 7, 5, 255, &img, &lab, err, sizeof err) == CLSEG_ERR_FORMAT &&
              strstr(err, "h.png") && strstr(err, "label 9"),
          "out-of-range label: %s", err);
    CHECK(dataset_load(&ds, 7, 10, 255, &img, &lab, err, sizeof err) == CLSEG_OK, "%s", err);
    image_rgb_free(&img);
    free(lab);
    dataset_free(&ds);
    write_sample("h.png", 8, 6, 1);
    CHECK_OK(dataset_open(&ds, img_dir, lab_dir, err, sizeof err));
    CHECK(dataset_load(&ds, 7, 255, 255, &img, &lab, err, sizeof err) == CLSEG_ERR_FORMAT &&
              strstr(err, "gray"),
          "colour label: %s", err);
    dataset_free(&ds);
    write_sample("i.png", 8, 6, -1);
    CHECK(dataset_open(&ds, img_dir, lab_dir, err, sizeof err) == CLSEG_ERR_IO &&
              strstr(err, "i.png"),
          "missing label: %s", err);
    CHECK(dataset_open(&ds, lab_dir, NULL, err, sizeof err) == CLSEG_OK && ds.count == 8,
          "images only");
    dataset_free(&ds);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    CHECK(system(cmd) == 0, "cleanup");
}

static void test_weights_and_metrics(void) {
    /* freq = 0.5, 0.25, 0.1, (absent), 0.2 -> median 0.225 */
    uint64_t counts[5] = {50, 25, 10, 0, 20}, present[5] = {100, 100, 100, 0, 100};
    float w[5];
    class_weights_median_freq(counts, present, 5, w);
    CHECK(fabsf(w[0] - 0.45f) < 1e-6f && fabsf(w[1] - 0.9f) < 1e-6f &&
              fabsf(w[2] - 2.25f) < 1e-6f && w[3] == 0 && fabsf(w[4] - 1.125f) < 1e-6f,
          "median-freq %g %g %g %g %g", w[0], w[1], w[2], w[3], w[4]);

    /* 3 classes + ignore 3: truth 0 0 0 1 1 2 3 3, prediction 0 0 1 1 2 2 0 3 */
    confusion cm;
    CHECK_OK(confusion_init(&cm, 4, 3));
    const uint8_t truth[8] = {0, 0, 0, 1, 1, 2, 3, 3}, pred[8] = {0, 0, 1, 1, 2, 2, 0, 3};
    confusion_add(&cm, truth, pred, 8);
    seg_metrics m;
    confusion_metrics(&cm, &m);
    /* IoU: 0: 2/3, 1: 1/3, 2: 1/2; acc: 2/3, 1/2, 1; pixel acc 4/6 */
    CHECK(m.classes == 3 && m.labelled == 6, "classes %d labelled %llu", m.classes,
          (unsigned long long)m.labelled);
    CHECK(fabs(m.iou[0] - 200.0 / 3) < 1e-9 && fabs(m.iou[1] - 100.0 / 3) < 1e-9 &&
              fabs(m.iou[2] - 50) < 1e-9 && isnan(m.iou[3]),
          "IoU %g %g %g %g", m.iou[0], m.iou[1], m.iou[2], m.iou[3]);
    CHECK(fabs(m.miou - 50) < 1e-9 && fabs(m.pixel_accuracy - 400.0 / 6) < 1e-9 &&
              fabs(m.mean_class_accuracy - (200.0 / 3 + 50 + 100) / 3) < 1e-9,
          "miou %g pa %g mca %g", m.miou, m.pixel_accuracy, m.mean_class_accuracy);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    const char names[4][64] = {"a", "b\"q", "c", "void"};
    metrics_write_json(f, &cm, &m, names, 2, 1.5, "m.clsm", "dev");
    fclose(f);
    CHECK(strstr(buf, "\"miou\": 50.0000") && strstr(buf, "\"b\\\"q\": 33.3333") &&
              strstr(buf, "[2, 1, 0, 0]") && !strstr(buf, "\"void\":"),
          "json:\n%s", buf);
    free(buf);
    confusion_free(&cm);
}

static void test_schedules(void) {
    schedule_config s = {SCHED_POLY, 0, 0, 1.0, 0};
    CHECK(schedule_lr(&s, 1, 0, 100, 10) == 1 &&
              fabs(schedule_lr(&s, 1, 50, 100, 10) - 0.5) < 1e-12,
          "poly");
    s.kind = SCHED_COSINE;
    CHECK(fabs(schedule_lr(&s, 2, 50, 100, 10) - 1) < 1e-12 &&
              schedule_lr(&s, 2, 100, 100, 10) < 1e-12,
          "cosine");
    s = (schedule_config){SCHED_STEP, 3, 0.1, 0, 0};
    CHECK(schedule_lr(&s, 1, 29, 100, 10) == 1 &&
              fabs(schedule_lr(&s, 1, 30, 100, 10) - 0.1) < 1e-12 &&
              fabs(schedule_lr(&s, 1, 99, 100, 10) - 0.001) < 1e-12,
          "step");
    s = (schedule_config){SCHED_CONST, 0, 0, 0, 4};
    CHECK(schedule_lr(&s, 1, 0, 100, 10) == 0.25 && schedule_lr(&s, 1, 3, 100, 10) == 1 &&
              schedule_lr(&s, 1, 50, 100, 10) == 1,
          "warm-up");
    char msg[128];
    static const char *const skip[] = {"epochs", NULL};
    CHECK(train_config_compare("a 1\nepochs 3\nb x y\n", "b x y\na 1\nepochs 9\n", skip, msg,
                               sizeof msg),
          "equal configs differ: %s", msg);
    CHECK(!train_config_compare("a 1\nb 2\n", "a 1\nb 3\n", skip, msg, sizeof msg) &&
              !strcmp(msg, "b: 2 vs 3"),
          "msg '%s'", msg);
    CHECK(!train_config_compare("a 1\n", "a 1\nc 4\n", skip, msg, sizeof msg) &&
              !strcmp(msg, "c: (none) vs 4"),
          "msg '%s'", msg);
}

int main(void) {
    test_augment();
    test_class_crop();
    test_colour_jitter();
    test_shuffle();
    test_dataset_and_loader();
    test_weights_and_metrics();
    test_schedules();
    return tu_finish("test_train_data");
}
