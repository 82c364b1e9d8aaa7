/* metrics.c - confusion matrix accumulation, the metrics derived from it and their JSON. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

clseg_status confusion_init(confusion *c, int classes, int ignore) {
    memset(c, 0, sizeof *c);
    if (classes < 1 || classes > 256) return CLSEG_ERR_INVALID_ARGUMENT;
    c->m = clseg_calloc((size_t)classes * classes, sizeof *c->m);
    if (!c->m) return CLSEG_ERR_OUT_OF_MEMORY;
    c->classes = classes;
    c->ignore = ignore;
    return CLSEG_OK;
}

void confusion_free(confusion *c) {
    free(c->m);
    memset(c, 0, sizeof *c);
}

void confusion_reset(confusion *c) {
    memset(c->m, 0, (size_t)c->classes * c->classes * sizeof *c->m);
}

void confusion_add(confusion *c, const uint8_t *truth, const uint8_t *pred, size_t n) {
    const int k = c->classes;
    for (size_t i = 0; i < n; i++) {
        int t = truth[i], p = pred[i];
        if (t >= k || t == c->ignore || p >= k) continue;
        c->m[(size_t)t * k + p]++;
    }
}

void confusion_metrics(const confusion *c, seg_metrics *out) {
    const int k = c->classes;
    memset(out, 0, sizeof *out);
    uint64_t correct = 0;
    double iou_sum = 0, acc_sum = 0;
    int iou_n = 0, acc_n = 0;
    for (int t = 0; t < k; t++) {
        out->iou[t] = out->accuracy[t] = NAN;
        if (t == c->ignore) continue;
        out->classes++;
        uint64_t tp = c->m[(size_t)t * k + t], row = 0, col = 0;
        for (int j = 0; j < k; j++) {
            row += c->m[(size_t)t * k + j];
            if (j != c->ignore) col += c->m[(size_t)j * k + t];
        }
        correct += tp;
        out->labelled += row;
        uint64_t uni = row + col - tp;
        if (uni) {
            out->iou[t] = 100.0 * (double)tp / (double)uni;
            iou_sum += out->iou[t];
            iou_n++;
        }
        if (row) {
            out->accuracy[t] = 100.0 * (double)tp / (double)row;
            acc_sum += out->accuracy[t];
            acc_n++;
        }
    }
    out->miou = iou_n ? iou_sum / iou_n : 0;
    out->mean_class_accuracy = acc_n ? acc_sum / acc_n : 0;
    out->pixel_accuracy = out->labelled ? 100.0 * (double)correct / (double)out->labelled : 0;
}

static void json_string(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

static void json_number(FILE *f, double v) {
    if (isfinite(v))
        fprintf(f, "%.4f", v);
    else
        fputs("null", f);
}

void metrics_write_json(FILE *f, const confusion *c, const seg_metrics *m,
                        const char (*class_names)[64], int images, double ms_per_image,
                        const char *model, const char *device) {
    const int k = c->classes;
    fputs("{\n  \"model\": ", f);
    json_string(f, model ? model : "");
    fputs(",\n  \"device\": ", f);
    json_string(f, device ? device : "");
    fprintf(f, ",\n  \"images\": %d,\n  \"ignore_index\": %d,\n  \"miou\": ", images, c->ignore);
    json_number(f, m->miou);
    fputs(",\n  \"pixel_accuracy\": ", f);
    json_number(f, m->pixel_accuracy);
    fputs(",\n  \"mean_class_accuracy\": ", f);
    json_number(f, m->mean_class_accuracy);
    fprintf(f, ",\n  \"labelled_pixels\": %llu,\n  \"ms_per_image\": ",
            (unsigned long long)m->labelled);
    json_number(f, ms_per_image);
    fputs(",\n  \"per_class_iou\": {", f);
    int first = 1;
    for (int t = 0; t < k; t++) {
        if (t == c->ignore) continue;
        fputs(first ? "\n    " : ",\n    ", f);
        first = 0;
        json_string(f, class_names[t]);
        fputs(": ", f);
        json_number(f, m->iou[t]);
    }
    fputs("\n  },\n  \"per_class_accuracy\": {", f);
    first = 1;
    for (int t = 0; t < k; t++) {
        if (t == c->ignore) continue;
        fputs(first ? "\n    " : ",\n    ", f);
        first = 0;
        json_string(f, class_names[t]);
        fputs(": ", f);
        json_number(f, m->accuracy[t]);
    }
    fputs("\n  },\n  \"classes\": [", f);
    for (int t = 0; t < k; t++) {
        if (t) fputs(", ", f);
        json_string(f, class_names[t]);
    }
    fputs("],\n  \"confusion\": [", f);
    for (int t = 0; t < k; t++) {
        fputs(t ? ",\n    [" : "\n    [", f);
        for (int j = 0; j < k; j++)
            fprintf(f, "%s%llu", j ? ", " : "", (unsigned long long)c->m[(size_t)t * k + j]);
        fputc(']', f);
    }
    fputs("\n  ]\n}\n", f);
}
