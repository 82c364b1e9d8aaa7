/* dataset.c - image / label directory listing, label validation and label statistics. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "dataset.h"

#define DATASET_MAX_FILES 1000000

static int is_png_name(const char *name) {
    size_t n = strlen(name);
    return n > 4 && name[0] != '.' && strcasecmp(name + n - 4, ".png") == 0;
}

static int cmp_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *join(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = clseg_malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, name);
    return p;
}

void dataset_free(dataset *ds) {
    if (!ds) return;
    for (int i = 0; i < ds->count; i++) free(ds->names[i]);
    free(ds->names);
    free(ds->image_dir);
    free(ds->label_dir);
    memset(ds, 0, sizeof *ds);
}

clseg_status dataset_open(dataset *ds, const char *image_dir, const char *label_dir, char *err,
                          size_t errlen) {
    memset(ds, 0, sizeof *ds);
    if (!image_dir)
        return clseg_fail(err, errlen, CLSEG_ERR_INVALID_ARGUMENT, "no image directory");
    DIR *d = opendir(image_dir);
    if (!d) return clseg_fail(err, errlen, CLSEG_ERR_IO, "%s: cannot open directory", image_dir);
    clseg_status st = CLSEG_OK;
    int cap = 0;
    struct dirent *e;
    while (st == CLSEG_OK && (e = readdir(d)) != NULL) {
        if (!is_png_name(e->d_name)) continue;
        if (ds->count >= DATASET_MAX_FILES) {
            st = clseg_fail(err, errlen, CLSEG_ERR_TOO_LARGE, "%s: more than %d images", image_dir,
                            DATASET_MAX_FILES);
            break;
        }
        if (ds->count == cap) {
            cap = cap ? cap * 2 : 256;
            char **p = clseg_realloc(ds->names, (size_t)cap * sizeof *p);
            if (!p) {
                st = clseg_fail(err, errlen, CLSEG_ERR_OUT_OF_MEMORY, "out of memory");
                break;
            }
            ds->names = p;
        }
        ds->names[ds->count] = clseg_strdup(e->d_name);
        if (!ds->names[ds->count])
            st = clseg_fail(err, errlen, CLSEG_ERR_OUT_OF_MEMORY, "out of memory");
        else
            ds->count++;
    }
    closedir(d);
    if (st == CLSEG_OK && ds->count == 0)
        st = clseg_fail(err, errlen, CLSEG_ERR_IO, "%s: no .png images", image_dir);
    if (st == CLSEG_OK) {
        qsort(ds->names, (size_t)ds->count, sizeof *ds->names, cmp_names);
        ds->image_dir = clseg_strdup(image_dir);
        ds->label_dir = label_dir ? clseg_strdup(label_dir) : NULL;
        if (!ds->image_dir || (label_dir && !ds->label_dir))
            st = clseg_fail(err, errlen, CLSEG_ERR_OUT_OF_MEMORY, "out of memory");
    }
    for (int i = 0; st == CLSEG_OK && label_dir && i < ds->count; i++) {
        char *path = join(label_dir, ds->names[i]);
        struct stat sb;
        if (!path)
            st = clseg_fail(err, errlen, CLSEG_ERR_OUT_OF_MEMORY, "out of memory");
        else if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
            st = clseg_fail(err, errlen, CLSEG_ERR_IO, "%s: missing (label of %s/%s)", path,
                            image_dir, ds->names[i]);
        free(path);
    }
    if (st != CLSEG_OK) dataset_free(ds);
    return st;
}

/* Loads a label PNG into one byte per pixel, checking it is gray and within range. */
static clseg_status load_labels(const char *path, int width, int height, int classes, int ignore,
                                uint8_t **out, char *err, size_t errlen) {
    image_rgb lab = {0};
    clseg_status st = image_load_png(path, 0, &lab, err, errlen);
    if (st != CLSEG_OK) return st;
    if (lab.width != width || lab.height != height) {
        st = clseg_fail(err, errlen, CLSEG_ERR_FORMAT, "%s: labels are %dx%d, the image %dx%d",
                        path, lab.width, lab.height, width, height);
        image_rgb_free(&lab);
        return st;
    }
    size_t n = (size_t)width * height;
    uint8_t *l = clseg_malloc(n);
    if (!l) {
        image_rgb_free(&lab);
        return clseg_fail(err, errlen, CLSEG_ERR_OUT_OF_MEMORY, "out of memory");
    }
    for (size_t i = 0; i < n && st == CLSEG_OK; i++) {
        const uint8_t *p = lab.rgb + 3 * i;
        if (p[0] != p[1] || p[0] != p[2])
            st = clseg_fail(err, errlen, CLSEG_ERR_FORMAT,
                            "%s: not a gray label map (pixel %zu,%zu is %u,%u,%u); labels are "
                            "8-bit gray class indices",
                            path, i % (size_t)width, i / (size_t)width, p[0], p[1], p[2]);
        else if (p[0] >= classes && p[0] != ignore)
            st = clseg_fail(err, errlen, CLSEG_ERR_FORMAT,
                            "%s: label %u at pixel %zu,%zu is not a class (0..%d) nor the ignore "
                            "index",
                            path, p[0], i % (size_t)width, i / (size_t)width, classes - 1);
        l[i] = p[0];
    }
    image_rgb_free(&lab);
    if (st != CLSEG_OK) {
        free(l);
        return st;
    }
    *out = l;
    return CLSEG_OK;
}

clseg_status dataset_load(const dataset *ds, int i, int classes, int ignore, image_rgb *img,
                          uint8_t **labels, char *err, size_t errlen) {
    memset(img, 0, sizeof *img);
    if (labels) *labels = NULL;
    if (i < 0 || i >= ds->count)
        return clseg_fail(err, errlen, CLSEG_ERR_INVALID_ARGUMENT, "no image %d", i);
    char *path = join(ds->image_dir, ds->names[i]);
    if (!path) return clseg_fail(err, errlen, CLSEG_ERR_OUT_OF_MEMORY, "out of memory");
    clseg_status st = image_load_png(path, 0, img, err, errlen);
    free(path);
    if (st != CLSEG_OK || !labels || !ds->label_dir) return st;
    path = join(ds->label_dir, ds->names[i]);
    if (!path) st = clseg_fail(err, errlen, CLSEG_ERR_OUT_OF_MEMORY, "out of memory");
    if (st == CLSEG_OK)
        st = load_labels(path, img->width, img->height, classes, ignore, labels, err, errlen);
    free(path);
    if (st != CLSEG_OK) image_rgb_free(img);
    return st;
}

clseg_status dataset_class_stats(const dataset *ds, int classes, int ignore, uint64_t *counts,
                                 uint64_t *present, char *err, size_t errlen) {
    if (!ds->label_dir)
        return clseg_fail(err, errlen, CLSEG_ERR_INVALID_ARGUMENT, "no label directory");
    memset(counts, 0, (size_t)classes * sizeof *counts);
    memset(present, 0, (size_t)classes * sizeof *present);
    uint64_t *here = clseg_calloc((size_t)classes, sizeof *here);
    if (!here) return clseg_fail(err, errlen, CLSEG_ERR_OUT_OF_MEMORY, "out of memory");
    clseg_status st = CLSEG_OK;
    for (int i = 0; st == CLSEG_OK && i < ds->count; i++) {
        char *path = join(ds->label_dir, ds->names[i]);
        image_rgb lab = {0};
        uint8_t *l = NULL;
        if (!path) {
            st = clseg_fail(err, errlen, CLSEG_ERR_OUT_OF_MEMORY, "out of memory");
            break;
        }
        /* The image itself is not needed: take the size from the label file. */
        st = image_load_png(path, 0, &lab, err, errlen);
        if (st == CLSEG_OK)
            st = load_labels(path, lab.width, lab.height, classes, ignore, &l, err, errlen);
        if (st == CLSEG_OK) {
            size_t n = (size_t)lab.width * lab.height, labelled = 0;
            memset(here, 0, (size_t)classes * sizeof *here);
            for (size_t p = 0; p < n; p++)
                if (l[p] < classes && l[p] != ignore) here[l[p]]++, labelled++;
            for (int c = 0; c < classes; c++) {
                counts[c] += here[c];
                if (here[c]) present[c] += labelled;
            }
        }
        image_rgb_free(&lab);
        free(l);
        free(path);
    }
    free(here);
    return st;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void class_weights_median_freq(const uint64_t *counts, const uint64_t *present, int classes,
                               float *weights) {
    double freq[256], sorted[256];
    int n = 0;
    for (int c = 0; c < classes && c < 256; c++) {
        freq[c] = present[c] && counts[c] ? (double)counts[c] / (double)present[c] : 0.0;
        if (freq[c] > 0) sorted[n++] = freq[c];
    }
    double median = 0;
    if (n) {
        qsort(sorted, (size_t)n, sizeof *sorted, cmp_double);
        median = n % 2 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
    }
    for (int c = 0; c < classes; c++)
        weights[c] = c < 256 && freq[c] > 0 ? (float)(median / freq[c]) : 0.0f;
}
