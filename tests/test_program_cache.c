/* test_program_cache.c - the on-disk program binary cache: a first context compiles and stores,
   a second loads from the cache, and truncated, bit-flipped, foreign or garbage entries are
   detected and rebuilt, never trusted; a driver that caches programs itself (PoCL) is left to do
   so unless its cache is off; a broken kernel source yields CLSEG_ERR_BUILD and a log. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "device/program.h"
#include "testutil.h"

static int list_entries(const char *dir, char names[][512], int max) {
    DIR *d = opendir(dir);
    int n = 0;
    if (!d) return 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < max)
        if (strstr(e->d_name, ".clbin") && !strstr(e->d_name, ".tmp"))
            snprintf(names[n++], 512, "%s/%s", dir, e->d_name);
    closedir(d);
    return n;
}

/* Builds program "pool" in a fresh context on device `sel`; returns its startup stats and, when
   info is not NULL, what the context says about that program. */
static clseg_startup_stats build_info(const char *sel, const char *dir, clseg_status *st_out,
                                      clseg_program_info *info) {
    clseg_context *ctx = NULL;
    clseg_context_options o = {CLSEG_CONTEXT_OPTIONS_INIT, .device = sel, .cache_dir = dir};
    clseg_startup_stats s = {0};
    char err[512];
    *st_out = clseg_context_create(&ctx, &o, err, sizeof err);
    if (*st_out != CLSEG_OK) return s;
    cl_kernel k;
    *st_out = ctx_kernel(ctx, "pool", NULL, "maxpool2d", &k);
    clseg_context_startup_stats(ctx, &s);
    if (info) {
        CHECK(clseg_context_program_count(ctx) == 1, "one program listed, not %d",
              clseg_context_program_count(ctx));
        CHECK_OK(clseg_context_program_get(ctx, 0, info));
        CHECK(clseg_context_program_get(ctx, 1, info + 1) == CLSEG_ERR_INVALID_ARGUMENT,
              "a program past the end");
    }
    clseg_context_free(ctx);
    return s;
}

static clseg_startup_stats build_once(const char *sel, const char *dir, clseg_status *st_out) {
    return build_info(sel, dir, st_out, NULL);
}

static void damage(const char *path, int how) {
    uint8_t *data;
    size_t size;
    if (clseg_read_file(path, 1u << 30, &data, &size, NULL, 0) != CLSEG_OK) return;
    FILE *f = fopen(path, "wb");
    if (how == 0) fwrite(data, 1, size / 2, f); /* truncated */
    if (how == 1) {                             /* one bit flipped in the binary */
        data[size - 100] ^= 0x10;
        fwrite(data, 1, size, f);
    }
    if (how == 2) fwrite("garbage", 1, 7, f); /* not an entry at all */
    if (how == 3) {                           /* a valid entry for another key */
        data[20] ^= 0x01;                     /* inside the stored key string */
        fwrite(data, 1, size, f);
    }
    fclose(f);
    free(data);
}

int main(void) {
    clseg_context **ctxs;
    int n = tu_contexts(&ctxs);
    for (int d = 0; d < n; d++) {
        char sel[32], dir[] = "/tmp/clseg-cache-test-XXXXXX";
        snprintf(sel, sizeof sel, "%d:%d", ctxs[d]->info.platform_index,
                 ctxs[d]->info.device_index);
        CHECK(mkdtemp(dir) != NULL, "mkdtemp");
        clseg_status st;
        /* PoCL keeps programs in its own cache: clseg's stays empty (reading a binary back would
           compile every kernel of the program); with PoCL's cache off, clseg's is used. */
        const char *pocl_cache = getenv("POCL_KERNEL_CACHE");
        char *saved = pocl_cache ? strdup(pocl_cache) : NULL;
        unsetenv("POCL_KERNEL_CACHE");
        clseg_program_info pi[2];
        int driver = strstr(clseg_context_program_cache(ctxs[d]), "own cache") != NULL;
        if (driver) {
            clseg_startup_stats s = build_info(sel, dir, &st, pi);
            char none[8][512];
            CHECK(st == CLSEG_OK && s.programs_built == 1 && pi[0].origin == CLSEG_PROGRAM_DRIVER &&
                      !strcmp(pi[0].name, "pool") && pi[0].ms > 0,
                  "driver-cached program: built %d, origin %d, %s", s.programs_built,
                  (int)pi[0].origin, pi[0].name);
            CHECK(list_entries(dir, none, 8) == 0, "no clseg cache entry beside the driver's");
            setenv("POCL_KERNEL_CACHE", "0", 1);
        }
        clseg_startup_stats cold = build_info(sel, dir, &st, pi);
        CHECK(st == CLSEG_OK && pi[0].origin == CLSEG_PROGRAM_COMPILED, "cold origin %d",
              (int)pi[0].origin);
        CHECK(st == CLSEG_OK && cold.programs_built == 1 && cold.programs_from_cache == 0,
              "cold: built %d cached %d", cold.programs_built, cold.programs_from_cache);
        char names[8][512];
        int entries = list_entries(dir, names, 8);
        CHECK(entries == 1, "one cache entry written, found %d", entries);
        clseg_startup_stats warm = build_info(sel, dir, &st, pi);
        CHECK(st == CLSEG_OK && warm.programs_from_cache == 1 && warm.programs_built == 0 &&
                  pi[0].origin == CLSEG_PROGRAM_FROM_CACHE,
              "warm: built %d cached %d", warm.programs_built, warm.programs_from_cache);
        printf("%s: cold %.1f ms, warm %.1f ms\n", ctxs[d]->info.name, cold.build_ms,
               warm.cache_load_ms);
        for (int how = 0; how < 4 && entries == 1; how++) {
            damage(names[0], how);
            clseg_startup_stats s = build_once(sel, dir, &st);
            CHECK(st == CLSEG_OK && s.programs_built == 1 && s.programs_from_cache == 0,
                  "damage %d: rebuilt %d, from cache %d", how, s.programs_built,
                  s.programs_from_cache);
            s = build_once(sel, dir, &st); /* the rebuild replaced the bad entry */
            CHECK(st == CLSEG_OK && s.programs_from_cache == 1, "damage %d: entry rewritten", how);
        }
        /* CLSEG_NO_CACHE: nothing read or written */
        setenv("CLSEG_NO_CACHE", "1", 1);
        clseg_startup_stats s = build_once(sel, dir, &st);
        CHECK(st == CLSEG_OK && s.programs_built == 1 && s.programs_from_cache == 0,
              "CLSEG_NO_CACHE ignored the cache");
        unsetenv("CLSEG_NO_CACHE");
        if (saved)
            setenv("POCL_KERNEL_CACHE", saved, 1);
        else
            unsetenv("POCL_KERNEL_CACHE");
        free(saved);

        /* A kernel that does not compile: a status and the build log, no crash. */
        char kdir[] = "/tmp/clseg-kdir-XXXXXX";
        CHECK(mkdtemp(kdir) != NULL, "mkdtemp");
        char path[600], prelude[600];
        snprintf(prelude, sizeof prelude, "%s/prelude.cl", kdir); /* every program's start */
        FILE *f = fopen(prelude, "w");
        fputs("#define UNUSED_PRELUDE_MACRO 1\n", f);
        fclose(f);
        snprintf(path, sizeof path, "%s/pool.cl", kdir);
        f = fopen(path, "w");
        fputs("__kernel void maxpool2d(__global float *x) { x[0] = undeclared_thing; }\n", f);
        fclose(f);
        clseg_context *ctx = NULL;
        clseg_context_options o = {CLSEG_CONTEXT_OPTIONS_INIT, .device = sel, .kernel_dir = kdir,
                                   .disable_cache = 1};
        CHECK_OK(clseg_context_create(&ctx, &o, NULL, 0));
        if (ctx) {
            cl_kernel k;
            st = ctx_kernel(ctx, "pool", NULL, "maxpool2d", &k);
            CHECK(st == CLSEG_ERR_BUILD, "broken kernel gave %s", clseg_status_str(st));
            CHECK(strstr(clseg_context_error(ctx), "pool") != NULL, "error names the program: %s",
                  clseg_context_error(ctx));
            CHECK(strlen(clseg_context_build_log(ctx)) > 0, "build log is empty");
            printf("build error: %s\n", clseg_context_error(ctx));
            clseg_context_free(ctx);
        }
        /* A kernel directory without the prelude: every program needs it, and the error says so. */
        unlink(prelude);
        ctx = NULL;
        CHECK_OK(clseg_context_create(&ctx, &o, NULL, 0));
        if (ctx) {
            cl_kernel k;
            st = ctx_kernel(ctx, "pool", NULL, "maxpool2d", &k);
            CHECK(st != CLSEG_OK, "no prelude.cl in the kernel directory gave %s",
                  clseg_status_str(st));
            CHECK(strstr(clseg_context_error(ctx), "prelude.cl") != NULL,
                  "error names the missing prelude: %s", clseg_context_error(ctx));
            printf("missing prelude: %s\n", clseg_context_error(ctx));
            clseg_context_free(ctx);
        }
        unlink(path);
        rmdir(kdir);
        char names2[8][512];
        int m = list_entries(dir, names2, 8);
        for (int i = 0; i < m; i++) unlink(names2[i]);
        rmdir(dir);
    }
    tu_contexts_free(ctxs, n);
    return tu_finish("program_cache");
}
