/* fold.c - folds inference BatchNorm into the preceding conv / deconv: w' = w * g / sqrt(v + eps),
   b' = (b - mean) * g / sqrt(v + eps) + beta, per output channel. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fold.h"

static const model_tensor *find(const clseg_model *m, const char *layer, const char *suffix) {
    char name[MODEL_TENSOR_NAME_MAX + 32];
    snprintf(name, sizeof name, "%s.%s", layer, suffix);
    return model_find_tensor(m, name);
}

clseg_status fold_layer(const clseg_model *m, int li, int cin, int cout, float **weight,
                        float **bias, char *err, size_t errlen) {
    const spec_layer *L = &m->spec.layers[li];
    size_t kk = (size_t)L->size * (size_t)L->size;
    size_t wcount = (size_t)cin * (size_t)cout * kk;
    const model_tensor *w = find(m, L->name, "weight");
    const model_tensor *b = L->bias ? find(m, L->name, "bias") : NULL;
    if (!w || w->count != wcount || (L->bias && (!b || b->count != (size_t)cout)))
        return clseg_fail(err, errlen, CLSEG_ERR_FORMAT, "layer %s: weights missing or mis-shaped",
                          L->name);
    float *fw = clseg_malloc(wcount * sizeof *fw), *fb = clseg_calloc((size_t)cout, sizeof *fb);
    if (!fw || !fb) {
        free(fw);
        free(fb);
        return clseg_fail(err, errlen, CLSEG_ERR_OUT_OF_MEMORY, "out of memory");
    }
    memcpy(fw, w->data, wcount * sizeof *fw);
    if (b) memcpy(fb, b->data, (size_t)cout * sizeof *fb);
    if (L->batchnorm) {
        const model_tensor *g = find(m, L->name, "bn.weight"), *be = find(m, L->name, "bn.bias");
        const model_tensor *mu = find(m, L->name, "bn.running_mean");
        const model_tensor *var = find(m, L->name, "bn.running_var");
        if (!g || !be || !mu || !var || g->count != (size_t)cout || be->count != (size_t)cout ||
            mu->count != (size_t)cout || var->count != (size_t)cout) {
            free(fw);
            free(fb);
            return clseg_fail(err, errlen, CLSEG_ERR_FORMAT,
                              "layer %s: BatchNorm tensors missing or mis-shaped", L->name);
        }
        for (int o = 0; o < cout; o++) {
            float scale = g->data[o] / sqrtf(var->data[o] + L->bn_eps);
            fb[o] = (fb[o] - mu->data[o]) * scale + be->data[o];
            if (L->type == LAYER_CONV) {
                for (size_t i = 0; i < (size_t)cin * kk; i++) fw[(size_t)o * cin * kk + i] *= scale;
            } else { /* deconv: [cin][cout][k][k] */
                for (int c = 0; c < cin; c++)
                    for (size_t i = 0; i < kk; i++) fw[((size_t)c * cout + o) * kk + i] *= scale;
            }
        }
    }
    *weight = fw;
    *bias = fb;
    return CLSEG_OK;
}
