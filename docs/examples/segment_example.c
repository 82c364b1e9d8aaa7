/* segment_example.c - segmenting an image buffer through the public API alone (built in CI). */
#include <stdio.h>
#include <stdlib.h>

#include <clseg.h>

/* usage: segment_example MODEL.clsm [WIDTH HEIGHT]
   Segments a synthetic road-like RGB frame and prints how many pixels each class got. */
int main(int argc, char **argv) {
    if (argc != 2 && argc != 4) {
        fprintf(stderr, "usage: %s MODEL.clsm [WIDTH HEIGHT]\n", argv[0]);
        return 2;
    }
    int w = argc == 4 ? atoi(argv[2]) : 160, h = argc == 4 ? atoi(argv[3]) : 120;
    if (w < 1 || h < 1 || w > 8192 || h > 8192) {
        fprintf(stderr, "bad size\n");
        return 2;
    }
    char err[1024];
    clseg_model *model = NULL;
    clseg_context *ctx = NULL;
    clseg_net *net = NULL;
    int rc = 1;
    if (clseg_model_load(&model, argv[1], err, sizeof err) != CLSEG_OK) {
        fprintf(stderr, "model: %s\n", err);
        return 1;
    }
    if (clseg_context_create(&ctx, NULL, err, sizeof err) != CLSEG_OK) {
        fprintf(stderr, "context: %s\n", err);
        clseg_model_free(model);
        return 1;
    }
    uint8_t *rgb = malloc((size_t)w * h * 3), *labels = malloc((size_t)w * h);
    if (!rgb || !labels) goto out;
    for (int y = 0; y < h; y++) /* grey sky above, darker road below */
        for (int x = 0; x < w; x++) {
            uint8_t *p = rgb + ((size_t)y * w + x) * 3;
            p[0] = p[1] = p[2] = (uint8_t)(y < h / 2 ? 200 : 90);
        }
    clseg_status st = clseg_net_create(&net, ctx, model);
    if (st == CLSEG_OK) st = clseg_net_segment(net, rgb, w, h, labels);
    if (st != CLSEG_OK) {
        fprintf(stderr, "%s: %s\n", clseg_status_str(st), clseg_context_error(ctx));
        goto out;
    }
    int k = clseg_model_num_classes(model);
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
    free(rgb);
    free(labels);
    clseg_net_free(net);
    clseg_context_free(ctx);
    clseg_model_free(model);
    return rc;
}
