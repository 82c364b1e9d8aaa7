/* evaluate.h - runs a network over an image/label directory pair and sums the confusion matrix
   (shared by `clseg eval` and the trainer's validation). */
#ifndef CLSEG_EVALUATE_H
#define CLSEG_EVALUATE_H

#include "dataset.h"
#include "metrics.h"

typedef void (*eval_progress_fn)(void *user, int done, int total);

/* Segments every image of ds with net (running on ctx) and adds it to cm (whose classes must be the
   model's). *segment_ms receives the summed time of the segment calls (upload, forward, argmax,
   download). progress may be NULL. */
clseg_status evaluate_dataset(clseg_context *ctx, clseg_net *net, const dataset *ds, confusion *cm,
                              double *segment_ms, eval_progress_fn progress, void *user, char *err,
                              size_t errlen);

#endif
