/* png_io.c - PNG decoding to 8-bit RGB and encoding of RGB/gray through libpng. */
#include "image.h"

#include <errno.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 2^28 pixels (768 MiB of RGB): beyond any road-scene camera and far below what could
   overflow an int index. */
#define IMAGE_MAX_PIXELS ((uint64_t)1 << 28)

/* Largest single allocation libpng may make: a buffered ancillary chunk or an inflated
   zTXt/iCCP/iTXt (libpng's suggested PNG_USER_CHUNK_MALLOC_MAX); its row buffers for a
   CLSEG_MAX_DIM-wide image are far smaller. */
#define PNG_ALLOC_MAX_BYTES 8000000

/* Signature, then the IHDR chunk: length, type, 13 data bytes, CRC. */
#define PNG_SIG_LEN   8
#define PNG_IHDR_DATA 13
#define PNG_HEAD_LEN  (PNG_SIG_LEN + 4 + 4 + PNG_IHDR_DATA + 4)

/* libpng reports errors through callbacks that longjmp; they leave the text here instead of
   printing it. */
typedef struct png_errors {
    char message[192];
    char last_warning[128];
    size_t refused; /* an allocation above PNG_ALLOC_MAX_BYTES that png_alloc refused */
} png_errors;

static void on_png_error(png_structp png, png_const_charp msg) {
    png_errors *e = png_get_error_ptr(png);
    if (e) snprintf(e->message, sizeof e->message, "%s", msg ? msg : "libpng error");
    png_longjmp(png, 1);
}

/* Warnings concern recoverable oddities (bad ancillary CRCs, unknown sRGB profiles) and must not
   reach the caller's stderr; the last one is kept because libpng explains a bad IHDR only in
   warnings before its error. */
static void on_png_warning(png_structp png, png_const_charp msg) {
    png_errors *e = png_get_error_ptr(png);
    if (e) snprintf(e->last_warning, sizeof e->last_warning, "%s", msg ? msg : "");
}

/* libpng's own allocations go through clseg_malloc too, so that fault injection reaches them.
   libpng 1.6.39 allocates a whole ancillary chunk before reading it, whatever length the file
   claims: a 4-byte length must not cost 2 GiB (found by fuzz_png). */
static png_voidp png_alloc(png_structp png, png_alloc_size_t size) {
    if (size > PNG_ALLOC_MAX_BYTES) {
        png_errors *e = png_get_mem_ptr(png);
        if (e) e->refused = size;
        return NULL;
    }
    return clseg_malloc(size);
}

static void png_release(png_structp png, png_voidp ptr) {
    (void)png;
    free(ptr);
}

static clseg_status png_error_status(const png_errors *e) {
    if (e->refused) return CLSEG_ERR_TOO_LARGE;
    return strstr(e->message, "memory") || strstr(e->message, "Memory") ? CLSEG_ERR_OUT_OF_MEMORY
                                                                        : CLSEG_ERR_FORMAT;
}

static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

void image_rgb_free(image_rgb *img) {
    if (!img) return;
    free(img->rgb);
    img->rgb = NULL;
    img->width = img->height = 0;
}

/* ---- Decoding ------------------------------------------------------------------------------ */

/* The header bytes already consumed for validation are served to libpng before the file; a
   PNG in memory is all head and no file. */
typedef struct png_source {
    FILE *file; /* may be NULL */
    const uint8_t *head;
    size_t head_len, head_pos;
} png_source;

static void read_from_source(png_structp png, png_bytep dst, png_size_t len) {
    png_source *src = png_get_io_ptr(png);
    size_t from_head = CLSEG_MIN(len, src->head_len - src->head_pos);
    memcpy(dst, src->head + src->head_pos, from_head);
    src->head_pos += from_head;
    if (from_head == len) return;
    if (!src->file || fread(dst + from_head, 1, len - from_head, src->file) != len - from_head)
        png_error(png, src->file && ferror(src->file) ? "read error"
                                                      : "unexpected end of file (truncated)");
}

/* What decode_pixels() produces; lives in the caller's frame so that nothing the setjmp frame
   modifies needs to be volatile. */
typedef struct decode_state {
    png_errors errors;
    uint8_t *rgb;
    png_bytep *rows;
    int width, height;
    clseg_status status;
} decode_state;

/* Runs libpng from the IHDR to IEND. Returns 0 on success; on failure st->status and
   st->errors.message say why, and whatever st holds is freed by the caller. */
static int decode_pixels(png_structp png, png_infop info, int max_side, decode_state *st) {
    if (setjmp(png_jmpbuf(png))) return -1;

    png_set_user_limits(png, (png_uint_32)max_side, (png_uint_32)max_side);
    png_set_chunk_malloc_max(png, PNG_ALLOC_MAX_BYTES); /* also bounds zTXt/iCCP inflation */
    png_read_info(png, info);

    png_uint_32 width, height;
    int bit_depth, color_type, interlace;
    png_get_IHDR(png, info, &width, &height, &bit_depth, &color_type, &interlace, NULL, NULL);
    if (width == 0 || height == 0 || width > (png_uint_32)max_side ||
        height > (png_uint_32)max_side || (uint64_t)width * height > IMAGE_MAX_PIXELS) {
        st->status = CLSEG_ERR_TOO_LARGE;
        snprintf(st->errors.message, sizeof st->errors.message, "image %ux%u exceeds limits",
                 (unsigned)width, (unsigned)height);
        return -1;
    }

    if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (bit_depth == 16) {
#ifdef PNG_READ_SCALE_16_TO_8_SUPPORTED
        png_set_scale_16(png);
#else
        png_set_strip_16(png);
#endif
    }
    if (color_type == PNG_COLOR_TYPE_GRAY || color_type == PNG_COLOR_TYPE_GRAY_ALPHA)
        png_set_gray_to_rgb(png);
    /* Also drops the alpha channel that palette expansion makes out of a tRNS chunk. */
    png_set_strip_alpha(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);

    size_t stride = (size_t)width * 3;
    if (png_get_channels(png, info) != 3 || png_get_bit_depth(png, info) != 8 ||
        png_get_rowbytes(png, info) != stride) {
        st->status = CLSEG_ERR_INTERNAL;
        snprintf(st->errors.message, sizeof st->errors.message,
                 "unexpected PNG layout after conversion (color type %d, depth %d)", color_type,
                 bit_depth);
        return -1;
    }

    st->rgb = clseg_malloc(stride * height);
    st->rows = clseg_malloc(sizeof(png_bytep) * height);
    if (!st->rgb || !st->rows) {
        st->status = CLSEG_ERR_OUT_OF_MEMORY;
        snprintf(st->errors.message, sizeof st->errors.message, "out of memory for %ux%u image",
                 (unsigned)width, (unsigned)height);
        return -1;
    }
    for (png_uint_32 y = 0; y < height; y++) st->rows[y] = st->rgb + (size_t)y * stride;
    png_read_image(png, st->rows);
    /* Reading on to IEND catches truncation and CRC errors after the last row. */
    png_read_end(png, NULL);

    st->width = (int)width;
    st->height = (int)height;
    return 0;
}

/* Checks the signature and IHDR by hand so that absurd or empty images are rejected with the
   right status before libpng sets anything up. */
static clseg_status check_header(const char *path, const uint8_t *head, size_t got, int max_side,
                                 char *err, size_t errlen) {
    if (got == 0) return clseg_fail(err, errlen, CLSEG_ERR_FORMAT, "%s: empty file", path);
    size_t sig_len = CLSEG_MIN(got, (size_t)PNG_SIG_LEN);
    if (png_sig_cmp(head, 0, sig_len) != 0)
        return clseg_fail(err, errlen, CLSEG_ERR_FORMAT, "%s: not a PNG file", path);
    if (got < PNG_HEAD_LEN)
        return clseg_fail(err, errlen, CLSEG_ERR_FORMAT,
                          "%s: truncated PNG file (%zu bytes, no complete IHDR)", path, got);
    const uint8_t *chunk = head + PNG_SIG_LEN;
    if (be32(chunk) != PNG_IHDR_DATA || memcmp(chunk + 4, "IHDR", 4) != 0)
        return clseg_fail(err, errlen, CLSEG_ERR_FORMAT, "%s: PNG does not start with IHDR", path);
    if (clseg_crc32(0, chunk + 4, 4 + PNG_IHDR_DATA) != be32(chunk + 8 + PNG_IHDR_DATA))
        return clseg_fail(err, errlen, CLSEG_ERR_FORMAT, "%s: IHDR CRC mismatch", path);
    uint32_t width = be32(chunk + 8), height = be32(chunk + 12);
    if (width == 0 || height == 0)
        return clseg_fail(err, errlen, CLSEG_ERR_FORMAT, "%s: PNG has zero size %ux%u", path,
                          (unsigned)width, (unsigned)height);
    if (width > (uint32_t)max_side || height > (uint32_t)max_side)
        return clseg_fail(err, errlen, CLSEG_ERR_TOO_LARGE,
                          "%s: image %ux%u exceeds the largest side %d", path, (unsigned)width,
                          (unsigned)height, max_side);
    if ((uint64_t)width * height > IMAGE_MAX_PIXELS)
        return clseg_fail(err, errlen, CLSEG_ERR_TOO_LARGE,
                          "%s: image %ux%u has more than %llu pixels", path, (unsigned)width,
                          (unsigned)height, (unsigned long long)IMAGE_MAX_PIXELS);
    return CLSEG_OK;
}

/* Checks the header in src->head, then decodes; path names the input in messages. */
static clseg_status load_png(const char *path, png_source *src, int max_side, image_rgb *out,
                             char *err, size_t errlen) {
    clseg_status status = check_header(path, src->head, src->head_len, max_side, err, errlen);
    if (status != CLSEG_OK) return status;

    decode_state st = {.status = CLSEG_ERR_FORMAT};
    png_structp png = png_create_read_struct_2(PNG_LIBPNG_VER_STRING, &st.errors, on_png_error,
                                               on_png_warning, &st.errors, png_alloc, png_release);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        png_destroy_read_struct(png ? &png : NULL, NULL, NULL);
        return clseg_fail(err, errlen, CLSEG_ERR_OUT_OF_MEMORY, "%s: cannot set up libpng", path);
    }
    png_set_read_fn(png, src, read_from_source);

    int failed = decode_pixels(png, info, max_side, &st);
    png_destroy_read_struct(&png, &info, NULL);
    free(st.rows);
    if (failed) {
        free(st.rgb);
        if (st.status == CLSEG_ERR_FORMAT) st.status = png_error_status(&st.errors);
        if (st.errors.message[0] == '\0')
            snprintf(st.errors.message, sizeof st.errors.message, "corrupt PNG data");
        if (st.errors.refused)
            return clseg_fail(err, errlen, st.status,
                              "%s: a PNG chunk needs %zu bytes, more than the %d allowed", path,
                              st.errors.refused, PNG_ALLOC_MAX_BYTES);
        if (strcmp(st.errors.message, "Invalid IHDR data") == 0 && st.errors.last_warning[0])
            return clseg_fail(err, errlen, st.status, "%s: invalid IHDR: %s", path,
                              st.errors.last_warning);
        return clseg_fail(err, errlen, st.status, "%s: %s", path, st.errors.message);
    }
    *out = (image_rgb){st.width, st.height, st.rgb};
    return CLSEG_OK;
}

clseg_status image_load_png(const char *path, int max_side, image_rgb *out, char *err,
                            size_t errlen) {
    if (out) *out = (image_rgb){0, 0, NULL};
    if (!path || !out)
        return clseg_fail(err, errlen, CLSEG_ERR_INVALID_ARGUMENT, "image_load_png: NULL argument");
    if (max_side <= 0 || max_side > CLSEG_MAX_DIM) max_side = CLSEG_MAX_DIM;

    FILE *file = fopen(path, "rb");
    if (!file) return clseg_fail(err, errlen, CLSEG_ERR_IO, "%s: %s", path, strerror(errno));
    uint8_t head[PNG_HEAD_LEN];
    size_t got = fread(head, 1, sizeof head, file);
    if (got < sizeof head && ferror(file)) {
        int saved = errno;
        fclose(file);
        return clseg_fail(err, errlen, CLSEG_ERR_IO, "%s: read error: %s", path, strerror(saved));
    }
    png_source src = {file, head, got, 0};
    clseg_status status = load_png(path, &src, max_side, out, err, errlen);
    fclose(file);
    return status;
}

clseg_status image_load_png_mem(const uint8_t *data, size_t size, int max_side, image_rgb *out,
                                char *err, size_t errlen) {
    if (out) *out = (image_rgb){0, 0, NULL};
    if ((!data && size) || !out)
        return clseg_fail(err, errlen, CLSEG_ERR_INVALID_ARGUMENT,
                          "image_load_png_mem: NULL argument");
    if (max_side <= 0 || max_side > CLSEG_MAX_DIM) max_side = CLSEG_MAX_DIM;
    png_source src = {NULL, data, size, 0};
    return load_png("PNG data", &src, max_side, out, err, errlen);
}

/* The public calls return plain buffers: the outputs are cleared first, so that they read "no
   image" on every failure, NULL arguments included. Returns whether all three are given. */
static int clear_outputs(uint8_t **rgb, int *width, int *height) {
    if (rgb) *rgb = NULL;
    if (width) *width = 0;
    if (height) *height = 0;
    return rgb && width && height;
}

clseg_status clseg_image_load_png(const char *path, int max_side, uint8_t **rgb, int *width,
                                  int *height, char *errbuf, size_t errbuf_size) {
    if (!clear_outputs(rgb, width, height) || !path)
        return clseg_fail(errbuf, errbuf_size, CLSEG_ERR_INVALID_ARGUMENT,
                          "clseg_image_load_png: NULL argument");
    image_rgb img;
    clseg_status status = image_load_png(path, max_side, &img, errbuf, errbuf_size);
    *rgb = img.rgb;
    *width = img.width;
    *height = img.height;
    return status;
}

clseg_status clseg_image_load_png_mem(const void *data, size_t size, int max_side, uint8_t **rgb,
                                      int *width, int *height, char *errbuf, size_t errbuf_size) {
    if (!clear_outputs(rgb, width, height) || (!data && size))
        return clseg_fail(errbuf, errbuf_size, CLSEG_ERR_INVALID_ARGUMENT,
                          "clseg_image_load_png_mem: NULL argument");
    image_rgb img;
    clseg_status status = image_load_png_mem(data, size, max_side, &img, errbuf, errbuf_size);
    *rgb = img.rgb;
    *width = img.width;
    *height = img.height;
    return status;
}

/* ---- Encoding ------------------------------------------------------------------------------ */

typedef struct png_sink {
    uint8_t *data;
    size_t size, capacity;
} png_sink;

static void write_to_sink(png_structp png, png_bytep src, png_size_t len) {
    png_sink *sink = png_get_io_ptr(png);
    if (len > sink->capacity - sink->size) {
        size_t want = CLSEG_MAX(sink->capacity * 2, sink->size + len);
        want = CLSEG_MAX(want, (size_t)4096);
        uint8_t *grown = clseg_realloc(sink->data, want);
        if (!grown) png_error(png, "out of memory for the encoded PNG");
        sink->data = grown;
        sink->capacity = want;
    }
    memcpy(sink->data + sink->size, src, len);
    sink->size += len;
}

static void flush_sink(png_structp png) {
    (void)png;
}

static int encode_pixels(png_structp png, png_infop info, const uint8_t *pixels, int w, int h,
                         int channels) {
    if (setjmp(png_jmpbuf(png))) return -1;
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8,
                 channels == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    size_t stride = (size_t)w * (size_t)channels;
    for (int y = 0; y < h; y++) png_write_row(png, pixels + (size_t)y * stride);
    png_write_end(png, info);
    return 0;
}

static clseg_status save_png(const char *path, const uint8_t *pixels, int w, int h, int channels,
                             char *err, size_t errlen) {
    if (!path || !pixels)
        return clseg_fail(err, errlen, CLSEG_ERR_INVALID_ARGUMENT,
                          "clseg_image_save_png: NULL argument");
    if (w <= 0 || h <= 0)
        return clseg_fail(err, errlen, CLSEG_ERR_INVALID_ARGUMENT, "%s: invalid image size %dx%d",
                          path, w, h);
    if (w > CLSEG_MAX_DIM || h > CLSEG_MAX_DIM || (uint64_t)w * (uint64_t)h > IMAGE_MAX_PIXELS)
        return clseg_fail(err, errlen, CLSEG_ERR_TOO_LARGE, "%s: image %dx%d is too large", path, w,
                          h);

    png_errors errors = {{0}, {0}, 0};
    png_sink sink = {NULL, 0, 0};
    png_structp png = png_create_write_struct_2(PNG_LIBPNG_VER_STRING, &errors, on_png_error,
                                                on_png_warning, &errors, png_alloc, png_release);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        png_destroy_write_struct(png ? &png : NULL, NULL);
        return clseg_fail(err, errlen, CLSEG_ERR_OUT_OF_MEMORY, "%s: cannot set up libpng", path);
    }
    png_set_write_fn(png, &sink, write_to_sink, flush_sink);
    int failed = encode_pixels(png, info, pixels, w, h, channels);
    png_destroy_write_struct(&png, &info);

    clseg_status status;
    if (failed) {
        /* Only memory can fail when encoding valid pixels into memory. */
        status = png_error_status(&errors) == CLSEG_ERR_OUT_OF_MEMORY ? CLSEG_ERR_OUT_OF_MEMORY
                                                                      : CLSEG_ERR_INTERNAL;
        clseg_fail(err, errlen, status, "%s: PNG encoding failed: %s", path, errors.message);
    } else {
        status = clseg_write_file_atomic(path, sink.data, sink.size, err, errlen);
    }
    free(sink.data);
    return status;
}

clseg_status clseg_image_save_png_rgb(const char *path, const uint8_t *rgb, int width, int height,
                                      char *errbuf, size_t errbuf_size) {
    return save_png(path, rgb, width, height, 3, errbuf, errbuf_size);
}

clseg_status clseg_image_save_png_gray(const char *path, const uint8_t *gray, int width, int height,
                                       char *errbuf, size_t errbuf_size) {
    return save_png(path, gray, width, height, 1, errbuf, errbuf_size);
}
