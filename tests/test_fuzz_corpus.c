/* test_fuzz_corpus.c - replays every seed and regression input of the fuzz targets
   (tests/fuzz/corpus/<target>/) through the targets' own checks, in every build, and pins the
   outcome of each input that once made a target fail (docs/reliability.md). */
/* ctest-label: host */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* Each target defines LLVMFuzzerTestOneInput; give each its own name here. */
#define LLVMFuzzerTestOneInput fuzz_model_input
#include "fuzz/fuzz_model.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_spec_input
#include "fuzz/fuzz_spec.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_png_input
#include "fuzz/fuzz_png.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_cache_input
#include "fuzz/fuzz_cache.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_tune_input
#include "fuzz/fuzz_tune.c"
#undef LLVMFuzzerTestOneInput
#ifdef CLSEG_HAVE_ONNX /* the importer exists only with protobuf-c */
#define LLVMFuzzerTestOneInput fuzz_onnx_input
#include "fuzz/fuzz_onnx.c"
#undef LLVMFuzzerTestOneInput
#endif

#define CORPUS CLSEG_SOURCE_DIR "/tests/fuzz/corpus"

typedef struct target {
    const char *name;
    int (*input)(const uint8_t *data, size_t size);
} target;

static const target targets[] = {
    {"model", fuzz_model_input}, {"spec", fuzz_spec_input}, {"png", fuzz_png_input},
    {"cache", fuzz_cache_input}, {"tune", fuzz_tune_input},
#ifdef CLSEG_HAVE_ONNX
    {"onnx", fuzz_onnx_input},
#endif
};

/* Runs every file of corpus/<name> through the target (which traps on a broken invariant). */
static void replay(const target *t) {
    char dir[512], path[1024], err[512];
    snprintf(dir, sizeof dir, "%s/%s", CORPUS, t->name);
    DIR *d = opendir(dir);
    CHECK(d != NULL, "cannot open %s", dir);
    if (!d) return;
    int files = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        uint8_t *data = NULL;
        size_t size = 0;
        clseg_status st = clseg_read_file(path, (size_t)1 << 24, &data, &size, err, sizeof err);
        CHECK(st == CLSEG_OK, "%s", err);
        if (st == CLSEG_OK) t->input(data, size);
        free(data);
        files++;
    }
    closedir(d);
    printf("%-6s %3d inputs replayed\n", t->name, files);
    CHECK(files > 0, "no inputs in %s", dir);
}

/* What each regression input must produce now. */
static void regressions(void) {
    uint8_t *data = NULL;
    size_t size = 0;
    char err[512];
    image_rgb img;
    /* A tEXt chunk whose length field claims 1.9 GB: libpng allocated all of it before reading. */
    CHECK_OK(clseg_read_file(CORPUS "/png/regress-huge-text-chunk.png", 1 << 20, &data, &size, err,
                             sizeof err));
    clseg_status st = image_load_png_mem(data, size, 0, &img, err, sizeof err);
    CHECK(st == CLSEG_ERR_TOO_LARGE && strstr(err, "chunk") && !img.rgb, "huge text chunk: %s: %s",
          clseg_status_str(st), err);
    free(data);

    /* Tuning databases that parsed but could not be written back: a time of 1e300 ms overflowed
       tunedb_format's buffer, one of 1e-96 ms was written as 0.0000 and would not load again. */
    static const char *const tune_files[] = {CORPUS "/tune/regress-format-overflow.db",
                                             CORPUS "/tune/regress-tiny-time.db"};
    for (size_t i = 0; i < sizeof tune_files / sizeof *tune_files; i++) {
        CHECK_OK(clseg_read_file(tune_files[i], 1 << 20, &data, &size, err, sizeof err));
        tunedb db = {0};
        tunedb_state state;
        st = tunedb_parse((const char *)data, size, &db, &state, err, sizeof err);
        CHECK(st == CLSEG_ERR_FORMAT && strstr(err, "time") && db.n == 0, "%s: %s: %s",
              tune_files[i], clseg_status_str(st), err);
        tunedb_free(&db);
        free(data);
    }

#ifdef CLSEG_HAVE_ONNX
    /* A Resize whose scale (4e23) made the output size a float-to-integer overflow. */
    CHECK_OK(clseg_read_file(CORPUS "/onnx/regress-resize-huge-scale.onnx", 1 << 20, &data, &size,
                             err, sizeof err));
    clseg_model_import_options opts;
    clseg_model_import_options_init(&opts);
    clseg_model *m = NULL;
    st = onnx_import(data, size, &opts, &m, err, sizeof err);
    CHECK(st == CLSEG_ERR_FORMAT && strstr(err, "out of range") && !m, "huge scale: %s: %s",
          clseg_status_str(st), err);
    free(data);

    /* A weight whose dims claim 2^31 elements, 64 bytes of data: 8 GiB were allocated before
       the data's size was compared with the shape. */
    CHECK_OK(clseg_read_file(CORPUS "/onnx/regress-tensor-huge-shape.onnx", 1 << 20, &data, &size,
                             err, sizeof err));
    st = onnx_import(data, size, &opts, &m, err, sizeof err);
    CHECK(st == CLSEG_ERR_FORMAT && strstr(err, "raw_data has 64 bytes") && !m,
          "huge shape: %s: %s", clseg_status_str(st), err);
    free(data);
#endif
}

int main(void) {
    for (size_t i = 0; i < sizeof targets / sizeof *targets; i++) replay(&targets[i]);
    regressions();
    return tu_finish("test_fuzz_corpus");
}
