/* image.h - 8-bit RGB images as a struct for the library's own users (training, tests). */
#ifndef CLSEG_IO_IMAGE_H
#define CLSEG_IO_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "clseg_image.h"
#include "core/common.h"

/* Interleaved 8-bit RGB, row-major, stride 3 * width bytes. */
typedef struct image_rgb {
    int width, height;
    uint8_t *rgb;
} image_rgb;

/* Frees the pixels and zeroes the struct; NULL and an already freed image are fine. */
void image_rgb_free(image_rgb *img);

/* clseg_image_load_png (clseg_image.h, which documents the formats, limits and errors) into an
   image_rgb; on failure *out is zeroed. */
clseg_status image_load_png(const char *path, int max_side, image_rgb *out, char *err,
                            size_t errlen);
/* The same for a PNG held in memory (data may be NULL when size is 0). */
clseg_status image_load_png_mem(const uint8_t *data, size_t size, int max_side, image_rgb *out,
                                char *err, size_t errlen);

/* Saving, colour maps and overlays are public: clseg_image.h. */

#endif
