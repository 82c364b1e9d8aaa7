/* test_soak.c - many segmentations in one process, at sizes that alternate (so activations are
   freed and re-allocated at every call): host memory (RSS) and the net's device memory stay
   flat after a warm-up, and each size's label map stays the same. $CLSEG_SOAK_ITERS sets the
   number of segmentations (default 2000; docs/reliability.md records a long run). */
/* ctest-api: public (only include/clseg*.h, linked against the library as users link it) */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clseg.h"
#include "public_check.h"

#define RSS_SLACK (4u << 20) /* bytes RSS may move after warm-up (malloc's own bookkeeping) */

/* Resident set size in bytes, from /proc/self/statm (0 where there is none). */
static uint64_t rss_bytes(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size = 0, resident = 0;
    if (!f) return 0;
    int n = fscanf(f, "%lu %lu", &size, &resident);
    fclose(f);
    return n == 2 ? (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE) : 0;
}

static uint64_t fnv1a(const uint8_t *p, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

typedef struct size_case {
    int w, h;
    uint8_t *rgb, *labels;
    uint64_t label_hash;   /* of the first segmentation at this size */
    uint64_t device_bytes; /* clseg_net_device_bytes after it */
} size_case;

int main(void) {
    const char *env = getenv("CLSEG_SOAK_ITERS");
    long iters = env && *env ? strtol(env, NULL, 10) : 2000;
    if (iters < 20) iters = 20;
    size_case sizes[] = {
        {.w = 64, .h = 48}, {.w = 38, .h = 24}, {.w = 50, .h = 50}, {.w = 18, .h = 62}};
    int n_sizes = (int)(sizeof sizes / sizeof *sizes);
    /* Every layer type in a few channels, so each size change re-plans every kind of op (even
       sizes: the network upsamples a half-size map back). */
    const char *spec = CLSEG_SOURCE_DIR "/tests/fixtures/soak.cfg";
    char err[1024];
    clseg_model_init_options mo;
    clseg_model_init_options_init(&mo);
    mo.classes = 5;
    mo.seed = 7;
    clseg_model *model = NULL;
    clseg_status st = clseg_model_init(&model, spec, &mo, err, sizeof err);
    CHECK(st == CLSEG_OK, "clseg_model_init: %s", err);
    clseg_context_options co;
    clseg_context_options_init(&co);
    co.tuning_db = "";
    clseg_context *ctx = NULL;
    if (st == CLSEG_OK) st = clseg_context_create(&ctx, &co, err, sizeof err);
    CHECK(st == CLSEG_OK, "clseg_context_create: %s", err);
    clseg_net *net = NULL;
    if (st == CLSEG_OK) st = clseg_net_create(&net, ctx, model);
    CHECK(st == CLSEG_OK, "clseg_net_create: %s", clseg_context_error(ctx));
    if (st != CLSEG_OK) goto done;
    printf("device: %s; %ld segmentations\n", clseg_context_device(ctx)->name, iters);

    for (int s = 0; s < n_sizes; s++) {
        size_t px = (size_t)sizes[s].w * sizes[s].h;
        sizes[s].rgb = malloc(px * 3);
        sizes[s].labels = malloc(px);
        if (!sizes[s].rgb || !sizes[s].labels) {
            CHECK(0, "out of memory");
            goto done;
        }
        for (size_t i = 0; i < px * 3; i++) sizes[s].rgb[i] = (uint8_t)(i * 2654435761u >> 13);
    }

    /* Warm-up: every size a few times (kernels compiled, the scratch buffer grown, malloc's
       arenas filled); then the baseline. */
    long warmup = iters / 10 > 4L * n_sizes ? iters / 10 : 4L * n_sizes;
    uint64_t rss0 = 0, rss_max = 0, scratch0 = 0;
    double t0 = clseg_now_ms();
    for (long it = 0; it < iters; it++) {
        size_case *c = &sizes[it % n_sizes];
        st = clseg_net_segment(net, c->rgb, c->w, c->h, c->labels);
        if (st != CLSEG_OK) {
            CHECK(0, "segmentation %ld (%dx%d): %s", it, c->w, c->h, clseg_context_error(ctx));
            break;
        }
        uint64_t hash = fnv1a(c->labels, (size_t)c->w * c->h);
        uint64_t dev = clseg_net_device_bytes(net);
        clseg_memory_stats ms;
        clseg_net_memory_stats(net, &ms);
        if (it < n_sizes) {
            c->label_hash = hash;
            c->device_bytes = dev;
        } else {
            CHECK(hash == c->label_hash, "segmentation %ld (%dx%d): labels changed", it, c->w,
                  c->h);
            CHECK(dev == c->device_bytes,
                  "segmentation %ld (%dx%d): device bytes %" PRIu64 ", first %" PRIu64, it, c->w,
                  c->h, dev, c->device_bytes);
        }
        if (it == warmup) {
            rss0 = rss_max = rss_bytes();
            scratch0 = ms.scratch_bytes;
        } else if (it > warmup) {
            uint64_t rss = rss_bytes();
            if (rss > rss_max) rss_max = rss;
            CHECK(ms.scratch_bytes == scratch0,
                  "segmentation %ld: scratch %" PRIu64 " bytes, %" PRIu64 " after warm-up", it,
                  ms.scratch_bytes, scratch0);
        }
        if (failures > 20) break;
    }
    double ms_total = clseg_now_ms() - t0;
    uint64_t rss_end = rss_bytes();
    printf("%.1f ms per segmentation; RSS after warm-up %.1f MiB, highest %.1f MiB, at the end "
           "%.1f MiB (growth %+.2f MiB, allowed %.0f)\n",
           ms_total / (double)iters, rss0 / 1048576.0, rss_max / 1048576.0, rss_end / 1048576.0,
           ((double)rss_max - (double)rss0) / 1048576.0, RSS_SLACK / 1048576.0);
    for (int s = 0; s < n_sizes; s++)
        printf("  %dx%d: device bytes %" PRIu64 "\n", sizes[s].w, sizes[s].h,
               sizes[s].device_bytes);
    CHECK(rss0 > 0, "no RSS reading from /proc/self/statm");
    CHECK(rss_max <= rss0 + RSS_SLACK, "RSS grew by %.2f MiB after warm-up",
          ((double)rss_max - (double)rss0) / 1048576.0);

done:
    for (int s = 0; s < n_sizes; s++) {
        free(sizes[s].rgb);
        free(sizes[s].labels);
    }
    clseg_net_free(net);
    clseg_context_free(ctx);
    clseg_model_free(model);
    return check_finish("test_soak");
}
