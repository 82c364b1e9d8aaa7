/* test_onnx_import.c - the ONNX importer without a device: the fixtures' layer mapping and fusions,
   the options, and clean errors for unsupported ops, dynamic sizes and malformed bytes (every
   truncation, random corruption, a text file, a .clsm). */
/* ctest-label: host */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/model.h"
#include "net/onnx_import.h"
#include "testutil.h"

#define FIXTURES CLSEG_SOURCE_DIR "/tests/fixtures/onnx/"

static uint8_t *slurp(const char *path, size_t *size) {
    uint8_t *data = NULL;
    char err[256];
    if (clseg_read_file(path, (size_t)1 << 26, &data, size, err, sizeof err) != CLSEG_OK) {
        fprintf(stderr, "%s\n", err);
        return NULL;
    }
    return data;
}

static clseg_status import_bytes(const uint8_t *data, size_t size, int w, int h, clseg_model **m,
                                 char *err, size_t errlen) {
    clseg_model_import_options o;
    clseg_model_import_options_init(&o);
    o.input_width = w;
    o.input_height = h;
    return onnx_import(data, size, &o, m, err, errlen);
}

static int count_type(const clseg_model *m, layer_type t) {
    int n = 0;
    for (int i = 0; i < m->spec.n_layers; i++) n += m->spec.layers[i].type == t;
    return n;
}

/* The seed-net-like export: BatchNormalization and Relu fused into the convs, a Concat of three
   as two [concat] layers, the no-op Pad dropped, both Resize modes, ceil-mode pools. */
static void test_seedlike(void) {
    size_t size;
    uint8_t *data = slurp(FIXTURES "seedlike_bn_op13.onnx", &size);
    CHECK(data != NULL, "fixture");
    if (!data) return;
    clseg_model *m = NULL;
    char err[1024];
    CHECK_OK(import_bytes(data, size, 0, 0, &m, err, sizeof err));
    if (m) {
        CHECK(m->spec.n_layers == 16, "%d layers", m->spec.n_layers);
        CHECK(count_type(m, LAYER_CONV) == 5 && count_type(m, LAYER_DECONV) == 2 &&
                  count_type(m, LAYER_CONCAT) == 3 && count_type(m, LAYER_UPSAMPLE) == 2 &&
                  count_type(m, LAYER_ADD) == 1 && count_type(m, LAYER_MAXPOOL) == 2 &&
                  count_type(m, LAYER_AVGPOOL) == 1,
              "layer types");
        int e1 = spec_find_layer(&m->spec, "e1_Conv");
        CHECK(e1 >= 0, "layer e1_Conv");
        if (e1 >= 0) {
            const spec_layer *L = &m->spec.layers[e1];
            CHECK(L->batchnorm && L->act == ACT_RELU && !L->bias && L->bn_eps > 0.00099f &&
                      L->bn_eps < 0.00101f,
                  "e1: conv + BN (eps 1e-3) + relu, no bias");
            const model_tensor *var = model_find_tensor(m, "e1_Conv.bn.running_var");
            CHECK(var && var->count == 4 && var->data[0] != 1.0f, "randomised running_var kept");
        }
        int d2 = spec_find_layer(&m->spec, "d2_ConvTranspose");
        CHECK(d2 >= 0 && m->spec.layers[d2].out_pad_h == 1 && m->spec.layers[d2].out_pad_w == 1,
              "output_padding");
        CHECK(m->classes == 12 && !strcmp(m->class_names[0], "Sky"), "CamVid names for K = 12");
        CHECK(m->mean[0] > 0.484f && m->mean[0] < 0.486f && m->std[2] > 0.224f &&
                  m->std[2] < 0.226f,
              "ImageNet normalisation");
        CHECK(strstr(m->spec_text, "'/e1/Conv' + '/e1bn/BatchNormalization' + '/Relu'") != NULL,
              "the spec names the fused nodes");
    }
    clseg_model_free(m);

    /* options: classes that disagree, normalisation of the wrong length, a good one */
    clseg_model_import_options o;
    clseg_model_import_options_init(&o);
    o.classes = 5;
    CHECK(onnx_import(data, size, &o, &m, err, sizeof err) == CLSEG_ERR_INVALID_ARGUMENT &&
              strstr(err, "12"),
          "classes: %s", err);
    float mean[3] = {0.5f, 0.5f, 0.5f}, std[3] = {0.25f, 0.5f, 1.0f};
    clseg_model_import_options_init(&o);
    o.mean = mean;
    o.n_mean = 2;
    CHECK(onnx_import(data, size, &o, &m, err, sizeof err) == CLSEG_ERR_INVALID_ARGUMENT,
          "2 means for 3 channels");
    o.n_mean = 3;
    o.std = std;
    o.n_std = 3;
    CHECK_OK(onnx_import(data, size, &o, &m, err, sizeof err));
    CHECK(m && m->mean[1] == 0.5f && m->std[2] == 1.0f, "normalisation given");
    clseg_model_free(m);
    o.input_width = 30; /* the graph's input is a static 27x19 */
    o.input_height = 19;
    CHECK(onnx_import(data, size, &o, &m, err, sizeof err) == CLSEG_ERR_UNSUPPORTED &&
              strstr(err, "static"),
          "a size against the static one: %s", err);

    /* Every truncation is a clean error (or, for a cut that ends on a field boundary, a
       smaller graph that must still fail to map: a graph without its nodes' weights). */
    int crashes = 0, accepted = 0;
    for (size_t cut = 0; cut < size; cut += (cut < 256 ? 1 : 7)) {
        clseg_model *t = NULL;
        err[0] = 0;
        clseg_status st = import_bytes(data, cut, 0, 0, &t, err, sizeof err);
        if (st == CLSEG_OK) accepted++;
        if (st != CLSEG_OK && (t || !err[0])) crashes++;
        clseg_model_free(t);
    }
    CHECK(accepted == 0, "%d truncated files accepted", accepted);
    CHECK(crashes == 0, "%d failures without a message or with a model", crashes);

    /* Random byte corruption: any result, but no crash and no leak (ASan in CI). */
    uint8_t *copy = malloc(size);
    uint64_t s = 0x243f6a8885a308d3ull;
    for (int round = 0; copy && round < 300; round++) {
        memcpy(copy, data, size);
        for (int k = 0; k < 1 + round % 8; k++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            copy[(s >> 33) % size] ^= (uint8_t)(1u << ((s >> 29) & 7));
        }
        clseg_model *t = NULL;
        clseg_status st = import_bytes(copy, size, 0, 0, &t, err, sizeof err);
        CHECK((st == CLSEG_OK) == (t != NULL), "round %d: status and model disagree", round);
        clseg_model_free(t);
    }
    free(copy);
    free(data);
}

static void test_dynamic_and_folding(void) {
    size_t size;
    uint8_t *data = slurp(FIXTURES "sizes_dyn_op11.onnx", &size);
    CHECK(data != NULL, "fixture");
    if (!data) return;
    clseg_model *m = NULL;
    char err[1024];
    CHECK(import_bytes(data, size, 0, 0, &m, err, sizeof err) == CLSEG_ERR_UNSUPPORTED &&
              strstr(err, "--input-size"),
          "dynamic size without a pin: %s", err);
    /* Resize(sizes = Shape/Gather/Unsqueeze/Concat/Cast/Slice of another tensor): the height and
       width are traced back to c1's shape, so the layer resizes to c1's size, whatever the input
       size (a factor 2 here, not at an odd size) */
    static const int sizes[2][2] = {{24, 16}, {25, 17}};
    for (int k = 0; k < 2; k++) {
        CHECK_OK(import_bytes(data, size, sizes[k][0], sizes[k][1], &m, err, sizeof err));
        int up = m ? spec_find_layer(&m->spec, "Resize") : -1;
        const spec_layer *L = up >= 0 ? &m->spec.layers[up] : NULL;
        CHECK(L && L->type == LAYER_RESIZE && L->bilinear && L->coord == RESIZE_HALF_PIXEL &&
                  L->match == spec_find_layer(&m->spec, "c1_Conv"),
              "Resize to c1's size at %dx%d", sizes[k][0], sizes[k][1]);
        CHECK(m && m->classes == 5 && !strcmp(m->class_names[4], "class4"), "generated names");
        clseg_model_free(m);
        m = NULL;
    }
    free(data);
}

static void test_unpool(void) {
    size_t size;
    uint8_t *data = slurp(FIXTURES "unpool_op12.onnx", &size);
    CHECK(data != NULL, "fixture");
    if (!data) return;
    clseg_model *m = NULL;
    char err[1024];
    CHECK_OK(import_bytes(data, size, 0, 0, &m, err, sizeof err));
    int u = m ? spec_find_layer(&m->spec, "unpool1") : -1;
    int p = m ? spec_find_layer(&m->spec, "pool1") : -1;
    CHECK(u >= 0 && p >= 0 && m->spec.layers[u].pool_layer == p, "unpool reads pool1's indices");
    CHECK(m && m->spec.n_layers == 5, "Identity and Dropout dropped");
    clseg_model_free(m);
    /* every prefix of the small file */
    int bad = 0;
    for (size_t cut = 0; cut < size; cut++) {
        clseg_model *t = NULL;
        err[0] = 0;
        if (import_bytes(data, cut, 0, 0, &t, err, sizeof err) == CLSEG_OK || t || !err[0]) bad++;
        clseg_model_free(t);
    }
    CHECK(bad == 0, "%d truncations not rejected cleanly", bad);
    free(data);
}

/* x * HardSigmoid(x) after a conv becomes one hardswish conv; a depthwise dilated conv takes
   Clip(0, 6); squeeze-excite is gap, conv + sigmoid, mul; a HardSigmoid after a mul is [act]. */
static void test_mobile(void) {
    char err[1024];
    clseg_model *m = NULL;
    CHECK_OK(clseg_model_import_onnx(&m, FIXTURES "mobile_op13.onnx", NULL, err, sizeof err));
    if (!m) return;
    const spec_layer *L = m->spec.layers;
    CHECK(m->spec.n_layers == 6 && L[0].type == LAYER_CONV && L[0].act == ACT_HARDSWISH &&
              L[1].type == LAYER_CONV && L[1].groups == 4 && L[1].dilation == 2 &&
              L[1].act == ACT_RELU6 && L[2].type == LAYER_GAP && L[3].act == ACT_SIGMOID &&
              L[4].type == LAYER_MUL && L[4].inputs[0] == 1 && L[4].inputs[1] == 3 &&
              L[5].type == LAYER_ACT && L[5].act == ACT_HARDSIGMOID,
          "mobile mapping (%d layers)", m->spec.n_layers);
    clseg_model_free(m);
}

static void test_rejections(void) {
    char err[1024];
    clseg_model *m = NULL;
    clseg_status st =
        clseg_model_import_onnx(&m, FIXTURES "unsupported_op.onnx", NULL, err, sizeof err);
    CHECK(st == CLSEG_ERR_UNSUPPORTED && strstr(err, "Softsign") && strstr(err, "'softsign'") &&
              strstr(err, "opset 14"),
          "unsupported op: %s", err);
    CHECK(m == NULL, "no model");

    const char *text = "this is not an ONNX model\nat all\n";
    st = import_bytes((const uint8_t *)text, strlen(text), 0, 0, &m, err, sizeof err);
    CHECK(st == CLSEG_ERR_FORMAT && m == NULL, "text: %s", err);
    st = import_bytes((const uint8_t *)"", 0, 0, 0, &m, err, sizeof err);
    CHECK(st == CLSEG_ERR_FORMAT && m == NULL, "empty: %s", err);

    /* a .clsm handed to the ONNX importer */
    size_t size;
    uint8_t *clsm = slurp(CLSEG_SOURCE_DIR "/models/seednet-camvid.clsm", &size);
    if (clsm) {
        st = import_bytes(clsm, size, 0, 0, &m, err, sizeof err);
        CHECK(st != CLSEG_OK && m == NULL, ".clsm as ONNX");
        free(clsm);
    }
    /* clseg_model_load sniffs the content when the name does not say .onnx */
    char path[] = "/tmp/clseg_onnx_XXXXXX";
    int fd = mkstemp(path);
    uint8_t *onnx = slurp(FIXTURES "unpool_op12.onnx", &size);
    if (fd >= 0 && onnx) {
        FILE *f = fdopen(fd, "wb");
        fwrite(onnx, 1, size, f);
        fclose(f);
        st = clseg_model_load(&m, path, err, sizeof err);
        CHECK(st == CLSEG_OK, "load by content: %s", err);
        clseg_model_free(m);
        remove(path);
    }
    free(onnx);
}

int main(void) {
    test_seedlike();
    test_dynamic_and_folding();
    test_unpool();
    test_mobile();
    test_rejections();
    return tu_finish("test_onnx_import");
}
