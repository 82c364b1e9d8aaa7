/* render.c - label maps as colours: the plain colour map and the photo overlay with a legend. */
#include "image.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "font.h"

#define LABEL_VALUES 256 /* labels are uint8_t */

/* What colorize and overlay both require of their buffers and class count. */
static clseg_status check_label_map(const char *fn, const uint8_t *labels, int width, int height,
                                    const uint8_t *palette, int classes, const uint8_t *rgb_out,
                                    char *errbuf, size_t errbuf_size) {
    if (!labels || !palette || !rgb_out)
        return clseg_fail(errbuf, errbuf_size, CLSEG_ERR_INVALID_ARGUMENT, "%s: NULL argument", fn);
    if (width <= 0 || height <= 0)
        return clseg_fail(errbuf, errbuf_size, CLSEG_ERR_INVALID_ARGUMENT,
                          "%s: invalid image size %dx%d", fn, width, height);
    if (classes < 1 || classes > LABEL_VALUES)
        return clseg_fail(errbuf, errbuf_size, CLSEG_ERR_INVALID_ARGUMENT,
                          "%s: class count %d outside [1, %d]", fn, classes, LABEL_VALUES);
    size_t count, bytes;
    if (!clseg_mul_size(&count, (size_t)width, (size_t)height) || !clseg_mul_size(&bytes, count, 3))
        return clseg_fail(errbuf, errbuf_size, CLSEG_ERR_TOO_LARGE, "%s: image too large", fn);
    return CLSEG_OK;
}

clseg_status clseg_image_colorize(const uint8_t *labels, int width, int height,
                                  const uint8_t *palette, int classes, uint8_t *rgb_out,
                                  char *errbuf, size_t errbuf_size) {
    clseg_status status = check_label_map("clseg_image_colorize", labels, width, height, palette,
                                          classes, rgb_out, errbuf, errbuf_size);
    if (status != CLSEG_OK) return status;
    size_t count = (size_t)width * (size_t)height;
    for (size_t i = 0; i < count; i++) {
        uint8_t *px = rgb_out + 3 * i;
        if (labels[i] < classes) {
            memcpy(px, palette + 3 * labels[i], 3);
        } else {
            px[0] = px[1] = px[2] = 0;
        }
    }
    return CLSEG_OK;
}

/* ---- Clipped drawing ----------------------------------------------------------------------- */

/* Blends colour over the rectangle's part inside the image; opacity is in 1/256 units (256 =
   opaque). Every pixel the legend touches goes through here, so clipping lives in one place. */
static void fill_rect(image_rgb *img, int x, int y, int w, int h, const uint8_t color[3],
                      int opacity) {
    int x0 = CLSEG_MAX(x, 0), y0 = CLSEG_MAX(y, 0);
    int x1 = CLSEG_MIN(x + w, img->width), y1 = CLSEG_MIN(y + h, img->height);
    for (int yy = y0; yy < y1; yy++) {
        uint8_t *px = img->rgb + ((size_t)yy * (size_t)img->width + (size_t)x0) * 3;
        for (int xx = x0; xx < x1; xx++, px += 3)
            for (int k = 0; k < 3; k++)
                px[k] = (uint8_t)((px[k] * (256 - opacity) + color[k] * opacity + 128) >> 8);
    }
}

/* Draws at most max_chars characters of text with its top-left corner at (x, y). */
static void draw_text(image_rgb *img, int x, int y, int scale, const char *text, int max_chars,
                      const uint8_t color[3]) {
    for (int i = 0; text[i] && i < max_chars; i++) {
        const uint8_t *glyph = font_glyph((unsigned char)text[i]);
        int gx = x + i * (FONT_GLYPH_W + 1) * scale;
        for (int col = 0; col < FONT_GLYPH_W; col++)
            for (int row = 0; row < FONT_GLYPH_H; row++)
                if (glyph[col] >> row & 1)
                    fill_rect(img, gx + col * scale, y + row * scale, scale, scale, color, 256);
    }
}

/* ---- Legend -------------------------------------------------------------------------------- */

/* Geometry of the legend in units of the font scale s: a margin to the image edge, padding
   inside the box, a swatch as tall as a capital letter, a gap before the name, and the pitch of
   the lines. */
enum { LEGEND_MARGIN = 4, LEGEND_PAD = 3, LEGEND_SWATCH = FONT_GLYPH_H, LEGEND_GAP = 4 };
enum { LEGEND_LINE = FONT_GLYPH_H + 3, LEGEND_ADVANCE = FONT_GLYPH_W + 1 };
#define LEGEND_NAME_MAX 48

typedef struct legend_layout {
    int scale;
    int lines;     /* lines drawn, the last possibly "+N more" */
    int entries;   /* classes given a line */
    int max_chars; /* characters that fit after a swatch */
} legend_layout;

static void class_label(const char *const *class_names, int cls, char name[LEGEND_NAME_MAX]) {
    const char *given = class_names ? class_names[cls] : NULL;
    if (given && given[0])
        snprintf(name, LEGEND_NAME_MAX, "%s", given);
    else
        snprintf(name, LEGEND_NAME_MAX, "class %d", cls);
}

/* Chooses the scale and how much of the legend fits; returns 0 when not even one entry with a
   single character fits, in which case no legend is drawn. */
static int legend_fit(int width, int height, int present, legend_layout *lay) {
    int scale = CLSEG_MIN(width, height) / 400;
    scale = CLSEG_MAX(1, CLSEG_MIN(scale, 4));
    for (; scale >= 1; scale--) {
        int inner_w = width - 2 * (LEGEND_MARGIN + LEGEND_PAD) * scale;
        int inner_h = height - 2 * (LEGEND_MARGIN + LEGEND_PAD) * scale;
        int text_w = inner_w - (LEGEND_SWATCH + LEGEND_GAP) * scale;
        int max_chars = (text_w + scale) / (LEGEND_ADVANCE * scale);
        int lines = (inner_h + (LEGEND_LINE - FONT_GLYPH_H) * scale) / (LEGEND_LINE * scale);
        if (max_chars < 1 || lines < 1) continue;
        lay->scale = scale;
        lay->max_chars = max_chars;
        if (present <= lines) {
            lay->lines = lay->entries = present;
        } else {
            lay->lines = lines;
            lay->entries = lines >= 2 ? lines - 1 : 1;
        }
        return 1;
    }
    return 0;
}

static void draw_legend(image_rgb *img, const uint8_t *present, int classes, const uint8_t *palette,
                        const char *const *class_names) {
    static const uint8_t black[3] = {0, 0, 0};
    static const uint8_t text_color[3] = {240, 240, 240};
    static const uint8_t outline[3] = {200, 200, 200};
    char name[LEGEND_NAME_MAX];
    int count = 0;
    for (int c = 0; c < classes; c++) count += present[c] != 0;
    legend_layout lay;
    if (count == 0 || !legend_fit(img->width, img->height, count, &lay)) return;
    int s = lay.scale;

    /* The box is as wide as the longest line drawn, up to what fits. */
    char more[LEGEND_NAME_MAX] = "";
    int longest = 0, listed = 0;
    for (int c = 0; c < classes && listed < lay.entries; c++) {
        if (!present[c]) continue;
        class_label(class_names, c, name);
        longest = CLSEG_MAX(longest, (int)strlen(name));
        listed++;
    }
    if (lay.lines > lay.entries) {
        snprintf(more, sizeof more, "+%d more", count - listed);
        longest = CLSEG_MAX(longest, (int)strlen(more));
    }
    lay.max_chars = CLSEG_MIN(lay.max_chars, longest);

    int box_x = LEGEND_MARGIN * s, box_y = LEGEND_MARGIN * s;
    int box_w = 2 * LEGEND_PAD * s + (LEGEND_SWATCH + LEGEND_GAP) * s +
                lay.max_chars * LEGEND_ADVANCE * s - s;
    int box_h = 2 * LEGEND_PAD * s + lay.lines * LEGEND_LINE * s - (LEGEND_LINE - FONT_GLYPH_H) * s;
    fill_rect(img, box_x, box_y, box_w, box_h, black, 166);

    int x = box_x + LEGEND_PAD * s, y = box_y + LEGEND_PAD * s, drawn = 0;
    int text_x = x + (LEGEND_SWATCH + LEGEND_GAP) * s;
    for (int c = 0; c < classes && drawn < lay.entries; c++) {
        if (!present[c]) continue;
        /* An outline keeps dark classes visible on the dark box. */
        fill_rect(img, x, y, LEGEND_SWATCH * s, LEGEND_SWATCH * s, outline, 256);
        fill_rect(img, x + 1, y + 1, LEGEND_SWATCH * s - 2, LEGEND_SWATCH * s - 2, palette + 3 * c,
                  256);
        class_label(class_names, c, name);
        draw_text(img, text_x, y, s, name, lay.max_chars, text_color);
        y += LEGEND_LINE * s;
        drawn++;
    }
    if (more[0]) draw_text(img, text_x, y, s, more, lay.max_chars, text_color);
}

/* ---- Overlay ------------------------------------------------------------------------------- */

clseg_status clseg_image_overlay(const uint8_t *rgb, int width, int height, const uint8_t *labels,
                                 const uint8_t *palette, const char *const *class_names,
                                 int classes, float alpha, uint8_t *rgb_out, char *errbuf,
                                 size_t errbuf_size) {
    static const char fn[] = "clseg_image_overlay";
    if (!rgb)
        return clseg_fail(errbuf, errbuf_size, CLSEG_ERR_INVALID_ARGUMENT, "%s: NULL argument", fn);
    clseg_status status =
        check_label_map(fn, labels, width, height, palette, classes, rgb_out, errbuf, errbuf_size);
    if (status != CLSEG_OK) return status;
    if (!(alpha >= 0.0f && alpha <= 1.0f))
        return clseg_fail(errbuf, errbuf_size, CLSEG_ERR_INVALID_ARGUMENT,
                          "%s: alpha %g outside [0, 1]", fn, (double)alpha);

    size_t count = (size_t)width * (size_t)height;
    uint8_t present[LABEL_VALUES] = {0};
    int weight = (int)lrintf(alpha * 256.0f);
    for (size_t i = 0; i < count; i++) {
        const uint8_t *src = rgb + 3 * i;
        uint8_t *dst = rgb_out + 3 * i;
        int label = labels[i];
        if (label >= classes) {
            memcpy(dst, src, 3);
            continue;
        }
        present[label] = 1;
        const uint8_t *color = palette + 3 * label;
        for (int k = 0; k < 3; k++)
            dst[k] = (uint8_t)((src[k] * (256 - weight) + color[k] * weight + 128) >> 8);
    }
    image_rgb result = {width, height, rgb_out};
    draw_legend(&result, present, classes, palette, class_names);
    return CLSEG_OK;
}
