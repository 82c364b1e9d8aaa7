/* augment.c - shuffling and the single-pass scale + crop + flip resampler. */
#include <math.h>

#include "augment.h"

uint64_t rng_stream(uint64_t seed, uint64_t a, uint64_t b) {
    uint64_t s = seed ^ 0x6a09e667f3bcc909ull;
    uint64_t h = rng_next(&s);
    s = h ^ (a * 0xd1342543de82ef95ull);
    h = rng_next(&s);
    s = h ^ (b * 0x9e3779b97f4a7c15ull + 0x2545f4914f6cdd1dull);
    return rng_next(&s);
}

void shuffle_epoch(uint64_t seed, int epoch, int count, int *order) {
    uint64_t s = rng_stream(seed, (uint64_t)epoch, 0xffffffffull);
    for (int i = 0; i < count; i++) order[i] = i;
    for (int i = count - 1; i > 0; i--) {
        int j = (int)(rng_uniform(&s) * (i + 1));
        int t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
}

void augment_sample(const image_rgb *img, const uint8_t *labels, const augment_opts *o,
                    uint64_t stream, float *x, int32_t *y) {
    uint64_t s = stream;
    const int W = img->width, H = img->height, cw = o->crop_w, ch = o->crop_h;
    double scale = o->scale_min + (o->scale_max - o->scale_min) * rng_uniform(&s);
    if (!(scale > 0)) scale = 1;
    int sw = (int)lround(W * scale), sh = (int)lround(H * scale);
    if (sw < 1) sw = 1;
    if (sh < 1) sh = 1;
    /* Where the crop window starts in the scaled image; negative when the image is smaller, which
       places it at a random position inside the padded window. */
    int x0 = (int)floor(rng_uniform(&s) * (sw - cw + 1));
    int y0 = (int)floor(rng_uniform(&s) * (sh - ch + 1));
    if (sw < cw) x0 = -(int)floor(rng_uniform(&s) * (cw - sw + 1));
    if (sh < ch) y0 = -(int)floor(rng_uniform(&s) * (ch - sh + 1));
    int flip = o->flip && rng_uniform(&s) < 0.5;
    /* Exact scale factors of the rounded size, so the corners map onto the corners. */
    double fx = (double)W / sw, fy = (double)H / sh;
    size_t plane = (size_t)cw * ch;
    float norm_scale[3], norm_shift[3];
    for (int c = 0; c < 3; c++) {
        norm_scale[c] = 1.0f / (255.0f * o->std[c]);
        norm_shift[c] = o->mean[c] / o->std[c];
    }
    for (int oy = 0; oy < ch; oy++) {
        int sy = y0 + oy;
        double v = (sy + 0.5) * fy - 0.5;
        if (v < 0) v = 0;
        int v0 = (int)v;
        if (v0 > H - 1) v0 = H - 1;
        int v1 = v0 + 1 < H ? v0 + 1 : H - 1;
        float wv = (float)(v - v0);
        int ly = (int)((sy + 0.5) * fy);
        if (ly > H - 1) ly = H - 1;
        for (int ox = 0; ox < cw; ox++) {
            int sx = x0 + (flip ? cw - 1 - ox : ox);
            size_t o_i = (size_t)oy * cw + ox;
            if (sx < 0 || sx >= sw || sy < 0 || sy >= sh) {
                for (int c = 0; c < 3; c++) x[c * plane + o_i] = 0.0f; /* the mean colour */
                if (y) y[o_i] = o->ignore;
                continue;
            }
            double u = (sx + 0.5) * fx - 0.5;
            if (u < 0) u = 0;
            int u0 = (int)u;
            if (u0 > W - 1) u0 = W - 1;
            int u1 = u0 + 1 < W ? u0 + 1 : W - 1;
            float wu = (float)(u - u0);
            const uint8_t *p00 = img->rgb + 3 * ((size_t)v0 * W + u0);
            const uint8_t *p01 = img->rgb + 3 * ((size_t)v0 * W + u1);
            const uint8_t *p10 = img->rgb + 3 * ((size_t)v1 * W + u0);
            const uint8_t *p11 = img->rgb + 3 * ((size_t)v1 * W + u1);
            for (int c = 0; c < 3; c++) {
                float top = p00[c] + (p01[c] - p00[c]) * wu;
                float bot = p10[c] + (p11[c] - p10[c]) * wu;
                float pix = top + (bot - top) * wv;
                x[c * plane + o_i] = pix * norm_scale[c] - norm_shift[c];
            }
            if (y && labels) {
                int lx = (int)((sx + 0.5) * fx);
                if (lx > W - 1) lx = W - 1;
                y[o_i] = labels[(size_t)ly * W + lx];
            }
        }
    }
}
