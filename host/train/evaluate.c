/* evaluate.c - whole-set evaluation through the public network API. */
#include <stdlib.h>

#include "evaluate.h"

clseg_status evaluate_dataset(clseg_context *ctx, clseg_net *net, const dataset *ds, confusion *cm,
                              double *segment_ms, eval_progress_fn progress, void *user, char *err,
                              size_t errlen) {
    *segment_ms = 0;
    for (int i = 0; i < ds->count; i++) {
        image_rgb img;
        uint8_t *labels = NULL, *pred = NULL;
        clseg_status st = dataset_load(ds, i, cm->classes, cm->ignore, &img, &labels, err, errlen);
        if (st != CLSEG_OK) return st;
        pred = clseg_malloc((size_t)img.width * img.height);
        if (!pred) {
            st = clseg_fail(err, errlen, CLSEG_ERR_OUT_OF_MEMORY, "out of memory");
        } else {
            double t0 = clseg_now_ms();
            st = clseg_net_segment(net, img.rgb, img.width, img.height, pred);
            *segment_ms += clseg_now_ms() - t0;
            if (st != CLSEG_OK)
                clseg_fail(err, errlen, st, "%s: %s", ds->names[i], clseg_context_error(ctx));
        }
        if (st == CLSEG_OK) confusion_add(cm, labels, pred, (size_t)img.width * img.height);
        image_rgb_free(&img);
        free(labels);
        free(pred);
        if (st != CLSEG_OK) return st;
        if (progress) progress(user, i + 1, ds->count);
    }
    return CLSEG_OK;
}
