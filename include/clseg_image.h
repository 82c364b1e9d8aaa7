/* clseg_image.h - public image API: PNG files to and from 8-bit buffers, label colours, overlays.
 */
#ifndef CLSEG_IMAGE_H
#define CLSEG_IMAGE_H

#include "clseg.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Images are plain buffers, as clseg_net_segment takes them: RGB is interleaved 8-bit R, G, B,
   row-major with a stride of 3 * width bytes; gray images and label maps are width * height
   bytes. A palette is `classes` colours of 3 bytes {r, g, b} each, one after another (class i at
   palette[3 * i]); clseg_model_class_color gives a model's. Every function here is reentrant:
   calls on different buffers may run on any threads at once. Failures write a one-line message
   to errbuf (may be NULL; truncated to errbuf_size bytes). */

/* Decodes the PNG file at path into a new 8-bit RGB buffer. Any PNG is accepted: 1/2/4/8/16-bit;
   gray, gray + alpha, palette (with or without tRNS), RGB, RGBA; interlaced or not. Gray is
   replicated into R, G and B, 16-bit samples are rounded to 8 bits, alpha and tRNS are dropped
   (colour channels are taken as stored, not composited), and gAMA/iCCP are ignored.
   max_side is the largest width or height accepted, in pixels; <= 0 or above CLSEG_MAX_DIM means
   CLSEG_MAX_DIM. On success *rgb is a new buffer of 3 * *width * *height bytes that the caller
   releases with clseg_free. Errors: CLSEG_ERR_INVALID_ARGUMENT for a NULL argument;
   CLSEG_ERR_IO when the file is missing or unreadable ("PATH: No such file or directory");
   CLSEG_ERR_FORMAT for anything that is not a complete, valid PNG; CLSEG_ERR_TOO_LARGE for a
   side above max_side or more than 2^28 pixels, found from the header before any pixel memory is
   allocated; CLSEG_ERR_OUT_OF_MEMORY. On failure *rgb is NULL and *width, *height are 0. */
CLSEG_API clseg_status clseg_image_load_png(const char *path, int max_side, uint8_t **rgb,
                                            int *width, int *height, char *errbuf,
                                            size_t errbuf_size);

/* clseg_image_load_png for a PNG held in memory: size bytes at data (data may be NULL when size
   is 0, which is CLSEG_ERR_FORMAT). Messages name the input "PNG data". */
CLSEG_API clseg_status clseg_image_load_png_mem(const void *data, size_t size, int max_side,
                                                uint8_t **rgb, int *width, int *height,
                                                char *errbuf, size_t errbuf_size);

/* Encodes an 8-bit RGB image (3 * width * height bytes) or an 8-bit gray image (width * height
   bytes, e.g. a label map) as a non-interlaced 8-bit PNG and replaces path atomically: the PNG is
   encoded in memory, written to a temporary file in the same directory, synced and renamed over
   path, so on any failure a previous file at path is untouched and no partial file is left.
   Errors: CLSEG_ERR_INVALID_ARGUMENT for a NULL argument or a size below 1;
   CLSEG_ERR_TOO_LARGE for a side above CLSEG_MAX_DIM or more than 2^28 pixels; CLSEG_ERR_IO when
   the file cannot be written; CLSEG_ERR_OUT_OF_MEMORY. */
CLSEG_API clseg_status clseg_image_save_png_rgb(const char *path, const uint8_t *rgb, int width,
                                                int height, char *errbuf, size_t errbuf_size);
CLSEG_API clseg_status clseg_image_save_png_gray(const char *path, const uint8_t *gray, int width,
                                                 int height, char *errbuf, size_t errbuf_size);

/* Paints each label of a width x height label map with its palette colour into rgb_out
   (3 * width * height bytes, allocated by the caller); labels outside [0, classes) become black.
   Errors: CLSEG_ERR_INVALID_ARGUMENT for a NULL buffer, a size below 1 or classes outside
   [1, 256], in which case rgb_out is untouched. */
CLSEG_API clseg_status clseg_image_colorize(const uint8_t *labels, int width, int height,
                                            const uint8_t *palette, int classes, uint8_t *rgb_out,
                                            char *errbuf, size_t errbuf_size);

/* Blends the colour map of labels over the RGB photo rgb (both width x height) with opacity
   alpha in [0, 1] (0.5 is a good choice) into rgb_out (3 * width * height bytes, allocated by the
   caller, not overlapping rgb), and draws a legend on a darkened box in the top-left corner: the
   colour swatch and name of every class present, "+N more" when they do not all fit. Pixels whose
   label is outside [0, classes) keep the photo colour. class_names may be NULL, and any entry may
   be NULL or "" ("class N" is shown); names are drawn in a 5x7 ASCII font. The legend is scaled
   with the image (a font scale of 1 below 800 pixels on the shorter side, up to 4), clipped to it,
   and left out where the image is too small to hold one line. Errors: CLSEG_ERR_INVALID_ARGUMENT
   for a NULL buffer, a size below 1, classes outside [1, 256] or alpha outside [0, 1] (NaN
   included); CLSEG_ERR_TOO_LARGE when 3 * width * height overflows size_t. On failure rgb_out is
   untouched. */
CLSEG_API clseg_status clseg_image_overlay(const uint8_t *rgb, int width, int height,
                                           const uint8_t *labels, const uint8_t *palette,
                                           const char *const *class_names, int classes, float alpha,
                                           uint8_t *rgb_out, char *errbuf, size_t errbuf_size);

#ifdef __cplusplus
}
#endif

#endif /* CLSEG_IMAGE_H */
