/* device_api.c - public device calls for the tools: device class, recorded devices, and building
   every kernel program (cold / warm start-up timing). */
#include <stdio.h>

#include "clseg_tune.h"
#include "device/program.h"
#include "tune/profile.h"

const char *clseg_device_class_name(const clseg_device_info *dev) {
    return dev_class_name(dev ? dev_classify(dev) : DEV_UNKNOWN_GPU);
}

clseg_status clseg_device_info_load(const char *path, clseg_device_info *out, char *errbuf,
                                    size_t errbuf_size) {
    if (!path || !out)
        return clseg_fail(errbuf, errbuf_size, CLSEG_ERR_INVALID_ARGUMENT, "NULL argument");
    return dev_fixture_load(path, out, NULL, errbuf, errbuf_size);
}

clseg_status clseg_context_build_all_programs(clseg_context *ctx, int *programs) {
    if (!ctx) return CLSEG_ERR_INVALID_ARGUMENT;
    size_t n = program_embedded_count();
    if (programs) *programs = (int)n;
    snprintf(ctx->program_reason, sizeof ctx->program_reason, "every program");
    clseg_status st = CLSEG_OK;
    for (size_t i = 0; i < n && st == CLSEG_OK; i++) {
        program_entry *p;
        st = ctx_program(ctx, program_embedded_name(i), "", &p);
    }
    ctx->program_reason[0] = 0;
    return st;
}
