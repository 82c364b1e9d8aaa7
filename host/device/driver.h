/* driver.h - what clseg knows about each OpenCL driver's kernel compiler (a table, not #ifdefs). */
#ifndef CLSEG_DRIVER_H
#define CLSEG_DRIVER_H

#include "clseg.h"

typedef struct driver_traits {
    const char *name; /* "PoCL", or "" for a driver the table does not know */
    /* The driver keeps compiled programs on disk itself (keyed by source, options and device),
       unless the environment variable `cache_off_env` is "0". */
    int own_program_cache;
    const char *cache_off_env;
    /* Asking the driver for a program binary compiles code for every kernel in it: a cost paid
       for kernels a net may never launch. */
    int binary_compiles_all_kernels;
    /* The driver compiles one work-group function per (kernel, local size) at its first launch:
       each distinct local size of a kernel is one more compile. */
    int specialises_local_size;
    /* Compiles run one at a time in a process (a process-wide compiler lock): threads cannot
       overlap them, only processes can. */
    int compiles_serialised;
} driver_traits;

/* The traits of the driver behind a device (platform vendor / name); never NULL. */
const driver_traits *driver_traits_of(const clseg_device_info *info);

/* 1 when clseg should leave program caching to the driver: it keeps its own cache (and has it
   on), and reading a binary back would cost compiles that the driver's cache avoids. The reason,
   for start-up reports, in why (may be NULL). */
int driver_caches_programs(const clseg_device_info *info, char *why, size_t len);

#endif
