/* test_segment_async.c - pipelined segmentation (clseg_net_segment_async / clseg_net_wait):
   frames finish in order with the labels clseg_net_segment gives, the caller's input may be
   reused at once, misuse is refused with a reason, and freeing a net with frames in flight
   writes nothing into their label buffers (which may be gone by then). */
/* ctest-api: public */
#include <stdlib.h>
#include <string.h>

#include "clseg.h"
#include "clseg_tune.h"
#include "public_check.h"

enum { W = 41, H = 27, FRAMES = 7 };

static void fill(uint8_t *rgb, int seed) {
    srand((unsigned)seed);
    for (int i = 0; i < W * H * 3; i++) rgb[i] = (uint8_t)(rand() & 255);
}

/* Submits FRAMES frames two deep, reusing one input buffer, and compares with the plain call. */
static void pipeline_matches_plain(clseg_net *net, clseg_context *ctx, const char *what) {
    static uint8_t want[FRAMES][W * H], got[FRAMES][W * H];
    uint8_t rgb[W * H * 3];
    for (int i = 0; i < FRAMES; i++) {
        fill(rgb, 100 + i);
        CHECK_STATUS_OK(clseg_net_segment(net, rgb, W, H, want[i]), clseg_context_error(ctx));
    }
    memset(got, 0xee, sizeof got);
    int next = 0, done = 0;
    for (; next < 2; next++) {
        fill(rgb, 100 + next);
        CHECK_STATUS_OK(clseg_net_segment_async(net, rgb, W, H, got[next]),
                        clseg_context_error(ctx));
    }
    CHECK(clseg_net_frames_in_flight(net) == 2, "%s: two in flight", what);
    while (done < FRAMES) {
        uint8_t *labels = NULL;
        CHECK_STATUS_OK(clseg_net_wait(net, &labels), clseg_context_error(ctx));
        CHECK(labels == got[done], "%s: frame %d finished in order", what, done);
        CHECK(memcmp(got[done], want[done], W * H) == 0, "%s: frame %d labels as segment()", what,
              done);
        done++;
        if (next < FRAMES) {
            fill(rgb, 100 + next);
            CHECK_STATUS_OK(clseg_net_segment_async(net, rgb, W, H, got[next]),
                            clseg_context_error(ctx));
            next++;
        }
    }
    uint8_t *labels = got[0];
    CHECK_STATUS_OK(clseg_net_wait(net, &labels), clseg_context_error(ctx));
    CHECK(labels == NULL && clseg_net_frames_in_flight(net) == 0, "%s: nothing left", what);
}

int main(void) {
    char err[1024];
    clseg_model *m = NULL;
    clseg_model_init_options mo = {CLSEG_MODEL_INIT_OPTIONS_INIT, .classes = 5, .seed = 4};
    CHECK_STATUS_OK(
        clseg_model_init(&m, CLSEG_SOURCE_DIR "/tests/fixtures/cli/tiny.cfg", &mo, err, sizeof err),
        err);
    clseg_context *ctx = NULL;
    clseg_context_options co = {CLSEG_CONTEXT_OPTIONS_INIT};
    if (m) CHECK_STATUS_OK(clseg_context_create(&ctx, &co, err, sizeof err), err);
    clseg_net *net = NULL;
    if (ctx) CHECK_STATUS_OK(clseg_net_create(&net, ctx, m), clseg_context_error(ctx));
    if (!net) return check_finish("test_segment_async");

    pipeline_matches_plain(net, ctx, "plain");
    CHECK_STATUS_OK(clseg_net_set_test_flip(net, 1), clseg_context_error(ctx));
    pipeline_matches_plain(net, ctx, "test flip");
    CHECK_STATUS_OK(clseg_net_set_test_flip(net, 0), clseg_context_error(ctx));

    /* Misuse: a third frame, another size, NULL buffers. */
    uint8_t rgb[W * H * 3], a[W * H], b[W * H], c[W * H];
    fill(rgb, 1);
    CHECK_STATUS_OK(clseg_net_segment_async(net, rgb, W, H, a), clseg_context_error(ctx));
    clseg_status st = clseg_net_segment_async(net, rgb, W - 2, H, b);
    CHECK(st == CLSEG_ERR_INVALID_ARGUMENT && strstr(clseg_context_error(ctx), "in flight"),
          "another size while a frame is in flight: %s", clseg_context_error(ctx));
    CHECK_STATUS_OK(clseg_net_segment_async(net, rgb, W, H, b), clseg_context_error(ctx));
    st = clseg_net_segment_async(net, rgb, W, H, c);
    CHECK(st == CLSEG_ERR_INVALID_ARGUMENT && strstr(clseg_context_error(ctx), "wait"),
          "a third frame: %s", clseg_context_error(ctx));
    CHECK(clseg_net_segment_async(net, NULL, W, H, c) == CLSEG_ERR_INVALID_ARGUMENT,
          "NULL rgb refused");
    CHECK(clseg_net_wait(NULL, NULL) == CLSEG_ERR_INVALID_ARGUMENT, "NULL net refused");
    uint8_t *labels = NULL;
    CHECK_STATUS_OK(clseg_net_wait(net, &labels), clseg_context_error(ctx));
    CHECK(labels == a, "the first frame first");

    /* Freed with frames in flight: their label buffers are left as they were. */
    memset(c, 0xab, sizeof c);
    CHECK_STATUS_OK(clseg_net_segment_async(net, rgb, W, H, c), clseg_context_error(ctx));
    clseg_net_free(net);
    int untouched = 1;
    for (int i = 0; i < W * H; i++) untouched &= c[i] == 0xab;
    CHECK(untouched, "freeing the net wrote into a frame's labels");
    clseg_context_free(ctx);
    clseg_model_free(m);
    return check_finish("test_segment_async");
}
