/* test_api_misuse.c - every public function of include/clseg*.h called with NULL handles and
   pointers, zero and negative sizes and too-small buffers: each returns an error (never crashes,
   never writes past a buffer: errbufs are heap blocks of exactly their size, for ASan), and
   where it has a handle or an errbuf, leaves a message of its own that names the problem (the
   text is set to another message first, so an older one does not count). */
/* ctest-api: public (only include/clseg*.h, linked against the library as users link it) */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clseg.h"
#include "clseg_image.h"
#include "clseg_train.h"
#include "clseg_tune.h"
#include "public_check.h"

#define STALE "(an older message)"
#define SPEC  CLSEG_SOURCE_DIR "/tests/fixtures/cli/tiny.cfg"

static void fail(const char *what, const char *fmt, const char *detail) {
    failures++;
    fprintf(stderr, "FAIL %s: ", what);
    fprintf(stderr, fmt, detail);
    fputc('\n', stderr);
}

#define EXPECT(cond) CHECK(cond, "%s", "not so")

static int mentions(const char *msg, const char *want) {
    for (; *msg; msg++) {
        size_t i = 0;
        while (want[i] && msg[i] &&
               tolower((unsigned char)msg[i]) == tolower((unsigned char)want[i]))
            i++;
        if (!want[i]) return 1;
    }
    return 0;
}

/* The message must be new, and mention `want` (case-insensitively) when want is not NULL. */
static void check_message(const char *what, const char *msg, const char *want) {
    checks++;
    if (!msg || !msg[0])
        fail(what, "%s", "no message");
    else if (strstr(msg, STALE))
        fail(what, "left the older message: \"%s\"", msg);
    else if (want && !mentions(msg, want)) {
        char buf[600];
        snprintf(buf, sizeof buf, "\"%s\" does not mention \"%s\"", msg, want);
        fail(what, "%s", buf);
    }
}

static void check_failed(const char *what, clseg_status st) {
    checks++;
    if (st == CLSEG_OK) fail(what, "%s", "returned CLSEG_OK");
}

/* ---- calls with an errbuf -------------------------------------------------------------------- */

static char eb[512];

#define EB(want, call)                                                                             \
    do {                                                                                           \
        snprintf(eb, sizeof eb, "%s", STALE);                                                      \
        clseg_status st_ = (call);                                                                 \
        check_failed(#call, st_);                                                                  \
        check_message(#call, eb, want);                                                            \
    } while (0)

/* ---- calls on a context (their messages are clseg_context_error's) ------------------------- */

static clseg_context *ctx;
static clseg_net *net; /* on ctx: makes the context's message stale by a failure of its own */

static void stale_context(void) {
    clseg_net_prepare(net, 1, CLSEG_MAX_DIM + 1, 8);
    snprintf(eb, sizeof eb, "%s", clseg_context_error(ctx));
}

static void check_context_message(const char *what, const char *want) {
    const char *msg = clseg_context_error(ctx);
    checks++;
    if (strcmp(msg, eb) == 0) {
        char buf[600];
        snprintf(buf, sizeof buf, "left the older message \"%s\"", msg);
        fail(what, "%s", buf);
        return;
    }
    check_message(what, msg, want);
}

#define CTX(want, call)                                                                            \
    do {                                                                                           \
        stale_context();                                                                           \
        clseg_status st_ = (call);                                                                 \
        check_failed(#call, st_);                                                                  \
        check_context_message(#call, want);                                                        \
    } while (0)

/* ---- calls without a place for a message --------------------------------------------------- */

#define ST(call) check_failed(#call, (call))

/* Each errbuf size from 0 to 3 in a heap block of exactly that size: a message is cut to fit
   and NUL-terminated, and nothing is written when the size is 0. */
static void small_errbufs(void) {
    for (size_t n = 0; n <= 3; n++) {
        char *b = malloc(n ? n : 1);
        if (!b) return;
        memset(b, 'x', n ? n : 1);
        clseg_model *m = (clseg_model *)1;
        clseg_status st = clseg_model_load(&m, "/nonexistent/model.clsm", b, n);
        check_failed("clseg_model_load into a small errbuf", st);
        EXPECT(m == NULL);
        if (n) EXPECT(b[n - 1] == 0);
        if (!n) EXPECT(b[0] == 'x');
        st = clseg_context_create(NULL, NULL, b, n);
        check_failed("clseg_context_create into a small errbuf", st);
        st = clseg_image_colorize(NULL, 1, 1, NULL, 1, NULL, b, n);
        check_failed("clseg_image_colorize into a small errbuf", st);
        free(b);
    }
    /* No errbuf at all. */
    ST(clseg_model_load(NULL, NULL, NULL, 0));
    ST(clseg_model_load(NULL, NULL, NULL, 100));
}

static void globals(void) {
    EXPECT(clseg_status_str((clseg_status)-1) != NULL);
    EXPECT(clseg_status_str(CLSEG_STATUS_COUNT) != NULL);
    EXPECT(clseg_status_str((clseg_status)1000) != NULL);
    EXPECT(clseg_version() != NULL);
    size_t n = 0;
    clseg_device_info *d = NULL;
    ST(clseg_devices_list(NULL, &n));
    ST(clseg_devices_list(&d, NULL));
    clseg_free(NULL);
    clseg_context_options_init(NULL);
    clseg_model_init_options_init(NULL);
    clseg_eval_options_init(NULL);
    clseg_train_options_init(NULL);
    clseg_tune_options_init(NULL);
    EXPECT(clseg_now_ms() > 0 || clseg_now_ms() <= 0);
    EXPECT(clseg_optimizer_name((clseg_optimizer)99) != NULL);
    EXPECT(clseg_lr_schedule_name((clseg_lr_schedule)-1) != NULL);
    EXPECT(clseg_choice_source_name((clseg_choice_source)99) != NULL);
    EXPECT(clseg_device_class_name(NULL) != NULL);
    EXPECT(clseg_variant_count() > 0);
    clseg_variant_info vi;
    ST(clseg_variant_get(-1, &vi));
    ST(clseg_variant_get(clseg_variant_count(), &vi));
    ST(clseg_variant_get(0, NULL));
    char path[16] = "unchanged";
    EXPECT(clseg_tuning_db_default_path(NULL, NULL, 10) == 0);
    EXPECT(clseg_tuning_db_default_path(NULL, path, 0) == 0 && strcmp(path, "unchanged") == 0);
    EXPECT(clseg_tuning_db_default_path(NULL, path, 1) == 0 && path[0] == 0);
}

static void contexts(void) {
    clseg_context *c = (clseg_context *)1;
    EB(NULL, clseg_context_create(NULL, NULL, eb, sizeof eb));
    clseg_context_options o = {0};
    EB("struct_size", clseg_context_create(&c, &o, eb, sizeof eb));
    EXPECT(c == NULL);
    clseg_context_options_init(&o);
    o.device = "no-such-device-anywhere";
    EB("no-such-device-anywhere", clseg_context_create(&c, &o, eb, sizeof eb));
    EXPECT(c == NULL);
    clseg_context_free(NULL);
    EXPECT(clseg_context_device(NULL) == NULL);
    EXPECT(clseg_context_error(NULL) != NULL);
    EXPECT(clseg_context_warning(NULL) != NULL);
    EXPECT(clseg_context_build_log(NULL) != NULL);
    clseg_startup_stats ss;
    clseg_context_startup_stats(NULL, &ss);
    clseg_context_startup_stats(ctx, NULL);
    clseg_program_info pinfo;
    EXPECT(clseg_context_program_count(NULL) == 0);
    EXPECT(clseg_context_program_get(NULL, 0, &pinfo) == CLSEG_ERR_INVALID_ARGUMENT);
    EXPECT(clseg_context_program_get(ctx, -1, &pinfo) == CLSEG_ERR_INVALID_ARGUMENT);
    EXPECT(clseg_context_program_get(ctx, 0, NULL) == CLSEG_ERR_INVALID_ARGUMENT);
    EXPECT(clseg_context_program_get(ctx, clseg_context_program_count(ctx), &pinfo) ==
           CLSEG_ERR_INVALID_ARGUMENT);
    EXPECT(clseg_context_program_cache(NULL) != NULL && *clseg_context_program_cache(ctx));
    ST(clseg_context_build_all_programs(NULL, NULL));
    EXPECT(clseg_context_tuning_path(NULL) == NULL);
    (void)clseg_context_tuning_state(NULL);
    EXPECT(clseg_context_tuning_record_count(NULL, 0) == 0);
    ST(clseg_context_save_tuning(NULL));
    /* ctx was created with tuning_db = "": nothing to save to. */
    CTX("tuning", clseg_context_save_tuning(ctx));
}

static void models(clseg_model *model) {
    clseg_model *m = (clseg_model *)1;
    EB("NULL", clseg_model_load(NULL, "x.clsm", eb, sizeof eb));
    EB("NULL", clseg_model_load(&m, NULL, eb, sizeof eb));
    EB("/nonexistent/model.clsm", clseg_model_load(&m, "/nonexistent/model.clsm", eb, sizeof eb));
    EXPECT(m == NULL);
    clseg_model_free(NULL);
    EXPECT(clseg_model_num_classes(NULL) == 0);
    EXPECT(clseg_model_class_name(NULL, 0) == NULL);
    EXPECT(clseg_model_class_name(model, -1) == NULL);
    EXPECT(clseg_model_class_name(model, clseg_model_num_classes(model)) == NULL);
    EXPECT(clseg_model_class_color(NULL, 0) == NULL);
    EXPECT(clseg_model_class_color(model, -1) == NULL);
    EXPECT(clseg_model_class_color(model, 1000) == NULL);
    EXPECT(clseg_model_network_name(NULL) != NULL);
    EXPECT(clseg_model_layer_count(NULL) == 0);
    EXPECT(clseg_model_input_channels(NULL) == 0);
    EXPECT(clseg_model_parameter_count(NULL) == 0);

    clseg_model_init_options mo;
    clseg_model_init_options_init(&mo);
    mo.classes = 3;
    EB("NULL", clseg_model_init(NULL, SPEC, &mo, eb, sizeof eb));
    EB("NULL", clseg_model_init(&m, NULL, &mo, eb, sizeof eb));
    EB(NULL, clseg_model_init(&m, SPEC, NULL, eb, sizeof eb));
    EB("/nonexistent.cfg", clseg_model_init(&m, "/nonexistent.cfg", &mo, eb, sizeof eb));
    for (int k = -1; k <= 256; k += 257) {
        mo.classes = k;
        EB("class", clseg_model_init(&m, SPEC, &mo, eb, sizeof eb));
    }
    mo.classes = 0;
    EB("class", clseg_model_init(&m, SPEC, &mo, eb, sizeof eb));
    mo.classes = 3;
    mo.struct_size = 0;
    EB("struct_size", clseg_model_init(&m, SPEC, &mo, eb, sizeof eb));
    EXPECT(m == NULL);

    char sizes[64];
    EXPECT(clseg_model_input_sizes(NULL, 64, sizes, sizeof sizes) == -1);
    EXPECT(clseg_model_input_sizes(model, 64, NULL, 10) == -1);
    EXPECT(clseg_model_input_sizes(model, 64, sizes, 0) == -1);
    char *two = malloc(2); /* a phrase cut to one character, not written past */
    if (two) EXPECT(clseg_model_input_sizes(model, 64, two, 2) > 0 && strlen(two) <= 1);
    free(two);

    uint8_t rgb[3 * 4] = {0};
    float chw[3 * 4], x[3 * 8 * 8] = {0}, y[8 * 8 * 8];
    ST(clseg_model_normalize_rgb(NULL, rgb, 2, 2, chw));
    ST(clseg_model_normalize_rgb(model, NULL, 2, 2, chw));
    ST(clseg_model_normalize_rgb(model, rgb, 2, 2, NULL));
    ST(clseg_model_normalize_rgb(model, rgb, 0, 2, chw));
    ST(clseg_model_normalize_rgb(model, rgb, 2, -2, chw));
    size_t need = (size_t)clseg_model_num_classes(model) * 8 * 8; /* tiny.cfg keeps the size */
    EB("NULL", clseg_model_reference_forward(NULL, x, 1, 8, 8, y, need, eb, sizeof eb));
    EB("NULL", clseg_model_reference_forward(model, NULL, 1, 8, 8, y, need, eb, sizeof eb));
    EB("NULL", clseg_model_reference_forward(model, x, 1, 8, 8, NULL, need, eb, sizeof eb));
    EB(NULL, clseg_model_reference_forward(model, x, 0, 8, 8, y, need, eb, sizeof eb));
    EB(NULL, clseg_model_reference_forward(model, x, 1, -8, 8, y, need, eb, sizeof eb));
    EB(NULL, clseg_model_reference_forward(model, x, 1, 8, 8, y, need - 1, eb, sizeof eb));
    EB(NULL, clseg_model_reference_forward(model, x, 1, 8, 8, y, 0, eb, sizeof eb));

    EB("NULL", clseg_model_save(NULL, "x.clsm", eb, sizeof eb));
    EB("NULL", clseg_model_save(model, NULL, eb, sizeof eb));
    EB("/nonexistent/dir", clseg_model_save(model, "/nonexistent/dir/x.clsm", eb, sizeof eb));

    clseg_model_export_options xo;
    clseg_model_export_options_init(NULL);
    clseg_model_export_options_init(&xo);
    EB("NULL", clseg_model_export_onnx(NULL, "x.onnx", &xo, eb, sizeof eb));
    EB("NULL", clseg_model_export_onnx(model, NULL, &xo, eb, sizeof eb));
    xo.input_width = -4;
    EB("size", clseg_model_export_onnx(model, "x.onnx", &xo, eb, sizeof eb));
    xo.struct_size = 0;
    EB("struct_size", clseg_model_export_onnx(model, "x.onnx", &xo, eb, sizeof eb));
}

static void layer_sink(void *user, int layer, const int shape[4], const float *data) {
    (void)user, (void)layer, (void)shape, (void)data;
}

static void nets(clseg_model *model) {
    clseg_net *n = (clseg_net *)1;
    ST(clseg_net_create(NULL, ctx, model));
    ST(clseg_net_create(&n, NULL, model));
    CTX("model", clseg_net_create(&n, ctx, NULL));
    CTX(NULL, clseg_net_create(NULL, ctx, model));
    clseg_net_free(NULL);

    ST(clseg_net_prepare(NULL, 1, 8, 8));
    CTX("size", clseg_net_prepare(net, 0, 8, 8));
    CTX("size", clseg_net_prepare(net, -1, 8, 8));
    CTX("size", clseg_net_prepare(net, 1, 0, 8));
    CTX("size", clseg_net_prepare(net, 1, 8, -3));
    EXPECT(clseg_net_device_bytes(NULL) == 0);

    uint8_t rgb[3 * 8 * 8] = {0}, labels[8 * 8];
    float x[3 * 8 * 8] = {0}, y[8 * 8 * 8];
    ST(clseg_net_segment(NULL, rgb, 8, 8, labels));
    CTX("NULL", clseg_net_segment(net, NULL, 8, 8, labels));
    CTX("NULL", clseg_net_segment(net, rgb, 8, 8, NULL));
    CTX("size", clseg_net_segment(net, rgb, 0, 8, labels));
    CTX("size", clseg_net_segment(net, rgb, 8, -1, labels));

    ST(clseg_net_forward(NULL, x, 1, 8, 8, y));
    CTX("NULL", clseg_net_forward(net, NULL, 1, 8, 8, y));
    CTX("NULL", clseg_net_forward(net, x, 1, 8, 8, NULL));
    CTX("size", clseg_net_forward(net, x, 0, 8, 8, y));
    CTX("size", clseg_net_forward(net, x, 1, -8, 8, y));
    CTX("size", clseg_net_forward(net, x, 1, 8, 0, y));

    double ms[64];
    ST(clseg_net_forward_profiled(NULL, x, 1, 8, 8, y, ms, CLSEG_LAYER_TIMING_HOST));
    CTX("NULL", clseg_net_forward_profiled(net, x, 1, 8, 8, y, NULL, CLSEG_LAYER_TIMING_HOST));
    CTX("NULL", clseg_net_forward_profiled(net, NULL, 1, 8, 8, y, ms, CLSEG_LAYER_TIMING_HOST));
    CTX("timing", clseg_net_forward_profiled(net, x, 1, 8, 8, y, ms, (clseg_layer_timing)7));
    CTX("profiling", clseg_net_forward_profiled(net, x, 1, 8, 8, y, ms, CLSEG_LAYER_TIMING_EVENTS));
    CTX("size", clseg_net_forward_profiled(net, x, 1, 8, 0, y, ms, CLSEG_LAYER_TIMING_HOST));

    int shape[4];
    ST(clseg_net_output_shape(NULL, 1, 8, 8, shape));
    CTX("NULL", clseg_net_output_shape(net, 1, 8, 8, NULL));
    CTX("size", clseg_net_output_shape(net, 0, 8, 8, shape));
    CTX("size", clseg_net_output_shape(net, 1, 8, -1, shape));
    size_t need = (size_t)clseg_model_num_classes(model) * 8 * 8; /* tiny.cfg keeps the size */
    ST(clseg_net_forward_into(NULL, x, 1, 8, 8, y, need));
    CTX("NULL", clseg_net_forward_into(net, NULL, 1, 8, 8, y, need));
    CTX("NULL", clseg_net_forward_into(net, x, 1, 8, 8, NULL, need));
    CTX(NULL, clseg_net_forward_into(net, x, 1, 8, 8, y, 0));
    CTX(NULL, clseg_net_forward_into(net, x, 1, 8, 8, y, need - 1));
    CTX("size", clseg_net_forward_into(net, x, 1, 0, 8, y, need));
    ST(clseg_net_forward_layers(NULL, x, 1, 8, 8, layer_sink, NULL));
    CTX("NULL", clseg_net_forward_layers(net, NULL, 1, 8, 8, layer_sink, NULL));
    CTX("NULL", clseg_net_forward_layers(net, x, 1, 8, 8, NULL, NULL));
    CTX("size", clseg_net_forward_layers(net, x, 0, 8, 8, layer_sink, NULL));
    CTX("size", clseg_net_forward_layers(net, x, 1, 8, -1, layer_sink, NULL));
    clseg_layer_check lc[16];
    int layers = clseg_net_layer_count(net);
    ST(clseg_net_check_layers(NULL, x, 1, 8, 8, lc, layers));
    CTX("NULL", clseg_net_check_layers(net, NULL, 1, 8, 8, lc, layers));
    CTX("NULL", clseg_net_check_layers(net, x, 1, 8, 8, NULL, layers));
    CTX(NULL, clseg_net_check_layers(net, x, 1, 8, 8, lc, layers - 1));
    CTX(NULL, clseg_net_check_layers(net, x, 1, 8, 8, lc, 0));
    CTX(NULL, clseg_net_check_layers(net, x, 1, 8, 8, lc, -1));
    CTX("size", clseg_net_check_layers(net, x, 1, 0, 8, lc, layers));
    ST(clseg_net_set_memory_planning(NULL, 1));
    clseg_memory_stats st;
    memset(&st, 0xff, sizeof st);
    clseg_net_memory_stats(NULL, &st);
    EXPECT(st.weight_bytes == 0);
    clseg_net_memory_stats(net, NULL);
    EXPECT(clseg_net_layer_count(NULL) == 0);
    clseg_layer_info li;
    ST(clseg_net_layer_info(NULL, 0, &li));
    CTX("layer", clseg_net_layer_info(net, -1, &li));
    CTX("layer", clseg_net_layer_info(net, clseg_net_layer_count(net), &li));
    CTX("NULL", clseg_net_layer_info(net, 0, NULL));
}

static void files_and_images(void) {
    char dir[] = "/tmp/clseg-misuse-XXXXXX";
    EXPECT(mkdtemp(dir) != NULL);
    char path[256];
    snprintf(path, sizeof path, "%s/f", dir);
    EB("NULL", clseg_write_file_atomic(NULL, "x", 1, eb, sizeof eb));
    EB("NULL", clseg_write_file_atomic(path, NULL, 5, eb, sizeof eb));
    EB("/nonexistent/dir", clseg_write_file_atomic("/nonexistent/dir/f", "x", 1, eb, sizeof eb));

    uint8_t *rgb = (uint8_t *)1, px[3 * 4] = {0}, lab[4] = {0}, out[3 * 4];
    const uint8_t pal[3 * 2] = {0};
    int w = -1, h = -1;
    EB("NULL", clseg_image_load_png(NULL, 0, &rgb, &w, &h, eb, sizeof eb));
    EB("NULL", clseg_image_load_png(path, 0, NULL, &w, &h, eb, sizeof eb));
    EB("NULL", clseg_image_load_png(path, 0, &rgb, NULL, &h, eb, sizeof eb));
    EB("NULL", clseg_image_load_png(path, 0, &rgb, &w, NULL, eb, sizeof eb));
    EB("/nonexistent.png",
       clseg_image_load_png("/nonexistent.png", 0, &rgb, &w, &h, eb, sizeof eb));
    EXPECT(rgb == NULL && w == 0 && h == 0);
    EB("NULL", clseg_image_load_png_mem(NULL, 5, 0, &rgb, &w, &h, eb, sizeof eb));
    EB(NULL, clseg_image_load_png_mem(NULL, 0, 0, &rgb, &w, &h, eb, sizeof eb));
    EB("NULL", clseg_image_load_png_mem(px, sizeof px, 0, NULL, &w, &h, eb, sizeof eb));

    snprintf(path, sizeof path, "%s/i.png", dir);
    EB("NULL", clseg_image_save_png_rgb(NULL, px, 2, 2, eb, sizeof eb));
    EB("NULL", clseg_image_save_png_rgb(path, NULL, 2, 2, eb, sizeof eb));
    EB("size", clseg_image_save_png_rgb(path, px, 0, 2, eb, sizeof eb));
    EB("size", clseg_image_save_png_rgb(path, px, 2, -2, eb, sizeof eb));
    EB(NULL, clseg_image_save_png_rgb(path, px, CLSEG_MAX_DIM + 1, 1, eb, sizeof eb));
    EB("NULL", clseg_image_save_png_gray(path, NULL, 2, 2, eb, sizeof eb));
    EB("size", clseg_image_save_png_gray(path, lab, -1, 2, eb, sizeof eb));
    EXPECT(access(path, F_OK) != 0); /* no file from any of them */

    EB("NULL", clseg_image_colorize(NULL, 2, 2, pal, 2, out, eb, sizeof eb));
    EB("NULL", clseg_image_colorize(lab, 2, 2, NULL, 2, out, eb, sizeof eb));
    EB("NULL", clseg_image_colorize(lab, 2, 2, pal, 2, NULL, eb, sizeof eb));
    EB("class", clseg_image_colorize(lab, 2, 2, pal, 0, out, eb, sizeof eb));
    EB("class", clseg_image_colorize(lab, 2, 2, pal, 257, out, eb, sizeof eb));
    EB("size", clseg_image_colorize(lab, 0, 2, pal, 2, out, eb, sizeof eb));
    EB("size", clseg_image_colorize(lab, 2, -1, pal, 2, out, eb, sizeof eb));

    EB("NULL", clseg_image_overlay(NULL, 2, 2, lab, pal, NULL, 2, 0.5f, out, eb, sizeof eb));
    EB("NULL", clseg_image_overlay(px, 2, 2, NULL, pal, NULL, 2, 0.5f, out, eb, sizeof eb));
    EB("NULL", clseg_image_overlay(px, 2, 2, lab, NULL, NULL, 2, 0.5f, out, eb, sizeof eb));
    EB("NULL", clseg_image_overlay(px, 2, 2, lab, pal, NULL, 2, 0.5f, NULL, eb, sizeof eb));
    EB("alpha", clseg_image_overlay(px, 2, 2, lab, pal, NULL, 2, NAN, out, eb, sizeof eb));
    EB("alpha", clseg_image_overlay(px, 2, 2, lab, pal, NULL, 2, -0.1f, out, eb, sizeof eb));
    EB("alpha", clseg_image_overlay(px, 2, 2, lab, pal, NULL, 2, 1.5f, out, eb, sizeof eb));
    EB("class", clseg_image_overlay(px, 2, 2, lab, pal, NULL, 0, 0.5f, out, eb, sizeof eb));
    EB("size", clseg_image_overlay(px, -2, 2, lab, pal, NULL, 2, 0.5f, out, eb, sizeof eb));
    EB("size", clseg_image_overlay(px, 2, 0, lab, pal, NULL, 2, 0.5f, out, eb, sizeof eb));
    rmdir(dir);
}

static void training(clseg_model *model) {
    clseg_metrics_free(NULL);
    EB("NULL", clseg_metrics_write_json(NULL, "/tmp/m.json", NULL, eb, sizeof eb));

    clseg_metrics *mt = (clseg_metrics *)1;
    EB("NULL", clseg_metrics_create(NULL, model, -1, NULL, eb, sizeof eb));
    EB("NULL", clseg_metrics_create(&mt, NULL, -1, NULL, eb, sizeof eb));
    EB(NULL, clseg_metrics_create(&mt, model, -2, NULL, eb, sizeof eb));
    EB(NULL, clseg_metrics_create(&mt, model, 256, NULL, eb, sizeof eb));
    EXPECT(mt == NULL);
    uint8_t truth[4] = {0, 1, 2, 0}, pred[4] = {0, 1, 2, 1}, bad[4] = {0, 1, 250, 0};
    EB("NULL", clseg_metrics_add(NULL, truth, pred, 4, 0, eb, sizeof eb));
    if (clseg_metrics_create(&mt, model, -1, NULL, eb, sizeof eb) == CLSEG_OK) {
        EB("NULL", clseg_metrics_add(mt, NULL, pred, 4, 0, eb, sizeof eb));
        EB("NULL", clseg_metrics_add(mt, truth, NULL, 4, 0, eb, sizeof eb));
        EB(NULL, clseg_metrics_add(mt, bad, pred, 4, 0, eb, sizeof eb));
        EB(NULL, clseg_metrics_add(mt, truth, bad, 4, 0, eb, sizeof eb));
        EXPECT(mt->images == 0 && mt->labelled_pixels == 0); /* nothing was added */
        EB("NULL", clseg_metrics_write_json(mt, NULL, NULL, eb, sizeof eb));
        EB("/nonexistent/dir",
           clseg_metrics_write_json(mt, "/nonexistent/dir/m.json", NULL, eb, sizeof eb));
        clseg_metrics_free(mt);
    } else {
        fail("clseg_metrics_create", "%s", eb);
    }
    mt = (clseg_metrics *)1;
    clseg_eval_options eo;
    clseg_eval_options_init(&eo);
    eo.image_dir = eo.label_dir = "/nonexistent";
    EB("NULL", clseg_eval(NULL, ctx, net, model, &eo, eb, sizeof eb));
    EB("NULL", clseg_eval(&mt, NULL, net, model, &eo, eb, sizeof eb));
    EB("NULL", clseg_eval(&mt, ctx, NULL, model, &eo, eb, sizeof eb));
    EB("NULL", clseg_eval(&mt, ctx, net, NULL, &eo, eb, sizeof eb));
    EB("NULL", clseg_eval(&mt, ctx, net, model, NULL, eb, sizeof eb));
    EB("/nonexistent", clseg_eval(&mt, ctx, net, model, &eo, eb, sizeof eb));
    EXPECT(mt == NULL);
    eo.image_dir = NULL;
    EB("director", clseg_eval(&mt, ctx, net, model, &eo, eb, sizeof eb));
    eo.image_dir = "/nonexistent";
    eo.struct_size = 0;
    EB("struct_size", clseg_eval(&mt, ctx, net, model, &eo, eb, sizeof eb));

    clseg_train_options to;
    clseg_train_options_init(&to);
    clseg_train_session *s = (clseg_train_session *)1;
    EB("NULL", clseg_train_session_create(NULL, &to, eb, sizeof eb));
    EB("NULL", clseg_train_session_create(&s, NULL, eb, sizeof eb));
    EB(NULL, clseg_train_session_create(&s, &to, eb, sizeof eb)); /* no model, data, epochs */
    to.struct_size = 0;
    EB("struct_size", clseg_train_session_create(&s, &to, eb, sizeof eb));
    EXPECT(s == NULL);

    clseg_train_session_free(NULL);
    EXPECT(clseg_train_session_error(NULL) != NULL);
    EXPECT(clseg_train_session_model(NULL) == NULL);
    ST(clseg_train_session_load_data(NULL));
    ST(clseg_train_session_start(NULL, ctx));
    clseg_train_info info;
    clseg_train_session_info(NULL, &info);
    ST(clseg_train_session_run(NULL, NULL, NULL));
    clseg_train_benchmark bm;
    ST(clseg_train_session_benchmark(NULL, ctx, 1, NULL, NULL, &bm));

    /* A session that was created (it touches no data or device until later steps). */
    clseg_train_options_init(&to);
    to.spec_path = SPEC;
    to.classes = 3;
    to.epochs = 1;
    to.train_images = to.train_labels = "/nonexistent";
    to.out_model = "/tmp/clseg-misuse-never-written.clsm";
    s = NULL;
    clseg_status st = clseg_train_session_create(&s, &to, eb, sizeof eb);
    EXPECT(st == CLSEG_OK);
    if (st != CLSEG_OK) {
        fprintf(stderr, "  %s\n", eb);
        return;
    }
    clseg_train_session_info(s, NULL);
#define SESSION(want, call)                                                                        \
    do {                                                                                           \
        clseg_train_session_run(s, NULL, NULL); /* "run needs a started session" */                \
        snprintf(eb, sizeof eb, "%s", clseg_train_session_error(s));                               \
        clseg_status st_ = (call);                                                                 \
        check_failed(#call, st_);                                                                  \
        checks++;                                                                                  \
        if (strcmp(clseg_train_session_error(s), eb) == 0)                                         \
            fail(#call, "left the older message \"%s\"", eb);                                      \
        else                                                                                       \
            check_message(#call, clseg_train_session_error(s), want);                              \
    } while (0)
    SESSION("context", clseg_train_session_start(s, NULL));
    SESSION("context", clseg_train_session_benchmark(s, NULL, 1, NULL, NULL, &bm));
    SESSION("steps", clseg_train_session_benchmark(s, ctx, 0, NULL, NULL, &bm));
    SESSION("steps", clseg_train_session_benchmark(s, ctx, -1, NULL, NULL, &bm));
    SESSION("NULL", clseg_train_session_benchmark(s, ctx, 1, NULL, NULL, NULL));
    SESSION("/nonexistent", clseg_train_session_load_data(s));
    clseg_train_session_free(s);
}

static void tuning(clseg_model *model) {
    clseg_device_info dev;
    EB("NULL", clseg_device_info_load(NULL, &dev, eb, sizeof eb));
    EB("NULL", clseg_device_info_load("x.dev", NULL, eb, sizeof eb));
    EB("/nonexistent.dev", clseg_device_info_load("/nonexistent.dev", &dev, eb, sizeof eb));

    clseg_tuning_db *db = (clseg_tuning_db *)1;
    clseg_tuning_db_state state;
    EB("NULL", clseg_tuning_db_load(NULL, "x.db", &state, eb, sizeof eb));
    EB("NULL", clseg_tuning_db_load(&db, NULL, &state, eb, sizeof eb));
    clseg_tuning_db_free(NULL);
    EXPECT(clseg_tuning_db_record_count(NULL, NULL) == 0);

    const clseg_device_info *d = clseg_context_device(ctx);
    clseg_plan *p = (clseg_plan *)1;
    ST(clseg_plan_create(NULL, ctx, model, 1, 8, 8));
    ST(clseg_plan_create(&p, NULL, model, 1, 8, 8));
    CTX("model", clseg_plan_create(&p, ctx, NULL, 1, 8, 8));
    CTX("size", clseg_plan_create(&p, ctx, model, 0, 8, 8));
    CTX("size", clseg_plan_create(&p, ctx, model, 1, -8, 8));
    CTX("size", clseg_plan_create(&p, ctx, model, 1, 8, 0));
    EXPECT(p == NULL);
    EB("NULL", clseg_plan_create_for_device(NULL, d, NULL, 0, model, 1, 8, 8, eb, sizeof eb));
    EB("device", clseg_plan_create_for_device(&p, NULL, NULL, 0, model, 1, 8, 8, eb, sizeof eb));
    EB("model", clseg_plan_create_for_device(&p, d, NULL, 0, NULL, 1, 8, 8, eb, sizeof eb));
    EB("size", clseg_plan_create_for_device(&p, d, NULL, 0, model, -1, 8, 8, eb, sizeof eb));
    EB("size", clseg_plan_create_for_device(&p, d, NULL, 0, model, 1, 0, 8, eb, sizeof eb));
    EB("size", clseg_plan_create_for_device(&p, d, NULL, 0, model, 1, 8, -8, eb, sizeof eb));
    clseg_plan_free(NULL);
    EXPECT(clseg_plan_layer_count(NULL) == 0);

    clseg_status st = clseg_plan_create(&p, ctx, model, 1, 8, 8);
    EXPECT(st == CLSEG_OK);
    if (st != CLSEG_OK) return;
    clseg_plan_layer pl;
    char why[8];
    double ms = 0;
    ST(clseg_plan_layer_get(NULL, 0, &pl));
    ST(clseg_plan_layer_get(p, -1, &pl));
    ST(clseg_plan_layer_get(p, clseg_plan_layer_count(p), &pl));
    ST(clseg_plan_layer_get(p, 0, NULL));
    ST(clseg_plan_layer_why(NULL, 0, why, sizeof why));
    ST(clseg_plan_layer_why(p, -1, why, sizeof why));
    ST(clseg_plan_layer_why(p, 0, NULL, sizeof why));
    ST(clseg_plan_layer_why(p, 0, why, 0));
    /* A buffer too small for the text is filled and terminated, not overrun. */
    char *tiny = malloc(3);
    if (tiny && clseg_plan_layer_why(p, 0, tiny, 3) == CLSEG_OK) EXPECT(strlen(tiny) <= 2);
    free(tiny);
    ST(clseg_plan_time_layer(NULL, ctx, 0, 1, &ms));
    ST(clseg_plan_time_layer(p, NULL, 0, 1, &ms));
    CTX("layer", clseg_plan_time_layer(p, ctx, -1, 1, &ms));
    CTX("layer", clseg_plan_time_layer(p, ctx, clseg_plan_layer_count(p), 1, &ms));
    CTX("reps", clseg_plan_time_layer(p, ctx, 0, 0, &ms));
    CTX("reps", clseg_plan_time_layer(p, ctx, 0, -5, &ms));
    CTX("ms", clseg_plan_time_layer(p, ctx, 0, 1, NULL));
    clseg_plan_free(p);

    clseg_tune_options o;
    clseg_tune_options_init(&o);
    o.height = o.width = 8;
    clseg_tuner *t = (clseg_tuner *)1;
    EB("NULL", clseg_tuner_create(NULL, model, &o, eb, sizeof eb));
    EB("NULL", clseg_tuner_create(&t, NULL, &o, eb, sizeof eb));
    EB("NULL", clseg_tuner_create(&t, model, NULL, eb, sizeof eb));
    o.height = 0;
    EB("size", clseg_tuner_create(&t, model, &o, eb, sizeof eb));
    o.height = 8, o.width = -8;
    EB("size", clseg_tuner_create(&t, model, &o, eb, sizeof eb));
    o.width = 8, o.batch = -1;
    EB("batch", clseg_tuner_create(&t, model, &o, eb, sizeof eb));
    o.batch = 1, o.budget_s = -1;
    EB("budget", clseg_tuner_create(&t, model, &o, eb, sizeof eb));
    o.budget_s = 0, o.struct_size = 0;
    EB("struct_size", clseg_tuner_create(&t, model, &o, eb, sizeof eb));
    EXPECT(t == NULL);
    clseg_tuner_free(NULL);
    EXPECT(clseg_tuner_layer_count(NULL) == 0);
    ST(clseg_tuner_run(NULL, ctx));
    clseg_tune_layer tl;
    clseg_tune_gemm tg;
    ST(clseg_tuner_layer_get(NULL, 0, &tl));
    ST(clseg_tuner_gemm_get(NULL, &tg));
    clseg_tune_options_init(&o);
    o.height = o.width = 8;
    st = clseg_tuner_create(&t, model, &o, eb, sizeof eb);
    EXPECT(st == CLSEG_OK);
    if (st != CLSEG_OK) return;
    ST(clseg_tuner_run(t, NULL));
    ST(clseg_tuner_layer_get(t, -1, &tl));
    ST(clseg_tuner_layer_get(t, clseg_tuner_layer_count(t), &tl));
    ST(clseg_tuner_layer_get(t, 0, NULL));
    ST(clseg_tuner_gemm_get(t, NULL));
    clseg_tuner_free(t);
}

int main(void) {
    char err[1024];
    clseg_model_init_options mo;
    clseg_model_init_options_init(&mo);
    mo.classes = 3;
    clseg_model *model = NULL;
    clseg_status st = clseg_model_init(&model, SPEC, &mo, err, sizeof err);
    clseg_context_options co;
    clseg_context_options_init(&co);
    co.tuning_db = "";
    if (st == CLSEG_OK) st = clseg_context_create(&ctx, &co, err, sizeof err);
    if (st == CLSEG_OK) st = clseg_net_create(&net, ctx, model);
    if (st != CLSEG_OK) {
        fprintf(stderr, "FAIL setting up: %s%s\n", err, ctx ? clseg_context_error(ctx) : "");
        return 1;
    }
    small_errbufs();
    globals();
    contexts();
    models(model);
    nets(model);
    files_and_images();
    training(model);
    tuning(model);
    clseg_net_free(net);
    clseg_context_free(ctx);
    clseg_model_free(model);
    return check_finish("test_api_misuse");
}
