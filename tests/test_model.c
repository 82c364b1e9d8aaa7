/* test_model.c - .clsm format: init, round trip, and clean rejection of damaged files. */
/* ctest-label: host */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/common.h"
#include "net/camvid.h"
#include "net/model.h"
#include "testutil.h"

/* Small enough to truncate at every byte; uses every kind of parameter tensor. */
static const char *const tiny_spec = "[net]\n"
                                     "name = tiny\n"
                                     "[conv]\n"
                                     "name = c1\n"
                                     "filters = 4\n"
                                     "size = 3\n"
                                     "pad = 1\n"
                                     "batchnorm = 1\n"
                                     "activation = relu\n"
                                     "[maxpool]\n"
                                     "size = 2\n"
                                     "[deconv]\n"
                                     "name = d1\n"
                                     "filters = 4\n"
                                     "size = 3\n"
                                     "stride = 2\n"
                                     "pad = 1\n"
                                     "output_size = data\n"
                                     "bias = 0\n"
                                     "[conv]\n"
                                     "name = out\n"
                                     "filters = classes\n"
                                     "size = 1\n";

/* ---- an independent writer of the format, following docs/model-format.md ------------------- */

typedef struct writer {
    uint8_t *p;
    size_t len, cap;
} writer;

static void w_put(writer *w, const void *data, size_t n) {
    if (w->len + n > w->cap) {
        w->cap = (w->len + n) * 2 + 256;
        w->p = realloc(w->p, w->cap);
    }
    if (data)
        memcpy(w->p + w->len, data, n);
    else
        memset(w->p + w->len, 0, n);
    w->len += n;
}

static void w_u32(writer *w, uint32_t v) {
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    w_put(w, b, 4);
}

static void w_u64(writer *w, uint64_t v) {
    w_u32(w, (uint32_t)v);
    w_u32(w, (uint32_t)(v >> 32));
}

static void w_f32(writer *w, float f) {
    uint32_t v;
    memcpy(&v, &f, 4);
    w_u32(w, v);
}

static void w_header(writer *w, uint32_t version) {
    w_put(w,
          "\x89"
          "CLSM\r\n\x1a",
          8);
    w_u32(w, version);
}

static size_t w_begin(writer *w, const char *tag) {
    w_put(w, tag, 4);
    w_u64(w, 0);
    return w->len;
}

static void w_end(writer *w, size_t start) {
    uint64_t n = w->len - start;
    for (int i = 0; i < 8; i++) w->p[start - 8 + i] = (uint8_t)(n >> (8 * i));
}

static void w_tensor(writer *w, const char *name, uint32_t ndim, const uint32_t *dims,
                     const float *data, size_t count) {
    w_u32(w, (uint32_t)strlen(name));
    w_put(w, name, strlen(name));
    w_u32(w, 0);
    w_u32(w, ndim);
    for (uint32_t d = 0; d < ndim; d++) w_u32(w, dims[d]);
    w_put(w, NULL, (16 - w->len % 16) % 16);
    for (size_t i = 0; i < count; i++) w_f32(w, data ? data[i] : 0.0f);
}

static void w_crc(writer *w) {
    w_u32(w, clseg_crc32(0, w->p, w->len));
}

/* Pieces of a file from model m, each optional so that tests can leave one out or alter it. */
enum {
    OMIT_SPEC = 1,
    OMIT_CLAS = 2,
    OMIT_PALT = 4,
    OMIT_NORM = 8,
    OMIT_TENS = 16,
    EXTRA_SECTION = 32,
    DOUBLE_CLAS = 64
};

static void w_model(writer *w, const clseg_model *m, const char *spec_text, int flags) {
    w_header(w, 1);
    size_t s;
    if (flags & EXTRA_SECTION) {
        s = w_begin(w, "XTRA");
        w_put(w, "future data", 11);
        w_end(w, s);
    }
    if (!(flags & OMIT_SPEC)) {
        s = w_begin(w, "SPEC");
        w_put(w, spec_text, strlen(spec_text));
        w_end(w, s);
    }
    for (int copy = 0; copy < ((flags & DOUBLE_CLAS) ? 2 : 1) && !(flags & OMIT_CLAS); copy++) {
        s = w_begin(w, "CLAS");
        w_u32(w, (uint32_t)m->classes);
        for (int i = 0; i < m->classes; i++) {
            w_u32(w, (uint32_t)strlen(m->class_names[i]));
            w_put(w, m->class_names[i], strlen(m->class_names[i]));
        }
        w_end(w, s);
    }
    if (!(flags & OMIT_PALT)) {
        s = w_begin(w, "PALT");
        w_u32(w, (uint32_t)m->classes);
        w_put(w, m->palette, (size_t)m->classes * 3);
        w_end(w, s);
    }
    if (!(flags & OMIT_NORM)) {
        s = w_begin(w, "NORM");
        w_u32(w, (uint32_t)m->channels);
        for (int c = 0; c < m->channels; c++) w_f32(w, m->mean[c]);
        for (int c = 0; c < m->channels; c++) w_f32(w, m->std[c]);
        w_end(w, s);
    }
    if (!(flags & OMIT_TENS)) {
        s = w_begin(w, "TENS");
        w_u32(w, (uint32_t)m->n_tensors);
        for (int i = 0; i < m->n_tensors; i++) {
            const model_tensor *t = &m->tensors[i];
            uint32_t dims[4];
            for (int d = 0; d < t->ndim; d++) dims[d] = (uint32_t)t->dims[d];
            w_tensor(w, t->name, (uint32_t)t->ndim, dims, t->data, t->count);
        }
        w_end(w, s);
    }
    if (flags & EXTRA_SECTION) {
        s = w_begin(w, "zzz\x01");
        w_end(w, s);
    }
    w_crc(w);
}

/* ---- helpers ------------------------------------------------------------------------------- */

static clseg_model *tiny_model(int classes, uint64_t seed) {
    clseg_model *m = NULL;
    char err[256];
    clseg_status st = model_init(tiny_spec, classes, seed, NULL, NULL, &m, err, sizeof err);
    CHECK(st == CLSEG_OK, "model_init: %s", err);
    return m;
}

/* Parses, expecting rejection with `needle` in the message. */
static void expect_reject(const char *what, const uint8_t *data, size_t size, const char *needle) {
    clseg_model *m = (clseg_model *)(uintptr_t)1;
    char err[512] = "";
    clseg_status st = model_parse(data, size, &m, err, sizeof err);
    CHECK(st == CLSEG_ERR_FORMAT, "%s: status %s (%s)", what, clseg_status_str(st), err);
    CHECK(m == NULL, "%s: *out not NULL", what);
    CHECK(err[0] != 0, "%s: no message", what);
    if (needle) CHECK(strstr(err, needle) != NULL, "%s: want '%s' in '%s'", what, needle, err);
    if (st == CLSEG_OK) clseg_model_free(m);
}

static void recrc(uint8_t *data, size_t size) {
    uint32_t crc = clseg_crc32(0, data, size - 4);
    for (int i = 0; i < 4; i++) data[size - 4 + i] = (uint8_t)(crc >> (8 * i));
}

/* File offset of the record of tensor `name` (its name-length field). */
static size_t find_record(const uint8_t *data, size_t size, const char *name) {
    size_t n = strlen(name);
    for (size_t i = 0; i + 4 + n <= size; i++)
        if (data[i] == n && data[i + 1] == 0 && data[i + 2] == 0 && data[i + 3] == 0 &&
            memcmp(data + i + 4, name, n) == 0)
            return i;
    return 0;
}

static void put_u32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static int models_equal(const clseg_model *a, const clseg_model *b) {
    if (a->classes != b->classes || a->channels != b->channels || a->n_tensors != b->n_tensors ||
        strcmp(a->spec_text, b->spec_text) != 0 || a->spec.n_layers != b->spec.n_layers)
        return 0;
    if (memcmp(a->class_names, b->class_names, (size_t)a->classes * sizeof *a->class_names) ||
        memcmp(a->palette, b->palette, (size_t)a->classes * 3) ||
        memcmp(a->mean, b->mean, sizeof(float) * (size_t)a->channels) ||
        memcmp(a->std, b->std, sizeof(float) * (size_t)a->channels))
        return 0;
    for (int i = 0; i < a->n_tensors; i++) {
        const model_tensor *t = &a->tensors[i], *u = model_find_tensor(b, t->name);
        if (!u || u->ndim != t->ndim || u->count != t->count ||
            memcmp(u->dims, t->dims, sizeof t->dims) ||
            memcmp(u->data, t->data, t->count * sizeof(float)))
            return 0;
    }
    return 1;
}

/* ---- tests --------------------------------------------------------------------------------- */

static void test_init(void) {
    clseg_model *m = tiny_model(3, 42);
    if (!m) return;
    static const char *const names[] = {
        "c1.weight",         "c1.bias",   "c1.bn.weight", "c1.bn.bias", "c1.bn.running_mean",
        "c1.bn.running_var", "d1.weight", "out.weight",   "out.bias"};
    CHECK(m->n_tensors == 9, "%d tensors", m->n_tensors);
    for (int i = 0; i < m->n_tensors && i < 9; i++)
        CHECK(strcmp(m->tensors[i].name, names[i]) == 0, "tensor %d is %s", i, m->tensors[i].name);
    const model_tensor *w = model_find_tensor(m, "c1.weight");
    const model_tensor *dw = model_find_tensor(m, "d1.weight");
    const model_tensor *ow = model_find_tensor(m, "out.weight");
    CHECK(w && w->ndim == 4 && w->dims[0] == 4 && w->dims[1] == 3 && w->dims[2] == 3 &&
              w->count == 108,
          "c1.weight shape");
    /* ConvTranspose2d layout: [cin][cout][k][k] */
    CHECK(dw && dw->dims[0] == 4 && dw->dims[1] == 4 && dw->count == 144, "d1.weight shape");
    CHECK(ow && ow->dims[0] == 3 && ow->dims[1] == 4 && ow->dims[2] == 1, "out.weight shape");
    CHECK(model_find_tensor(m, "d1.bias") == NULL, "bias = 0 has no tensor");
    CHECK(model_find_tensor(m, "nope") == NULL, "find unknown");
    const model_tensor *g = model_find_tensor(m, "c1.bn.weight");
    const model_tensor *v = model_find_tensor(m, "c1.bn.running_var");
    const model_tensor *mu = model_find_tensor(m, "c1.bn.running_mean");
    const model_tensor *b = model_find_tensor(m, "c1.bn.bias");
    const model_tensor *cb = model_find_tensor(m, "out.bias");
    for (int i = 0; g && v && mu && b && i < 4; i++)
        CHECK(g->data[i] == 1 && v->data[i] == 1 && mu->data[i] == 0 && b->data[i] == 0,
              "identity BatchNorm");
    for (int i = 0; cb && i < 3; i++) CHECK(cb->data[i] == 0, "zero bias");
    CHECK(m->channels == 3 && fabsf(m->mean[0] - 0.485f) < 1e-6f &&
              fabsf(m->std[2] - 0.225f) < 1e-6f,
          "ImageNet normalisation");
    CHECK(strcmp(clseg_model_class_name(m, 2), "class2") == 0, "generated names");

    /* Deterministic per seed; another seed gives other weights. */
    clseg_model *same = tiny_model(3, 42), *other = tiny_model(3, 43);
    if (same && other) {
        CHECK(models_equal(m, same), "same seed differs");
        CHECK(!models_equal(m, other), "other seed equal");
    }
    clseg_model_free(same);
    clseg_model_free(other);
    clseg_model_free(m);

    /* He statistics on a layer big enough to measure. */
    char err[256];
    const char *big = "[net]\n[conv]\nname = a\nfilters = 256\nsize = 3\n"
                      "[deconv]\nname = b\nfilters = 64\nsize = 3\nstride = 2\n"
                      "[conv]\nfilters = classes\nsize = 1\n";
    clseg_model *bm = NULL;
    CHECK_OK(model_init(big, 2, 7, NULL, NULL, &bm, err, sizeof err));
    if (bm) {
        const char *layers[2] = {"a.weight", "b.weight"};
        double want[2] = {sqrt(2.0 / (3 * 9)), sqrt(2.0 / (256 * 9))};
        for (int k = 0; k < 2; k++) {
            const model_tensor *t = model_find_tensor(bm, layers[k]);
            if (!t) continue;
            double s = 0, s2 = 0;
            for (size_t i = 0; i < t->count; i++) {
                s += t->data[i];
                s2 += (double)t->data[i] * t->data[i];
            }
            double mean = s / (double)t->count, sd = sqrt(s2 / (double)t->count - mean * mean);
            CHECK(fabs(sd / want[k] - 1) < 0.05 && fabs(mean) < 0.05 * want[k],
                  "%s: std %g (want %g), mean %g", layers[k], sd, want[k], mean);
        }
    }
    clseg_model_free(bm);

    /* CamVid defaults for 12 classes; caller names and palette otherwise. */
    clseg_model *cv = tiny_model(12, 1);
    if (cv) {
        CHECK(strcmp(clseg_model_class_name(cv, 0), "Sky") == 0, "Sky");
        CHECK(strcmp(clseg_model_class_name(cv, 11), "Unlabelled") == 0, "Unlabelled");
        const uint8_t *black = clseg_model_class_color(cv, 11),
                      *road = clseg_model_class_color(cv, 3);
        CHECK(black[0] == 0 && black[1] == 0 && black[2] == 0, "Unlabelled is black");
        CHECK(road[0] == 128 && road[1] == 64 && road[2] == 128, "Road colour");
        CHECK(clseg_model_class_name(cv, 12) == NULL && clseg_model_class_name(cv, -1) == NULL &&
                  clseg_model_class_color(cv, 12) == NULL,
              "out of range class");
        CHECK(clseg_model_num_classes(cv) == 12 && clseg_model_num_classes(NULL) == 0, "count");
    }
    clseg_model_free(cv);
    const char *names2[2] = {"water", "land"};
    const uint8_t pal2[2][3] = {{0, 0, 255}, {0, 255, 0}};
    clseg_model *two = NULL;
    const char *two_spec = "[net]\nchannels = 1\n[conv]\nfilters = classes\nsize = 1\n";
    CHECK_OK(model_init(two_spec, 2, 1, names2, pal2, &two, err, sizeof err));
    if (two) {
        CHECK(strcmp(clseg_model_class_name(two, 1), "land") == 0, "caller names");
        CHECK(clseg_model_class_color(two, 0)[2] == 255, "caller palette");
        CHECK(two->channels == 1, "1 input channel");
    }
    clseg_model_free(two);
    /* Generated palettes are distinct. */
    clseg_model *many = NULL;
    CHECK_OK(model_init("[net]\n[conv]\nfilters = classes\nsize = 1\n", 255, 1, NULL, NULL, &many,
                        err, sizeof err));
    if (many) {
        int distinct = 1;
        for (int i = 0; i < 255; i++)
            for (int j = 0; j < i; j++)
                if (memcmp(many->palette[i], many->palette[j], 3) == 0) distinct = 0;
        CHECK(distinct, "generated palette repeats a colour");
    }
    clseg_model_free(many);

    /* Refusals. */
    clseg_model *none = NULL;
    CHECK(model_init(tiny_spec, 0, 1, NULL, NULL, &none, err, sizeof err) ==
              CLSEG_ERR_INVALID_ARGUMENT,
          "0 classes");
    CHECK(model_init(tiny_spec, 256, 1, NULL, NULL, &none, err, sizeof err) ==
              CLSEG_ERR_INVALID_ARGUMENT,
          "256 classes");
    CHECK(model_init("[net]\n[conv]\nfilters = 4\nsize = 1\n[maxpool]\nsize = 2\n", 3, 1, NULL,
                     NULL, &none, err, sizeof err) == CLSEG_ERR_FORMAT &&
              strstr(err, "line 5: ") && strstr(err, "classes"),
          "output channels != classes: %s", err);
    CHECK(model_init("[net]\n[conv]\nfilter = 4\n", 3, 1, NULL, NULL, &none, err, sizeof err) ==
                  CLSEG_ERR_FORMAT &&
              strstr(err, "line 3: "),
          "bad spec: %s", err);
    const char *bad_names[3] = {"a", "", "c"};
    CHECK(model_init(tiny_spec, 3, 1, bad_names, NULL, &none, err, sizeof err) ==
              CLSEG_ERR_INVALID_ARGUMENT,
          "empty class name");
    CHECK(none == NULL, "no model on failure");
}

static void test_round_trip(void) {
    clseg_model *m = tiny_model(3, 5);
    if (!m) return;
    uint8_t *data = NULL, *again = NULL;
    size_t size = 0, size2 = 0;
    char err[256];
    CHECK_OK(model_serialize(m, &data, &size, err, sizeof err));
    clseg_model *back = NULL;
    clseg_status st = model_parse(data, size, &back, err, sizeof err);
    CHECK(st == CLSEG_OK, "parse: %s", err);
    if (back) {
        CHECK(models_equal(m, back), "round trip changed the model");
        CHECK_OK(model_serialize(back, &again, &size2, err, sizeof err));
        CHECK(size == size2 && memcmp(data, again, size) == 0, "re-serialisation differs");
        CHECK(strcmp(back->spec.layers[2].name, "d1") == 0 && back->spec.layers[2].bias == 0,
              "spec parsed");
    }
    /* The independent writer produces the same bytes. */
    writer w = {0};
    w_model(&w, m, tiny_spec, 0);
    CHECK(w.len == size && memcmp(w.p, data, size) == 0, "independent writer disagrees");
    /* Tensor data starts at the next multiple of 16 after the record header. */
    for (int i = 0; i < m->n_tensors; i++) {
        const model_tensor *t = &m->tensors[i];
        size_t rec = find_record(data, size, t->name);
        size_t at = (rec + 4 + strlen(t->name) + 8 + 4 * (size_t)t->ndim + 15) / 16 * 16;
        CHECK(rec > 0 && at + 4 * t->count <= size && memcmp(data + at, t->data, 4 * t->count) == 0,
              "%s data not at the aligned offset", t->name);
    }

    /* Unknown sections are skipped. */
    writer x = {0};
    w_model(&x, m, tiny_spec, EXTRA_SECTION);
    clseg_model *skip = NULL;
    st = model_parse(x.p, x.len, &skip, err, sizeof err);
    CHECK(st == CLSEG_OK, "unknown section: %s", err);
    if (skip) CHECK(models_equal(m, skip), "unknown section changed the model");
    clseg_model_free(skip);
    free(x.p);

    /* Through a file and the public API. */
    char path[1024];
    snprintf(path, sizeof path, "%s/test_model_%d.clsm", CLSEG_BINARY_DIR, (int)getpid());
    CHECK_OK(model_save(m, path, err, sizeof err));
    clseg_model *loaded = NULL;
    st = clseg_model_load(&loaded, path, err, sizeof err);
    CHECK(st == CLSEG_OK, "load: %s", err);
    if (loaded) CHECK(models_equal(m, loaded), "save/load changed the model");
    clseg_model_free(loaded);
    FILE *f = fopen(path, "r+b");
    if (f) {
        fseek(f, 40, SEEK_SET);
        fputc('!', f);
        fclose(f);
    }
    loaded = NULL;
    st = clseg_model_load(&loaded, path, err, sizeof err);
    CHECK(st == CLSEG_ERR_FORMAT && loaded == NULL && strstr(err, path) && strstr(err, "checksum"),
          "damaged file: %s", err);
    unlink(path);
    st = clseg_model_load(&loaded, path, err, sizeof err);
    CHECK(st == CLSEG_ERR_IO && loaded == NULL && strstr(err, path), "missing file: %s", err);
    CHECK(clseg_model_load(NULL, path, err, sizeof err) == CLSEG_ERR_INVALID_ARGUMENT, "NULL");
    clseg_model_free(NULL);

    free(w.p);
    free(again);
    free(data);
    clseg_model_free(back);
    clseg_model_free(m);
}

static void test_damage(void) {
    clseg_model *m = tiny_model(3, 9);
    if (!m) return;
    uint8_t *data = NULL;
    size_t size = 0;
    char err[256];
    CHECK_OK(model_serialize(m, &data, &size, err, sizeof err));
    if (!data) return;
    uint8_t *copy = malloc(size);

    /* Truncated at every byte. */
    int before = tu_failures;
    for (size_t n = 0; n < size && tu_failures == before; n++) {
        memcpy(copy, data, n);
        expect_reject("truncated", n ? copy : NULL, n, NULL);
    }
    /* One flipped bit at every byte. */
    before = tu_failures;
    for (size_t i = 0; i < size && tu_failures == before; i++) {
        memcpy(copy, data, size);
        copy[i] ^= (uint8_t)(1u << (i % 8));
        expect_reject("bit flip", copy, size, NULL);
    }
    /* Any byte changed to anything, checksum fixed up: the section parsers see it. Loading
       may succeed (a changed weight) but must never crash or report another status. */
    uint64_t rnd = 0x12345678;
    for (size_t i = 0; i < size - 4; i++) {
        for (int k = 0; k < 3; k++) {
            rnd = rnd * 6364136223846793005ull + 1442695040888963407ull;
            memcpy(copy, data, size);
            copy[i] = (uint8_t)(k == 0 ? 0xff : k == 1 ? 0 : rnd >> 56);
            recrc(copy, size);
            clseg_model *got = NULL;
            clseg_status st = model_parse(copy, size, &got, err, sizeof err);
            CHECK(st == CLSEG_OK || st == CLSEG_ERR_FORMAT, "byte %zu: %s", i,
                  clseg_status_str(st));
            CHECK((st == CLSEG_OK) == (got != NULL), "byte %zu: model and status disagree", i);
            clseg_model_free(got);
        }
    }

    /* Appended garbage is a section header cut short or a checksum mismatch. */
    uint8_t *longer = malloc(size + 20);
    memcpy(longer, data, size);
    memset(longer + size, 0, 20);
    expect_reject("appended bytes", longer, size + 20, NULL);
    free(longer);

    memcpy(copy, data, size);
    copy[1] = 'X';
    expect_reject("bad magic", copy, size, "magic");
    expect_reject("PNG", (const uint8_t *)"\x89PNG\r\n\x1a\n\0\0\0\0\0\0\0\0", 16, "magic");

    memcpy(copy, data, size);
    put_u32(copy + 8, 2);
    recrc(copy, size);
    expect_reject("version 2", copy, size, "version 2");

    /* out.weight [3][4][1][1] relabelled [4][3][1][1]: same size, wrong shape. */
    size_t rec = find_record(data, size, "out.weight");
    CHECK(rec > 0, "out.weight record");
    size_t dims_at = rec + 4 + strlen("out.weight") + 8;
    memcpy(copy, data, size);
    put_u32(copy + dims_at, 4);
    put_u32(copy + dims_at + 4, 3);
    recrc(copy, size);
    expect_reject("mis-shaped tensor", copy, size,
                  "has shape 4x3x1x1 but the network needs 3x4x1x1");

    /* Absurd dims: caught before anything is allocated. */
    memcpy(copy, data, size);
    put_u32(copy + dims_at, 0x40000000u);
    put_u32(copy + dims_at + 4, 0x40000000u);
    recrc(copy, size);
    expect_reject("absurd dims", copy, size, "absurd");
    memcpy(copy, data, size);
    put_u32(copy + dims_at + 8, 0);
    recrc(copy, size);
    expect_reject("zero dim", copy, size, "absurd");
    memcpy(copy, data, size);
    put_u32(copy + dims_at - 4, 1000);
    recrc(copy, size);
    expect_reject("ndim 1000", copy, size, "dimensions");
    memcpy(copy, data, size);
    put_u32(copy + dims_at - 8, 1);
    recrc(copy, size);
    expect_reject("dtype 1", copy, size, "dtype");
    memcpy(copy, data, size);
    put_u32(copy + rec, 0xffffffffu);
    recrc(copy, size);
    expect_reject("name length", copy, size, "name length");
    memcpy(copy, data, size);
    copy[rec + 4 + 9] = 'X'; /* out.weighX */
    recrc(copy, size);
    expect_reject("unexpected tensor", copy, size, "unexpected tensor 'out.weighX'");

    /* Section length past the end. */
    memcpy(copy, data, size);
    put_u32(copy + 12 + 4, 0xfffffff0u);
    recrc(copy, size);
    expect_reject("section length", copy, size, "claims");
    memcpy(copy, data, size);
    put_u32(copy + 12 + 8, 1); /* high word of the SPEC length */
    recrc(copy, size);
    expect_reject("section length high word", copy, size, "claims");
    free(copy);
    free(data);

    /* Whole-file variants from the independent writer. */
    struct {
        const char *what;
        int flags;
        const char *needle;
    } variants[] = {
        {"no SPEC", OMIT_SPEC, "missing section 'SPEC'"},
        {"no CLAS", OMIT_CLAS, "missing section 'CLAS'"},
        {"no PALT", OMIT_PALT, "missing section 'PALT'"},
        {"no NORM", OMIT_NORM, "missing section 'NORM'"},
        {"no TENS", OMIT_TENS, "missing section 'TENS'"},
        {"two CLAS", DOUBLE_CLAS, "duplicate section 'CLAS'"},
    };
    for (size_t i = 0; i < CLSEG_ARRAY_LEN(variants); i++) {
        writer w = {0};
        w_model(&w, m, tiny_spec, variants[i].flags);
        expect_reject(variants[i].what, w.p, w.len, variants[i].needle);
        free(w.p);
    }

    /* A spec that does not parse: its line is reported. */
    writer w = {0};
    w_model(&w, m, "[net]\n[conv]\nfilters = 4\nsize = 33\n", 0);
    expect_reject("bad spec", w.p, w.len, "SPEC: line 4: ");
    free(w.p);
    /* A spec that parses but needs other tensors. */
    w = (writer){0};
    w_model(&w, m, "[net]\n[conv]\nname = c1\nfilters = classes\nsize = 3\n", 0);
    expect_reject("other spec", w.p, w.len, "c1.weight");
    free(w.p);

    /* Missing, duplicate and extra tensors. */
    clseg_model fewer = *m;
    fewer.n_tensors--;
    w = (writer){0};
    w_model(&w, &fewer, tiny_spec, 0);
    expect_reject("missing tensor", w.p, w.len, "missing tensor 'out.bias'");
    free(w.p);
    model_tensor *dup = malloc((size_t)(m->n_tensors + 1) * sizeof *dup);
    memcpy(dup, m->tensors, (size_t)m->n_tensors * sizeof *dup);
    dup[m->n_tensors] = m->tensors[0];
    clseg_model more = *m;
    more.tensors = dup;
    more.n_tensors++;
    w = (writer){0};
    w_model(&w, &more, tiny_spec, 0);
    expect_reject("duplicate tensor", w.p, w.len, "duplicate tensor 'c1.weight'");
    free(w.p);
    free(dup);

    /* Class counts outside 1..255, and a palette that disagrees. */
    uint32_t bad_counts[] = {0, 256, 0xffffffffu};
    for (size_t i = 0; i < CLSEG_ARRAY_LEN(bad_counts); i++) {
        w = (writer){0};
        w_header(&w, 1);
        size_t s = w_begin(&w, "SPEC");
        w_put(&w, tiny_spec, strlen(tiny_spec));
        w_end(&w, s);
        s = w_begin(&w, "CLAS");
        w_u32(&w, bad_counts[i]);
        w_end(&w, s);
        s = w_begin(&w, "PALT");
        w_end(&w, s);
        s = w_begin(&w, "NORM");
        w_end(&w, s);
        s = w_begin(&w, "TENS");
        w_end(&w, s);
        w_crc(&w);
        expect_reject("class count", w.p, w.len, "class count");
        free(w.p);
    }
    clseg_model two = *m;
    two.classes = 2;
    w = (writer){0};
    w_model(&w, &two, tiny_spec, 0);
    expect_reject("classes vs spec", w.p, w.len, NULL);
    free(w.p);

    /* Bad values inside tensors and normalisation. */
    model_tensor *t = (model_tensor *)model_find_tensor(m, "c1.bn.running_var");
    float keep = t->data[1];
    t->data[1] = -1.0f;
    w = (writer){0};
    w_model(&w, m, tiny_spec, 0);
    expect_reject("negative variance", w.p, w.len, "c1.bn.running_var");
    free(w.p);
    t->data[1] = NAN;
    w = (writer){0};
    w_model(&w, m, tiny_spec, 0);
    expect_reject("NaN", w.p, w.len, "c1.bn.running_var");
    free(w.p);
    t->data[1] = keep;
    float keep_std = m->std[0];
    m->std[0] = 0;
    w = (writer){0};
    w_model(&w, m, tiny_spec, 0);
    expect_reject("zero std", w.p, w.len, "NORM");
    free(w.p);
    m->std[0] = keep_std;

    /* A tensor whose claimed size is legal for the spec but larger than the file. */
    const char *big = "[net]\n[conv]\nname = huge\nfilters = classes\nsize = 15\n";
    w = (writer){0};
    w_header(&w, 1);
    size_t s = w_begin(&w, "SPEC");
    w_put(&w, big, strlen(big));
    w_end(&w, s);
    s = w_begin(&w, "CLAS");
    w_u32(&w, 1);
    w_u32(&w, 1);
    w_put(&w, "x", 1);
    w_end(&w, s);
    s = w_begin(&w, "PALT");
    w_u32(&w, 1);
    w_put(&w, "\0\0\0", 3);
    w_end(&w, s);
    s = w_begin(&w, "NORM");
    w_u32(&w, 3);
    for (int i = 0; i < 6; i++) w_f32(&w, 0.5f);
    w_end(&w, s);
    s = w_begin(&w, "TENS");
    w_u32(&w, 1);
    uint32_t dims[4] = {1, 3, 15, 15};
    w_tensor(&w, "huge.weight", 4, dims, NULL, 100); /* 675 values claimed, 100 present */
    w_end(&w, s);
    w_crc(&w);
    expect_reject("tensor past the end", w.p, w.len, "runs past");
    free(w.p);

    clseg_model_free(m);
}

int main(void) {
    test_init();
    test_round_trip();
    test_damage();
    return tu_finish("test_model");
}
