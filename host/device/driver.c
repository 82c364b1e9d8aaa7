/* driver.c - the table of OpenCL drivers' compiler traits that start-up and launch sizing use. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "driver.h"

typedef struct driver_row {
    const char *vendor_contains; /* in the platform vendor or name, case-insensitive */
    driver_traits traits;
} driver_row;

/* PoCL 3.1 (measured, docs/bench.md "Cold start-up"): programs and work-group functions are
   cached under POCL_CACHE_DIR; clGetProgramInfo(CL_PROGRAM_BINARIES) compiles a generic
   work-group function for every kernel of the program; each launch with a new local size
   compiles a specialised one; one LLVM compile at a time per process. */
static const driver_row rows[] = {
    {"pocl", {"PoCL", 1, "POCL_KERNEL_CACHE", 1, 1, 1}},
    {"Portable Computing Language", {"PoCL", 1, "POCL_KERNEL_CACHE", 1, 1, 1}},
};
static const driver_traits unknown = {"", 0, NULL, 0, 0, 0};

static int contains_nocase(const char *hay, const char *needle) {
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0) return 1;
    return 0;
}

const driver_traits *driver_traits_of(const clseg_device_info *info) {
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++)
        if (contains_nocase(info->platform_vendor, rows[i].vendor_contains) ||
            contains_nocase(info->platform_name, rows[i].vendor_contains))
            return &rows[i].traits;
    return &unknown;
}

int driver_caches_programs(const clseg_device_info *info, char *why, size_t len) {
    const driver_traits *t = driver_traits_of(info);
    if (!t->own_program_cache) return 0;
    const char *off = t->cache_off_env ? getenv(t->cache_off_env) : NULL;
    if (off && strcmp(off, "0") == 0) return 0;
    if (why)
        snprintf(why, len, "%s keeps compiled programs in its own cache%s", t->name,
                 t->binary_compiles_all_kernels
                     ? " (reading a binary back would compile every kernel of the program)"
                     : "");
    return 1;
}
