/* normalize.c - the model's input normalisation of 8-bit RGB pixels. */
#include "exec.h"

void net_normalize_rgb(const uint8_t *rgb, int width, int height, const float *mean,
                       const float *std, float *chw) {
    size_t plane = (size_t)width * (size_t)height;
    for (int c = 0; c < 3; c++) {
        float scale = 1.0f / (255.0f * std[c]), shift = mean[c] / std[c];
        float *dst = chw + (size_t)c * plane;
        for (size_t i = 0; i < plane; i++) dst[i] = rgb[i * 3 + c] * scale - shift;
    }
}
