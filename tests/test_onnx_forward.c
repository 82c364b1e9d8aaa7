/* test_onnx_forward.c - ONNX models imported through the public API run on the device and match
   the outputs ONNX Runtime computed for them (tests/fixtures/onnx, make_onnx_fixtures.py). */
/* ctest-api: public (only include/clseg*.h, linked against the library as users link it) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clseg.h"
#include "public_check.h"

#define FIXTURES CLSEG_SOURCE_DIR "/tests/fixtures/onnx/"

/* The bar of issue 15: max |error| / max |reference| and the share of pixels whose argmax agrees.
   These graphs are small (at most 14 * 9 products per output), so float32 summation order leaves
   far less than this. */
#define REL_TOL    1e-4
#define ARGMAX_MIN 0.999

/* NAME.input.bin / NAME.expected.bin: 4 int32 dims, then the float32 values (little-endian). */
static float *read_tensor(const char *path, int dims[4]) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    int32_t d[4];
    float *v = NULL;
    if (fread(d, sizeof d, 1, f) == 1 && d[0] > 0 && d[1] > 0 && d[2] > 0 && d[3] > 0) {
        size_t n = (size_t)d[0] * d[1] * d[2] * d[3];
        v = malloc(n * sizeof *v);
        if (v && fread(v, sizeof *v, n, f) != n) {
            free(v);
            v = NULL;
        }
        for (int k = 0; k < 4; k++) dims[k] = d[k];
    }
    fclose(f);
    return v;
}

typedef struct fixture {
    const char *name;
    int width, height; /* --input-size, for a graph with a dynamic one */
    int classes;
} fixture;

static void run_fixture(clseg_context *ctx, const fixture *fx) {
    char path[512], err[1024];
    int in_dims[4], out_dims[4];
    snprintf(path, sizeof path, FIXTURES "%s.input.bin", fx->name);
    float *x = read_tensor(path, in_dims);
    snprintf(path, sizeof path, FIXTURES "%s.expected.bin", fx->name);
    float *want = read_tensor(path, out_dims);
    CHECK(x && want, "%s: reference files", fx->name);
    if (!x || !want) goto done;

    clseg_model_import_options o;
    clseg_model_import_options_init(&o);
    o.input_width = fx->width;
    o.input_height = fx->height;
    clseg_model *m = NULL;
    snprintf(path, sizeof path, FIXTURES "%s.onnx", fx->name);
    clseg_status st = clseg_model_import_onnx(&m, path, &o, err, sizeof err);
    CHECK(st == CLSEG_OK, "%s: import: %s", fx->name, err);
    if (st != CLSEG_OK) goto done;
    CHECK(clseg_model_num_classes(m) == fx->classes, "%s: %d classes", fx->name,
          clseg_model_num_classes(m));
    CHECK(clseg_model_input_channels(m) == in_dims[1], "%s: channels", fx->name);

    clseg_net *net = NULL;
    st = clseg_net_create(&net, ctx, m);
    CHECK(st == CLSEG_OK, "%s: net: %s", fx->name, clseg_context_error(ctx));
    size_t n = (size_t)out_dims[0] * out_dims[1] * out_dims[2] * out_dims[3];
    float *got = calloc(n, sizeof *got);
    int shape[4] = {0};
    if (net) st = clseg_net_output_shape(net, in_dims[0], in_dims[2], in_dims[3], shape);
    CHECK(net && st == CLSEG_OK && !memcmp(shape, out_dims, sizeof shape),
          "%s: output shape %dx%dx%dx%d, ONNX %dx%dx%dx%d", fx->name, shape[0], shape[1], shape[2],
          shape[3], out_dims[0], out_dims[1], out_dims[2], out_dims[3]);
    if (net && got && st == CLSEG_OK) {
        st = clseg_net_forward(net, x, in_dims[0], in_dims[2], in_dims[3], got);
        CHECK(st == CLSEG_OK, "%s: forward: %s", fx->name, clseg_context_error(ctx));
        double max_err = 0, max_ref = 0;
        for (size_t i = 0; i < n; i++) {
            double e = fabs((double)got[i] - want[i]);
            if (!(e <= max_err)) max_err = e; /* NaN sticks */
            if (fabs(want[i]) > max_ref) max_ref = fabs(want[i]);
        }
        size_t plane = (size_t)out_dims[2] * out_dims[3], agree = 0, pixels = 0;
        for (int b = 0; b < out_dims[0]; b++)
            for (size_t p = 0; p < plane; p++, pixels++) {
                const float *g = got + (size_t)b * out_dims[1] * plane + p;
                const float *w = want + (size_t)b * out_dims[1] * plane + p;
                int ag = 0, aw = 0;
                for (int c = 1; c < out_dims[1]; c++) {
                    if (g[c * plane] > g[ag * plane]) ag = c;
                    if (w[c * plane] > w[aw * plane]) aw = c;
                }
                agree += ag == aw;
            }
        double rel = max_err / (max_ref > 0 ? max_ref : 1);
        double share = (double)agree / (double)pixels;
        printf("%-18s %s: max |err| %.3g, max |ref| %.3g, relative %.3g, argmax agreement %.4f%%\n",
               fx->name, clseg_context_device(ctx)->name, max_err, max_ref, rel, 100 * share);
        CHECK(rel <= REL_TOL, "%s: relative error %g", fx->name, rel);
        CHECK(share >= ARGMAX_MIN, "%s: argmax agreement %g", fx->name, share);
    }
    free(got);
    clseg_net_free(net);

    /* clseg_model_load takes the .onnx file as it is (static input sizes only). */
    if (!fx->width) {
        clseg_model *direct = NULL;
        st = clseg_model_load(&direct, path, err, sizeof err);
        CHECK(st == CLSEG_OK, "%s: clseg_model_load: %s", fx->name, err);
        CHECK(clseg_model_parameter_count(direct) == clseg_model_parameter_count(m),
              "%s: load and import disagree", fx->name);
        clseg_model_free(direct);
    }
    clseg_model_free(m);
done:
    free(x);
    free(want);
}

int main(void) {
    static const fixture fixtures[] = {
        {"seedlike_bn_op13", 0, 0, 12},
        {"sizes_dyn_op11", 24, 16, 5},
        {"unpool_op12", 0, 0, 4},
        {"mobile_op13", 0, 0, 4},
    };
    clseg_model *probe = NULL;
    char err[1024];
    if (clseg_model_import_onnx(&probe, FIXTURES "unpool_op12.onnx", NULL, err, sizeof err) ==
            CLSEG_ERR_UNSUPPORTED &&
        strstr(err, "without ONNX")) {
        printf("test_onnx_forward: clseg was built without ONNX import; 0 passed, 0 failed\n");
        return 0;
    }
    clseg_model_free(probe);
    clseg_context *ctx = NULL;
    if (clseg_context_create(&ctx, NULL, err, sizeof err) != CLSEG_OK) {
        fprintf(stderr, "no context: %s\n", err);
        return 1;
    }
    for (size_t i = 0; i < sizeof fixtures / sizeof fixtures[0]; i++)
        run_fixture(ctx, &fixtures[i]);
    clseg_context_free(ctx);
    return check_finish("test_onnx_forward");
}
