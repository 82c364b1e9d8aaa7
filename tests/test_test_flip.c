/* test_test_flip.c - test-time flip (the spec's test_flip, clseg_net_set_test_flip): the model's
   default is honoured, and a flipped segmentation is exactly mirror-symmetric: segmenting the
   mirror of an image gives the mirror of the image's label map, which a plain segmentation does
   not guarantee. */
/* ctest-api: public */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clseg.h"
#include "clseg_tune.h"
#include "public_check.h"

enum { W = 37, H = 23 };

static void mirror_rgb(const uint8_t *in, uint8_t *out) {
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            memcpy(out + 3 * (y * W + (W - 1 - x)), in + 3 * (y * W + x), 3);
}

static int mirrored(const uint8_t *a, const uint8_t *b) {
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            if (a[y * W + x] != b[y * W + (W - 1 - x)]) return 0;
    return 1;
}

int main(void) {
    char err[1024], spec_path[] = "/tmp/clseg_flip_XXXXXX";
    int fd = mkstemp(spec_path);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    CHECK(f != NULL, "temp spec file");
    if (!f) return check_finish("test_test_flip");
    /* tiny.cfg's shape with test_flip on */
    fputs("[net]\nname = flip\nchannels = 3\ntest_flip = 1\n"
          "[conv]\nname = enc1\nfilters = 6\nsize = 3\npad = 1\nbatchnorm = 1\nactivation = relu\n"
          "[maxpool]\nname = pool1\nsize = 2\nstride = 2\n"
          "[deconv]\nname = dec1\nfilters = 6\nsize = 3\nstride = 2\npad = 1\n"
          "output_size = data\nactivation = relu\n"
          "[conv]\nname = classifier\nfilters = classes\nsize = 3\npad = 1\nactivation = linear\n",
          f);
    fclose(f);
    clseg_model *m = NULL;
    clseg_model_init_options mo = {CLSEG_MODEL_INIT_OPTIONS_INIT, .classes = 5, .seed = 3};
    CHECK_STATUS_OK(clseg_model_init(&m, spec_path, &mo, err, sizeof err), err);
    unlink(spec_path);
    clseg_context *ctx = NULL;
    clseg_context_options co = {CLSEG_CONTEXT_OPTIONS_INIT};
    if (m) CHECK_STATUS_OK(clseg_context_create(&ctx, &co, err, sizeof err), err);
    clseg_net *net = NULL;
    if (ctx) CHECK_STATUS_OK(clseg_net_create(&net, ctx, m), clseg_context_error(ctx));
    if (!net) return check_finish("test_test_flip");
    CHECK(clseg_net_test_flip(net) == 1, "the spec's test_flip = 1 is the net's default");

    uint8_t rgb[W * H * 3], mir[W * H * 3], a[W * H], b[W * H];
    int plain_symmetric = 1;
    for (int seed = 0; seed < 6; seed++) {
        for (int i = 0; i < W * H * 3; i++)
            rgb[i] = (uint8_t)((i * 2654435761u + seed * 97u) >> 23);
        mirror_rgb(rgb, mir);
        CHECK_STATUS_OK(clseg_net_set_test_flip(net, 1), "set");
        CHECK_STATUS_OK(clseg_net_segment(net, rgb, W, H, a), clseg_context_error(ctx));
        CHECK_STATUS_OK(clseg_net_segment(net, mir, W, H, b), clseg_context_error(ctx));
        CHECK(mirrored(a, b), "seed %d: flipped segmentation is not mirror-symmetric", seed);
        CHECK_STATUS_OK(clseg_net_set_test_flip(net, 0), "set");
        CHECK_STATUS_OK(clseg_net_segment(net, rgb, W, H, a), clseg_context_error(ctx));
        CHECK_STATUS_OK(clseg_net_segment(net, mir, W, H, b), clseg_context_error(ctx));
        plain_symmetric &= mirrored(a, b);
        for (int i = 0; i < W * H; i++) CHECK(a[i] < 5, "label %d out of range", a[i]);
    }
    printf("plain segmentation mirror-symmetric on all 6 images: %s\n",
           plain_symmetric ? "yes" : "no");
    CHECK(clseg_net_test_flip(net) == 0, "clseg_net_set_test_flip(net, 0) sticks");
    clseg_net_free(net);
    clseg_context_free(ctx);
    clseg_model_free(m);
    return check_finish("test_test_flip");
}
