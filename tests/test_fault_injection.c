/* test_fault_injection.c - fails each OpenCL call, then each host allocation, of a whole
   load-model / create-net / segment / save-PNG run in turn and checks that every run ends in a
   clean status, frees what it made, and leaves no output file (docs/reliability.md). */
/* Default sweeps (about a minute per device under ASan): every OpenCL call and every allocation
   of a run that loads its programs from a warm binary cache, plus every call specific to
   building from source (no cache) and to storing binaries (cold cache). CLSEG_FAULT_EXHAUSTIVE=1
   fails every call and allocation of all three kinds of run (several minutes under ASan). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/image.h"
#include "net/model.h"
#include "testutil.h"

#ifndef CLSEG_FAULT_INJECTION
int main(void) {
    printf("test_fault_injection: skipped (configure with -DCLSEG_FAULT_INJECTION=ON)\n");
    return 0;
}
#else

#define IMG_W 37
#define IMG_H 29

static char dir[64];        /* scratch directory of this test */
static char model_path[96]; /* tiny.cfg with 5 classes, He-initialised */
static char input_path[96]; /* IMG_W x IMG_H gradient */
static char output_path[96];
static int verbose; /* CLSEG_FAULT_VERBOSE=1: one line per failed call */

/* Off: no binary cache, programs are built from source; cold: a fresh cache per run, so they
   are built and stored; warm: one filled beforehand, so they are loaded from binaries. */
typedef enum cache_mode { CACHE_OFF, CACHE_COLD, CACHE_WARM } cache_mode;
static const char *const cache_mode_names[] = {"off", "cold", "warm"};

typedef struct outcome {
    clseg_status status;
    const char *failed_call; /* the OpenCL function that was failed */
    char message[512];
    uint8_t labels[IMG_W * IMG_H];
} outcome;

/* Removes every file in path (flat) and, if rmdir_too, the directory. */
static void clear_dir(const char *path, int rmdir_too) {
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        char p[512];
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.') continue;
            snprintf(p, sizeof p, "%s/%s", path, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    if (rmdir_too) rmdir(path);
}

/* Files in the scratch directory whose name starts with prefix. */
static int count_files(const char *prefix) {
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
    if (d) closedir(d);
    return n;
}

static long file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* The run under test: everything between reading the inputs and writing the output. */
static void run(const char *device, const char *cache_dir, outcome *o) {
    image_rgb img = {0, 0, NULL};
    clseg_model *model = NULL;
    clseg_context *ctx = NULL;
    clseg_net *net = NULL;
    uint8_t *colours = NULL;
    char *msg = o->message;
    size_t len = sizeof o->message;
    msg[0] = 0;
    memset(o->labels, 0xff, sizeof o->labels);

    clseg_status st = image_load_png(input_path, 0, &img, msg, len);
    if (st == CLSEG_OK) st = clseg_model_load(&model, model_path, msg, len);
    if (st == CLSEG_OK) {
        clseg_context_options opts = {CLSEG_CONTEXT_OPTIONS_INIT, .device = device,
                                      .cache_dir = cache_dir, .disable_cache = cache_dir == NULL};
        st = clseg_context_create(&ctx, &opts, msg, len);
    }
    if (st == CLSEG_OK) {
        st = clseg_net_create(&net, ctx, model);
        if (st == CLSEG_OK) st = clseg_net_segment(net, img.rgb, img.width, img.height, o->labels);
        if (st != CLSEG_OK) snprintf(msg, len, "%s", clseg_context_error(ctx));
    }
    if (st == CLSEG_OK) {
        colours = clseg_malloc((size_t)IMG_W * IMG_H * 3);
        if (!colours) st = clseg_fail(msg, len, CLSEG_ERR_OUT_OF_MEMORY, "out of memory");
    }
    if (st == CLSEG_OK) {
        st = clseg_image_colorize(o->labels, IMG_W, IMG_H, model->palette[0], model->classes,
                                  colours, msg, len);
        if (st == CLSEG_OK)
            st = clseg_image_save_png_rgb(output_path, colours, IMG_W, IMG_H, msg, len);
    }
    free(colours);
    clseg_net_free(net);
    clseg_context_free(ctx);
    clseg_model_free(model);
    image_rgb_free(&img);
    o->status = st;
}

typedef enum hook { HOOK_CL, HOOK_ALLOC } hook;

/* only: count just the calls of this OpenCL function (NULL = all). */
static void arm(hook h, const char *only, long n) {
    if (h == HOOK_CL)
        fault_cl_arm(only, n, CL_OUT_OF_RESOURCES);
    else
        fault_alloc_arm(n);
}

static long calls(hook h) {
    return h == HOOK_CL ? fault_cl_count() : fault_alloc_count();
}

/* One run with the nth call failing (0 = none) in a fresh or the shared cache directory. */
static void run_armed(hook h, const char *only, long n, const char *device, cache_mode mode,
                      outcome *o, long *count) {
    char cache[128];
    snprintf(cache, sizeof cache, "%s/%s", dir, cache_mode_names[mode]);
    if (mode != CACHE_OFF) mkdir(cache, 0755);
    long live_before = fault_cl_live_objects();
    arm(h, only, n);
    run(device, mode == CACHE_OFF ? NULL : cache, o);
    *count = calls(h);
    o->failed_call = h == HOOK_CL ? fault_cl_failed_call() : "allocation";
    arm(h, NULL, 0);
    long leaked = fault_cl_live_objects() - live_before;
    CHECK(leaked == 0, "%s %s cache, failing call %ld (%s): %ld OpenCL objects not released",
          h == HOOK_CL ? "OpenCL" : "alloc", cache_mode_names[mode], n,
          o->failed_call ? o->failed_call : "-", leaked);
    if (mode == CACHE_COLD) clear_dir(cache, 1);
}

/* Fails call 1 .. total of hook h in turn; a failed run must report a status other than OK (or
   be identical to the clean run when the failed call was optional) and leave no output. */
static void sweep(hook h, const char *only, const char *device, cache_mode mode) {
    const char *what = h == HOOK_CL ? (only ? only : "OpenCL call") : "allocation";
    outcome *clean = calloc(1, sizeof *clean), *o = calloc(1, sizeof *o);
    long total = 0, count = 0;
    unlink(output_path);
    run_armed(h, only, 0, device, mode, clean, &total);
    CHECK(clean->status == CLSEG_OK, "clean run: %s", clean->message);
    long out_size = file_size(output_path);
    int failed = 0, optional = 0, by_status[CLSEG_STATUS_COUNT] = {0};
    double t0 = clseg_now_ms();
    for (long n = 1; clean->status == CLSEG_OK && n <= total; n++) {
        unlink(output_path);
        run_armed(h, only, n, device, mode, o, &count);
        const char *call = o->failed_call ? o->failed_call : "?";
        CHECK(count >= n && o->failed_call, "%s %ld was never made (%ld made)", what, n, count);
        if (verbose)
            printf("  %s %ld (%s): %s: %s\n", what, n, call, clseg_status_str(o->status),
                   o->message);
        if (o->status == CLSEG_OK) {
            optional++;
            CHECK(memcmp(o->labels, clean->labels, sizeof o->labels) == 0 &&
                      file_size(output_path) == out_size,
                  "%s %ld (%s) failed, status OK, but the result differs", what, n, call);
        } else {
            failed++;
            by_status[o->status]++;
            CHECK(o->status != CLSEG_ERR_INTERNAL && o->status != CLSEG_ERR_INVALID_ARGUMENT,
                  "%s %ld (%s): status %s: %s", what, n, call, clseg_status_str(o->status),
                  o->message);
            CHECK(h != HOOK_ALLOC || o->status == CLSEG_ERR_OUT_OF_MEMORY,
                  "allocation %ld failed but the status is %s: %s", n, clseg_status_str(o->status),
                  o->message);
            CHECK(o->message[0] != 0, "%s %ld (%s): no message", what, n, call);
            CHECK(file_size(output_path) < 0, "%s %ld (%s): output file written", what, n, call);
        }
        CHECK(count_files("out.png.tmp") == 0, "%s %ld (%s): temporary file left", what, n, call);
    }
    printf("%-4s %-26s cache %-4s: %4ld calls; %4d failed cleanly, %3d optional (result "
           "unchanged); %.0f ms per run",
           device, what, cache_mode_names[mode], total, failed, optional,
           total ? (clseg_now_ms() - t0) / (double)total : 0.0);
    for (int s = 1; s < CLSEG_STATUS_COUNT; s++)
        if (by_status[s]) printf("; %s %d", clseg_status_str((clseg_status)s), by_status[s]);
    printf("\n");
    fflush(stdout);
    free(clean);
    free(o);
}

static int setup(void) {
    snprintf(dir, sizeof dir, "/tmp/clseg_fault_XXXXXX");
    if (!mkdtemp(dir)) return 0;
    snprintf(model_path, sizeof model_path, "%s/tiny.clsm", dir);
    snprintf(input_path, sizeof input_path, "%s/in.png", dir);
    snprintf(output_path, sizeof output_path, "%s/out.png", dir);
    uint8_t *spec_text = NULL;
    size_t spec_len = 0;
    char err[512];
    clseg_model *m = NULL;
    clseg_status st = clseg_read_file(CLSEG_SOURCE_DIR "/tests/fixtures/cli/tiny.cfg", 1 << 20,
                                      &spec_text, &spec_len, err, sizeof err);
    if (st == CLSEG_OK)
        st = model_init((const char *)spec_text, 5, 11, NULL, NULL, &m, err, sizeof err);
    if (st == CLSEG_OK) st = model_save(m, model_path, err, sizeof err);
    clseg_model_free(m);
    free(spec_text);
    uint8_t rgb[IMG_W * IMG_H * 3];
    for (int i = 0; i < IMG_W * IMG_H * 3; i++) rgb[i] = (uint8_t)(i * 37 + i / 111);
    if (st == CLSEG_OK)
        st = clseg_image_save_png_rgb(input_path, rgb, IMG_W, IMG_H, err, sizeof err);
    CHECK(st == CLSEG_OK, "setup: %s", err);
    return st == CLSEG_OK;
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0); /* progress survives a sanitizer abort */
    if (!setup()) return tu_finish("test_fault_injection");
    clseg_device_info *devs = NULL;
    size_t n = 0;
    clseg_devices_list(&devs, &n);
    const char *sel = getenv("CLSEG_DEVICE"), *ex = getenv("CLSEG_FAULT_EXHAUSTIVE");
    int tested = 0, exhaustive = ex && strcmp(ex, "1") == 0;
    verbose = getenv("CLSEG_FAULT_VERBOSE") && strcmp(getenv("CLSEG_FAULT_VERBOSE"), "1") == 0;
    for (size_t i = 0; i < n; i++) {
        char device[32], err[512];
        size_t pick;
        if (sel && *sel &&
            (device_select(devs, n, sel, &pick, err, sizeof err) != CLSEG_OK || pick != i))
            continue;
        snprintf(device, sizeof device, "%d:%d", devs[i].platform_index, devs[i].device_index);
        printf("device %s: %s\n", device, devs[i].name);
        outcome *warmup = calloc(1, sizeof *warmup);
        long count;
        run_armed(HOOK_CL, NULL, 0, device, CACHE_WARM, warmup, &count); /* fills the cache */
        free(warmup);
        sweep(HOOK_CL, NULL, device, CACHE_WARM);
        sweep(HOOK_ALLOC, NULL, device, CACHE_WARM);
        if (exhaustive) {
            for (cache_mode m = CACHE_OFF; m <= CACHE_COLD; m++) {
                sweep(HOOK_CL, NULL, device, m);
                sweep(HOOK_ALLOC, NULL, device, m);
            }
        } else {
            /* What a warm run does not do: build from source, and store binaries (which clseg
               leaves to PoCL's own cache unless that is off: off here, so that the store is
               swept on PoCL too). */
            sweep(HOOK_CL, "clCreateProgramWithSource", device, CACHE_OFF);
            sweep(HOOK_CL, "clBuildProgram", device, CACHE_OFF);
            const char *pocl_cache = getenv("POCL_KERNEL_CACHE");
            char *saved = pocl_cache ? strdup(pocl_cache) : NULL;
            setenv("POCL_KERNEL_CACHE", "0", 1);
            sweep(HOOK_CL, "clCreateKernelsInProgram", device, CACHE_COLD);
            sweep(HOOK_CL, "clGetProgramInfo", device, CACHE_COLD);
            if (saved)
                setenv("POCL_KERNEL_CACHE", saved, 1);
            else
                unsetenv("POCL_KERNEL_CACHE");
            free(saved);
        }
        char warm[128];
        snprintf(warm, sizeof warm, "%s/warm", dir);
        clear_dir(warm, 1);
        tested++;
    }
    clseg_free(devs);
    CHECK(tested > 0, "no OpenCL device to test on");
    clear_dir(dir, 1);
    return tu_finish("test_fault_injection");
}
#endif
