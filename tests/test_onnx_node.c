/* test_onnx_node.c - ONNX's own backend node tests (Debian libonnx-testdata) for the ops clseg
   imports, on the device: each single-node model imported, run with clseg_net_forward_into and
   compared with ONNX's expected output (docs/onnx.md has the table this prints). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/onnx_import.h"
#include "onnx.pb-c.h"
#include "testutil.h"

#define NODE_DIR "/usr/share/libonnx-testdata/data/node/"

/* ONNX's own bar for its backend tests. */
#define RTOL 1e-3
#define ATOL 1e-5

/* Every single-node test of Conv, ConvTranspose, MaxPool, AveragePool, GlobalAveragePool, Resize /
   Upsample (not cubic, not tf_crop_and_resize), BatchNormalization (inference), Pad and Identity
   whose first input is a 4-D float tensor, in libonnx-testdata 1.12.0 (test_edge_pad and
   test_reflect_pad pad an int32 tensor; the 1-D and 3-D tests, maxpool_2d_uint8, the cubic and
   tf_crop_and_resize resizes, batchnorm *_training_mode, identity_opt and identity_sequence are
   the others left out). */
static const char *const tests[] = {
    "test_averagepool_2d_ceil",
    "test_averagepool_2d_default",
    "test_averagepool_2d_pads",
    "test_averagepool_2d_pads_count_include_pad",
    "test_averagepool_2d_precomputed_pads",
    "test_averagepool_2d_precomputed_pads_count_include_pad",
    "test_averagepool_2d_precomputed_same_upper",
    "test_averagepool_2d_precomputed_strides",
    "test_averagepool_2d_same_lower",
    "test_averagepool_2d_same_upper",
    "test_averagepool_2d_strides",
    "test_batchnorm_epsilon",
    "test_batchnorm_example",
    "test_constant_pad",
    "test_conv_with_autopad_same",
    "test_conv_with_strides_and_asymmetric_padding",
    "test_conv_with_strides_no_padding",
    "test_conv_with_strides_padding",
    "test_convtranspose",
    "test_convtranspose_autopad_same",
    "test_convtranspose_dilations",
    "test_convtranspose_kernel_shape",
    "test_convtranspose_output_shape",
    "test_convtranspose_pad",
    "test_convtranspose_pads",
    "test_convtranspose_with_kernel",
    "test_globalaveragepool",
    "test_globalaveragepool_precomputed",
    "test_identity",
    "test_maxpool_2d_ceil",
    "test_maxpool_2d_default",
    "test_maxpool_2d_dilations",
    "test_maxpool_2d_pads",
    "test_maxpool_2d_precomputed_pads",
    "test_maxpool_2d_precomputed_same_upper",
    "test_maxpool_2d_precomputed_strides",
    "test_maxpool_2d_same_lower",
    "test_maxpool_2d_same_upper",
    "test_maxpool_2d_strides",
    "test_maxpool_with_argmax_2d_precomputed_pads",
    "test_maxpool_with_argmax_2d_precomputed_strides",
    "test_resize_downsample_scales_linear",
    "test_resize_downsample_scales_linear_align_corners",
    "test_resize_downsample_scales_nearest",
    "test_resize_downsample_sizes_linear_pytorch_half_pixel",
    "test_resize_downsample_sizes_nearest",
    "test_resize_downsample_sizes_nearest_tf_half_pixel_for_nn",
    "test_resize_upsample_scales_linear",
    "test_resize_upsample_scales_linear_align_corners",
    "test_resize_upsample_scales_nearest",
    "test_resize_upsample_sizes_nearest",
    "test_resize_upsample_sizes_nearest_ceil_half_pixel",
    "test_resize_upsample_sizes_nearest_floor_align_corners",
    "test_resize_upsample_sizes_nearest_round_prefer_ceil_asymmetric",
    "test_upsample_nearest",
};

/* What the importer does today: a regression (a pass that no longer passes) fails the test, and
   a numerical mismatch always does; a refusal with a message is an honest "not yet". */
#define EXPECTED_PASSES 25

static Onnx__TensorProto *read_tensor(const char *dir, const char *name) {
    char path[512], err[512];
    snprintf(path, sizeof path, "%s/test_data_set_0/%s", dir, name);
    uint8_t *data = NULL;
    size_t size = 0;
    if (clseg_read_file(path, (size_t)1 << 28, &data, &size, err, sizeof err) != CLSEG_OK)
        return NULL;
    Onnx__TensorProto *t = onnx__tensor_proto__unpack(NULL, size, data);
    free(data);
    return t;
}

/* The float values of a tensor (raw_data or float_data); NULL for another type. */
static float *tensor_floats(const Onnx__TensorProto *t, size_t *count) {
    size_t n = 1;
    for (size_t d = 0; d < t->n_dims; d++) n *= (size_t)t->dims[d];
    if (t->data_type != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT) return NULL;
    float *v = malloc((n ? n : 1) * sizeof *v);
    if (!v) return NULL;
    if (t->has_raw_data && t->raw_data.len == n * sizeof *v) {
        memcpy(v, t->raw_data.data, n * sizeof *v);
    } else if (t->n_float_data == n) {
        memcpy(v, t->float_data, n * sizeof *v);
    } else {
        free(v);
        return NULL;
    }
    *count = n;
    return v;
}

typedef enum { PASS, FAIL, REFUSED, BROKEN } outcome;
static const char *const outcome_name[] = {"pass", "fail", "refused", "test data"};

/* The model with graph inputs 1.. turned into initializers from input_K.pb, as bytes. */
static uint8_t *model_with_weights(const char *dir, size_t *size, char *why, size_t whylen) {
    char path[512], err[512];
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    uint8_t *data = NULL;
    size_t n = 0;
    if (clseg_read_file(path, (size_t)1 << 28, &data, &n, err, sizeof err) != CLSEG_OK) {
        snprintf(why, whylen, "%s", err);
        return NULL;
    }
    Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, n, data);
    free(data);
    if (!m || !m->graph || m->graph->n_input < 1) {
        snprintf(why, whylen, "model.onnx does not parse");
        onnx__model_proto__free_unpacked(m, NULL);
        return NULL;
    }
    Onnx__GraphProto *g = m->graph;
    size_t extra = g->n_input - 1, n_init = g->n_initializer, n_input = g->n_input;
    Onnx__TensorProto **init = g->initializer;
    Onnx__TensorProto **all = calloc(n_init + extra + 1, sizeof *all);
    uint8_t *out = NULL;
    size_t k = 0;
    for (; all && k < extra; k++) {
        char name[32];
        snprintf(name, sizeof name, "input_%zu.pb", k + 1);
        all[n_init + k] = read_tensor(dir, name);
        if (!all[n_init + k]) break;
        all[n_init + k]->name = g->input[k + 1]->name;
    }
    if (all && k == extra) {
        for (size_t i = 0; i < n_init; i++) all[i] = init[i];
        g->initializer = all;
        g->n_initializer = n_init + extra;
        g->n_input = 1;
        *size = onnx__model_proto__get_packed_size(m);
        out = malloc(*size);
        if (out) onnx__model_proto__pack(m, out);
        g->initializer = init, g->n_initializer = n_init, g->n_input = n_input;
    } else {
        snprintf(why, whylen, "cannot read the weights input_%zu.pb", k + 1);
    }
    for (size_t i = 0; all && i < k; i++) {
        all[n_init + i]->name = NULL; /* the graph input's, freed with the model */
        onnx__tensor_proto__free_unpacked(all[n_init + i], NULL);
    }
    free(all);
    onnx__model_proto__free_unpacked(m, NULL);
    return out;
}

static outcome run_test(clseg_context *ctx, const char *test, char *why, size_t whylen) {
    char dir[256];
    snprintf(dir, sizeof dir, NODE_DIR "%s", test);
    outcome res = BROKEN;
    size_t model_size = 0, n_in = 0, n_want = 0;
    clseg_model *model = NULL;
    clseg_net *net = NULL;
    float *x = NULL, *want = NULL, *got = NULL;
    uint8_t *bytes = model_with_weights(dir, &model_size, why, whylen);
    Onnx__TensorProto *tin = read_tensor(dir, "input_0.pb");
    Onnx__TensorProto *tout = read_tensor(dir, "output_0.pb");
    if (!bytes) goto done;
    if (!tin || !tout || tin->n_dims != 4 || !(x = tensor_floats(tin, &n_in)) ||
        !(want = tensor_floats(tout, &n_want))) {
        snprintf(why, whylen, "the input is not a 4-D float tensor");
        goto done;
    }
    int dims[4];
    for (int d = 0; d < 4; d++) dims[d] = (int)tin->dims[d];
    clseg_model_import_options o;
    clseg_model_import_options_init(&o);
    o.input_width = dims[3], o.input_height = dims[2];
    char err[1024];
    if (onnx_import(bytes, model_size, &o, &model, err, sizeof err) != CLSEG_OK) {
        snprintf(why, whylen, "%s", err);
        res = REFUSED;
        goto done;
    }
    int shape[4];
    if (clseg_net_create(&net, ctx, model) != CLSEG_OK ||
        clseg_net_output_shape(net, dims[0], dims[2], dims[3], shape) != CLSEG_OK) {
        snprintf(why, whylen, "%s", clseg_context_error(ctx));
        res = REFUSED;
        goto done;
    }
    size_t n_got = (size_t)shape[0] * shape[1] * shape[2] * shape[3];
    res = FAIL;
    if (n_got != n_want || tout->n_dims != 4 || shape[0] != tout->dims[0] ||
        shape[1] != tout->dims[1] || shape[2] != tout->dims[2] || shape[3] != tout->dims[3]) {
        snprintf(why, whylen, "output shape %dx%dx%dx%d", shape[0], shape[1], shape[2], shape[3]);
        goto done;
    }
    got = malloc(n_got * sizeof *got);
    if (!got || clseg_net_forward_into(net, x, dims[0], dims[2], dims[3], got, n_got) != CLSEG_OK) {
        snprintf(why, whylen, "forward: %s", clseg_context_error(ctx));
        goto done;
    }
    size_t bad = 0, worst = 0;
    double worst_excess = 0;
    for (size_t i = 0; i < n_got; i++) {
        double e = fabs((double)got[i] - want[i]), lim = ATOL + RTOL * fabs(want[i]);
        if (!(e <= lim)) {
            if (!bad || !(e - lim <= worst_excess)) worst = i, worst_excess = e - lim;
            bad++;
        }
    }
    if (bad) {
        snprintf(why, whylen, "%zu of %zu values differ, e.g. [%zu] %g, expected %g", bad, n_got,
                 worst, got[worst], want[worst]);
        goto done;
    }
    snprintf(why, whylen, "%zu values, %d layer(s)", n_got, clseg_model_layer_count(model));
    res = PASS;
done:
    free(got);
    free(x);
    free(want);
    free(bytes);
    onnx__tensor_proto__free_unpacked(tin, NULL);
    onnx__tensor_proto__free_unpacked(tout, NULL);
    clseg_net_free(net);
    clseg_model_free(model);
    return res;
}

int main(void) {
    FILE *probe = fopen(NODE_DIR "test_identity/model.onnx", "rb");
    if (!probe) {
        printf("test_onnx_node: libonnx-testdata is not installed (%s); skipped\n", NODE_DIR);
        return 0;
    }
    fclose(probe);
    char err[1024], why[1024];
    clseg_context *ctx = NULL;
    if (clseg_context_create(&ctx, NULL, err, sizeof err) != CLSEG_OK) {
        fprintf(stderr, "no context: %s\n", err);
        return 1;
    }
    int count[4] = {0};
    size_t n = sizeof tests / sizeof tests[0];
    printf("| test | result | why |\n|---|---|---|\n");
    for (size_t i = 0; i < n; i++) {
        outcome r = run_test(ctx, tests[i], why, sizeof why);
        count[r]++;
        printf("| `%s` | %s | %s |\n", tests[i] + 5, outcome_name[r], why);
        CHECK(r != FAIL && r != BROKEN, "%s: %s", tests[i], why);
    }
    printf("\n%s: %d of %zu pass (%.0f %%), %d refused, %d fail\n", clseg_context_device(ctx)->name,
           count[PASS], n, 100.0 * count[PASS] / (double)n, count[REFUSED],
           count[FAIL] + count[BROKEN]);
    CHECK(count[PASS] >= EXPECTED_PASSES, "%d pass, %d did before", count[PASS], EXPECTED_PASSES);
    clseg_context_free(ctx);
    return tu_finish("test_onnx_node");
}
