/* fold.h - the inference weights of a layer: BatchNorm folded into the conv weights and bias. */
#ifndef CLSEG_FOLD_H
#define CLSEG_FOLD_H

#include "model.h"

/* For conv/deconv layer `li` of model m with cin input and cout output channels, allocates and
   returns the folded weight (the layer's own layout) and bias [cout]. */
clseg_status fold_layer(const clseg_model *m, int li, int cin, int cout, float **weight,
                        float **bias, char *err, size_t errlen);

#endif
