/* test_fault_host.c - host-side faults (docs/reliability.md): absurd sizes in PNG headers, model
   files, specs and databases are rejected with a clear status before anything is allocated for
   them (fault-injection builds also check the largest allocation each attempt made), and every
   allocation of writing and reading back a model, a tuning database and a PNG fails in turn
   (fault-injection builds) with a clean status, nothing leaked and no file left behind. */
/* ctest-label: host */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/image.h"
#include "net/model.h"
#include "testutil.h"
#include "tune/tunedb.h"

static char dir[64];

#ifdef CLSEG_FAULT_INJECTION
#define WATCH() fault_alloc_arm(0)
/* At most `limit` bytes in one allocation since WATCH(). */
#define ALLOCATED_AT_MOST(what, limit)                                                             \
    CHECK(fault_alloc_largest() <= (limit), "%s: allocated %zu bytes", what, fault_alloc_largest())
#else
#define WATCH()                        ((void)0)
#define ALLOCATED_AT_MOST(what, limit) ((void)0)
#endif

static void put_be32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (24 - 8 * i));
}

static void put_le32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* Signature + IHDR (valid CRC) + IEND for a w x h 8-bit RGB image; returns the length. */
static size_t png_header(uint8_t *buf, uint32_t w, uint32_t h) {
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    memcpy(buf, sig, 8);
    put_be32(buf + 8, 13);
    memcpy(buf + 12, "IHDR", 4);
    put_be32(buf + 16, w);
    put_be32(buf + 20, h);
    memcpy(buf + 24, (const uint8_t[]){8, 2, 0, 0, 0}, 5);
    put_be32(buf + 29, clseg_crc32(0, buf + 12, 17));
    put_be32(buf + 33, 0);
    memcpy(buf + 37, "IEND", 4);
    put_be32(buf + 41, clseg_crc32(0, buf + 37, 4));
    return 45;
}

static void png_limits(void) {
    static const struct {
        uint32_t w, h;
        clseg_status want;
    } cases[] = {
        {100000, 100000, CLSEG_ERR_TOO_LARGE}, /* beyond the largest side */
        {32769, 1, CLSEG_ERR_TOO_LARGE},
        {20000, 20000, CLSEG_ERR_TOO_LARGE}, /* each side fine, 4e8 pixels are not */
        {0, 0, CLSEG_ERR_FORMAT},
        {0, 7, CLSEG_ERR_FORMAT},
        {0x80000000u, 1, CLSEG_ERR_TOO_LARGE}, /* beyond PNG's own 2^31 - 1 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        uint8_t png[64];
        size_t len = png_header(png, cases[i].w, cases[i].h);
        image_rgb img;
        char err[256];
        WATCH();
        clseg_status st = image_load_png_mem(png, len, 0, &img, err, sizeof err);
        CHECK(st == cases[i].want && !img.rgb, "PNG %ux%u: %s: %s", cases[i].w, cases[i].h,
              clseg_status_str(st), err);
#ifdef CLSEG_FAULT_INJECTION
        CHECK(fault_alloc_count() == 0, "PNG %ux%u: %ld allocations before the header was refused",
              cases[i].w, cases[i].h, fault_alloc_count());
#endif
    }
    /* A chunk whose length field claims 1.9 GB, in a 113-byte file (found by fuzz_png). */
    uint8_t *data;
    size_t size;
    char err[256];
    CHECK_OK(clseg_read_file(CLSEG_SOURCE_DIR "/tests/fuzz/corpus/png/regress-huge-text-chunk.png",
                             1 << 20, &data, &size, err, sizeof err));
    image_rgb img;
    WATCH();
    clseg_status st = image_load_png_mem(data, size, 0, &img, err, sizeof err);
    CHECK(st == CLSEG_ERR_TOO_LARGE, "huge chunk: %s: %s", clseg_status_str(st), err);
    ALLOCATED_AT_MOST("huge PNG chunk", (size_t)8000000);
    free(data);
}

static const char tiny_spec[] = "[net]\n"
                                "[conv]\nname = enc1\nfilters = %d\nsize = 3\npad = 1\n"
                                "batchnorm = 1\nactivation = relu\n"
                                "[conv]\nname = out\nfilters = classes\nsize = 1\n";

/* Offset of the u32 after the first occurrence of needle (a tag or tensor name). */
static size_t after(const uint8_t *data, size_t size, const char *needle) {
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= size; i++)
        if (memcmp(data + i, needle, n) == 0) return i + n;
    return 0;
}

static void expect_model_rejected(const char *what, uint8_t *data, size_t size,
                                  const char *needle) {
    put_le32(data + size - 4, clseg_crc32(0, data, size - 4)); /* only the damage speaks */
    clseg_model *m = NULL;
    char err[256];
    WATCH();
    clseg_status st = model_parse(data, size, &m, err, sizeof err);
    CHECK(st == CLSEG_ERR_FORMAT && !m && strstr(err, needle), "%s: %s: %s", what,
          clseg_status_str(st), err);
    ALLOCATED_AT_MOST(what, (size_t)1 << 20);
    clseg_model_free(m);
}

static void model_limits(void) {
    char spec[512], big[512], err[256];
    snprintf(spec, sizeof spec, tiny_spec, 4);
    snprintf(big, sizeof big, tiny_spec, 4000);
    clseg_model *m = NULL;
    CHECK_OK(model_init(spec, 3, 1, NULL, NULL, &m, err, sizeof err));
    if (!m) return;
    uint8_t *good = NULL, *data = NULL;
    size_t size = 0;
    CHECK_OK(model_serialize(m, &good, &size, err, sizeof err));
    data = malloc(size);
    if (!good || !data) goto done;

    memcpy(data, good, size);
    put_le32(data + after(data, size, "enc1.weight") + 8, 0xffffffffu); /* dims[0] */
    expect_model_rejected("tensor dimension 2^32-1", data, size, "absurd shape");

    memcpy(data, good, size);
    put_le32(data + after(data, size, "enc1.weight") + 8, 65536);
    put_le32(data + after(data, size, "enc1.weight") + 12, 65536);
    expect_model_rejected("tensor of 2^32 values", data, size, "absurd shape");

    memcpy(data, good, size);
    put_le32(data + after(data, size, "CLAS") + 8, 0x7fffffffu);
    expect_model_rejected("2^31 classes", data, size, "class count");

    memcpy(data, good, size);
    size_t at = after(data, size, "TENS");
    put_le32(data + at, 0xfffffff0u);
    put_le32(data + at + 4, 0x7fffffffu);
    expect_model_rejected("section of 2^63 bytes", data, size, "claims");

    /* A spec that needs a 4000x3x3x3 tensor, and a record that claims it but holds 4x3x3x3. */
    free(m->spec_text);
    m->spec_text = clseg_strdup(big);
    free(good);
    good = NULL;
    CHECK_OK(model_serialize(m, &good, &size, err, sizeof err));
    if (good) {
        put_le32(good + after(good, size, "enc1.weight") + 8, 4000);
        expect_model_rejected("tensor data missing", good, size, "runs past");
    }
done:
    free(good);
    free(data);
    clseg_model_free(m);
}

static void spec_limits(void) {
    net_spec *spec = malloc(sizeof *spec);
    char text[512], err[256];
    if (!spec) return;
    snprintf(text, sizeof text, tiny_spec, 100000);
    WATCH();
    CHECK(spec_parse(text, spec, err, sizeof err) == CLSEG_ERR_FORMAT && strstr(err, "range"),
          "filters = 100000: %s", err);
    ALLOCATED_AT_MOST("spec_parse", 0);

    /* Legal layers, absurd activations: 4000 channels of 32768 x 32768. */
    snprintf(text, sizeof text, tiny_spec, 4000);
    CHECK_OK(spec_parse(text, spec, err, sizeof err));
    shape4 shapes[SPEC_MAX_LAYERS];
    clseg_status st = spec_shapes(spec, 3, (shape4){1, 3, 32768, 32768}, shapes, err, sizeof err);
    CHECK(st == CLSEG_ERR_TOO_LARGE, "32768x32768 activations: %s: %s", clseg_status_str(st), err);

    /* Legal layers, absurd weights: 2 x 4096 x 4096 x 11 x 11 values, refused before any. */
    const char *huge = "[net]\n[conv]\nfilters = 4096\nsize = 11\npad = 5\n"
                       "[conv]\nfilters = 4096\nsize = 11\npad = 5\n"
                       "[conv]\nfilters = classes\nsize = 1\n";
    clseg_model *m = NULL;
    WATCH();
    st = model_init(huge, 3, 1, NULL, NULL, &m, err, sizeof err);
    CHECK(st == CLSEG_ERR_TOO_LARGE && !m, "model_init of 2e9 weights: %s: %s",
          clseg_status_str(st), err);
    ALLOCATED_AT_MOST("model_init of 2e9 weights", (size_t)1 << 20);
    clseg_model_free(m);
    free(spec);
}

/* A sparse file of `bytes` bytes: a size without the disk space. */
static const char *sparse_file(const char *name, off_t bytes) {
    static char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int ok = fd >= 0 && ftruncate(fd, bytes) == 0;
    if (fd >= 0) close(fd);
    CHECK(ok, "cannot make %s", path);
    return path;
}

static void file_limits(void) {
    char err[512];
    clseg_model *m = NULL;
    WATCH();
    clseg_status st =
        clseg_model_load(&m, sparse_file("huge.clsm", (off_t)5 << 30), err, sizeof err);
    CHECK(st == CLSEG_ERR_TOO_LARGE && !m, "5 GiB model: %s: %s", clseg_status_str(st), err);
    ALLOCATED_AT_MOST("5 GiB model", 0);

    tunedb db = {0};
    tunedb_state state;
    WATCH();
    st = tunedb_load(sparse_file("huge.db", (off_t)17 << 20), &db, &state, err, sizeof err);
    CHECK(st == CLSEG_ERR_TOO_LARGE && db.n == 0 && state == TUNEDB_FOREIGN,
          "17 MiB tuning database: %s: %s", clseg_status_str(st), err);
    ALLOCATED_AT_MOST("17 MiB tuning database", 0);
    tunedb_free(&db);
}

#ifdef CLSEG_FAULT_INJECTION
/* Files in dir whose name starts with prefix. */
static int files_named(const char *prefix) {
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
    if (d) closedir(d);
    return n;
}

/* The host-only round trips: model init + save + load, tuning database save + load, PNG save +
   load. Returns the first failure; err says what it was, and *saving the file whose writing
   failed (else NULL). */
static clseg_status host_run(char *err, size_t errlen, const char **saving) {
    static char saved[128];
    *saving = NULL;
    char path[128], spec[512];
    snprintf(spec, sizeof spec, tiny_spec, 4);
    clseg_model *m = NULL, *back = NULL;
    tunedb db = {0}, db_back = {0};
    tunedb_state state;
    image_rgb img = {0, 0, NULL};
    uint8_t rgb[5 * 3 * 3];
    for (size_t i = 0; i < sizeof rgb; i++) rgb[i] = (uint8_t)(i * 17);
    tune_record r = {.kind = TREC_CLBLAST, .ms = 1.5};
    snprintf(r.device, sizeof r.device, "dev");
    snprintf(r.driver, sizeof r.driver, "1.0");
    snprintf(r.key, sizeof r.key, "Xgemm");
    snprintf(r.params, sizeof r.params, "MWG=64");

    clseg_status st = model_init(spec, 3, 1, NULL, NULL, &m, err, errlen);
    snprintf(path, sizeof path, "%s/m.clsm", dir);
    if (st == CLSEG_OK && (st = model_save(m, path, err, errlen)) != CLSEG_OK) *saving = path;
    if (st == CLSEG_OK) st = clseg_model_load(&back, path, err, errlen);
    if (st == CLSEG_OK) st = tunedb_put(&db, &r);
    if (st != CLSEG_OK && !*err) snprintf(err, errlen, "tunedb_put failed");
    snprintf(path, sizeof path, "%s/t.db", dir);
    if (st == CLSEG_OK && (st = tunedb_save(&db, path, err, errlen)) != CLSEG_OK) *saving = path;
    if (st == CLSEG_OK) st = tunedb_load(path, &db_back, &state, err, errlen);
    snprintf(path, sizeof path, "%s/i.png", dir);
    if (st == CLSEG_OK && (st = clseg_image_save_png_rgb(path, rgb, 5, 3, err, errlen)) != CLSEG_OK)
        *saving = path;
    if (st == CLSEG_OK) st = image_load_png(path, 0, &img, err, errlen);
    image_rgb_free(&img);
    tunedb_free(&db);
    tunedb_free(&db_back);
    clseg_model_free(m);
    clseg_model_free(back);
    if (*saving) *saving = strcpy(saved, *saving);
    return st;
}

static void alloc_sweep(void) {
    static const char *const outputs[] = {"m.clsm", "t.db", "i.png"};
    char err[512] = "", path[128];
    const char *saving;
    fault_alloc_arm(0);
    CHECK_OK(host_run(err, sizeof err, &saving));
    long total = fault_alloc_count(), failed = 0, saves = 0;
    for (long n = 1; n <= total; n++) {
        for (size_t k = 0; k < 3; k++) {
            snprintf(path, sizeof path, "%s/%s", dir, outputs[k]);
            unlink(path);
        }
        err[0] = 0;
        fault_alloc_arm(n);
        clseg_status st = host_run(err, sizeof err, &saving);
        fault_alloc_arm(0);
        if (st == CLSEG_OK) continue; /* an optional allocation (e.g. shrinking a table) */
        failed++;
        CHECK(st == CLSEG_ERR_OUT_OF_MEMORY && err[0], "allocation %ld: %s: %s", n,
              clseg_status_str(st), err);
        CHECK(files_named("m.clsm.tmp") + files_named("t.db.tmp") + files_named("i.png.tmp") == 0,
              "allocation %ld: a temporary file was left", n);
        CHECK(!saving || access(saving, F_OK) != 0,
              "allocation %ld: %s written although saving it failed", n, saving);
        saves += saving != NULL;
    }
    printf("host allocation sweep: %ld allocations, %ld failed cleanly (%ld while saving), %ld "
           "optional\n",
           total, failed, saves, total - failed);
    for (size_t k = 0; k < 3; k++) {
        snprintf(path, sizeof path, "%s/%s", dir, outputs[k]);
        unlink(path);
    }
}
#endif

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/clseg_host_XXXXXX");
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    png_limits();
    model_limits();
    spec_limits();
    file_limits();
#ifdef CLSEG_FAULT_INJECTION
    alloc_sweep();
#endif
    char path[128];
    snprintf(path, sizeof path, "%s/huge.clsm", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/huge.db", dir);
    unlink(path);
    rmdir(dir);
    return tu_finish("test_fault_host");
}
