/* test_check_api.c - the public API that holds a device to the C reference, on every shipped
   network at a small size: the reference forward, per-layer outputs, the layer check (pass on a
   sound device, with max-pool indices, unpool, concat and add), normalisation as segment() does
   it, metrics from label maps, and their argument errors. */
/* ctest-api: public (only include/clseg*.h, linked against the library as users link it) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clseg.h"
#include "clseg_train.h"
#include "public_check.h"

#define W 48
#define H 32

/* What clseg_net_forward_layers handed over. */
typedef struct seen {
    int calls, last_layer, in_order;
    float *last; /* a copy of the last layer's output */
    size_t last_count;
} seen;

static void on_layer(void *user, int layer, const int shape[4], const float *data) {
    seen *s = user;
    s->in_order &= layer == s->last_layer + 1;
    s->last_layer = layer;
    s->calls++;
    size_t count = (size_t)shape[0] * shape[1] * shape[2] * shape[3];
    free(s->last);
    s->last = malloc(count * sizeof *s->last);
    if (s->last) memcpy(s->last, data, count * sizeof *s->last);
    s->last_count = count;
}

static double max_abs(const float *x, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs(x[i]));
    return m;
}

static double max_diff(const float *a, const float *b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs((double)a[i] - b[i]));
    return m;
}

static void test_network(clseg_context *ctx, const char *cfg) {
    char err[1024], path[512];
    snprintf(path, sizeof path, "%s/models/%s", CLSEG_SOURCE_DIR, cfg);
    clseg_model_init_options o = {CLSEG_MODEL_INIT_OPTIONS_INIT, .classes = 5, .seed = 7};
    clseg_model *m = NULL;
    clseg_net *net = NULL;
    CHECK(clseg_model_init(&m, path, &o, err, sizeof err) == CLSEG_OK, "%s: %s", cfg, err);
    if (!m) return;
    CHECK(clseg_net_create(&net, ctx, m) == CLSEG_OK, "%s: %s", cfg, clseg_context_error(ctx));
    if (!net) {
        clseg_model_free(m);
        return;
    }
    const int layers = clseg_net_layer_count(net);
    int shape[4];
    CHECK(clseg_net_output_shape(net, 1, H, W, shape) == CLSEG_OK, "%s", clseg_context_error(ctx));
    const size_t count = (size_t)shape[0] * shape[1] * shape[2] * shape[3];
    uint8_t *rgb = malloc((size_t)3 * W * H), *labels = malloc((size_t)W * H);
    float *x = malloc((size_t)3 * W * H * sizeof *x);
    float *dev = malloc(count * sizeof *dev), *ref = malloc(count * sizeof *ref);
    clseg_layer_check *res = calloc((size_t)layers, sizeof *res);
    if (!rgb || !labels || !x || !dev || !ref || !res) exit(1);
    for (size_t i = 0; i < (size_t)3 * W * H; i++) rgb[i] = (uint8_t)((i * 37 + i / 97) & 255);
    CHECK(clseg_model_normalize_rgb(m, rgb, W, H, x) == CLSEG_OK, "normalize");

    /* the device against the whole-network reference */
    CHECK(clseg_net_forward_into(net, x, 1, H, W, dev, count) == CLSEG_OK, "%s",
          clseg_context_error(ctx));
    CHECK(clseg_model_reference_forward(m, x, 1, H, W, ref, count, err, sizeof err) == CLSEG_OK,
          "%s", err);
    double rel = max_diff(dev, ref, count) / fmax(max_abs(ref, count), 1e-30);
    CHECK(rel <= 1e-3, "%s: device vs reference %.3g", cfg, rel);

    /* segment() normalises as clseg_model_normalize_rgb does: its labels are the forward's */
    if (shape[2] == H && shape[3] == W) {
        CHECK(clseg_net_segment(net, rgb, W, H, labels) == CLSEG_OK, "segment");
        size_t plane = (size_t)W * H, same = 0;
        for (size_t i = 0; i < plane; i++) {
            int best = 0;
            for (int c = 1; c < shape[1]; c++)
                if (dev[c * plane + i] > dev[best * plane + i]) best = c;
            same += labels[i] == best;
        }
        CHECK(same == plane, "%s: segment() and forward disagree on %zu pixels", cfg, plane - same);
    }

    /* every layer's output, in order; the last is the forward's output */
    seen s = {.last_layer = -1, .in_order = 1};
    CHECK(clseg_net_forward_layers(net, x, 1, H, W, on_layer, &s) == CLSEG_OK, "%s",
          clseg_context_error(ctx));
    CHECK(s.calls == layers && s.in_order, "%s: %d calls for %d layers", cfg, s.calls, layers);
    CHECK(s.last && s.last_count == count && max_diff(s.last, dev, count) == 0,
          "%s: last layer differs from the forward", cfg);
    free(s.last);

    /* each layer against its op's reference on the device's inputs */
    CHECK(clseg_net_check_layers(net, x, 1, H, W, res, layers) == CLSEG_OK, "%s",
          clseg_context_error(ctx));
    for (int i = 0; i < layers; i++) {
        const clseg_layer_check *c = &res[i];
        const int *os = c->info.out_shape;
        const uint64_t out = (uint64_t)os[0] * os[1] * os[2] * os[3];
        CHECK(c->pass && c->failures == 0 && c->worst_ratio <= 1, "%s layer %s (%s %s): ratio %g",
              cfg, c->info.name, c->info.op, c->info.variant, c->worst_ratio);
        CHECK(*c->info.name && *c->info.op && *c->info.variant, "%s layer %d: no info", cfg, i);
        /* a max-pool some unpool reads is checked on its indices too */
        CHECK(c->elements == out || (!strcmp(c->info.op, "maxpool") && c->elements == 2 * out),
              "%s layer %s: %llu values for an output of %llu", cfg, c->info.name,
              (unsigned long long)c->elements, (unsigned long long)out);
        CHECK(c->atol >= 0 && c->rtol >= 0 && !isnan(c->max_abs_error), "%s layer %s", cfg,
              c->info.name);
    }

    /* argument errors */
    CHECK(clseg_net_check_layers(net, x, 1, H, W, res, layers - 1) == CLSEG_ERR_INVALID_ARGUMENT &&
              strstr(clseg_context_error(ctx), "layers"),
          "too few results: %s", clseg_context_error(ctx));
    CHECK(clseg_net_check_layers(net, NULL, 1, H, W, res, layers) == CLSEG_ERR_INVALID_ARGUMENT,
          "NULL input");
    CHECK(clseg_net_forward_layers(net, x, 1, H, W, NULL, NULL) == CLSEG_ERR_INVALID_ARGUMENT,
          "NULL callback");
    CHECK(clseg_net_check_layers(NULL, x, 1, H, W, res, layers) == CLSEG_ERR_INVALID_ARGUMENT,
          "NULL net");
    CHECK(clseg_model_reference_forward(m, x, 1, H, W, ref, count - 1, err, sizeof err) ==
                  CLSEG_ERR_INVALID_ARGUMENT &&
              strstr(err, "floats"),
          "small buffer: %s", err);
    CHECK(clseg_model_reference_forward(m, x, 0, H, W, ref, count, err, sizeof err) ==
              CLSEG_ERR_INVALID_ARGUMENT,
          "batch 0");
    CHECK(clseg_model_reference_forward(NULL, x, 1, H, W, ref, count, NULL, 0) ==
              CLSEG_ERR_INVALID_ARGUMENT,
          "NULL model");
    printf("%s: %d layers agree with the reference, device vs reference %.2e\n", cfg, layers, rel);
    free(rgb);
    free(labels);
    free(x);
    free(dev);
    free(ref);
    free(res);
    clseg_net_free(net);
    clseg_model_free(m);
}

static void test_metrics(void) {
    char err[256];
    clseg_model_init_options o = {CLSEG_MODEL_INIT_OPTIONS_INIT, .classes = 3, .seed = 1};
    clseg_model *m = NULL;
    CHECK(clseg_model_init(&m, CLSEG_SOURCE_DIR "/tests/fixtures/cli/tiny.cfg", &o, err,
                           sizeof err) == CLSEG_OK,
          "%s", err);
    if (!m) return;
    clseg_metrics *mx = NULL;
    CHECK(clseg_metrics_create(&mx, m, 2, "here", err, sizeof err) == CLSEG_OK, "%s", err);
    if (!mx) exit(1);
    CHECK(mx->images == 0 && mx->classes == 3 && !strcmp(mx->device, "here"), "empty set");
    /* class 2 is ignored: 4 pixels scored, 3 right */
    const uint8_t truth[] = {0, 0, 1, 1, 2, 2}, pred[] = {0, 1, 1, 1, 0, 1};
    CHECK(clseg_metrics_add(mx, truth, pred, 6, 1.5, err, sizeof err) == CLSEG_OK, "%s", err);
    CHECK(mx->images == 1 && mx->labelled_pixels == 4 && fabs(mx->pixel_accuracy - 75) < 1e-9,
          "images %d, labelled %llu, accuracy %g", mx->images,
          (unsigned long long)mx->labelled_pixels, mx->pixel_accuracy);
    /* IoU(0) = 1 / 2, IoU(1) = 2 / 3 */
    CHECK(fabs(mx->miou - 100 * (0.5 + 2.0 / 3) / 2) < 1e-9, "mIoU %g", mx->miou);
    const uint8_t bad_truth[] = {5}, bad_pred[] = {3}, ok_label[] = {0};
    CHECK(clseg_metrics_add(mx, bad_truth, ok_label, 1, 0, err, sizeof err) == CLSEG_ERR_FORMAT &&
              strstr(err, "label 5"),
          "truth out of range: %s", err);
    CHECK(clseg_metrics_add(mx, ok_label, bad_pred, 1, 0, err, sizeof err) == CLSEG_ERR_FORMAT,
          "prediction out of range");
    CHECK(mx->images == 1, "a failed add added");
    clseg_metrics *none = (clseg_metrics *)&o;
    CHECK(clseg_metrics_create(&none, m, 300, NULL, err, sizeof err) ==
                  CLSEG_ERR_INVALID_ARGUMENT &&
              !none,
          "bad ignore");
    clseg_metrics_free(mx);
    clseg_model_free(m);
}

int main(void) {
    test_metrics();
    char err[2048];
    clseg_context *ctx = NULL;
    clseg_context_options co = {CLSEG_CONTEXT_OPTIONS_INIT};
    if (clseg_context_create(&ctx, &co, err, sizeof err) != CLSEG_OK) {
        fprintf(stderr, "no context: %s\n", err);
        return getenv("CLSEG_ALLOW_NO_DEVICE") ? 0 : 1;
    }
    printf("device: %s\n", clseg_context_device(ctx)->name);
    const char *nets[] = {"seednet.cfg", "segnet-basic.cfg", "unet-lite.cfg", "fcn-lite.cfg"};
    for (size_t i = 0; i < sizeof nets / sizeof nets[0]; i++) test_network(ctx, nets[i]);
    clseg_context_free(ctx);
    return check_finish("test_check_api");
}
