/* augment.c - shuffling and the single-pass scale + crop + flip + colour-jitter resampler. */
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

static int clamp_int(int v, int lo, int hi) {
    return v < lo ? lo : v > hi ? hi : v;
}

static float luma(float r, float g, float b) {
    return 0.299f * r + 0.587f * g + 0.114f * b;
}

static float mean_luma(const image_rgb *img) {
    double sum = 0;
    size_t n = (size_t)img->width * img->height;
    for (size_t i = 0; i < n; i++)
        sum += luma(img->rgb[3 * i], img->rgb[3 * i + 1], img->rgb[3 * i + 2]);
    return n ? (float)(sum / (double)n) : 0;
}

/* Brightness, then contrast around the (brightened) image mean, then saturation around the
   pixel's own grey (torchvision's ColorJitter order), clamped to the 8-bit range. */
static void jitter_pixel(float *pix, float gain, float contrast, float sat, float grey_mean) {
    for (int c = 0; c < 3; c++) pix[c] = grey_mean + (pix[c] * gain - grey_mean) * contrast;
    float grey = luma(pix[0], pix[1], pix[2]);
    for (int c = 0; c < 3; c++) {
        float v = grey + (pix[c] - grey) * sat;
        pix[c] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
}

/* A pixel of a class drawn uniformly from the classes present (the ignore label excluded), drawn
   uniformly among that class's pixels. 0 when no pixel is labelled. */
static int pick_class_pixel(const uint8_t *labels, int W, int H, int ignore, uint64_t *s, int *px,
                            int *py) {
    size_t count[256] = {0}, n = (size_t)W * H;
    for (size_t i = 0; i < n; i++) count[labels[i]]++;
    if (ignore >= 0 && ignore < 256) count[ignore] = 0;
    int present = 0;
    for (int c = 0; c < 256; c++) present += count[c] > 0;
    if (!present) return 0;
    int pick = (int)(rng_uniform(s) * present), cls = 0;
    for (int c = 0; c < 256; c++)
        if (count[c] > 0 && pick-- == 0) {
            cls = c;
            break;
        }
    size_t k = (size_t)(rng_uniform(s) * (double)count[cls]);
    for (size_t i = 0; i < n; i++)
        if (labels[i] == cls && k-- == 0) {
            *px = (int)(i % (size_t)W);
            *py = (int)(i / (size_t)W);
            return 1;
        }
    return 0;
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
    /* Draws below happen only when their option is on, so runs without them keep their streams. */
    if (o->class_crop > 0 && labels && rng_uniform(&s) < o->class_crop) {
        int px, py;
        if (pick_class_pixel(labels, W, H, o->ignore, &s, &px, &py)) {
            double cx = (px + 0.5) * sw / W, cy = (py + 0.5) * sh / H;
            if (sw >= cw) x0 = clamp_int((int)floor(cx - rng_uniform(&s) * cw), 0, sw - cw);
            if (sh >= ch) y0 = clamp_int((int)floor(cy - rng_uniform(&s) * ch), 0, sh - ch);
        }
    }
    float gain = 1, contrast = 1, sat = 1, grey_mean = 0;
    int colour = o->jitter[0] > 0 || o->jitter[1] > 0 || o->jitter[2] > 0;
    if (colour) {
        gain = 1 + o->jitter[0] * (float)(2 * rng_uniform(&s) - 1);
        contrast = 1 + o->jitter[1] * (float)(2 * rng_uniform(&s) - 1);
        sat = 1 + o->jitter[2] * (float)(2 * rng_uniform(&s) - 1);
        grey_mean = gain * mean_luma(img);
    }
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
            float pix[3];
            for (int c = 0; c < 3; c++) {
                float top = p00[c] + (p01[c] - p00[c]) * wu;
                float bot = p10[c] + (p11[c] - p10[c]) * wu;
                pix[c] = top + (bot - top) * wv;
            }
            if (colour) jitter_pixel(pix, gain, contrast, sat, grey_mean);
            for (int c = 0; c < 3; c++) x[c * plane + o_i] = pix[c] * norm_scale[c] - norm_shift[c];
            if (y && labels) {
                int lx = (int)((sx + 0.5) * fx);
                if (lx > W - 1) lx = W - 1;
                y[o_i] = labels[(size_t)ly * W + lx];
            }
        }
    }
}
