/* test_e2e_seednet.c - the whole seed network on the 480x360 sample frame: every device's logits
   match the C reference forward, and label maps agree with it (and with each other) on >= 99.9%
   of pixels. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io/image.h"
#include "net/exec.h"
#include "net/model.h"
#include "testutil.h"

/* Tolerance: the max abs logit error over the max abs reference logit (a normalised L-inf
   error). 41 GFLOP of float32 accumulation in different orders (and mad contraction) stays far
   below 1e-3 of the logit range. */
#define LOGIT_TOL   1e-3
#define LABEL_AGREE 0.999

static double label_agreement(const int32_t *a, const int32_t *b, size_t n) {
    size_t same = 0;
    for (size_t i = 0; i < n; i++) same += a[i] == b[i];
    return (double)same / (double)n;
}

static void argmax_planes(const float *logits, int k, size_t plane, int32_t *labels) {
    for (size_t i = 0; i < plane; i++) {
        int best = 0;
        for (int c = 1; c < k; c++)
            if (logits[c * plane + i] > logits[best * plane + i]) best = c;
        labels[i] = best;
    }
}

int main(void) {
    char err[1024];
    uint8_t *spec;
    size_t spec_len;
    CHECK_OK(clseg_read_file(CLSEG_SOURCE_DIR "/models/seednet.cfg", 1 << 20, &spec, &spec_len, err,
                             sizeof err));
    clseg_model *m = NULL;
    CHECK_OK(model_init((const char *)spec, 12, 1, NULL, NULL, &m, err, sizeof err));
    free(spec);
    image_rgb img = {0};
    CHECK_OK(image_load_png(CLSEG_SOURCE_DIR "/models/samples/camvid_0016E5_08085.png", 0, &img,
                            err, sizeof err));
    if (!m || !img.rgb) return tu_finish("e2e_seednet");
    int w = img.width, h = img.height, k = m->classes;
    CHECK(w == 480 && h == 360, "sample is %dx%d", w, h);
    size_t plane = (size_t)w * h;
    float *x = malloc(plane * 3 * sizeof *x);
    float *ref = malloc(plane * k * sizeof *ref), *got = malloc(plane * k * sizeof *got);
    int32_t *ref_labels = malloc(plane * sizeof(int32_t));
    net_normalize_rgb(img.rgb, w, h, m->mean, m->std, x);

    double t0 = clseg_now_ms();
    CHECK_OK(net_reference_forward(m, x, (shape4){1, 3, h, w}, ref, err, sizeof err));
    printf("C reference forward: %.0f ms\n", clseg_now_ms() - t0);
    argmax_planes(ref, k, plane, ref_labels);
    double ref_max = 0;
    for (size_t i = 0; i < plane * k; i++) ref_max = fmax(ref_max, fabs(ref[i]));
    CHECK(ref_max > 0 && isfinite(ref_max), "reference logits degenerate (max %g)", ref_max);

    clseg_context **ctxs;
    int n = tu_contexts(&ctxs);
    int32_t **labels = calloc(n ? n : 1, sizeof *labels);
    for (int d = 0; d < n; d++) {
        clseg_net *net = NULL;
        CHECK_OK(clseg_net_create(&net, ctxs[d], m));
        if (!net) {
            fprintf(stderr, "  %s\n", clseg_context_error(ctxs[d]));
            continue;
        }
        t0 = clseg_now_ms();
        clseg_status st = clseg_net_forward(net, x, 1, h, w, got);
        CHECK(st == CLSEG_OK, "forward on %s: %s", ctxs[d]->info.name,
              clseg_context_error(ctxs[d]));
        printf("%s: forward %.0f ms (first run, includes compilation at this size)\n",
               ctxs[d]->info.name, clseg_now_ms() - t0);
        /* The scratch counted by the device-memory check is what the forward allocated (the
           context's buffer only grows, and 480x360 is the largest size it has seen). */
        clseg_memory_stats ms;
        clseg_net_memory_stats(net, &ms);
        CHECK(ms.scratch_bytes_needed == ms.scratch_bytes,
              "%s: scratch counted %llu bytes, allocated %llu", ctxs[d]->info.name,
              (unsigned long long)ms.scratch_bytes_needed, (unsigned long long)ms.scratch_bytes);
        double max_err = 0;
        for (size_t i = 0; i < plane * k; i++) max_err = fmax(max_err, fabs(got[i] - ref[i]));
        if (isnan(max_err)) max_err = INFINITY;
        printf("%s: max |logit error| / max |logit| = %.2e\n", ctxs[d]->info.name,
               max_err / ref_max);
        CHECK(max_err <= LOGIT_TOL * ref_max, "%s: normalised logit error %.2e > %.0e",
              ctxs[d]->info.name, max_err / ref_max, LOGIT_TOL);

        /* the segment() path: normalisation + argmax on the device */
        uint8_t *lab8 = malloc(plane);
        labels[d] = malloc(plane * sizeof(int32_t));
        CHECK_OK(clseg_net_segment(net, img.rgb, w, h, lab8));
        for (size_t i = 0; i < plane; i++) labels[d][i] = lab8[i];
        free(lab8);
        double agree = label_agreement(labels[d], ref_labels, plane);
        printf("%s: labels agree with the reference on %.4f%% of pixels\n", ctxs[d]->info.name,
               100 * agree);
        CHECK(agree >= LABEL_AGREE, "%s: label agreement %.5f", ctxs[d]->info.name, agree);
        clseg_net_free(net);
    }
    for (int a = 0; a < n; a++)
        for (int b = a + 1; b < n; b++) {
            if (!labels[a] || !labels[b]) continue;
            double agree = label_agreement(labels[a], labels[b], plane);
            printf("%s vs %s: labels agree on %.4f%% of pixels\n", ctxs[a]->info.name,
                   ctxs[b]->info.name, 100 * agree);
            CHECK(agree >= LABEL_AGREE, "cross-device agreement %.5f", agree);
        }
    for (int d = 0; d < n; d++) free(labels[d]);
    free(labels);
    tu_contexts_free(ctxs, n);
    free(x);
    free(ref);
    free(got);
    free(ref_labels);
    image_rgb_free(&img);
    clseg_model_free(m);
    return tu_finish("e2e_seednet");
}
