/* dataset.h - training and evaluation data: a directory of RGB PNGs and a directory of label
   PNGs (8-bit gray class indices) with the same file names. */
#ifndef CLSEG_DATASET_H
#define CLSEG_DATASET_H

#include <stdint.h>

#include "core/common.h"
#include "io/image.h"

typedef struct dataset {
    char *image_dir, *label_dir; /* label_dir may be NULL (images only) */
    char **names;                /* file names (no directory), sorted by strcmp */
    int count;
} dataset;

/* Lists every *.png (any case) in image_dir, sorted; with label_dir, each must have a label file
   of the same name there. An empty directory is an error. */
clseg_status dataset_open(dataset *ds, const char *image_dir, const char *label_dir, char *err,
                          size_t errlen);
void dataset_free(dataset *ds);

/* Loads image i and (when the set has labels and labels != NULL) its label map: *labels gets
   width*height bytes (free()). The label PNG must match the image size and be gray (R = G = B);
   every value must be < classes or equal to ignore (ignore < 0: none). */
clseg_status dataset_load(const dataset *ds, int i, int classes, int ignore, image_rgb *img,
                          uint8_t **labels, char *err, size_t errlen);

/* Label-only pass over every file: pixel count per class (counts[classes]) and the number of
   pixels of the images in which each class appears (present[classes]), ignore excluded. */
clseg_status dataset_class_stats(const dataset *ds, int classes, int ignore, uint64_t *counts,
                                 uint64_t *present, char *err, size_t errlen);

/* Median frequency balancing (Eigen & Fergus; SegNet): freq[c] = counts[c] / present[c],
   weight[c] = median(freq over classes that appear) / freq[c]; classes that never appear (and
   the ignore class) get 0. */
void class_weights_median_freq(const uint64_t *counts, const uint64_t *present, int classes,
                               float *weights);

#endif
