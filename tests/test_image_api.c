/* test_image_api.c - the public image API through <clseg_image.h> alone: PNG round trips, colour
   maps, overlays and the errors a library user sees. */
/* ctest-label: host */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <clseg_image.h>
#include "public_check.h"

static char tmp_dir[256];

static const char *tmp_path(const char *name) {
    static char path[512 + 256];
    snprintf(path, sizeof path, "%s/%s", tmp_dir, name);
    return path;
}

static uint8_t next_byte(uint64_t *state) {
    *state = *state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint8_t)(*state >> 56);
}

static const uint8_t palette[4 * 3] = {128, 64, 128, 70, 130, 180, 0, 0, 142, 107, 142, 35};
static const char *const names[4] = {"road", "sky", "car", NULL};

/* ---- PNG files ----------------------------------------------------------------------------- */

static void test_round_trips(void) {
    enum { W = 37, H = 23, N = W * H };
    uint8_t rgb[3 * N], gray[N];
    uint64_t rng = 1;
    for (int i = 0; i < 3 * N; i++) rgb[i] = next_byte(&rng);
    for (int i = 0; i < N; i++) gray[i] = next_byte(&rng);
    char err[256] = "";
    uint8_t *back = NULL;
    int w = 0, h = 0;

    CHECK_STATUS_OK(clseg_image_save_png_rgb(tmp_path("rgb.png"), rgb, W, H, err, sizeof err), err);
    CHECK_STATUS_OK(clseg_image_load_png(tmp_path("rgb.png"), 0, &back, &w, &h, err, sizeof err),
                    err);
    CHECK(back && w == W && h == H && !memcmp(back, rgb, sizeof rgb), "RGB round trip");
    clseg_free(back);

    /* Saving over an existing file replaces it. */
    CHECK_STATUS_OK(clseg_image_save_png_gray(tmp_path("rgb.png"), gray, W, H, err, sizeof err),
                    err);
    CHECK_STATUS_OK(clseg_image_load_png(tmp_path("rgb.png"), W, &back, &w, &h, err, sizeof err),
                    err);
    int same = back && w == W && h == H;
    for (int i = 0; same && i < N; i++)
        same = back[3 * i] == gray[i] && back[3 * i + 1] == gray[i] && back[3 * i + 2] == gray[i];
    CHECK(same, "gray round trip: gray replicated into R, G and B");
    clseg_free(back);

    /* The same file from memory. */
    FILE *f = fopen(tmp_path("rgb.png"), "rb");
    static uint8_t png[1 << 16];
    size_t size = f ? fread(png, 1, sizeof png, f) : 0;
    if (f) fclose(f);
    CHECK(size > 8 && size < sizeof png, "reading the PNG back: %zu bytes", size);
    CHECK_STATUS_OK(clseg_image_load_png_mem(png, size, 0, &back, &w, &h, err, sizeof err), err);
    CHECK(back && w == W && h == H && back[3 * (N - 1)] == gray[N - 1], "PNG from memory");
    clseg_free(back);

    /* max_side bounds both sides. */
    err[0] = 0;
    clseg_status st =
        clseg_image_load_png(tmp_path("rgb.png"), W - 1, &back, &w, &h, err, sizeof err);
    CHECK(st == CLSEG_ERR_TOO_LARGE && err[0] && !back && !w && !h, "max_side %d: %s (%s)", W - 1,
          clseg_status_str(st), err);
}

/* Atomic writes go through a temporary file next to the output; none may survive. */
static int temporaries_left(void) {
    int n = 0;
    DIR *dir = opendir(tmp_dir);
    struct dirent *e;
    while (dir && (e = readdir(dir)) != NULL) n += strstr(e->d_name, ".tmp") != NULL;
    if (dir) closedir(dir);
    return n;
}

static void test_load_errors(void) {
    char err[256] = "";
    uint8_t *rgb = (uint8_t *)err;
    int w = 7, h = 7;
    clseg_status st =
        clseg_image_load_png(tmp_path("missing.png"), 0, &rgb, &w, &h, err, sizeof err);
    CHECK(st == CLSEG_ERR_IO, "missing file: %s", clseg_status_str(st));
    CHECK(strstr(err, "missing.png") && strstr(err, "No such file"), "message: %s", err);
    CHECK(!rgb && !w && !h, "outputs cleared on failure");

    FILE *f = fopen(tmp_path("text.png"), "wb");
    if (f) {
        fputs("this is not a PNG file\n", f);
        fclose(f);
    }
    err[0] = 0;
    st = clseg_image_load_png(tmp_path("text.png"), 0, &rgb, &w, &h, err, sizeof err);
    CHECK(st == CLSEG_ERR_FORMAT && err[0], "non-PNG: %s (%s)", clseg_status_str(st), err);
    st = clseg_image_load_png_mem("GIF89a", 6, 0, &rgb, &w, &h, err, sizeof err);
    CHECK(st == CLSEG_ERR_FORMAT && !rgb, "non-PNG in memory: %s", clseg_status_str(st));
    st = clseg_image_load_png_mem(NULL, 0, 0, &rgb, &w, &h, err, sizeof err);
    CHECK(st == CLSEG_ERR_FORMAT, "no bytes: %s", clseg_status_str(st));

    struct {
        const char *what;
        clseg_status st;
    } nulls[] = {
        {"NULL path", clseg_image_load_png(NULL, 0, &rgb, &w, &h, err, sizeof err)},
        {"NULL rgb", clseg_image_load_png(tmp_path("text.png"), 0, NULL, &w, &h, err, sizeof err)},
        {"NULL width", clseg_image_load_png(tmp_path("text.png"), 0, &rgb, NULL, &h, err, 64)},
        {"NULL height", clseg_image_load_png(tmp_path("text.png"), 0, &rgb, &w, NULL, err, 64)},
        {"NULL data", clseg_image_load_png_mem(NULL, 5, 0, &rgb, &w, &h, err, sizeof err)},
        {"NULL mem rgb", clseg_image_load_png_mem("x", 1, 0, NULL, &w, &h, err, sizeof err)},
    };
    for (size_t i = 0; i < sizeof nulls / sizeof nulls[0]; i++)
        CHECK(nulls[i].st == CLSEG_ERR_INVALID_ARGUMENT, "%s: %s", nulls[i].what,
              clseg_status_str(nulls[i].st));
    err[0] = 0;
    st = clseg_image_load_png(NULL, 0, &rgb, &w, &h, err, sizeof err);
    CHECK(err[0], "NULL argument without a message");
    /* errbuf may be NULL. */
    st = clseg_image_load_png(tmp_path("missing.png"), 0, &rgb, &w, &h, NULL, 0);
    CHECK(st == CLSEG_ERR_IO, "NULL errbuf: %s", clseg_status_str(st));
}

static void test_save_errors(void) {
    uint8_t px[12] = {0};
    char err[256] = "";
    clseg_status st = clseg_image_save_png_rgb("/nonexistent-clseg-dir/x.png", px, 2, 2, err, 256);
    CHECK(st == CLSEG_ERR_IO && err[0], "unwritable: %s (%s)", clseg_status_str(st), err);
    err[0] = 0;
    st = clseg_image_save_png_rgb(tmp_path("bad.png"), NULL, 2, 2, err, sizeof err);
    CHECK(st == CLSEG_ERR_INVALID_ARGUMENT && err[0], "NULL pixels: %s", clseg_status_str(st));
    err[0] = 0;
    st = clseg_image_save_png_gray(NULL, px, 2, 2, err, sizeof err);
    CHECK(st == CLSEG_ERR_INVALID_ARGUMENT && err[0], "NULL path: %s", clseg_status_str(st));
    st = clseg_image_save_png_gray(tmp_path("bad.png"), px, 0, 2, err, sizeof err);
    CHECK(st == CLSEG_ERR_INVALID_ARGUMENT, "zero width: %s", clseg_status_str(st));
    st = clseg_image_save_png_gray(tmp_path("bad.png"), px, CLSEG_MAX_DIM + 1, 1, err, 256);
    CHECK(st == CLSEG_ERR_TOO_LARGE, "too wide: %s", clseg_status_str(st));
    CHECK(access(tmp_path("bad.png"), F_OK) != 0, "a failed save left a file");
    CHECK(temporaries_left() == 0, "temporary files left behind");
}

/* ---- Colour maps and overlays -------------------------------------------------------------- */

static void test_colorize(void) {
    const uint8_t labels[6] = {0, 1, 2, 3, 4, 255};
    uint8_t rgb[18 + 1];
    memset(rgb, 99, sizeof rgb);
    char err[256] = "";
    CHECK_STATUS_OK(clseg_image_colorize(labels, 3, 2, palette, 4, rgb, err, sizeof err), err);
    for (int i = 0; i < 4; i++) CHECK(!memcmp(rgb + 3 * i, palette + 3 * i, 3), "label %d", i);
    for (int i = 4; i < 6; i++)
        CHECK(!rgb[3 * i] && !rgb[3 * i + 1] && !rgb[3 * i + 2], "label %d black", labels[i]);
    CHECK(rgb[18] == 99, "wrote past 3 * width * height bytes");

    memset(rgb, 99, sizeof rgb);
    const clseg_status bad[] = {
        clseg_image_colorize(NULL, 3, 2, palette, 4, rgb, err, sizeof err),
        clseg_image_colorize(labels, 3, 2, NULL, 4, rgb, err, sizeof err),
        clseg_image_colorize(labels, 3, 2, palette, 4, NULL, err, sizeof err),
        clseg_image_colorize(labels, -3, 2, palette, 4, rgb, err, sizeof err),
        clseg_image_colorize(labels, 3, 2, palette, 0, rgb, err, sizeof err),
        clseg_image_colorize(labels, 3, 2, palette, 257, rgb, err, sizeof err),
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK(bad[i] == CLSEG_ERR_INVALID_ARGUMENT, "bad colorize %zu: %s", i,
              clseg_status_str(bad[i]));
    CHECK(rgb[0] == 99, "a refused colorize wrote its output");
    err[0] = 0;
    clseg_image_colorize(NULL, 3, 2, palette, 4, rgb, err, sizeof err);
    CHECK(strstr(err, "NULL"), "message: %s", err);
}

/* Overlays a random photo with random labels into a buffer between guard bytes: the guards stay
   intact, and pixels away from the top-left legend are the blend. */
static void overlay_case(int w, int h) {
    size_t n = (size_t)w * (size_t)h;
    uint8_t *photo = malloc(3 * n), *labels = malloc(n), *buf = malloc(3 * n + 32);
    if (!photo || !labels || !buf) {
        CHECK(0, "out of memory");
        goto out;
    }
    uint64_t rng = n;
    for (size_t i = 0; i < 3 * n; i++) photo[i] = next_byte(&rng);
    for (size_t i = 0; i < n; i++) labels[i] = (uint8_t)(next_byte(&rng) % 5); /* 4 = none */
    memset(buf, 0xa5, 3 * n + 32);
    uint8_t *out = buf + 16;
    char err[256] = "";
    CHECK_STATUS_OK(
        clseg_image_overlay(photo, w, h, labels, palette, names, 4, 0.5f, out, err, 256), err);
    int guards = 1;
    for (int i = 0; i < 16; i++) guards &= buf[i] == 0xa5 && out[3 * n + i] == 0xa5;
    CHECK(guards, "overlay %dx%d wrote outside its 3 * w * h bytes", w, h);
    size_t bad = 0;
    for (int y = h / 2; y < h; y++)
        for (int x = w / 2; x < w; x++) {
            size_t i = (size_t)y * w + x;
            for (int k = 0; k < 3; k++) {
                int want = labels[i] < 4 ? (photo[3 * i + k] + palette[3 * labels[i] + k] + 1) / 2
                                         : photo[3 * i + k];
                bad += abs(out[3 * i + k] - want) > 1;
            }
        }
    CHECK(bad == 0, "overlay %dx%d: %zu samples away from the legend are not the blend", w, h, bad);
out:
    free(photo);
    free(labels);
    free(buf);
}

static void test_overlay(void) {
    overlay_case(1, 1);
    overlay_case(160, 120);
    overlay_case(480, 360);

    /* The legend darkens the top-left corner of a bright photo. */
    enum { W = 200, H = 100 };
    static uint8_t photo[3 * W * H], labels[W * H], out[3 * W * H];
    memset(photo, 250, sizeof photo);
    char err[256] = "";
    CHECK_STATUS_OK(
        clseg_image_overlay(photo, W, H, labels, palette, names, 4, 0.0f, out, err, 256), err);
    CHECK(out[3 * (8 * W + 8)] < 150 && out[3 * (H * W - 1)] == 250, "legend box: %d, %d",
          out[3 * (8 * W + 8)], out[3 * (H * W - 1)]);

    uint8_t px[3] = {1, 2, 3}, label = 0, dst[3] = {7, 7, 7};
    const clseg_status bad[] = {
        clseg_image_overlay(NULL, 1, 1, &label, palette, NULL, 4, 0.5f, dst, err, 256),
        clseg_image_overlay(px, 1, 1, NULL, palette, NULL, 4, 0.5f, dst, err, 256),
        clseg_image_overlay(px, 1, 1, &label, NULL, NULL, 4, 0.5f, dst, err, 256),
        clseg_image_overlay(px, 1, 1, &label, palette, NULL, 4, 0.5f, NULL, err, 256),
        clseg_image_overlay(px, 0, 1, &label, palette, NULL, 4, 0.5f, dst, err, 256),
        clseg_image_overlay(px, 1, 1, &label, palette, NULL, 0, 0.5f, dst, err, 256),
        clseg_image_overlay(px, 1, 1, &label, palette, NULL, 4, 1.5f, dst, err, 256),
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK(bad[i] == CLSEG_ERR_INVALID_ARGUMENT, "bad overlay %zu: %s", i,
              clseg_status_str(bad[i]));
    CHECK(dst[0] == 7 && dst[1] == 7 && dst[2] == 7, "a refused overlay wrote its output");
    err[0] = 0;
    clseg_image_overlay(px, 1, 1, &label, palette, NULL, 4, -1.0f, dst, err, sizeof err);
    CHECK(strstr(err, "alpha"), "message: %s", err);
}

int main(void) {
    const char *base = getenv("TMPDIR");
    snprintf(tmp_dir, sizeof tmp_dir, "%s/clseg-image-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmp_dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_round_trips();
    test_load_errors();
    test_save_errors();
    test_colorize();
    test_overlay();

    DIR *dir = opendir(tmp_dir);
    struct dirent *e;
    while (dir && (e = readdir(dir)) != NULL)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) unlink(tmp_path(e->d_name));
    if (dir) closedir(dir);
    rmdir(tmp_dir);
    return check_finish("test_image_api");
}
