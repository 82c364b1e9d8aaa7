/* onnx_run.c - runs an ONNX model through the public API on one input and writes the logits:
   the clseg side of tests/onnx_torchvision.py (and its timing, by hand). Not a test itself.
   usage: onnx_run MODEL.onnx INPUT.bin OUTPUT.bin [ITERATIONS]
   INPUT.bin / OUTPUT.bin: 4 int32 dims (n, c, h, w), then float32 values (little-endian), as
   tests/fixtures/onnx. The model is imported at the input's size; the device is $CLSEG_DEVICE.
   With ITERATIONS, prints the median forward time in ms over that many runs after one warm-up. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clseg.h"

static float *read_tensor(const char *path, int32_t d[4]) {
    FILE *f = fopen(path, "rb");
    float *v = NULL;
    if (!f) return NULL;
    if (fread(d, sizeof *d, 4, f) == 4 && d[0] > 0 && d[1] > 0 && d[2] > 0 && d[3] > 0) {
        size_t n = (size_t)d[0] * d[1] * d[2] * d[3];
        v = malloc(n * sizeof *v);
        if (v && fread(v, sizeof *v, n, f) != n) free(v), v = NULL;
    }
    fclose(f);
    return v;
}

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc < 4 || argc > 5) {
        fprintf(stderr, "usage: onnx_run MODEL.onnx INPUT.bin OUTPUT.bin [ITERATIONS]\n");
        return 2;
    }
    int iters = argc == 5 ? atoi(argv[4]) : 0;
    char err[1024];
    int32_t d[4];
    float *x = read_tensor(argv[2], d), *y = NULL;
    clseg_model *m = NULL;
    clseg_context *ctx = NULL;
    clseg_net *net = NULL;
    int rc = 1, shape[4] = {0};
    clseg_model_import_options o;
    clseg_model_import_options_init(&o);
    o.input_width = d[3];
    o.input_height = d[2];
    if (!x) {
        fprintf(stderr, "onnx_run: %s: unreadable tensor\n", argv[2]);
        return 1;
    }
    if (clseg_model_import_onnx(&m, argv[1], &o, err, sizeof err) != CLSEG_OK) {
        fprintf(stderr, "onnx_run: import: %s\n", err);
        goto done;
    }
    if (clseg_context_create(&ctx, NULL, err, sizeof err) != CLSEG_OK) {
        fprintf(stderr, "onnx_run: context: %s\n", err);
        goto done;
    }
    if (clseg_net_create(&net, ctx, m) != CLSEG_OK ||
        clseg_net_output_shape(net, d[0], d[2], d[3], shape) != CLSEG_OK) {
        fprintf(stderr, "onnx_run: net: %s\n", clseg_context_error(ctx));
        goto done;
    }
    size_t n = (size_t)shape[0] * shape[1] * shape[2] * shape[3];
    y = malloc(n * sizeof *y);
    if (!y || clseg_net_forward(net, x, d[0], d[2], d[3], y) != CLSEG_OK) {
        fprintf(stderr, "onnx_run: forward: %s\n", ctx ? clseg_context_error(ctx) : "memory");
        goto done;
    }
    FILE *f = fopen(argv[3], "wb");
    const int32_t od[4] = {shape[0], shape[1], shape[2], shape[3]};
    if (!f || fwrite(od, sizeof od, 1, f) != 1 || fwrite(y, sizeof *y, n, f) != n) {
        fprintf(stderr, "onnx_run: %s: cannot write\n", argv[3]);
        if (f) fclose(f);
        goto done;
    }
    fclose(f);
    if (iters > 0) {
        double *ms = calloc((size_t)iters, sizeof *ms);
        for (int i = 0; ms && i < iters; i++) {
            double t0 = now_ms();
            if (clseg_net_forward(net, x, d[0], d[2], d[3], y) != CLSEG_OK) goto done;
            ms[i] = now_ms() - t0;
        }
        if (ms) qsort(ms, (size_t)iters, sizeof *ms, cmp_double);
        if (ms)
            printf("median_ms %.3f device %s\n", ms[iters / 2], clseg_context_device(ctx)->name);
        free(ms);
    }
    rc = 0;
done:
    clseg_net_free(net);
    clseg_context_free(ctx);
    clseg_model_free(m);
    free(x);
    free(y);
    return rc;
}
