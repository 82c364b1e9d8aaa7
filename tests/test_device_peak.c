/* test_device_peak.c - the roofline micro-kernels run briefly on every device and give finite,
   positive figures; a full measurement is cached and read back; misuse is refused. No timing
   thresholds: the figures depend on the machine and its load. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clseg_tune.h"
#include "testutil.h"

static void quick(clseg_context *ctx) {
    clseg_peak_options o;
    clseg_peak_options_init(&o);
    o.quick = 1;
    clseg_device_peak p;
    CHECK_OK(clseg_device_peak_measure(ctx, &o, &p));
    CHECK(isfinite(p.gflops) && p.gflops > 0, "gflops %g", p.gflops);
    CHECK(isfinite(p.gbs) && p.gbs > 0, "gbs %g", p.gbs);
    CHECK(p.vector_width >= 1 && p.vector_width <= 16, "vector width %d", p.vector_width);
    CHECK(!p.from_cache, "a quick measurement is never cached");
}

/* A full measurement is stored in cache_dir, and the next call reads it back unchanged. */
static void cached(clseg_context *ctx) {
    char dir[] = "/tmp/clseg-test-peak-XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    clseg_peak_options o;
    clseg_peak_options_init(&o);
    o.cache_dir = dir;
    clseg_device_peak a, b;
    CHECK_OK(clseg_device_peak_measure(ctx, &o, &a));
    CHECK(!a.from_cache && a.gflops > 0 && a.gbs > 0, "first call measures");
    CHECK_OK(clseg_device_peak_measure(ctx, &o, &b));
    CHECK(b.from_cache, "second call reads the cache");
    CHECK(fabs(b.gflops - a.gflops) <= 1e-5 * a.gflops && fabs(b.gbs - a.gbs) <= 1e-5 * a.gbs,
          "cached %g/%g vs measured %g/%g", b.gflops, b.gbs, a.gflops, a.gbs);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0, "%s", cmd);
}

static void misuse(clseg_context *ctx) {
    clseg_device_peak p;
    clseg_peak_options o;
    memset(&o, 0, sizeof o);
    CHECK(clseg_device_peak_measure(NULL, NULL, &p) == CLSEG_ERR_INVALID_ARGUMENT, "NULL ctx");
    CHECK(clseg_device_peak_measure(ctx, NULL, NULL) == CLSEG_ERR_INVALID_ARGUMENT, "NULL out");
    CHECK(clseg_device_peak_measure(ctx, &o, &p) == CLSEG_ERR_INVALID_ARGUMENT,
          "uninitialised options");
    CHECK(strstr(clseg_context_error(ctx), "struct_size") != NULL, "error text: %s",
          clseg_context_error(ctx));
}

int main(void) {
    clseg_context **ctxs;
    int n_ctx = tu_contexts(&ctxs);
    for (int d = 0; d < n_ctx; d++) {
        quick(ctxs[d]);
        misuse(ctxs[d]);
        if (d == 0) cached(ctxs[d]); /* about a second per device: one is enough */
    }
    tu_contexts_free(ctxs, n_ctx);
    return tu_finish("test_device_peak");
}
