/* fuzz_png.c - libFuzzer target: PNG decoding (image_load_png's path, from memory), as read and
   with every chunk CRC repaired. */
#include <stdlib.h>
#include <string.h>

#include "io/image.h"

/* Small enough that any image decodes in well under a millisecond per row. */
#define FUZZ_MAX_SIDE 512

static void fz_png_one(const uint8_t *data, size_t size) {
    image_rgb img;
    char err[256];
    clseg_status st = image_load_png_mem(data, size, FUZZ_MAX_SIDE, &img, err, sizeof err);
    if (st == CLSEG_OK) {
        if (img.width < 1 || img.height < 1 || img.width > FUZZ_MAX_SIDE ||
            img.height > FUZZ_MAX_SIDE || !img.rgb)
            __builtin_trap();
        /* Touch every pixel so that a short allocation shows up under ASan. */
        volatile uint8_t sum = 0;
        for (size_t i = 0; i < (size_t)img.width * img.height * 3; i++) sum ^= img.rgb[i];
        (void)sum;
    } else if (!err[0] || img.rgb) {
        __builtin_trap();
    }
    image_rgb_free(&img);
}

static uint32_t fz_png_be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fz_png_one(data, size);
    /* libpng rejects a chunk whose CRC-32 is wrong, as mutations almost always make it: decode a
       copy with the CRC of every complete chunk recomputed too. */
    if (size < 8 + 12) return 0;
    uint8_t *copy = malloc(size);
    if (!copy) return 0;
    memcpy(copy, data, size);
    for (size_t pos = 8; size - pos >= 12;) {
        uint32_t len = fz_png_be32(copy + pos);
        if (len > size - pos - 12) break;
        uint32_t crc = clseg_crc32(0, copy + pos + 4, 4 + (size_t)len);
        for (int i = 0; i < 4; i++) copy[pos + 8 + len + i] = (uint8_t)(crc >> (24 - 8 * i));
        pos += 12 + (size_t)len;
    }
    if (memcmp(copy, data, size) != 0) fz_png_one(copy, size);
    free(copy);
    return 0;
}
