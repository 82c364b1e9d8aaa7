/* test_net_shapes.c - nets whose output is not the input's size, nets that take only some input
   sizes, and nets shared between threads (issue 16): clean refusals with both sizes named,
   clseg_net_output_shape / clseg_net_forward_into against the C reference forward, and label
   maps from concurrent callers equal to a single-threaded run. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "net/exec.h"
#include "net/model.h"
#include "testutil.h"

/* Stride-2 conv, average pool, x3 upsample, a transposed conv with output_padding 1 and a 3x3
   max-pool with stride 1: the output is larger than the input. */
static const char bigger_spec[] =
    "[net]\nname = bigger\nchannels = 3\n"
    "[conv]\nname = c1\nfilters = 4\nsize = 3\nstride = 2\npad = 1\n"
    "activation = relu\n"
    "[avgpool]\nname = p1\nsize = 2\nstride = 2\n"
    "[upsample]\nname = u1\nfactor = 3\n"
    "[deconv]\nname = d1\nfilters = 4\nsize = 3\nstride = 2\npad = 1\n"
    "output_padding = 1\nactivation = relu\n"
    "[maxpool]\nname = m1\nsize = 3\nstride = 1\n"
    "[conv]\nname = classifier\nfilters = classes\nsize = 1\n"
    "activation = linear\n";

/* A stride-3 conv, x3 upsample and a skip from the input: only sides that are multiples of 3. */
static const char mult3_spec[] = "[net]\nname = mult3\nchannels = 3\n"
                                 "[conv]\nname = down\nfilters = 3\nsize = 3\nstride = 3\n"
                                 "activation = relu\n"
                                 "[upsample]\nname = up\nfactor = 3\n"
                                 "[add]\nname = skip\ninputs = up, data\n"
                                 "[conv]\nname = classifier\nfilters = classes\nsize = 1\n"
                                 "activation = linear\n";

static clseg_model *make(const char *spec, int classes) {
    char err[512];
    clseg_model *m = NULL;
    CHECK_OK(model_init(spec, classes, 7, NULL, NULL, &m, err, sizeof err));
    return m;
}

static float *input(int n, int h, int w, uint64_t seed) {
    float *x = malloc((size_t)n * 3 * h * w * sizeof *x);
    tu_fill_uniform(x, (size_t)n * 3 * h * w, seed, -1, 1);
    return x;
}

static void check_against_reference(const clseg_model *m, const float *x, int n, int h, int w,
                                    const float *got, size_t count, const char *what) {
    char err[512];
    float *ref = malloc(count * sizeof *ref);
    CHECK_OK(net_reference_forward(m, x, (shape4){n, 3, h, w}, ref, err, sizeof err));
    CHECK(tu_allclose(what, got, ref, count, 1e-4f, 1e-4f), "%s: differs from the reference", what);
    free(ref);
}

static void bigger_output(clseg_context *ctx) {
    clseg_model *m = make(bigger_spec, 5);
    clseg_net *net = NULL;
    CHECK_OK(clseg_net_create(&net, ctx, m));
    if (!net) return;
    int shape[4] = {0};
    CHECK_OK(clseg_net_output_shape(net, 2, 20, 28, shape));
    /* 20x28 -> c1 10x14 -> p1 5x7 -> u1 15x21 -> d1 30x42 -> m1 28x40 */
    CHECK(shape[0] == 2 && shape[1] == 5 && shape[2] == 28 && shape[3] == 40,
          "output shape %dx%dx%dx%d", shape[0], shape[1], shape[2], shape[3]);
    float *x = input(2, 20, 28, 1);
    size_t in_sized = (size_t)2 * 5 * 20 * 28, out_count = (size_t)2 * 5 * 28 * 40;
    float *y = malloc((out_count + 1) * sizeof *y);
    y[in_sized] = 12345.0f;
    clseg_status st = clseg_net_forward(net, x, 2, 20, 28, y);
    CHECK(st == CLSEG_ERR_UNSUPPORTED, "forward on a larger output: %s", clseg_status_str(st));
    CHECK(strstr(clseg_context_error(ctx), "5x40x28") &&
              strstr(clseg_context_error(ctx), "5x28x20"),
          "message names both sizes: %s", clseg_context_error(ctx));
    CHECK(y[in_sized] == 12345.0f, "forward wrote past the n x K x H x W it was refused for");
    uint8_t *labels = malloc(28 * 20);
    uint8_t *rgb = calloc(28 * 20, 3);
    st = clseg_net_segment(net, rgb, 28, 20, labels);
    CHECK(st == CLSEG_ERR_UNSUPPORTED, "segment on a larger output: %s", clseg_status_str(st));
    st = clseg_net_forward_into(net, x, 2, 20, 28, y, out_count - 1);
    CHECK(st == CLSEG_ERR_INVALID_ARGUMENT, "forward_into a buffer one float short: %s",
          clseg_status_str(st));
    CHECK(strstr(clseg_context_error(ctx), "holds") != NULL, "message: %s",
          clseg_context_error(ctx));
    y[out_count] = 12345.0f;
    CHECK_OK(clseg_net_forward_into(net, x, 2, 20, 28, y, out_count));
    CHECK(y[out_count] == 12345.0f, "forward_into wrote past its capacity");
    check_against_reference(m, x, 2, 20, 28, y, out_count, "bigger: forward_into");
    free(x);
    free(y);
    free(labels);
    free(rgb);
    clseg_net_free(net);
    clseg_model_free(m);
}

static void multiples_of_three(clseg_context *ctx) {
    clseg_model *m = make(mult3_spec, 4);
    clseg_net *net = NULL;
    CHECK_OK(clseg_net_create(&net, ctx, m)); /* created although 64x64 does not fit */
    if (!net) return;
    float *x = input(1, 33, 66, 2);
    size_t count = (size_t)4 * 33 * 66;
    float *y = malloc(count * sizeof *y);
    CHECK_OK(clseg_net_forward(net, x, 1, 33, 66, y));
    check_against_reference(m, x, 1, 33, 66, y, count, "mult3 66x33");
    clseg_status st = clseg_net_forward(net, x, 1, 32, 64, y);
    CHECK(st == CLSEG_ERR_INVALID_ARGUMENT, "64x32 on a multiples-of-3 net: %s",
          clseg_status_str(st));
    CHECK(strstr(clseg_context_error(ctx), "multiples of 3") != NULL, "message: %s",
          clseg_context_error(ctx));
    free(x);
    free(y);
    clseg_net_free(net);
    clseg_model_free(m);
}

/* ---- threads ---- */

enum { W = 45, H = 31, FRAMES = 6 };

typedef struct job {
    clseg_net *net;
    const uint8_t *rgb[FRAMES];
    uint8_t *want[FRAMES];
    int mismatches, failures, rounds;
} job;

static void *segment_all(void *arg) {
    job *j = arg;
    uint8_t labels[W * H];
    for (int r = 0; r < j->rounds; r++)
        for (int f = 0; f < FRAMES; f++) {
            if (clseg_net_segment(j->net, j->rgb[f], W, H, labels) != CLSEG_OK)
                j->failures++;
            else if (memcmp(labels, j->want[f], sizeof labels))
                j->mismatches++;
        }
    return NULL;
}

static void threads(const char *device) {
    char err[512];
    clseg_model *m = NULL;
    uint8_t *spec = NULL;
    size_t len;
    CHECK_OK(clseg_read_file(CLSEG_SOURCE_DIR "/tests/fixtures/cli/tiny.cfg", 1 << 16, &spec, &len,
                             err, sizeof err));
    if (spec) m = make((const char *)spec, 12);
    free(spec);
    if (!m) return;
    uint8_t *rgb[FRAMES], *want[FRAMES];
    clseg_context_options o = {CLSEG_CONTEXT_OPTIONS_INIT, .device = device};
    clseg_context *ctx0 = NULL;
    clseg_net *net0 = NULL;
    CHECK_OK(clseg_context_create(&ctx0, &o, err, sizeof err));
    if (ctx0) CHECK_OK(clseg_net_create(&net0, ctx0, m));
    for (int f = 0; f < FRAMES; f++) {
        rgb[f] = malloc(W * H * 3);
        want[f] = malloc(W * H);
        for (int i = 0; i < W * H * 3; i++) rgb[f][i] = (uint8_t)(i * (f + 3) * 2654435761u >> 24);
        if (net0) CHECK_OK(clseg_net_segment(net0, rgb[f], W, H, want[f]));
    }
    /* 4 threads, a context each */
    job own[4];
    pthread_t t[4];
    clseg_context *ctxs[4] = {0};
    for (int k = 0; k < 4; k++) {
        memset(&own[k], 0, sizeof own[k]);
        CHECK_OK(clseg_context_create(&ctxs[k], &o, err, sizeof err));
        if (ctxs[k]) CHECK_OK(clseg_net_create(&own[k].net, ctxs[k], m));
        memcpy(own[k].rgb, rgb, sizeof rgb);
        memcpy(own[k].want, want, sizeof want);
        own[k].rounds = 3;
    }
    for (int k = 0; k < 4; k++)
        if (own[k].net) pthread_create(&t[k], NULL, segment_all, &own[k]);
    for (int k = 0; k < 4; k++)
        if (own[k].net) pthread_join(t[k], NULL);
    for (int k = 0; k < 4; k++) {
        CHECK(own[k].net && !own[k].failures && !own[k].mismatches,
              "thread %d (own context): %d failures, %d label maps differ", k, own[k].failures,
              own[k].mismatches);
        clseg_net_free(own[k].net);
        clseg_context_free(ctxs[k]);
    }
    /* 2 threads, one net */
    job shared[2];
    for (int k = 0; k < 2; k++) {
        memset(&shared[k], 0, sizeof shared[k]);
        shared[k].net = net0;
        memcpy(shared[k].rgb, rgb, sizeof rgb);
        memcpy(shared[k].want, want, sizeof want);
        shared[k].rounds = 6;
    }
    for (int k = 0; net0 && k < 2; k++) pthread_create(&t[k], NULL, segment_all, &shared[k]);
    for (int k = 0; net0 && k < 2; k++) pthread_join(t[k], NULL);
    for (int k = 0; k < 2; k++)
        CHECK(net0 && !shared[k].failures && !shared[k].mismatches,
              "thread %d (shared net): %d failures, %d label maps differ", k, shared[k].failures,
              shared[k].mismatches);
    for (int f = 0; f < FRAMES; f++) {
        free(rgb[f]);
        free(want[f]);
    }
    clseg_net_free(net0);
    clseg_context_free(ctx0);
    clseg_model_free(m);
}

int main(void) {
    clseg_context **ctxs;
    int n_ctx = tu_contexts(&ctxs);
    for (int d = 0; d < n_ctx; d++) {
        bigger_output(ctxs[d]);
        multiples_of_three(ctxs[d]);
        char sel[32];
        const clseg_device_info *dev = clseg_context_device(ctxs[d]);
        snprintf(sel, sizeof sel, "%d:%d", dev->platform_index, dev->device_index);
        threads(sel);
    }
    tu_contexts_free(ctxs, n_ctx);
    return tu_finish("test_net_shapes");
}
