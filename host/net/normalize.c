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

clseg_status clseg_model_normalize_rgb(const clseg_model *model, const uint8_t *rgb, int width,
                                       int height, float *chw) {
    if (!model || !rgb || !chw || width < 1 || height < 1 || model->channels != 3)
        return CLSEG_ERR_INVALID_ARGUMENT;
    net_normalize_rgb(rgb, width, height, model->mean, model->std, chw);
    return CLSEG_OK;
}
