/* test_onnx_export.c - models written as ONNX by clseg_model_export_onnx and imported again give
   the logits of the original on the device (BatchNorm folded, every layer type exported). */
/* ctest-api: public (only include/clseg*.h, linked against the library as users link it) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clseg.h"
#include "public_check.h"

/* Export folds BatchNorm exactly as loading does, so only summation order may differ. */
#define REL_TOL 1e-5
/* Where the files for onnx_export_check.py go, whatever directory the test is started from. */
#define OUT_DIR CLSEG_BINARY_DIR "/tests/"

/* The logits of model m for x (1 x C x h x w); NULL on failure. */
static float *logits(clseg_context *ctx, const clseg_model *m, const float *x, int h, int w,
                     size_t *n) {
    clseg_net *net = NULL;
    int shape[4];
    float *y = NULL;
    if (clseg_net_create(&net, ctx, m) == CLSEG_OK &&
        clseg_net_output_shape(net, 1, h, w, shape) == CLSEG_OK) {
        *n = (size_t)shape[0] * shape[1] * shape[2] * shape[3];
        y = malloc(*n * sizeof *y);
        if (y && clseg_net_forward_into(net, x, 1, h, w, y, *n) != CLSEG_OK) {
            free(y);
            y = NULL;
        }
    }
    if (!y) fprintf(stderr, "forward: %s\n", clseg_context_error(ctx));
    clseg_net_free(net);
    return y;
}

static void write_floats(const char *path, const float *v, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fwrite(v, sizeof *v, n, f);
    fclose(f);
}

/* Exports m for w x h, imports the file, and compares the two nets' logits on one input. The
   input and clseg's logits are left beside the .onnx in BUILD/tests (NAME.input.bin,
   NAME.clseg.bin: float32) for a check with ONNX Runtime by hand (docs/onnx.md). */
static void round_trip(clseg_context *ctx, const clseg_model *m, const char *name, int w, int h) {
    char path[512], err[1024];
    snprintf(path, sizeof path, OUT_DIR "%s.onnx", name);
    clseg_model_export_options o;
    clseg_model_export_options_init(&o);
    o.input_width = w, o.input_height = h;
    clseg_status st = clseg_model_export_onnx(m, path, &o, err, sizeof err);
    CHECK(st == CLSEG_OK, "%s: export: %s", name, err);
    if (st != CLSEG_OK) return;
    clseg_model_import_options io;
    clseg_model_import_options_init(&io);
    clseg_model *back = NULL;
    st = clseg_model_import_onnx(&back, path, &io, err, sizeof err);
    CHECK(st == CLSEG_OK, "%s: import: %s", name, err);
    if (st != CLSEG_OK) return;
    CHECK(clseg_model_num_classes(back) == clseg_model_num_classes(m), "%s: classes", name);
    CHECK(clseg_model_layer_count(back) == clseg_model_layer_count(m), "%s: %d layers, %d", name,
          clseg_model_layer_count(back), clseg_model_layer_count(m));

    int c = clseg_model_input_channels(m);
    size_t nx = (size_t)c * h * w, na = 0, nb = 0;
    float *x = malloc(nx * sizeof *x);
    uint32_t s = 12345;
    for (size_t i = 0; x && i < nx; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = (float)(s >> 8) / (float)(1u << 24) * 4.0f - 2.0f;
    }
    float *a = x ? logits(ctx, m, x, h, w, &na) : NULL;
    float *b = x ? logits(ctx, back, x, h, w, &nb) : NULL;
    CHECK(a && b && na == nb, "%s: forward", name);
    if (a && b && na == nb) {
        double max_err = 0, max_ref = 0;
        for (size_t i = 0; i < na; i++) {
            double e = fabs((double)a[i] - b[i]);
            if (!(e <= max_err)) max_err = e;
            if (fabs(a[i]) > max_ref) max_ref = fabs(a[i]);
        }
        double rel = max_err / (max_ref > 0 ? max_ref : 1);
        printf("%-12s %dx%d %s: max |err| %.3g, max |logit| %.3g, relative %.3g\n", name, w, h,
               clseg_context_device(ctx)->name, max_err, max_ref, rel);
        CHECK(rel <= REL_TOL, "%s: relative error %g", name, rel);
        snprintf(path, sizeof path, OUT_DIR "%s.input.bin", name);
        write_floats(path, x, nx);
        snprintf(path, sizeof path, OUT_DIR "%s.clseg.bin", name);
        write_floats(path, a, na);
    }
    free(a);
    free(b);
    free(x);
    clseg_model_free(back);
}

int main(void) {
    char err[1024];
    clseg_model *m = NULL;
    clseg_model_export_options o;
    clseg_model_export_options_init(&o);
    if (clseg_model_init(&m, CLSEG_SOURCE_DIR "/tests/fixtures/cli/tiny.cfg",
                         &(clseg_model_init_options){CLSEG_MODEL_INIT_OPTIONS_INIT, .classes = 3},
                         err, sizeof err) == CLSEG_OK &&
        clseg_model_export_onnx(m, OUT_DIR "probe.onnx", &o, err, sizeof err) ==
            CLSEG_ERR_UNSUPPORTED &&
        strstr(err, "without ONNX")) {
        printf("test_onnx_export: clseg was built without ONNX support; 0 passed, 0 failed\n");
        clseg_model_free(m);
        return 0;
    }
    clseg_model_free(m);
    m = NULL;
    clseg_context *ctx = NULL;
    if (clseg_context_create(&ctx, NULL, err, sizeof err) != CLSEG_OK) {
        fprintf(stderr, "no context: %s\n", err);
        return 1;
    }
    /* Every exported layer type (init's BatchNorm is the identity) ... */
    clseg_model_init_options io;
    clseg_model_init_options_init(&io);
    io.classes = 5;
    CHECK(clseg_model_init(&m, CLSEG_SOURCE_DIR "/tests/fixtures/onnx/export_all.cfg", &io, err,
                           sizeof err) == CLSEG_OK,
          "%s", err);
    if (m) round_trip(ctx, m, "export_all", 32, 24);
    clseg_model_free(m);
    m = NULL;
    /* ... and the bundled model, trained BatchNorm statistics folded. */
    CHECK(clseg_model_load(&m, CLSEG_SOURCE_DIR "/models/seednet-camvid.clsm", err, sizeof err) ==
              CLSEG_OK,
          "%s", err);
    if (m) round_trip(ctx, m, "seednet", 64, 48);
    clseg_model_free(m);

    /* Argument errors write nothing. */
    CHECK(clseg_model_export_onnx(NULL, "x.onnx", NULL, err, sizeof err) ==
              CLSEG_ERR_INVALID_ARGUMENT,
          "NULL model");
    clseg_context_free(ctx);
    return check_finish("test_onnx_export");
}
