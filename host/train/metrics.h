/* metrics.h - segmentation metrics from a confusion matrix summed over a whole set: per-class
   IoU, mean IoU, global pixel accuracy and mean class accuracy. */
#ifndef CLSEG_METRICS_H
#define CLSEG_METRICS_H

#include <stdint.h>
#include <stdio.h>

#include "core/common.h"

typedef struct confusion {
    int classes;
    int ignore;  /* ground-truth label left out of everything (-1 = none) */
    uint64_t *m; /* [classes][classes]: row = ground truth, column = prediction */
} confusion;

clseg_status confusion_init(confusion *c, int classes, int ignore);
void confusion_free(confusion *c);
void confusion_reset(confusion *c);
/* Adds n pixels. Ground truth equal to ignore or outside [0, classes) is skipped (predictions come
   from an argmax over the model's classes, so they are always in range). */
void confusion_add(confusion *c, const uint8_t *truth, const uint8_t *pred, size_t n);

typedef struct seg_metrics {
    int classes; /* scored classes = every class but the ignore one */
    double miou; /* mean over scored classes with a defined IoU (TP + FP + FN > 0), in % */
    double pixel_accuracy;      /* correct / labelled, in % */
    double mean_class_accuracy; /* mean over scored classes present in the truth of TP / truth */
    double iou[256];            /* per class, in %; NaN when undefined or the ignore class */
    double accuracy[256];       /* per class recall, in %; NaN when the class is absent */
    uint64_t labelled;
} seg_metrics;

void confusion_metrics(const confusion *c, seg_metrics *out);

/* Writes the JSON report of `clseg eval` (keys documented in docs/training.md). class_names has
   c->classes entries. */
void metrics_write_json(FILE *f, const confusion *c, const seg_metrics *m,
                        const char (*class_names)[64], int images, double ms_per_image,
                        const char *model, const char *device);

#endif
