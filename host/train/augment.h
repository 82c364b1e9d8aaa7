/* augment.h - seeded shuffling and augmentation (scale jitter, random or
   class-balanced crop, horizontal flip, colour jitter) of
   one training sample into the network's normalised input. */
#ifndef CLSEG_AUGMENT_H
#define CLSEG_AUGMENT_H

#include <stdint.h>

#include "core/common.h"
#include "io/image.h"

/* splitmix64: tiny, and identical on every platform, so a seed means the same run anywhere. */
static inline uint64_t rng_next(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
/* Uniform in [0, 1). */
static inline double rng_uniform(uint64_t *state) {
    return (double)(rng_next(state) >> 11) * (1.0 / 9007199254740992.0);
}
/* A stream seed derived from (seed, a, b): every random choice of the trainer is a pure function
   of the run's seed and its position, so resuming needs no generator state beyond the position. */
uint64_t rng_stream(uint64_t seed, uint64_t a, uint64_t b);

/* The order of the `count` samples in epoch `epoch` (Fisher-Yates). */
void shuffle_epoch(uint64_t seed, int epoch, int count, int *order);

typedef struct augment_opts {
    int crop_w, crop_h;         /* output size */
    float scale_min, scale_max; /* scale jitter; 1, 1 = none */
    int flip;                   /* 1 = random horizontal flip */
    int ignore;                 /* label of padding pixels (outside the scaled image) */
    float mean[3], std[3];      /* the model's normalisation */
    float jitter[3];            /* colour jitter: brightness, contrast, saturation; 0 = none */
    float class_crop;           /* probability of centring the crop on a class-balanced pixel */
} augment_opts;

/* Scales img/labels by s ~ U[scale_min, scale_max] (bilinear for the image, nearest for the
   labels, pixel centres aligned as in align_corners=False), takes a random crop_w x crop_h window
   (padding with the mean colour and `ignore` where the scaled image is smaller), flips it with
   probability 1/2, and writes planar normalised floats x[3][crop_h][crop_w] and int32 labels
   y[crop_h][crop_w]. With probability class_crop (and labels), the window is placed so that it
   holds a random pixel of a class drawn uniformly from those present, so small classes (poles,
   signs) are seen as often as large ones. Colour jitter multiplies brightness, contrast (around
   the image's mean luminance) and saturation by factors drawn from [1 - j, 1 + j]. All choices come
   from rng_stream(seed, epoch, sample). labels may be NULL (y is then ignored). */
void augment_sample(const image_rgb *img, const uint8_t *labels, const augment_opts *o,
                    uint64_t stream, float *x, int32_t *y);

#endif
