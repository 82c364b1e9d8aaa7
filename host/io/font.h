/* font.h - a 5x7 bitmap font for printable ASCII, for legends drawn into images. */
#ifndef CLSEG_FONT_H
#define CLSEG_FONT_H

#include <stdint.h>

#define FONT_GLYPH_W 5
#define FONT_GLYPH_H 7

/* The FONT_GLYPH_W column bitmaps of character ch, bit 0 being the top row. Characters outside
   32..126 are drawn as '?'. */
const uint8_t *font_glyph(int ch);

#endif
