/* evaluate.h - runs a network over an image/label directory pair and scores it (behind clseg_eval
   and the training session's validation). */
#ifndef CLSEG_EVALUATE_H
#define CLSEG_EVALUATE_H

#include "clseg_train.h"
#include "dataset.h"
#include "metrics.h"

/* Segments every image of ds with net (created on ctx from model) and returns the metrics of the
   confusion matrix summed over the set, ignore excluded (free with clseg_metrics_free).
   progress may be NULL. With a reducer (may be NULL) of size N, this rank scores the images
   rank, rank + N, ... and the metrics are those of the whole set, on every rank; a rank that
   fails still joins the sum, so every rank stops (the others with "another rank failed"). */
clseg_status evaluate_dataset(clseg_context *ctx, clseg_net *net, const clseg_model *model,
                              const dataset *ds, int ignore, const clseg_reducer *reducer,
                              clseg_eval_progress_fn progress, void *user, clseg_metrics **out,
                              char *err, size_t errlen);

#endif
