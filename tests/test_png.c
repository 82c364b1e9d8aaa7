/* test_png.c - PNG decoding of every colour type and depth, malformed files, atomic saving,
   colour maps and the overlay legend on images from 1x1 up. */
/* ctest-label: host */
#include <dirent.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/common.h"
#include "io/image.h"
#include "testutil.h"

static char tmp_dir[64];

static const char *tmp_path(const char *name) {
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", tmp_dir, name);
    return path;
}

static uint32_t rng_next(uint64_t *state) {
    *state = *state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(*state >> 33);
}

static int write_bytes(const char *path, const void *data, size_t size) {
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    int ok = fwrite(data, 1, size, f) == size;
    return (fclose(f) == 0) && ok;
}

static void put_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Appends a chunk with a correct CRC; returns the new length. */
static size_t put_chunk(uint8_t *buf, size_t len, const char *type, const uint8_t *data,
                        uint32_t n) {
    put_be32(buf + len, n);
    memcpy(buf + len + 4, type, 4);
    if (n) memcpy(buf + len + 8, data, n);
    put_be32(buf + len + 8 + n, clseg_crc32(0, buf + len + 4, 4 + n));
    return len + 12 + n;
}

static const uint8_t png_signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

/* A PNG of only a signature, an IHDR with the given fields, and IEND. */
static size_t craft_header(uint8_t *buf, uint32_t w, uint32_t h, uint8_t depth, uint8_t color) {
    uint8_t ihdr[13] = {0};
    put_be32(ihdr, w);
    put_be32(ihdr + 4, h);
    ihdr[8] = depth;
    ihdr[9] = color;
    memcpy(buf, png_signature, 8);
    size_t len = put_chunk(buf, 8, "IHDR", ihdr, 13);
    return put_chunk(buf, len, "IEND", NULL, 0);
}

/* ---- Writing test images with libpng directly ---------------------------------------------- */

typedef struct test_image {
    int w, h, color_type, depth, interlace;
    uint16_t *samples; /* h * w * channels, each < 2^depth */
    png_color palette[256];
    uint8_t trans[256];
    int npalette, ntrans;
    uint8_t *expected; /* the 8-bit RGB image_load_png must return */
} test_image;

static int channels_of(int color_type) {
    switch (color_type) {
    case PNG_COLOR_TYPE_GRAY:
        return 1;
    case PNG_COLOR_TYPE_GRAY_ALPHA:
        return 2;
    case PNG_COLOR_TYPE_RGB:
        return 3;
    case PNG_COLOR_TYPE_RGB_ALPHA:
        return 4;
    default:
        return 1; /* palette */
    }
}

/* Random samples; 16-bit ones are within 127 of a multiple of 257 so that their 8-bit value is
   unambiguous. */
static void test_image_fill(test_image *t, uint64_t seed) {
    int ch = channels_of(t->color_type);
    size_t n = (size_t)t->w * t->h * ch;
    t->samples = calloc(n, sizeof *t->samples);
    t->expected = calloc((size_t)t->w * t->h * 3, 1);
    uint64_t rng = seed;
    if (t->color_type == PNG_COLOR_TYPE_PALETTE) {
        t->npalette = t->depth == 8 ? 200 : 1 << t->depth;
        for (int i = 0; i < t->npalette; i++) {
            t->palette[i].red = (uint8_t)rng_next(&rng);
            t->palette[i].green = (uint8_t)rng_next(&rng);
            t->palette[i].blue = (uint8_t)rng_next(&rng);
            t->trans[i] = (uint8_t)rng_next(&rng);
        }
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t r = rng_next(&rng);
        if (t->color_type == PNG_COLOR_TYPE_PALETTE) {
            t->samples[i] = (uint16_t)(r % (uint32_t)t->npalette);
        } else if (t->depth == 16) {
            int k = (int)(r % 256), d = (int)((r >> 8) % 255) - 127;
            int v = k * 257 + d;
            t->samples[i] = (uint16_t)(v < 0 || v > 65535 ? k * 257 : v);
        } else {
            t->samples[i] = (uint16_t)(r % (1u << t->depth));
        }
    }
    for (size_t p = 0; p < (size_t)t->w * t->h; p++) {
        const uint16_t *s = t->samples + p * ch;
        uint8_t *e = t->expected + 3 * p;
        for (int k = 0; k < 3; k++) {
            int v;
            if (t->color_type == PNG_COLOR_TYPE_PALETTE) {
                const png_color *c = &t->palette[s[0]];
                v = k == 0 ? c->red : k == 1 ? c->green : c->blue;
            } else {
                int sample = ch >= 3 ? s[k] : s[0];
                v = t->depth == 16 ? (sample + 128) / 257 : sample * 255 / ((1 << t->depth) - 1);
            }
            e[k] = (uint8_t)v;
        }
    }
}

static void test_image_free(test_image *t) {
    free(t->samples);
    free(t->expected);
}

static int write_test_png(const char *path, const test_image *t) {
    int ch = channels_of(t->color_type);
    size_t stride = ((size_t)t->w * ch * t->depth + 7) / 8;
    uint8_t *packed = calloc(stride * t->h, 1);
    png_bytep *rows = calloc(t->h, sizeof *rows);
    for (int y = 0; y < t->h; y++) {
        rows[y] = packed + y * stride;
        for (int i = 0; i < t->w * ch; i++) {
            unsigned v = t->samples[(size_t)y * t->w * ch + i];
            if (t->depth == 16) {
                rows[y][2 * i] = (uint8_t)(v >> 8);
                rows[y][2 * i + 1] = (uint8_t)v;
            } else if (t->depth == 8) {
                rows[y][i] = (uint8_t)v;
            } else {
                int bit = i * t->depth;
                rows[y][bit / 8] |= (uint8_t)(v << (8 - t->depth - bit % 8));
            }
        }
    }
    FILE *f = fopen(path, "wb");
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    int ok = 0;
    if (f && png && info && !setjmp(png_jmpbuf(png))) {
        png_init_io(png, f);
        png_set_IHDR(png, info, t->w, t->h, t->depth, t->color_type, t->interlace,
                     PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
        if (t->npalette) png_set_PLTE(png, info, t->palette, t->npalette);
        if (t->ntrans && t->color_type == PNG_COLOR_TYPE_PALETTE)
            png_set_tRNS(png, info, t->trans, t->ntrans, NULL);
        if (t->ntrans && t->color_type != PNG_COLOR_TYPE_PALETTE) {
            /* The first pixel's colour is the transparent one. */
            png_color_16 key = {0};
            key.gray = key.red = t->samples[0];
            key.green = t->samples[1 % channels_of(t->color_type)];
            key.blue = t->samples[2 % channels_of(t->color_type)];
            png_set_tRNS(png, info, NULL, 0, &key);
        }
        png_write_info(png, info);
        png_write_image(png, rows);
        png_write_end(png, info);
        ok = 1;
    }
    png_destroy_write_struct(&png, &info);
    if (f) ok = (fclose(f) == 0) && ok;
    free(rows);
    free(packed);
    return ok;
}

static void check_decode(const char *what, int color_type, int depth, int interlace, int w, int h,
                         int ntrans) {
    test_image t = {
        .w = w, .h = h, .color_type = color_type, .depth = depth, .interlace = interlace};
    test_image_fill(&t, (uint64_t)(color_type * 131 + depth * 7 + interlace + w * 1000 + h));
    t.ntrans = color_type == PNG_COLOR_TYPE_PALETTE ? CLSEG_MIN(ntrans, t.npalette) : ntrans;
    const char *path = tmp_path("decode.png");
    CHECK(write_test_png(path, &t), "%s: writing the test PNG failed", what);
    image_rgb img = {0};
    char err[256] = "";
    clseg_status st = image_load_png(path, 0, &img, err, sizeof err);
    CHECK(st == CLSEG_OK, "%s: %s", what, err);
    if (st == CLSEG_OK) {
        CHECK(img.width == w && img.height == h, "%s: got %dx%d", what, img.width, img.height);
        size_t n = (size_t)w * h * 3, bad = 0, first = 0;
        for (size_t i = 0; i < n; i++)
            if (img.rgb[i] != t.expected[i] && bad++ == 0) first = i;
        CHECK(bad == 0, "%s: %zu of %zu bytes differ, first at %zu: %d vs %d", what, bad, n, first,
              img.rgb[first], t.expected[first]);
    }
    image_rgb_free(&img);
    test_image_free(&t);
}

static void test_decode_formats(void) {
    const int I = PNG_INTERLACE_ADAM7, N = PNG_INTERLACE_NONE;
    check_decode("rgb8", PNG_COLOR_TYPE_RGB, 8, N, 33, 17, 0);
    check_decode("rgb16", PNG_COLOR_TYPE_RGB, 16, N, 33, 17, 0);
    check_decode("rgba8", PNG_COLOR_TYPE_RGB_ALPHA, 8, N, 33, 17, 0);
    check_decode("rgba16", PNG_COLOR_TYPE_RGB_ALPHA, 16, N, 17, 33, 0);
    check_decode("gray1", PNG_COLOR_TYPE_GRAY, 1, N, 33, 17, 0);
    check_decode("gray2", PNG_COLOR_TYPE_GRAY, 2, N, 33, 17, 0);
    check_decode("gray4", PNG_COLOR_TYPE_GRAY, 4, N, 33, 17, 0);
    check_decode("gray8", PNG_COLOR_TYPE_GRAY, 8, N, 33, 17, 0);
    check_decode("gray16", PNG_COLOR_TYPE_GRAY, 16, N, 33, 17, 0);
    check_decode("gray4+tRNS", PNG_COLOR_TYPE_GRAY, 4, N, 33, 17, 1);
    check_decode("gray16+tRNS", PNG_COLOR_TYPE_GRAY, 16, N, 33, 17, 1);
    check_decode("rgb8+tRNS", PNG_COLOR_TYPE_RGB, 8, N, 33, 17, 1);
    check_decode("adam7 rgb16+tRNS", PNG_COLOR_TYPE_RGB, 16, I, 33, 17, 1);
    check_decode("gray-alpha8", PNG_COLOR_TYPE_GRAY_ALPHA, 8, N, 33, 17, 0);
    check_decode("gray-alpha16", PNG_COLOR_TYPE_GRAY_ALPHA, 16, N, 5, 3, 0);
    check_decode("palette8+tRNS", PNG_COLOR_TYPE_PALETTE, 8, N, 33, 17, 50);
    check_decode("palette8", PNG_COLOR_TYPE_PALETTE, 8, N, 33, 17, 0);
    check_decode("palette4+tRNS", PNG_COLOR_TYPE_PALETTE, 4, N, 33, 17, 3);
    check_decode("palette2", PNG_COLOR_TYPE_PALETTE, 2, N, 33, 17, 0);
    check_decode("palette1+tRNS", PNG_COLOR_TYPE_PALETTE, 1, N, 9, 2, 1);
    check_decode("rgb8 1x1", PNG_COLOR_TYPE_RGB, 8, N, 1, 1, 0);
    check_decode("gray1 1x1", PNG_COLOR_TYPE_GRAY, 1, N, 1, 1, 0);
    check_decode("rgb8 1x300", PNG_COLOR_TYPE_RGB, 8, N, 1, 300, 0);
    check_decode("rgb8 300x1", PNG_COLOR_TYPE_RGB, 8, N, 300, 1, 0);
    check_decode("adam7 rgb8", PNG_COLOR_TYPE_RGB, 8, I, 33, 17, 0);
    check_decode("adam7 rgba16", PNG_COLOR_TYPE_RGB_ALPHA, 16, I, 33, 17, 0);
    check_decode("adam7 gray-alpha8", PNG_COLOR_TYPE_GRAY_ALPHA, 8, I, 7, 5, 0);
    check_decode("adam7 gray2", PNG_COLOR_TYPE_GRAY, 2, I, 13, 11, 0);
    check_decode("adam7 palette4+tRNS", PNG_COLOR_TYPE_PALETTE, 4, I, 33, 17, 5);
    check_decode("adam7 palette8 1x1", PNG_COLOR_TYPE_PALETTE, 8, I, 1, 1, 0);
    check_decode("adam7 rgb8 3x2", PNG_COLOR_TYPE_RGB, 8, I, 3, 2, 0);
}

/* ---- Saving --------------------------------------------------------------------------------- */

static void test_round_trip(void) {
    static const int sizes[][2] = {{1, 1}, {33, 17}, {17, 33}, {64, 48}, {2, 1}};
    char err[256];
    for (size_t s = 0; s < CLSEG_ARRAY_LEN(sizes); s++) {
        int w = sizes[s][0], h = sizes[s][1];
        size_t n = (size_t)w * h;
        uint8_t *rgb = malloc(3 * n), *gray = malloc(n);
        uint64_t rng = 42 + s;
        for (size_t i = 0; i < 3 * n; i++) rgb[i] = (uint8_t)rng_next(&rng);
        for (size_t i = 0; i < n; i++) gray[i] = (uint8_t)rng_next(&rng);

        image_rgb img = {0};
        const char *path = tmp_path("rgb.png");
        CHECK_OK(clseg_image_save_png_rgb(path, rgb, w, h, err, sizeof err));
        CHECK_OK(image_load_png(path, 0, &img, err, sizeof err));
        CHECK(img.rgb && img.width == w && img.height == h && !memcmp(img.rgb, rgb, 3 * n),
              "rgb round trip %dx%d", w, h);
        image_rgb_free(&img);

        path = tmp_path("gray.png");
        CHECK_OK(clseg_image_save_png_gray(path, gray, w, h, err, sizeof err));
        CHECK_OK(image_load_png(path, 0, &img, err, sizeof err));
        int same = img.rgb && img.width == w && img.height == h;
        for (size_t i = 0; same && i < n; i++)
            same = img.rgb[3 * i] == gray[i] && img.rgb[3 * i + 1] == gray[i] &&
                   img.rgb[3 * i + 2] == gray[i];
        CHECK(same, "gray round trip %dx%d", w, h);
        image_rgb_free(&img);
        free(rgb);
        free(gray);
    }
}

static long file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static void test_save_errors(void) {
    uint8_t px[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    char err[256] = "";
    clseg_status st =
        clseg_image_save_png_rgb("/nonexistent-clseg-dir/out.png", px, 2, 2, err, sizeof err);
    CHECK(st == CLSEG_ERR_IO && err[0], "unwritable directory: %s (%s)", clseg_status_str(st), err);
    CHECK(file_size("/nonexistent-clseg-dir/out.png") < 0, "no output file expected");

    err[0] = 0;
    st = clseg_image_save_png_gray(tmp_path("bad.png"), px, 0, 2, err, sizeof err);
    CHECK(st == CLSEG_ERR_INVALID_ARGUMENT && err[0], "zero width: %s", clseg_status_str(st));
    st = clseg_image_save_png_rgb(tmp_path("bad.png"), NULL, 2, 2, err, sizeof err);
    CHECK(st == CLSEG_ERR_INVALID_ARGUMENT, "NULL pixels: %s", clseg_status_str(st));
    st = clseg_image_save_png_rgb(tmp_path("bad.png"), px, 100000, 1, err, sizeof err);
    CHECK(st == CLSEG_ERR_TOO_LARGE, "huge width: %s", clseg_status_str(st));
    CHECK(file_size(tmp_path("bad.png")) < 0, "failed saves must leave no file");

    /* Replacing an existing file, then failing to save over it, keeps the replaced version. */
    const char *path = tmp_path("replace.png");
    CHECK(write_bytes(path, "old contents", 12), "setup");
    CHECK_OK(clseg_image_save_png_gray(path, px, 3, 4, err, sizeof err));
    image_rgb img = {0};
    CHECK_OK(image_load_png(path, 0, &img, err, sizeof err));
    CHECK(img.width == 3 && img.height == 4 && img.rgb && img.rgb[3 * 11] == 12,
          "replaced file decodes");
    image_rgb_free(&img);
    long before = file_size(path);
    st = clseg_image_save_png_gray(path, px, -1, 4, err, sizeof err);
    CHECK(st != CLSEG_OK && file_size(path) == before, "failed save left the old file");
}

/* ---- Malformed input ------------------------------------------------------------------------ */

/* Every malformed file must fail with the given status (or any failure when want is CLSEG_OK)
   and a message. */
static void expect_load_failure(const char *what, const char *path, clseg_status want,
                                int max_side) {
    image_rgb img = {7, 7, (uint8_t *)&img};
    char err[256] = "";
    clseg_status st = image_load_png(path, max_side, &img, err, sizeof err);
    if (want == CLSEG_OK)
        CHECK(st != CLSEG_OK, "%s: loaded", what);
    else
        CHECK(st == want, "%s: got %s (%s), want %s", what, clseg_status_str(st), err,
              clseg_status_str(want));
    CHECK(err[0] != 0, "%s: empty message", what);
    CHECK(img.rgb == NULL && img.width == 0 && img.height == 0, "%s: *out not zeroed", what);
}

static void expect_bytes_fail(const char *what, const void *data, size_t size, clseg_status want) {
    const char *path = tmp_path("bad.png");
    CHECK(write_bytes(path, data, size), "%s: setup", what);
    expect_load_failure(what, path, want, 0);
}

static void test_malformed(void) {
    char err[256] = "";
    expect_load_failure("missing file", tmp_path("does-not-exist.png"), CLSEG_ERR_IO, 0);
    image_rgb img = {0};
    image_load_png(tmp_path("does-not-exist.png"), 0, &img, err, sizeof err);
    CHECK(strstr(err, "No such file") != NULL, "strerror expected: %s", err);
    expect_load_failure("directory", tmp_dir, CLSEG_OK, 0);

    expect_bytes_fail("empty file", "", 0, CLSEG_ERR_FORMAT);
    expect_bytes_fail("signature only", png_signature, 8, CLSEG_ERR_FORMAT);
    expect_bytes_fail("three signature bytes", png_signature, 3, CLSEG_ERR_FORMAT);
    expect_bytes_fail("text file", "hello, this is not an image at all\n", 35, CLSEG_ERR_FORMAT);
    static const uint8_t jpeg[] = {0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 'J', 'F', 'I', 'F', 0x00};
    expect_bytes_fail("jpeg magic", jpeg, sizeof jpeg, CLSEG_ERR_FORMAT);

    uint8_t buf[4096];
    uint64_t rng = 7;
    memcpy(buf, png_signature, 8);
    for (size_t i = 8; i < sizeof buf; i++) buf[i] = (uint8_t)rng_next(&rng);
    expect_bytes_fail("signature + random bytes", buf, sizeof buf, CLSEG_ERR_FORMAT);
    /* A valid IHDR followed by garbage gets past the header check into libpng. */
    size_t len = craft_header(buf, 16, 16, 8, PNG_COLOR_TYPE_RGB) - 12;
    for (size_t i = len; i < sizeof buf; i++) buf[i] = (uint8_t)rng_next(&rng);
    expect_bytes_fail("IHDR + random bytes", buf, sizeof buf, CLSEG_ERR_FORMAT);

    len = craft_header(buf, 100000, 100000, 8, PNG_COLOR_TYPE_RGB);
    expect_bytes_fail("100000x100000", buf, len, CLSEG_ERR_TOO_LARGE);
    len = craft_header(buf, 20000, 20000, 8, PNG_COLOR_TYPE_RGB);
    expect_bytes_fail("20000x20000 (> 2^28 pixels)", buf, len, CLSEG_ERR_TOO_LARGE);
    len = craft_header(buf, 0xffffffffu, 1, 8, PNG_COLOR_TYPE_RGB);
    expect_bytes_fail("width 2^32-1", buf, len, CLSEG_ERR_TOO_LARGE);
    len = craft_header(buf, 0, 0, 8, PNG_COLOR_TYPE_RGB);
    expect_bytes_fail("0x0", buf, len, CLSEG_ERR_FORMAT);
    len = craft_header(buf, 5, 0, 8, PNG_COLOR_TYPE_GRAY);
    expect_bytes_fail("5x0", buf, len, CLSEG_ERR_FORMAT);
    len = craft_header(buf, 4, 4, 7, PNG_COLOR_TYPE_RGB);
    expect_bytes_fail("bit depth 7", buf, len, CLSEG_ERR_FORMAT);
    len = craft_header(buf, 4, 4, 8, 5);
    expect_bytes_fail("colour type 5", buf, len, CLSEG_ERR_FORMAT);
    len = craft_header(buf, 4, 4, 8, PNG_COLOR_TYPE_RGB);
    expect_bytes_fail("no IDAT", buf, len, CLSEG_ERR_FORMAT);
    buf[17] ^= 1; /* inside IHDR's width: its CRC no longer matches */
    expect_bytes_fail("IHDR CRC", buf, len, CLSEG_ERR_FORMAT);
    len = craft_header(buf, 4, 4, 8, PNG_COLOR_TYPE_RGB);
    memcpy(buf + 12, "IHDX", 4);
    expect_bytes_fail("first chunk not IHDR", buf, len, CLSEG_ERR_FORMAT);

    /* A valid image, then every prefix of it, then a flipped bit in the pixel data. */
    uint8_t rgb[33 * 17 * 3];
    for (size_t i = 0; i < sizeof rgb; i++) rgb[i] = (uint8_t)rng_next(&rng);
    char good[512];
    snprintf(good, sizeof good, "%s", tmp_path("good.png"));
    CHECK_OK(clseg_image_save_png_rgb(good, rgb, 33, 17, err, sizeof err));
    uint8_t *png = NULL;
    size_t png_size = 0;
    CHECK_OK(clseg_read_file(good, 1 << 20, &png, &png_size, err, sizeof err));
    CHECK_OK(image_load_png(good, 0, &img, err, sizeof err));
    image_rgb_free(&img);
    expect_load_failure("33x17 with max_side 32", good, CLSEG_ERR_TOO_LARGE, 32);
    CHECK_OK(image_load_png(good, 33, &img, err, sizeof err));
    image_rgb_free(&img);
    int prefixes_failed = 0, prefixes = 0;
    for (size_t cut = 0; png && cut < png_size; cut++) {
        char what[64];
        snprintf(what, sizeof what, "truncated at %zu of %zu", cut, png_size);
        int before = tu_failures;
        expect_bytes_fail(what, png, cut, CLSEG_ERR_FORMAT);
        prefixes++;
        prefixes_failed += tu_failures == before;
    }
    CHECK(prefixes == prefixes_failed && prefixes > 0, "every truncation must be rejected");
    /* Random byte damage anywhere: decoded correctly sized or rejected with a message, and
       never a crash or leak (this part earns its keep under the sanitizers). */
    uint8_t *damaged = malloc(png_size ? png_size : 1);
    int damage_bad = 0;
    for (int iter = 0; png && iter < 300; iter++) {
        memcpy(damaged, png, png_size);
        for (int k = 0; k < 1 + iter % 3; k++)
            damaged[rng_next(&rng) % png_size] ^= (uint8_t)(1 + rng_next(&rng) % 255);
        CHECK(write_bytes(tmp_path("damaged.png"), damaged, png_size), "setup");
        err[0] = 0;
        clseg_status st = image_load_png(tmp_path("damaged.png"), 0, &img, err, sizeof err);
        damage_bad += st == CLSEG_OK ? img.width != 33 || img.height != 17 : err[0] == 0;
        image_rgb_free(&img);
    }
    CHECK(damage_bad == 0, "%d damaged files misbehaved", damage_bad);
    free(damaged);
    if (png && png_size > 100) {
        png[png_size / 2] ^= 0x10;
        expect_bytes_fail("flipped bit in IDAT", png, png_size, CLSEG_ERR_FORMAT);
    }
    free(png);
}

/* ---- Colour maps and overlays --------------------------------------------------------------- */

static const uint8_t test_palette[40][3] = {
    {128, 64, 128},  {244, 35, 232}, {70, 70, 70},  {102, 102, 156}, {190, 153, 153},
    {153, 153, 153}, {250, 170, 30}, {220, 220, 0}, {107, 142, 35},  {152, 251, 152},
    {70, 130, 180},  {220, 20, 60},  {255, 0, 0},   {0, 0, 142},     {0, 0, 70},
    {0, 60, 100},    {0, 80, 100},   {0, 0, 230},   {119, 11, 32},   {0, 0, 0},
    {10, 250, 10},   {11, 251, 11},  {12, 252, 12}, {13, 253, 13},   {14, 254, 14},
    {15, 255, 15},   {16, 240, 16},  {17, 241, 17}, {18, 242, 18},   {19, 243, 19},
    {20, 244, 20},   {21, 245, 21},  {22, 246, 22}, {23, 247, 23},   {24, 248, 24},
    {25, 249, 25},   {26, 239, 26},  {27, 238, 27}, {28, 237, 28},   {255, 255, 1},
};

static const char *const test_names[40] = {
    "road",         "sidewalk",   "building", "wall",       "fence",   "pole",  "traffic light",
    "traffic sign", "vegetation", "terrain",  "sky",        "person",  "rider", "car",
    "truck",        "bus",        "train",    "motorcycle", "bicycle", NULL, /* the rest fall back
                                                                                to "class N" */
};

static void test_colorize(void) {
    const uint8_t labels[6] = {0, 1, 2, 3, 7, 255};
    uint8_t rgb[18];
    memset(rgb, 99, sizeof rgb);
    char err[256];
    CHECK_OK(clseg_image_colorize(labels, 3, 2, test_palette[0], 4, rgb, err, sizeof err));
    for (int i = 0; i < 4; i++)
        CHECK(!memcmp(rgb + 3 * i, test_palette[i], 3), "label %d colour", i);
    for (int i = 4; i < 6; i++)
        CHECK(rgb[3 * i] == 0 && rgb[3 * i + 1] == 0 && rgb[3 * i + 2] == 0,
              "out-of-range label %d must be black", labels[i]);
}

static int blend_ok(const uint8_t *got, const uint8_t *photo, const uint8_t *color, float a) {
    for (int k = 0; k < 3; k++) {
        float want = photo[k] * (1.0f - a) + color[k] * a;
        if (fabsf(got[k] - want) > 1.0f) return 0;
    }
    return 1;
}

static int has_color(const image_rgb *img, int x1, int y1, const uint8_t *c) {
    for (int y = 0; y < CLSEG_MIN(y1, img->height); y++)
        for (int x = 0; x < CLSEG_MIN(x1, img->width); x++)
            if (!memcmp(img->rgb + 3 * ((size_t)y * img->width + x), c, 3)) return 1;
    return 0;
}

/* Overlays random labels on a random photo; pixels out of the legend's reach must be the exact
   blend (photo kept where the label is out of range). Returns the overlay for more checks. */
static image_rgb overlay_case(int w, int h, int classes, int used, float alpha,
                              const uint8_t *photo_rgb, uint8_t **labels_out) {
    size_t n = (size_t)w * h;
    uint8_t *photo = malloc(3 * n), *labels = malloc(n);
    uint64_t rng = (uint64_t)w * 7919 + h;
    for (size_t i = 0; i < 3 * n; i++)
        photo[i] = photo_rgb ? photo_rgb[i % 3] : (uint8_t)rng_next(&rng);
    for (size_t i = 0; i < n; i++) {
        uint32_t r = rng_next(&rng);
        labels[i] = (uint8_t)((r >> 16) % 10 == 0 ? 250 : r % (uint32_t)used);
    }
    /* A guard byte after the output catches an overlay written past its 3 * w * h bytes. */
    image_rgb out = {w, h, malloc(3 * n + 1)};
    out.rgb[3 * n] = 0x5a;
    char err[256] = "";
    clseg_status st = clseg_image_overlay(photo, w, h, labels, test_palette[0], test_names, classes,
                                          alpha, out.rgb, err, sizeof err);
    CHECK(st == CLSEG_OK, "overlay %dx%d: %s", w, h, err);
    if (st != CLSEG_OK) image_rgb_free(&out);
    if (st == CLSEG_OK) {
        CHECK(out.rgb[3 * n] == 0x5a, "overlay size");
        /* The legend (a line per class used, of at most 20 characters here, its scale growing
           by one per 400 pixels of the shorter side) stays in the top-left corner; images too
           small for one line get none. */
        int scale = CLSEG_MAX(1, CLSEG_MIN(CLSEG_MIN(w, h) / 400, 4));
        int no_legend = w < 30 || h < 21;
        int legend_w = no_legend ? 0 : 145 * scale;
        int legend_h = no_legend ? 0 : (14 + 10 * used) * scale;
        size_t bad = 0;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                if (x < legend_w && y < legend_h) continue;
                size_t i = (size_t)y * w + x;
                const uint8_t *want = labels[i] < classes ? test_palette[labels[i]] : photo + 3 * i;
                bad += !blend_ok(out.rgb + 3 * i, photo + 3 * i, want, alpha);
            }
        CHECK(bad == 0, "overlay %dx%d: %zu pixels outside the legend are not the blend", w, h,
              bad);
    }
    free(photo);
    if (labels_out)
        *labels_out = labels;
    else
        free(labels);
    return out;
}

static void test_overlay(void) {
    static const int sizes[][2] = {{1, 1},    {3, 2},     {2, 3},      {7, 5},      {29, 40},
                                   {30, 21},  {31, 22},   {40, 12},    {100, 9},    {60, 300},
                                   {33, 500}, {480, 360}, {1280, 720}, {1920, 1080}};
    for (size_t s = 0; s < CLSEG_ARRAY_LEN(sizes); s++) {
        image_rgb out = overlay_case(sizes[s][0], sizes[s][1], 19, 19, 0.5f, NULL, NULL);
        image_rgb_free(&out);
    }
    for (float a = 0.0f; a <= 1.0f; a += 0.25f) {
        image_rgb out = overlay_case(45, 37, 19, 5, a, NULL, NULL);
        image_rgb_free(&out);
    }

    /* On a uniform photo, the swatches of present classes show their exact colour, and absent
       classes appear nowhere. */
    static const uint8_t gray[3] = {100, 100, 100};
    uint8_t *labels = NULL;
    image_rgb out = overlay_case(480, 360, 19, 5, 0.5f, gray, &labels);
    if (out.rgb) {
        for (int c = 0; c < 5; c++)
            CHECK(has_color(&out, 200, 200, test_palette[c]), "swatch of class %d", c);
        for (int c = 5; c < 19; c++)
            CHECK(!has_color(&out, 480, 360, test_palette[c]), "absent class %d shown", c);
        const uint8_t *corner = out.rgb + 3 * (5 * 480 + 5);
        const uint8_t *want = labels[5 * 480 + 5] < 19 ? test_palette[labels[5 * 480 + 5]] : gray;
        CHECK(corner[0] + corner[1] + corner[2] + 30 <
                  (gray[0] + want[0] + gray[1] + want[1] + gray[2] + want[2]) / 2,
              "legend box must darken the corner");
        /* Some legend text pixels are the light text colour. */
        static const uint8_t text[3] = {240, 240, 240};
        CHECK(has_color(&out, 200, 100, text), "legend text drawn");
    }
    image_rgb_free(&out);
    free(labels);

    /* More classes than lines: the first ones get a line, the rest a "+N more" line. */
    out = overlay_case(480, 360, 40, 40, 0.5f, gray, &labels);
    if (out.rgb) {
        CHECK(has_color(&out, 200, 360, test_palette[0]), "first class listed");
        CHECK(!has_color(&out, 480, 360, test_palette[39]), "last class must not fit");
    }
    image_rgb_free(&out);
    free(labels);

    /* Argument checks; a refused overlay leaves the output alone. */
    uint8_t px[3] = {1, 2, 3}, label = 0, dst[3] = {7, 7, 7};
    const uint8_t *pal = test_palette[0];
    char err[256];
    clseg_status st;
    const float bad_alpha[] = {-0.1f, 1.5f, NAN};
    for (size_t i = 0; i < CLSEG_ARRAY_LEN(bad_alpha); i++) {
        err[0] = 0;
        st =
            clseg_image_overlay(px, 1, 1, &label, pal, NULL, 4, bad_alpha[i], dst, err, sizeof err);
        CHECK(st == CLSEG_ERR_INVALID_ARGUMENT && err[0] && dst[0] == 7, "alpha %g",
              (double)bad_alpha[i]);
    }
    st = clseg_image_overlay(px, 1, 1, &label, pal, NULL, 0, 0.5f, dst, err, sizeof err);
    CHECK(st == CLSEG_ERR_INVALID_ARGUMENT, "0 classes");
    st = clseg_image_overlay(px, 1, 1, &label, pal, NULL, 257, 0.5f, dst, err, sizeof err);
    CHECK(st == CLSEG_ERR_INVALID_ARGUMENT, "257 classes");
    st = clseg_image_overlay(NULL, 1, 1, &label, pal, NULL, 4, 0.5f, dst, err, sizeof err);
    CHECK(st == CLSEG_ERR_INVALID_ARGUMENT, "NULL photo");
    st = clseg_image_overlay(px, 0, 1, &label, pal, NULL, 4, 0.5f, dst, err, sizeof err);
    CHECK(st == CLSEG_ERR_INVALID_ARGUMENT, "0-wide photo");
    CHECK(dst[0] == 7 && dst[1] == 7 && dst[2] == 7, "refused overlays wrote the output");
}

/* ---- Temporary directory -------------------------------------------------------------------- */

/* Removes the directory's files, counting leftovers of atomic writes. */
static int remove_tmp_dir(void) {
    int temporaries = 0;
    DIR *dir = opendir(tmp_dir);
    if (!dir) return 0;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        temporaries += strstr(e->d_name, ".tmp.") != NULL;
        unlink(tmp_path(e->d_name));
    }
    closedir(dir);
    rmdir(tmp_dir);
    return temporaries;
}

int main(void) {
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/clseg_test_png_XXXXXX");
    if (!mkdtemp(tmp_dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_decode_formats();
    test_round_trip();
    test_save_errors();
    test_malformed();
    test_colorize();
    test_overlay();
    CHECK(remove_tmp_dir() == 0, "atomic writes left temporary files behind");
    return tu_finish("test_png");
}
