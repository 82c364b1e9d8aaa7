/* segment_example.c - segmenting an image through the public API alone (built in CI). */
#include <stdio.h>
#include <stdlib.h>

#include <clseg.h>
#include <clseg_image.h>

/* usage: segment_example MODEL.clsm [WIDTH HEIGHT]
          segment_example MODEL.clsm IMAGE.png OUT.png
   Segments a synthetic road-like RGB frame (or IMAGE.png, writing its colour-coded label map to
   OUT.png) and prints how many pixels each class got. */
int main(int argc, char **argv) {
    char *end = NULL;
    long size_arg = argc == 4 ? strtol(argv[2], &end, 10) : 0;
    int from_png = argc == 4 && (end == argv[2] || *end);
    if (argc != 2 && argc != 4) {
        fprintf(stderr, "usage: %s MODEL.clsm [WIDTH HEIGHT | IMAGE.png OUT.png]\n", argv[0]);
        return 2;
    }
    char err[1024];
    uint8_t *rgb = NULL, *labels = NULL, *colours = NULL, *palette = NULL;
    int w = 160, h = 120;
    if (from_png) {
        if (clseg_image_load_png(argv[2], 0, &rgb, &w, &h, err, sizeof err) != CLSEG_OK) {
            fprintf(stderr, "image: %s\n", err);
            return 1;
        }
    } else {
        if (argc == 4) w = (int)size_arg, h = atoi(argv[3]);
        if (w < 1 || h < 1 || w > 8192 || h > 8192) {
            fprintf(stderr, "bad size\n");
            return 2;
        }
        rgb = malloc((size_t)w * h * 3);
        for (int y = 0; rgb && y < h; y++) /* grey sky above, darker road below */
            for (int x = 0; x < w; x++) {
                uint8_t *p = rgb + ((size_t)y * w + x) * 3;
                p[0] = p[1] = p[2] = (uint8_t)(y < h / 2 ? 200 : 90);
            }
    }
    clseg_model *model = NULL;
    clseg_context *ctx = NULL;
    clseg_net *net = NULL;
    int rc = 1;
    if (clseg_model_load(&model, argv[1], err, sizeof err) != CLSEG_OK) {
        fprintf(stderr, "model: %s\n", err);
        goto out;
    }
    if (clseg_context_create(&ctx, NULL, err, sizeof err) != CLSEG_OK) {
        fprintf(stderr, "context: %s\n", err);
        goto out;
    }
    labels = malloc((size_t)w * h);
    if (!rgb || !labels) goto out;
    clseg_status st = clseg_net_create(&net, ctx, model);
    if (st == CLSEG_OK) st = clseg_net_segment(net, rgb, w, h, labels);
    if (st != CLSEG_OK) {
        fprintf(stderr, "%s: %s\n", clseg_status_str(st), clseg_context_error(ctx));
        goto out;
    }
    int k = clseg_model_num_classes(model);
    if (from_png) { /* colour every pixel with its class's palette entry */
        palette = malloc((size_t)k * 3);
        colours = malloc((size_t)w * h * 3);
        if (!palette || !colours) goto out;
        for (int c = 0; c < k; c++)
            for (int j = 0; j < 3; j++) palette[3 * c + j] = clseg_model_class_color(model, c)[j];
        st = clseg_image_colorize(labels, w, h, palette, k, colours, err, sizeof err);
        if (st == CLSEG_OK) st = clseg_image_save_png_rgb(argv[3], colours, w, h, err, sizeof err);
        if (st != CLSEG_OK) {
            fprintf(stderr, "%s: %s\n", clseg_status_str(st), err);
            goto out;
        }
    }
    size_t *count = calloc((size_t)k, sizeof *count);
    if (!count) goto out;
    for (size_t i = 0; i < (size_t)w * h; i++)
        if (labels[i] < k) count[labels[i]]++;
    printf("%dx%d on %s\n", w, h, clseg_context_device(ctx)->name);
    for (int c = 0; c < k; c++)
        if (count[c]) printf("  %-12s %zu px\n", clseg_model_class_name(model, c), count[c]);
    free(count);
    rc = 0;
out:
    if (from_png)
        clseg_free(rgb); /* clseg_image_load_png's buffer */
    else
        free(rgb);
    free(labels);
    free(colours);
    free(palette);
    clseg_net_free(net);
    clseg_context_free(ctx);
    clseg_model_free(model);
    return rc;
}
