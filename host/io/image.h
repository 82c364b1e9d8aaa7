/* image.h - 8-bit RGB images: PNG load/save, label colouring and the overlay with a legend. */
#ifndef CLSEG_IMAGE_H
#define CLSEG_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "core/common.h"

/* Interleaved 8-bit RGB, row-major, stride 3 * width bytes. */
typedef struct image_rgb {
    int width, height;
    uint8_t *rgb;
} image_rgb;

/* Frees the pixels and zeroes the struct; NULL and an already freed image are fine. */
void image_rgb_free(image_rgb *img);

/* Decodes any PNG (1/2/4/8/16-bit; gray, gray+alpha, palette with or without tRNS, RGB, RGBA;
   interlaced or not) into 8-bit RGB. Gray is replicated into R, G and B; 16-bit samples are
   rounded to 8 bits; alpha and tRNS are dropped (colour channels are taken as stored, not
   composited), and gAMA/iCCP are ignored. Images with a side above max_side (<= 0 or above
   CLSEG_MAX_DIM means CLSEG_MAX_DIM) or more than 2^28 pixels are CLSEG_ERR_TOO_LARGE, checked on
   the header before any pixel memory is allocated. A missing or unreadable file is CLSEG_ERR_IO;
   anything that is not a complete, valid PNG is CLSEG_ERR_FORMAT. On failure *out is zeroed. */
clseg_status image_load_png(const char *path, int max_side, image_rgb *out, char *err,
                            size_t errlen);
/* The same for a PNG held in memory (data may be NULL when size is 0). */
clseg_status image_load_png_mem(const uint8_t *data, size_t size, int max_side, image_rgb *out,
                                char *err, size_t errlen);

/* Encode 8-bit RGB (stride 3 * w) or 8-bit gray (stride w) as PNG and replace path atomically:
   on failure any previous file at path is untouched and no partial file is left behind. */
clseg_status image_save_png_rgb(const char *path, const uint8_t *rgb, int w, int h, char *err,
                                size_t errlen);
clseg_status image_save_png_gray(const char *path, const uint8_t *gray, int w, int h, char *err,
                                 size_t errlen);

/* Paints each label with its palette colour into rgb_out (3 * w * h bytes); labels outside
   [0, classes) become black. */
void image_colorize(const uint8_t *labels, int w, int h, const uint8_t (*palette)[3], int classes,
                    uint8_t *rgb_out);

/* Blends the colour map of labels (photo-sized) over photo with opacity alpha in [0, 1] (0.5 is
   a good choice) and draws a legend (colour swatch and name of every class present) on a
   darkened box in the top-left corner. Pixels whose label is outside [0, classes) keep the photo
   colour. class_names may be NULL, and any entry may be NULL ("class N" is shown). The legend is
   scaled with the image, clipped to it and left out where the image is too small to hold one
   line. classes must be in [1, 256]. On success *out holds a new image (free with
   image_rgb_free); on failure it is zeroed. */
clseg_status image_overlay(const image_rgb *photo, const uint8_t *labels,
                           const uint8_t (*palette)[3], const char *const *class_names, int classes,
                           float alpha, image_rgb *out, char *err, size_t errlen);

#endif
