/* fuzz_spec.c - libFuzzer target: the network spec parser, then channels, shapes and the
   execution plan of what parses, for a few class counts and input sizes. */
#include <stdlib.h>
#include <string.h>

#include "net/plan.h"
#include "net/spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    net_spec *spec = malloc(sizeof *spec);
    layer_step *steps = malloc(SPEC_MAX_LAYERS * sizeof *steps);
    shape4 *shapes = malloc(SPEC_MAX_LAYERS * sizeof *shapes);
    if (!text || !spec || !steps || !shapes) goto done;
    memcpy(text, data, size);
    text[size] = 0;
    char err[256];
    clseg_status st = spec_parse(text, spec, err, sizeof err);
    if (st != CLSEG_OK && !err[0]) __builtin_trap();
    if (st != CLSEG_OK) goto done;
    static const int classes[] = {1, 12, 255};
    static const shape4 inputs[] = {
        {1, 3, 1, 1}, {1, 3, 7, 5}, {2, 3, 64, 64}, {1, 3, 360, 480}, {1, 3, 32768, 32768}};
    int channels[SPEC_MAX_LAYERS];
    for (size_t k = 0; k < sizeof classes / sizeof *classes; k++) {
        if (spec_channels(spec, classes[k], channels, err, sizeof err) != CLSEG_OK) continue;
        for (size_t i = 0; i < sizeof inputs / sizeof *inputs; i++) {
            shape4 in = inputs[i];
            in.c = spec->input_channels;
            spec_shapes(spec, classes[k], in, shapes, err, sizeof err);
            net_plan(spec, classes[k], in, steps, err, sizeof err);
        }
    }
done:
    free(text);
    free(spec);
    free(steps);
    free(shapes);
    return 0;
}
