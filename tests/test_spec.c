/* test_spec.c - spec parser: shipped models, defaults, shapes, and line-exact errors. */
/* ctest-label: host */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "net/spec.h"
#include "testutil.h"

static char *read_model_spec(const char *file) {
    char path[1024];
    snprintf(path, sizeof path, "%s/models/%s", CLSEG_SOURCE_DIR, file);
    uint8_t *data = NULL;
    size_t size = 0;
    char err[256];
    if (clseg_read_file(path, 1 << 20, &data, &size, err, sizeof err) != CLSEG_OK) {
        fprintf(stderr, "%s\n", err);
        return NULL;
    }
    return (char *)data;
}

static int same_shape(shape4 a, int n, int c, int h, int w) {
    return a.n == n && a.c == c && a.h == h && a.w == w;
}

static void test_seednet(void) {
    char *text = read_model_spec("seednet.cfg");
    CHECK(text != NULL, "models/seednet.cfg missing");
    if (!text) return;
    net_spec *spec = calloc(1, sizeof *spec);
    char err[256] = "";
    CHECK_OK(spec_parse(text, spec, err, sizeof err));
    CHECK(err[0] == 0, "%s", err);
    CHECK(strcmp(spec->name, "seednet") == 0, "name %s", spec->name);
    CHECK(spec->input_channels == 3, "channels %d", spec->input_channels);
    CHECK(spec->n_layers == 13, "%d layers", spec->n_layers);
    static const layer_type types[13] = {LAYER_CONV,   LAYER_MAXPOOL, LAYER_CONV,   LAYER_MAXPOOL,
                                         LAYER_CONV,   LAYER_MAXPOOL, LAYER_CONV,   LAYER_MAXPOOL,
                                         LAYER_DECONV, LAYER_DECONV,  LAYER_DECONV, LAYER_DECONV,
                                         LAYER_CONV};
    for (int i = 0; i < spec->n_layers && i < 13; i++) {
        const spec_layer *L = &spec->layers[i];
        CHECK(L->type == types[i], "layer %d type %s", i, layer_type_name(L->type));
        CHECK(L->n_inputs == 1 && L->inputs[0] == i - 1, "layer %d input %d", i, L->inputs[0]);
        if (L->type == LAYER_MAXPOOL)
            CHECK(L->size == 2 && L->stride == 2 && L->ceil_mode == 1, "pool %d", i);
        if (L->type == LAYER_DECONV)
            CHECK(L->size == 3 && L->stride == 2 && L->pad == 1 && L->batchnorm &&
                      L->act == ACT_RELU && L->bias == 1 && L->bn_eps == 1e-5f,
                  "deconv %d", i);
    }
    CHECK(spec->layers[0].filters == 64 && spec->layers[6].filters == 512, "filters");
    CHECK(spec->layers[8].match == spec_find_layer(spec, "pool3"), "dec1 output_size");
    CHECK(spec->layers[9].match == spec_find_layer(spec, "pool2"), "dec2 output_size");
    CHECK(spec->layers[10].match == spec_find_layer(spec, "pool1"), "dec3 output_size");
    CHECK(spec->layers[11].match == SPEC_INPUT, "dec4 output_size");
    CHECK(spec->layers[12].filters == SPEC_FILTERS_CLASSES && spec->layers[12].size == 1 &&
              spec->layers[12].act == ACT_NONE,
          "classifier");
    CHECK(spec_find_layer(spec, "data") == SPEC_INPUT, "data");
    CHECK(spec_find_layer(spec, "nope") == SPEC_NOT_FOUND, "not found");

    int channels[SPEC_MAX_LAYERS];
    CHECK_OK(spec_channels(spec, 12, channels, err, sizeof err));
    CHECK(channels[7] == 512 && channels[11] == 64 && channels[12] == 12, "channels");

    shape4 shapes[SPEC_MAX_LAYERS];
    CHECK_OK(spec_shapes(spec, 12, (shape4){1, 3, 360, 480}, shapes, err, sizeof err));
    static const int hs[13] = {360, 180, 180, 90, 90, 45, 45, 23, 45, 90, 180, 360, 360};
    static const int ws[13] = {480, 240, 240, 120, 120, 60, 60, 30, 60, 120, 240, 480, 480};
    for (int i = 0; i < 13; i++)
        CHECK(shapes[i].h == hs[i] && shapes[i].w == ws[i], "layer %d: %dx%d", i, shapes[i].h,
              shapes[i].w);
    CHECK(same_shape(shapes[12], 1, 12, 360, 480), "output %dx%dx%dx%d", shapes[12].n, shapes[12].c,
          shapes[12].h, shapes[12].w);

    static const int odd[][2] = {{1, 1}, {7, 5}, {33, 17}, {5, 7}, {17, 33}, {2, 3}, {361, 481}};
    for (size_t i = 0; i < CLSEG_ARRAY_LEN(odd); i++) {
        int h = odd[i][0], w = odd[i][1];
        clseg_status st = spec_shapes(spec, 5, (shape4){2, 3, h, w}, shapes, err, sizeof err);
        CHECK(st == CLSEG_OK, "%dx%d: %s", h, w, err);
        if (st == CLSEG_OK)
            CHECK(same_shape(shapes[12], 2, 5, h, w), "%dx%d -> %dx%dx%dx%d", h, w, shapes[12].n,
                  shapes[12].c, shapes[12].h, shapes[12].w);
    }
    CHECK(spec_shapes(spec, 12, (shape4){1, 1, 8, 8}, shapes, err, sizeof err) ==
              CLSEG_ERR_INVALID_ARGUMENT,
          "wrong input channels accepted");
    CHECK(spec_shapes(spec, 12, (shape4){1, 3, 0, 8}, shapes, err, sizeof err) != CLSEG_OK,
          "zero height accepted");
    CHECK(spec_shapes(spec, 12, (shape4){1, 3, CLSEG_MAX_DIM + 1, 8}, shapes, err, sizeof err) ==
              CLSEG_ERR_TOO_LARGE,
          "absurd height accepted");
    CHECK(spec_channels(spec, 0, channels, err, sizeof err) != CLSEG_OK, "0 classes accepted");
    free(spec);
    free(text);
}

static void test_other_models(void) {
    static const char *const files[] = {"segnet-basic.cfg", "unet-lite.cfg", "fcn-lite.cfg"};
    net_spec *spec = calloc(1, sizeof *spec);
    shape4 shapes[SPEC_MAX_LAYERS];
    char err[256];
    for (size_t f = 0; f < CLSEG_ARRAY_LEN(files); f++) {
        char *text = read_model_spec(files[f]);
        CHECK(text != NULL, "%s missing", files[f]);
        if (!text) continue;
        clseg_status st = spec_parse(text, spec, err, sizeof err);
        CHECK(st == CLSEG_OK, "%s: %s", files[f], err);
        if (st == CLSEG_OK) {
            st = spec_shapes(spec, 12, (shape4){1, 3, 360, 480}, shapes, err, sizeof err);
            CHECK(st == CLSEG_OK, "%s: %s", files[f], err);
            if (st == CLSEG_OK)
                CHECK(same_shape(shapes[spec->n_layers - 1], 1, 12, 360, 480), "%s output",
                      files[f]);
            st = spec_shapes(spec, 3, (shape4){1, 3, 16, 24}, shapes, err, sizeof err);
            CHECK(st == CLSEG_OK, "%s 16x24: %s", files[f], err);
        }
        if (strcmp(files[f], "segnet-basic.cfg") == 0) {
            /* unpooling restores every size */
            st = spec_shapes(spec, 12, (shape4){1, 3, 33, 17}, shapes, err, sizeof err);
            CHECK(st == CLSEG_OK && same_shape(shapes[spec->n_layers - 1], 1, 12, 33, 17),
                  "segnet 33x17: %s", err);
            int up = spec_find_layer(spec, "up4");
            CHECK(up >= 0 && spec->layers[up].pool_layer == spec_find_layer(spec, "pool4"),
                  "up4 pool");
        } else {
            /* bilinear x2 of a ceil-pooled odd size cannot meet its skip: a clear error */
            err[0] = 0;
            st = spec_shapes(spec, 12, (shape4){1, 3, 33, 17}, shapes, err, sizeof err);
            CHECK(st != CLSEG_OK && strstr(err, "line ") && strstr(err, "fit together"),
                  "%s 33x17: %s", files[f], err);
        }
        free(text);
    }
    free(spec);
}

static void test_defaults_and_names(void) {
    const char *text = "# comment line\r\n"
                       "[net]   # trailing comment\r\n"
                       "\r\n"
                       "[conv]\r\n"
                       "filters = 8\r\n"
                       "size = 3\r\n"
                       "[maxpool]\n"
                       "size = 3\n"
                       "[conv]\n"
                       "filters = +4\n"
                       "size = 1\n"
                       "bias = 0\n"
                       "batchnorm = 1\n"
                       "bn_eps = 1e-3\n"
                       "[avgpool]\n"
                       "size = 2\n"
                       "stride = 1\n"
                       "ceil = 0\n"
                       "[upsample]\n"
                       "factor = 3\n"
                       "[deconv]\n"
                       "filters = classes\n"
                       "size = 2\n"
                       "stride = 2\n"
                       "output_padding = 1\n"
                       "[deconv]\n"
                       "name = d-2\n"
                       "filters = 3\n"
                       "size = 3\n"
                       "stride = 3\n"
                       "output_padding = 2, 0\n"
                       "input = conv1\n"
                       "[add]\n"
                       "inputs = data, d-2\n"
                       "activation = relu\n"
                       "[concat]\n"
                       "inputs = add1,add1\n";
    net_spec *spec = calloc(1, sizeof *spec);
    char err[256];
    clseg_status st = spec_parse(text, spec, err, sizeof err);
    CHECK(st == CLSEG_OK, "%s", err);
    if (st == CLSEG_OK) {
        CHECK(strcmp(spec->name, "net") == 0 && spec->input_channels == 3, "net defaults");
        CHECK(spec->n_layers == 9, "%d layers", spec->n_layers);
        static const char *const names[9] = {"conv1",    "maxpool1",  "conv2",
                                             "avgpool1", "upsample1", "deconv1",
                                             "d-2",      "add1",      "concat1"};
        for (int i = 0; i < 9; i++)
            CHECK(strcmp(spec->layers[i].name, names[i]) == 0, "layer %d named %s", i,
                  spec->layers[i].name);
        const spec_layer *c1 = &spec->layers[0], *mp = &spec->layers[1], *c2 = &spec->layers[2];
        CHECK(c1->stride == 1 && c1->pad == 0 && c1->batchnorm == 0 && c1->bias == 1 &&
                  c1->act == ACT_NONE && c1->line == 4 && c1->inputs[0] == SPEC_INPUT,
              "conv defaults");
        CHECK(mp->stride == 3 && mp->ceil_mode == 1, "maxpool stride defaults to size");
        CHECK(c2->filters == 4 && c2->bias == 0 && c2->batchnorm == 1 && c2->bn_eps == 1e-3f,
              "conv2");
        CHECK(spec->layers[3].stride == 1 && spec->layers[3].ceil_mode == 0, "avgpool");
        CHECK(spec->layers[4].factor == 3 && spec->layers[4].bilinear == 0, "upsample");
        CHECK(spec->layers[5].out_pad_h == 1 && spec->layers[5].out_pad_w == 1 &&
                  spec->layers[5].match == SPEC_MATCH_NONE &&
                  spec->layers[5].filters == SPEC_FILTERS_CLASSES,
              "deconv1");
        CHECK(spec->layers[6].out_pad_h == 2 && spec->layers[6].out_pad_w == 0 &&
                  spec->layers[6].inputs[0] == 0,
              "d-2");
        CHECK(spec->layers[7].n_inputs == 2 && spec->layers[7].inputs[0] == SPEC_INPUT &&
                  spec->layers[7].inputs[1] == 6 && spec->layers[7].act == ACT_RELU,
              "add");
        CHECK(spec->layers[8].inputs[0] == 7 && spec->layers[8].inputs[1] == 7, "concat");

        /* conv1 3x3 valid: 10x12 -> 8x10; d-2: (8-1)*3+3+2 = 26 x (10-1)*3+3 = 30: not the
           10x12 of data, so the add must fail */
        shape4 shapes[SPEC_MAX_LAYERS];
        st = spec_shapes(spec, 4, (shape4){1, 3, 10, 12}, shapes, err, sizeof err);
        CHECK(st != CLSEG_OK && strstr(err, "line 33") && strstr(err, "add1"), "%s", err);
        int channels[SPEC_MAX_LAYERS];
        CHECK_OK(spec_channels(spec, 4, channels, err, sizeof err));
        CHECK(channels[5] == 4 && channels[6] == 3 && channels[8] == 6, "channels");
    }
    free(spec);
}

typedef struct bad_case {
    const char *what;
    const char *text;
    int line;
    const char *needle;
} bad_case;

static const bad_case bad_cases[] = {
    {"unknown key", "[net]\n[conv]\nfilters = 4\nsize = 3\nfoo = 1\n", 5, "unknown key 'foo'"},
    {"key of another section", "[net]\n[maxpool]\nsize = 2\nfilters = 4\n", 4, "unknown key"},
    {"unknown section", "[net]\n# x\n[pool]\nsize = 2\n", 3, "unknown section [pool]"},
    {"bad integer", "[net]\n[conv]\nfilters = 3x\nsize = 1\n", 3, "not an integer"},
    {"hex integer", "[net]\n[conv]\nfilters = 0x10\nsize = 1\n", 3, "not an integer"},
    {"float for integer", "[net]\n[conv]\nfilters = 4\nsize = 1.5\n", 4, "not an integer"},
    {"negative filters", "[net]\n[conv]\nfilters = -3\nsize = 1\n", 3, "out of range"},
    {"zero filters", "[net]\n[conv]\nfilters = 0\nsize = 1\n", 3, "out of range"},
    {"too many filters", "[net]\n[conv]\nfilters = 4097\nsize = 1\n", 3, "out of range"},
    {"integer overflow", "[net]\n[conv]\nfilters = 99999999999999999999999\nsize = 1\n", 3,
     "out of range"},
    {"size 16", "[net]\n[conv]\nfilters = 4\nsize = 16\n", 4, "out of range"},
    {"stride 9", "[net]\n[conv]\nfilters = 4\nsize = 3\nstride = 9\n", 5, "out of range"},
    {"factor 17", "[net]\n[upsample]\nfactor = 17\n", 3, "out of range"},
    {"channels 5", "[net]\nchannels = 5\n[conv]\nfilters = 4\nsize = 1\n", 2, "out of range"},
    {"batchnorm 2", "[net]\n[conv]\nfilters = 4\nsize = 1\nbatchnorm = 2\n", 5, "out of range"},
    {"pad >= size", "[net]\n[conv]\nfilters = 4\npad = 3\nsize = 3\n", 4, "pad = 3"},
    {"missing size", "[net]\n\n[conv]\nfilters = 4\n\n[conv]\nfilters = 2\nsize = 1\n", 3,
     "missing required key 'size'"},
    {"missing size in last section", "[net]\n[conv]\nfilters = 4\n", 2, "'size'"},
    {"empty value", "[net]\n[conv]\nfilters =\nsize = 1\n", 3, "no value"},
    {"no equals sign", "[net]\n[conv]\nfilters 4\n", 3, "key = value"},
    {"duplicate key", "[net]\nchannels = 3\nchannels = 3\n[conv]\nfilters = 1\nsize = 1\n", 3,
     "duplicate key 'channels' (first at line 2)"},
    {"duplicate name",
     "[net]\n[conv]\nname = a\nfilters = 4\nsize = 1\n[conv]\nname = a\n"
     "filters = 4\nsize = 1\n",
     7, "duplicate layer name 'a'"},
    {"explicit name taking a default one",
     "[net]\n[conv]\nfilters = 4\nsize = 1\n[conv]\nname = conv1\nfilters = 4\nsize = 1\n", 6,
     "duplicate layer name 'conv1'"},
    {"forward reference",
     "[net]\n[conv]\nname = a\ninput = b\nfilters = 4\nsize = 1\n[conv]\n"
     "name = b\nfilters = 4\nsize = 1\n",
     4, "later layer (line 7)"},
    {"forward reference wins over a later error",
     "[net]\n[conv]\ninput = b\nfilters = 4\nsize = 1\n[conv]\nname = b\nfilters = 4\nsize = 1\n"
     "[bogus]\n",
     3, "later layer"},
    {"unknown input",
     "[net]\n[conv]\nfilters = 4\nsize = 1\n[conv]\ninput = nothere\n"
     "filters = 4\nsize = 1\n",
     6, "no such layer"},
    {"self reference", "[net]\n[conv]\nname = a\ninput = a\nfilters = 4\nsize = 1\n", 4, "itself"},
    {"unpool of a conv", "[net]\n[conv]\nname = a\nfilters = 4\nsize = 1\n[unpool]\npool = a\n", 7,
     "not a maxpool"},
    {"unpool of data", "[net]\n[unpool]\npool = data\n", 3, "not a maxpool"},
    {"concat with one input", "[net]\n[conv]\nfilters = 4\nsize = 1\n[concat]\ninputs = conv1\n", 6,
     "exactly 2 inputs"},
    {"add with three inputs",
     "[net]\n[conv]\nfilters = 4\nsize = 1\n[add]\n"
     "inputs = conv1, conv1, data\n",
     6, "exactly 2 inputs"},
    {"empty list item", "[net]\n[conv]\nfilters = 4\nsize = 1\n[add]\ninputs = conv1,,data\n", 6,
     "empty item"},
    {"input list on a conv", "[net]\n[conv]\nfilters = 4\nsize = 1\ninput = data, data\n", 5,
     "one input"},
    {"empty file", "", 1, "no [net]"},
    {"only comments", "# nothing\n\n  # here\n", 1, "no [net]"},
    {"no layers", "# x\n[net]\nname = x\n", 2, "no layers"},
    {"key outside a section", "filters = 3\n[net]\n[conv]\nfilters = 1\nsize = 1\n", 1,
     "outside a section"},
    {"layer before [net]", "\n[conv]\nfilters = 4\nsize = 1\n[net]\n", 2, "first section"},
    {"second [net]", "[net]\n[conv]\nfilters = 4\nsize = 1\n[net]\n", 5, "second [net]"},
    {"malformed header", "[net]\n[conv\nfilters = 4\n", 2, "malformed section header"},
    {"bad activation", "[net]\n[conv]\nfilters = 4\nsize = 1\nactivation = tanh\n", 5, "tanh"},
    {"bad upsample mode", "[net]\n[upsample]\nfactor = 2\nmode = cubic\n", 4, "cubic"},
    {"bad name", "[net]\n[conv]\nname = a.b\nfilters = 4\nsize = 1\n", 3, "not a valid"},
    {"name 'data'", "[net]\n[conv]\nname = data\nfilters = 4\nsize = 1\n", 3, "not a valid"},
    {"output_padding >= stride",
     "[net]\n[deconv]\nfilters = 4\nsize = 3\nstride = 2\noutput_padding = 0, 2\n", 6,
     "less than stride"},
    {"output_size and output_padding",
     "[net]\n[deconv]\nfilters = 4\nsize = 3\nstride = 2\noutput_padding = 1\n"
     "output_size = data\n",
     7, "exclude"},
    {"output_size of a later layer",
     "[net]\n[deconv]\nfilters = 4\nsize = 3\nstride = 2\noutput_size = c\n[conv]\nname = c\n"
     "filters = 4\nsize = 1\n",
     6, "later layer (line 7)"},
    {"bn_eps without batchnorm", "[net]\n[conv]\nfilters = 4\nsize = 1\nbn_eps = 1e-3\n", 5,
     "batchnorm"},
    {"bn_eps not a number", "[net]\n[conv]\nfilters = 4\nsize = 1\nbatchnorm = 1\nbn_eps = x\n", 6,
     "not a number"},
    {"bn_eps negative", "[net]\n[conv]\nfilters = 4\nsize = 1\nbatchnorm = 1\nbn_eps = -1\n", 6,
     "out of range"},
    /* the inference-only keys and layers of imported models */
    {"hardswish on a deconv", "[net]\n[deconv]\nfilters = 4\nsize = 2\nactivation = hardswish\n", 5,
     "relu or linear"},
    {"unknown activation", "[net]\n[act]\nactivation = gelu\n", 3, "hardswish"},
    {"act without activation", "[net]\n[act]\nname = a\n", 2, "activation"},
    {"pad past the dilated kernel", "[net]\n[conv]\nfilters = 4\nsize = 3\ndilation = 2\npad = 5\n",
     6, "dilated kernel's extent = 5"},
    {"groups on a deconv", "[net]\n[deconv]\nfilters = 4\nsize = 2\ngroups = 2\n", 5,
     "unknown key"},
    {"resize without a size", "[net]\n[resize]\nmode = bilinear\n", 2, "exactly one"},
    {"resize with two sizes", "[net]\n[resize]\nsize = 4, 5\nscale = 2\n", 2, "exactly one"},
    {"resize size of one value", "[net]\n[resize]\nsize = 4\n", 3, "height, width"},
    {"resize scale 0", "[net]\n[resize]\nscale = 0\n", 3, "not a number in"},
    {"resize bad coord", "[net]\n[resize]\nscale = 2\ncoord = corner\n", 4, "align_corners"},
    {"nearest_mode of a bilinear resize",
     "[net]\n[resize]\nscale = 2\nmode = bilinear\nnearest_mode = floor\n", 5, "nearest_mode"},
    {"mul of one input", "[net]\n[mul]\ninputs = data\n", 3, "exactly 2"},
};

static void test_bad_specs(void) {
    net_spec *spec = calloc(1, sizeof *spec);
    for (size_t i = 0; i < CLSEG_ARRAY_LEN(bad_cases); i++) {
        const bad_case *c = &bad_cases[i];
        char err[256] = "";
        clseg_status st = spec_parse(c->text, spec, err, sizeof err);
        char want_line[32];
        snprintf(want_line, sizeof want_line, "line %d: ", c->line);
        CHECK(st == CLSEG_ERR_FORMAT, "%s: status %s", c->what, clseg_status_str(st));
        CHECK(strncmp(err, want_line, strlen(want_line)) == 0, "%s: want '%s', got '%s'", c->what,
              want_line, err);
        CHECK(strstr(err, c->needle) != NULL, "%s: want '%s' in '%s'", c->what, c->needle, err);
        CHECK(spec->n_layers == 0, "%s: spec not cleared", c->what);
    }

    /* A line longer than the parser's buffer. */
    size_t n = 3000;
    char *text = malloc(n + 64);
    strcpy(text, "[net]\n# ");
    memset(text + 8, 'x', n);
    strcpy(text + 8 + n, "\n[conv]\n");
    char err[256];
    CHECK(spec_parse(text, spec, err, sizeof err) == CLSEG_ERR_FORMAT && strstr(err, "line 2: "),
          "long line: %s", err);
    free(text);

    /* One layer too many. */
    size_t cap = 64 + (SPEC_MAX_LAYERS + 1) * 32;
    text = malloc(cap);
    size_t at = (size_t)snprintf(text, cap, "[net]\n");
    for (int i = 0; i <= SPEC_MAX_LAYERS; i++)
        at += (size_t)snprintf(text + at, cap - at, "[maxpool]\nsize = 1\n");
    char want[64];
    snprintf(want, sizeof want, "line %d: more than", 2 + 2 * SPEC_MAX_LAYERS);
    CHECK(spec_parse(text, spec, err, sizeof err) == CLSEG_ERR_FORMAT && strstr(err, want),
          "too many layers: %s", err);
    free(text);

    /* Messages are truncated, never overflowed. */
    char tiny[8];
    CHECK(spec_parse("[net]\n[what]\n", spec, tiny, sizeof tiny) == CLSEG_ERR_FORMAT &&
              strlen(tiny) == 7,
          "small error buffer");
    CHECK(spec_parse("[net]\n[what]\n", spec, NULL, 0) == CLSEG_ERR_FORMAT, "NULL error buffer");
    free(spec);
}

/* Errors that only show for a class count or an input size. */
static void test_bad_shapes(void) {
    net_spec *spec = calloc(1, sizeof *spec);
    char err[256];
    shape4 shapes[SPEC_MAX_LAYERS];
    int channels[SPEC_MAX_LAYERS];

    /* No output_padding makes 8 -> 8 with stride 2. */
    const char *deconv = "[net]\n[conv]\nfilters = 4\nsize = 3\npad = 1\n"
                         "[deconv]\nfilters = 4\nsize = 3\nstride = 2\npad = 1\n"
                         "output_size = data\n";
    CHECK_OK(spec_parse(deconv, spec, err, sizeof err));
    err[0] = 0;
    CHECK(spec_shapes(spec, 2, (shape4){1, 3, 8, 8}, shapes, err, sizeof err) != CLSEG_OK &&
              strstr(err, "line 6: ") && strstr(err, "output_padding"),
          "impossible output_size: %s", err);

    const char *add = "[net]\n[conv]\nfilters = 4\nsize = 1\n[conv]\nfilters = 5\nsize = 1\n"
                      "[add]\ninputs = conv1, conv2\n";
    CHECK_OK(spec_parse(add, spec, err, sizeof err));
    CHECK(spec_channels(spec, 2, channels, err, sizeof err) == CLSEG_ERR_FORMAT &&
              strstr(err, "line 8: ") && strstr(err, "4 and 5"),
          "add channels: %s", err);

    /* Fine for 4 classes only. */
    const char *classes_add = "[net]\n[conv]\nfilters = 4\nsize = 1\n[conv]\nfilters = classes\n"
                              "size = 1\ninput = data\n[add]\ninputs = conv1, conv2\n";
    CHECK_OK(spec_parse(classes_add, spec, err, sizeof err));
    CHECK_OK(spec_channels(spec, 4, channels, err, sizeof err));
    CHECK(spec_channels(spec, 3, channels, err, sizeof err) == CLSEG_ERR_FORMAT, "classes add");

    const char *unpool = "[net]\n[maxpool]\nname = p\nsize = 2\n[conv]\nfilters = 8\nsize = 1\n"
                         "[unpool]\npool = p\n";
    CHECK_OK(spec_parse(unpool, spec, err, sizeof err));
    CHECK(spec_channels(spec, 2, channels, err, sizeof err) == CLSEG_ERR_FORMAT &&
              strstr(err, "line 8: "),
          "unpool channels: %s", err);

    const char *unpool_size = "[net]\n[maxpool]\nname = p\nsize = 2\n[maxpool]\nsize = 2\n"
                              "[unpool]\npool = p\n";
    CHECK_OK(spec_parse(unpool_size, spec, err, sizeof err));
    CHECK(spec_shapes(spec, 2, (shape4){1, 3, 8, 8}, shapes, err, sizeof err) != CLSEG_OK &&
              strstr(err, "line 7: ") && strstr(err, "pool 'p'"),
          "unpool size: %s", err);

    const char *big_kernel = "[net]\n[conv]\nfilters = 4\nsize = 5\n";
    CHECK_OK(spec_parse(big_kernel, spec, err, sizeof err));
    CHECK(spec_shapes(spec, 2, (shape4){1, 3, 4, 9}, shapes, err, sizeof err) != CLSEG_OK &&
              strstr(err, "line 2: "),
          "kernel larger than input: %s", err);
    CHECK_OK(spec_shapes(spec, 2, (shape4){1, 3, 5, 9}, shapes, err, sizeof err));
    CHECK(same_shape(shapes[0], 1, 4, 1, 5), "valid conv shape");

    /* groups that divide neither side; then a depthwise, dilated conv with squeeze-excite and a
       resize back to the input's size, whose shapes follow ONNX's rules */
    const char *groups = "[net]\n[conv]\nfilters = 4\nsize = 1\ngroups = 2\n";
    CHECK_OK(spec_parse(groups, spec, err, sizeof err));
    CHECK(spec_channels(spec, 2, channels, err, sizeof err) == CLSEG_ERR_FORMAT &&
              strstr(err, "line 2: ") && strstr(err, "groups = 2"),
          "groups of 3 channels: %s", err);
    const char *se = "[net]\n[conv]\nname = e\nfilters = 6\nsize = 3\nstride = 2\npad = 1\n"
                     "[conv]\nname = dw\nfilters = 6\nsize = 5\ngroups = 6\ndilation = 2\npad = 4\n"
                     "activation = hardswish\n[gap]\n[conv]\nfilters = 6\nsize = 1\n"
                     "activation = hardsigmoid\n[mul]\ninputs = dw, conv3\n"
                     "[resize]\noutput_size = data\nmode = bilinear\n"
                     "[resize]\nname = half\ninput = e\nscale = 0.5, 0.25\n"
                     "[resize]\ninput = e\nsize = 7, 3\nnearest_mode = ceil\n";
    CHECK_OK(spec_parse(se, spec, err, sizeof err));
    CHECK_OK(spec_shapes(spec, 2, (shape4){1, 3, 9, 11}, shapes, err, sizeof err));
    CHECK(same_shape(shapes[0], 1, 6, 5, 6) && same_shape(shapes[1], 1, 6, 5, 6) &&
              same_shape(shapes[2], 1, 6, 1, 1) && same_shape(shapes[4], 1, 6, 5, 6) &&
              same_shape(shapes[5], 1, 6, 9, 11) && same_shape(shapes[6], 1, 6, 2, 1) &&
              same_shape(shapes[7], 1, 6, 7, 3),
          "depthwise / squeeze-excite / resize shapes");
    CHECK(spec->layers[1].groups == 6 && spec->layers[1].dilation == 2 &&
              spec->layers[1].act == ACT_HARDSWISH && spec->layers[7].round == RESIZE_CEIL &&
              spec->layers[5].coord == RESIZE_HALF_PIXEL && spec->layers[5].match == SPEC_INPUT,
          "parsed keys");

    const char *huge = "[net]\n[upsample]\nfactor = 16\n[upsample]\nfactor = 16\n";
    CHECK_OK(spec_parse(huge, spec, err, sizeof err));
    CHECK(spec_shapes(spec, 2, (shape4){1, 3, 200, 200}, shapes, err, sizeof err) ==
              CLSEG_ERR_TOO_LARGE,
          "huge upsample: %s", err);
    free(spec);
}

/* Random damage to a real spec: never a crash, and every failure names its line. */
static void test_mutations(void) {
    char *text = read_model_spec("unet-lite.cfg");
    if (!text) return;
    size_t n = strlen(text);
    char *copy = malloc(n + 1);
    net_spec *spec = calloc(1, sizeof *spec);
    static const char alphabet[] = "[]=#,\n 0123456789-xadtcv";
    uint64_t rnd = 99;
    int failures = 0;
    for (int iter = 0; iter < 3000; iter++) {
        memcpy(copy, text, n + 1);
        for (int k = 0; k < 3; k++) {
            rnd = rnd * 6364136223846793005ull + 1442695040888963407ull;
            size_t at = (size_t)(rnd >> 33) % n;
            copy[at] = alphabet[(rnd >> 20) % (sizeof alphabet - 1)];
        }
        char err[256] = "";
        clseg_status st = spec_parse(copy, spec, err, sizeof err);
        if (st == CLSEG_OK) {
            shape4 shapes[SPEC_MAX_LAYERS];
            st = spec_shapes(spec, 4, (shape4){1, spec->input_channels, 64, 48}, shapes, err,
                             sizeof err);
            CHECK(st == CLSEG_OK || strncmp(err, "line ", 5) == 0, "mutation %d shapes: %s", iter,
                  err);
        } else {
            failures++;
            CHECK(st == CLSEG_ERR_FORMAT && strncmp(err, "line ", 5) == 0, "mutation %d: %s", iter,
                  err);
        }
    }
    CHECK(failures > 1000, "only %d of 3000 mutations rejected", failures);
    free(spec);
    free(copy);
    free(text);
}

int main(void) {
    test_seednet();
    test_other_models();
    test_defaults_and_names();
    test_bad_specs();
    test_bad_shapes();
    test_mutations();
    return tu_finish("test_spec");
}
