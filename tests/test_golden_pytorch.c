/* test_golden_pytorch.c - the conv2d and deconv2d references, and the OpenCL ops on every
   device, against outputs PyTorch computed (tests/fixtures/golden/conv_golden.txt, written by
   make_golden.py from torch.nn.Conv2d / ConvTranspose2d; torch is not needed here). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/ops.h"
#include "ref/ref.h"
#include "testutil.h"
#include "tune/select.h"

#define GOLDEN_PATH CLSEG_SOURCE_DIR "/tests/fixtures/golden/conv_golden.txt"

/* The cases have at most 4 * 5 * 5 = 100 products per output, values below 1: float32
   differences from PyTorch's summation order stay far below 1e-5. */
#define GOLDEN_ATOL 1e-5f
#define GOLDEN_RTOL 1e-5f

typedef struct golden_case {
    int is_deconv;
    conv2d_params conv;
    deconv2d_params deconv;
    shape4 xs, ys;
    float *x, *w, *b, *y;
    size_t nw;
} golden_case;

static float *read_floats(FILE *f, size_t count) {
    float *v = malloc((count ? count : 1) * sizeof *v);
    for (size_t i = 0; i < count; i++)
        if (fscanf(f, "%f", &v[i]) != 1) {
            free(v);
            return NULL;
        }
    return v;
}

static void free_case(golden_case *g) {
    free(g->x);
    free(g->w);
    free(g->b);
    free(g->y);
}

/* Reads the next case; returns 0 at the end of the file, -1 on a malformed one. */
static int read_case(FILE *f, golden_case *g) {
    memset(g, 0, sizeof *g);
    char op[16];
    int n, cin, h, w, cout, k, s, pad, oph, opw, relu;
    int got = fscanf(f, "%15s %d %d %d %d %d %d %d %d %d %d %d", op, &n, &cin, &h, &w, &cout, &k,
                     &s, &pad, &oph, &opw, &relu);
    if (got == EOF) return 0;
    if (got != 12) return -1;
    g->xs = (shape4){n, cin, h, w};
    g->nw = (size_t)cin * cout * k * k;
    if (strcmp(op, "conv2d") == 0) {
        g->conv = (conv2d_params){cin, cout, k, s, pad, relu, 1, 1};
        if (!conv2d_out_shape(g->xs, &g->conv, &g->ys)) return -1;
    } else if (strcmp(op, "deconv2d") == 0) {
        g->is_deconv = 1;
        g->deconv = (deconv2d_params){cin, cout, k, s, pad, oph, opw, relu};
        if (!deconv2d_out_shape(g->xs, &g->deconv, &g->ys)) return -1;
    } else {
        return -1;
    }
    g->x = read_floats(f, shape4_count(g->xs));
    g->w = read_floats(f, g->nw);
    g->b = read_floats(f, (size_t)cout);
    g->y = read_floats(f, shape4_count(g->ys));
    return g->x && g->w && g->b && g->y ? 1 : -1;
}

static void describe(const golden_case *g, char *buf, size_t len) {
    int k = g->is_deconv ? g->deconv.k : g->conv.k;
    int s = g->is_deconv ? g->deconv.stride : g->conv.stride;
    int pad = g->is_deconv ? g->deconv.pad : g->conv.pad;
    snprintf(buf, len, "%s n%d cin%d %dx%d -> %dx%dx%d k%d s%d p%d op%d,%d",
             g->is_deconv ? "deconv2d" : "conv2d", g->xs.n, g->xs.c, g->xs.h, g->xs.w, g->ys.c,
             g->ys.h, g->ys.w, k, s, pad, g->deconv.out_pad_h, g->deconv.out_pad_w);
}

static void check_reference(const golden_case *g, const char *name) {
    size_t ny = shape4_count(g->ys);
    float *got = malloc(ny * sizeof *got);
    if (g->is_deconv)
        ref_deconv2d(g->x, g->xs, g->w, g->b, &g->deconv, got);
    else
        ref_conv2d(g->x, g->xs, g->w, g->b, &g->conv, got);
    CHECK(tu_allclose(name, got, g->y, ny, GOLDEN_ATOL, GOLDEN_RTOL), "reference: %s", name);
    free(got);
}

static void check_device(clseg_context *ctx, const golden_case *g, const char *name) {
    size_t ny = shape4_count(g->ys);
    cl_mem xm = NULL, wm = NULL, bm = NULL;
    CHECK_OK(ctx_buffer(ctx, shape4_count(g->xs) * sizeof(float), g->x, &xm));
    CHECK_OK(ctx_buffer(ctx, g->nw * sizeof(float), g->w, &wm));
    CHECK_OK(ctx_buffer(ctx, (size_t)g->ys.c * sizeof(float), g->b, &bm));
    tu_guarded y;
    CHECK(tu_guarded_create(ctx, ny, NULL, &y), "guarded buffer");
    op_call call = {.kind = g->is_deconv ? OP_DECONV2D : OP_CONV2D};
    if (g->is_deconv)
        call.p.deconv = g->deconv;
    else
        call.p.conv = g->conv;
    call.in[0] = (dtensor){xm, g->xs};
    call.in[1].mem = wm;
    call.in[2].mem = bm;
    call.out[0] = (dtensor){y.mem, g->ys};
    clseg_status st = tune_run_call(ctx, &call);
    CHECK(st == CLSEG_OK, "%s: %s", name, clseg_context_error(ctx));
    float *got = malloc(ny * sizeof *got);
    CHECK(tu_guarded_read(ctx, &y, got), "%s: guard regions", name);
    CHECK(tu_allclose(name, got, g->y, ny, GOLDEN_ATOL, GOLDEN_RTOL), "%s on %s", name,
          ctx->info.name);
    free(got);
    tu_guarded_free(&y);
    clReleaseMemObject(xm);
    clReleaseMemObject(wm);
    clReleaseMemObject(bm);
}

int main(void) {
    FILE *f = fopen(GOLDEN_PATH, "r");
    CHECK(f != NULL, "cannot open %s", GOLDEN_PATH);
    if (!f) return tu_finish("test_golden_pytorch");
    clseg_context **ctxs;
    int n_ctx = tu_contexts(&ctxs);
    int n_conv = 0, n_deconv = 0, r;
    golden_case g;
    while ((r = read_case(f, &g)) == 1) {
        char name[128];
        describe(&g, name, sizeof name);
        check_reference(&g, name);
        for (int d = 0; d < n_ctx; d++) check_device(ctxs[d], &g, name);
        if (g.is_deconv)
            n_deconv++;
        else
            n_conv++;
        free_case(&g);
    }
    CHECK(r == 0, "malformed case after %d conv2d and %d deconv2d cases", n_conv, n_deconv);
    free_case(&g);
    CHECK(n_conv >= 6 && n_deconv >= 8, "only %d conv2d and %d deconv2d cases", n_conv, n_deconv);
    fclose(f);
    tu_contexts_free(ctxs, n_ctx);
    return tu_finish("test_golden_pytorch");
}
