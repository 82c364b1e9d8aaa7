/* cmd_devices.c - `clseg devices`: what each OpenCL device offers a kernel selector, and how long
   compiling clseg's kernels takes on it cold and from the binary cache. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "clseg_tune.h"

static const char *type_name(clseg_device_type t) {
    switch (t) {
    case CLSEG_DEVICE_CPU:
        return "CPU";
    case CLSEG_DEVICE_GPU:
        return "GPU";
    case CLSEG_DEVICE_ACCELERATOR:
        return "accelerator";
    default:
        return "other";
    }
}

typedef struct startup_times {
    int ok, programs;
    double cold_ms, warm_ms;
} startup_times;

/* Builds every embedded program twice on a private cache: once compiled, once from binaries. */
static startup_times measure_startup(const clseg_device_info *d) {
    startup_times t = {0};
    char dir[] = "/tmp/clseg-startup-XXXXXX", sel[32];
    if (!mkdtemp(dir)) return t;
    snprintf(sel, sizeof sel, "%d:%d", d->platform_index, d->device_index);
    t.ok = 1;
    for (int pass = 0; pass < 2 && t.ok; pass++) {
        clseg_context *ctx;
        clseg_context_options o = {CLSEG_CONTEXT_OPTIONS_INIT, .device = sel, .cache_dir = dir};
        if (clseg_context_create(&ctx, &o, NULL, 0) != CLSEG_OK) {
            t.ok = 0;
            break;
        }
        double t0 = clseg_now_ms();
        if (clseg_context_build_all_programs(ctx, &t.programs) != CLSEG_OK) t.ok = 0;
        double ms = clseg_now_ms() - t0;
        if (pass == 0)
            t.cold_ms = ms;
        else
            t.warm_ms = ms;
        clseg_context_free(ctx);
    }
    cli_remove_dir(dir);
    return t;
}

static void json_str(const char *key, const char *v, int last) {
    printf("    \"%s\": \"", key);
    for (const char *p = v; *p; p++) {
        if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else if ((unsigned char)*p < 0x20)
            printf("\\u%04x", *p);
        else
            putchar(*p);
    }
    printf("\"%s\n", last ? "" : ",");
}

static void print_json(const clseg_device_info *d, const startup_times *t, int last) {
    printf("  {\n");
    printf("    \"selector\": \"%d:%d\",\n", d->platform_index, d->device_index);
    json_str("platform", d->platform_name, 0);
    json_str("platform_version", d->platform_version, 0);
    json_str("name", d->name, 0);
    json_str("vendor", d->vendor, 0);
    json_str("driver_version", d->driver_version, 0);
    json_str("opencl_c_version", d->opencl_c_version, 0);
    json_str("type", type_name(d->type), 0);
    printf("    \"vendor_id\": %u,\n    \"compute_units\": %u,\n    \"clock_mhz\": %u,\n",
           d->vendor_id, d->compute_units, d->clock_mhz);
    printf("    \"global_mem_bytes\": %llu,\n    \"local_mem_bytes\": %llu,\n",
           (unsigned long long)d->global_mem_bytes, (unsigned long long)d->local_mem_bytes);
    printf("    \"local_mem_type\": \"%s\",\n", d->local_mem_is_dedicated ? "local" : "global");
    printf("    \"max_alloc_bytes\": %llu,\n    \"max_work_group_size\": %zu,\n",
           (unsigned long long)d->max_alloc_bytes, d->max_work_group_size);
    printf("    \"max_work_item_sizes\": [%zu, %zu, %zu],\n", d->max_work_item_sizes[0],
           d->max_work_item_sizes[1], d->max_work_item_sizes[2]);
    printf("    \"preferred_vector_width_float\": %u,\n    \"preferred_vector_width_half\": %u,\n",
           d->preferred_vector_width_float, d->preferred_vector_width_half);
    printf("    \"native_vector_width_float\": %u,\n", d->native_vector_width_float);
    printf("    \"fp16\": %s,\n    \"fp64\": %s,\n    \"subgroups\": %s%s\n",
           d->has_fp16 ? "true" : "false", d->has_fp64 ? "true" : "false",
           d->has_subgroups ? "true" : "false", t ? "," : "");
    if (t) {
        if (t->ok)
            printf("    \"startup_ms\": {\"programs\": %d, \"cold\": %.1f, \"warm\": %.1f}\n",
                   t->programs, t->cold_ms, t->warm_ms);
        else
            printf("    \"startup_ms\": null\n");
    }
    printf("  }%s\n", last ? "" : ",");
}

static void print_text(const clseg_device_info *d, const startup_times *t) {
    printf("%d:%d  %s  [%s]\n", d->platform_index, d->device_index, d->name, type_name(d->type));
    printf("     platform        %s (%s)\n", d->platform_name, d->platform_version);
    printf("     vendor          %s (0x%x), driver %s, %s\n", d->vendor, d->vendor_id,
           d->driver_version, d->opencl_c_version);
    printf("     compute units   %u at %u MHz\n", d->compute_units, d->clock_mhz);
    printf("     global memory   %.1f MiB, max allocation %.1f MiB\n",
           d->global_mem_bytes / 1048576.0, d->max_alloc_bytes / 1048576.0);
    printf("     local memory    %.1f KiB (%s)\n", d->local_mem_bytes / 1024.0,
           d->local_mem_is_dedicated ? "dedicated" : "emulated in global memory");
    printf("     work-group      max %zu, item sizes %zu x %zu x %zu\n", d->max_work_group_size,
           d->max_work_item_sizes[0], d->max_work_item_sizes[1], d->max_work_item_sizes[2]);
    printf("     vector width    float preferred %u native %u, half preferred %u\n",
           d->preferred_vector_width_float, d->native_vector_width_float,
           d->preferred_vector_width_half);
    printf("     extensions      fp16 %s, fp64 %s, subgroups %s\n", d->has_fp16 ? "yes" : "no",
           d->has_fp64 ? "yes" : "no", d->has_subgroups ? "yes" : "no");
    if (t) {
        if (t->ok)
            printf("     start-up        %d kernel programs: cold compile %.0f ms, warm (binary "
                   "cache, or PoCL's own) %.0f ms\n",
                   t->programs, t->cold_ms, t->warm_ms);
        else
            printf("     start-up        kernels failed to build on this device\n");
    }
}

static void help(void) {
    printf("usage: clseg devices [--json] [--verbose]\n\n"
           "Lists every OpenCL platform and device with the properties clseg's kernel selector\n"
           "uses. The first column is the device's P:D selector for --device / CLSEG_DEVICE.\n\n"
           "  --json      machine-readable output (an array of objects)\n"
           "  --verbose   also compile all of clseg's kernels on each device and report the\n"
           "              cold (from source) and warm (from the binary cache; on PoCL, from\n"
           "              PoCL's own cache, which clseg leaves programs to) start-up times\n"
           "  -h, --help  this text\n");
}

int cmd_devices(int argc, char **argv) {
    int json = 0, verbose = 0, c;
    static const struct option opts[] = {{"json", no_argument, 0, 'j'},
                                         {"verbose", no_argument, 0, 'v'},
                                         {"timing", no_argument, 0, 'v'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "jvh", opts, NULL)) != -1) {
        if (c == 'j')
            json = 1;
        else if (c == 'v')
            verbose = 1;
        else if (c == 'h') {
            help();
            return EXIT_OK;
        } else
            return cli_usage_error("devices", "unknown option '%s'", argv[optind - 1]);
    }
    if (optind < argc) return cli_usage_error("devices", "unexpected argument '%s'", argv[optind]);
    clseg_device_info *devs;
    size_t n;
    clseg_status st = clseg_devices_list(&devs, &n);
    if (st != CLSEG_OK) return cli_error("cannot list OpenCL devices: %s", clseg_status_str(st));
    if (json)
        printf("[\n");
    else if (n == 0)
        printf("no OpenCL devices (install an ICD, e.g. pocl-opencl-icd; rusticl needs "
               "RUSTICL_ENABLE=llvmpipe)\n");
    for (size_t i = 0; i < n; i++) {
        startup_times t;
        if (verbose) t = measure_startup(&devs[i]);
        if (json)
            print_json(&devs[i], verbose ? &t : NULL, i + 1 == n);
        else
            print_text(&devs[i], verbose ? &t : NULL);
        fflush(stdout);
    }
    if (json) printf("]\n");
    clseg_free(devs);
    return EXIT_OK;
}
