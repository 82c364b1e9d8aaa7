/* context.c - clseg_context life cycle, error text, buffers and kernel launches. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver.h"
#include "program.h"
#include "runtime.h"

static const struct {
    cl_int code;
    const char *name;
} cl_error_names[] = {
    {CL_SUCCESS, "CL_SUCCESS"},
    {CL_DEVICE_NOT_FOUND, "CL_DEVICE_NOT_FOUND"},
    {CL_DEVICE_NOT_AVAILABLE, "CL_DEVICE_NOT_AVAILABLE"},
    {CL_COMPILER_NOT_AVAILABLE, "CL_COMPILER_NOT_AVAILABLE"},
    {CL_MEM_OBJECT_ALLOCATION_FAILURE, "CL_MEM_OBJECT_ALLOCATION_FAILURE"},
    {CL_OUT_OF_RESOURCES, "CL_OUT_OF_RESOURCES"},
    {CL_OUT_OF_HOST_MEMORY, "CL_OUT_OF_HOST_MEMORY"},
    {CL_PROFILING_INFO_NOT_AVAILABLE, "CL_PROFILING_INFO_NOT_AVAILABLE"},
    {CL_MEM_COPY_OVERLAP, "CL_MEM_COPY_OVERLAP"},
    {CL_BUILD_PROGRAM_FAILURE, "CL_BUILD_PROGRAM_FAILURE"},
    {CL_MAP_FAILURE, "CL_MAP_FAILURE"},
    {CL_MISALIGNED_SUB_BUFFER_OFFSET, "CL_MISALIGNED_SUB_BUFFER_OFFSET"},
    {CL_COMPILE_PROGRAM_FAILURE, "CL_COMPILE_PROGRAM_FAILURE"},
    {CL_LINK_PROGRAM_FAILURE, "CL_LINK_PROGRAM_FAILURE"},
    {CL_INVALID_VALUE, "CL_INVALID_VALUE"},
    {CL_INVALID_DEVICE_TYPE, "CL_INVALID_DEVICE_TYPE"},
    {CL_INVALID_PLATFORM, "CL_INVALID_PLATFORM"},
    {CL_INVALID_DEVICE, "CL_INVALID_DEVICE"},
    {CL_INVALID_CONTEXT, "CL_INVALID_CONTEXT"},
    {CL_INVALID_QUEUE_PROPERTIES, "CL_INVALID_QUEUE_PROPERTIES"},
    {CL_INVALID_COMMAND_QUEUE, "CL_INVALID_COMMAND_QUEUE"},
    {CL_INVALID_HOST_PTR, "CL_INVALID_HOST_PTR"},
    {CL_INVALID_MEM_OBJECT, "CL_INVALID_MEM_OBJECT"},
    {CL_INVALID_BINARY, "CL_INVALID_BINARY"},
    {CL_INVALID_BUILD_OPTIONS, "CL_INVALID_BUILD_OPTIONS"},
    {CL_INVALID_PROGRAM, "CL_INVALID_PROGRAM"},
    {CL_INVALID_PROGRAM_EXECUTABLE, "CL_INVALID_PROGRAM_EXECUTABLE"},
    {CL_INVALID_KERNEL_NAME, "CL_INVALID_KERNEL_NAME"},
    {CL_INVALID_KERNEL_DEFINITION, "CL_INVALID_KERNEL_DEFINITION"},
    {CL_INVALID_KERNEL, "CL_INVALID_KERNEL"},
    {CL_INVALID_ARG_INDEX, "CL_INVALID_ARG_INDEX"},
    {CL_INVALID_ARG_VALUE, "CL_INVALID_ARG_VALUE"},
    {CL_INVALID_ARG_SIZE, "CL_INVALID_ARG_SIZE"},
    {CL_INVALID_KERNEL_ARGS, "CL_INVALID_KERNEL_ARGS"},
    {CL_INVALID_WORK_DIMENSION, "CL_INVALID_WORK_DIMENSION"},
    {CL_INVALID_WORK_GROUP_SIZE, "CL_INVALID_WORK_GROUP_SIZE"},
    {CL_INVALID_WORK_ITEM_SIZE, "CL_INVALID_WORK_ITEM_SIZE"},
    {CL_INVALID_GLOBAL_OFFSET, "CL_INVALID_GLOBAL_OFFSET"},
    {CL_INVALID_EVENT_WAIT_LIST, "CL_INVALID_EVENT_WAIT_LIST"},
    {CL_INVALID_EVENT, "CL_INVALID_EVENT"},
    {CL_INVALID_OPERATION, "CL_INVALID_OPERATION"},
    {CL_INVALID_BUFFER_SIZE, "CL_INVALID_BUFFER_SIZE"},
    {CL_INVALID_GLOBAL_WORK_SIZE, "CL_INVALID_GLOBAL_WORK_SIZE"},
};

const char *cl_error_name(cl_int err) {
    for (size_t i = 0; i < CLSEG_ARRAY_LEN(cl_error_names); i++)
        if (cl_error_names[i].code == err) return cl_error_names[i].name;
    return "unknown OpenCL error";
}

clseg_status ctx_fail(clseg_context *ctx, clseg_status status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    clseg_vfail(ctx->error, sizeof ctx->error, status, fmt, ap);
    va_end(ap);
    return status;
}

clseg_status ctx_cl_fail(clseg_context *ctx, cl_int err, const char *what) {
    clseg_status st = (err == CL_OUT_OF_HOST_MEMORY) ? CLSEG_ERR_OUT_OF_MEMORY : CLSEG_ERR_OPENCL;
    return ctx_fail(ctx, st, "%s: %s (%d) on %s", what, cl_error_name(err), (int)err,
                    ctx->info.name);
}

static char *env_or(const char *value, const char *env) {
    if (value && *value) return clseg_strdup(value);
    const char *e = getenv(env);
    return (e && *e) ? clseg_strdup(e) : NULL;
}

static char *default_cache_dir(void) {
    char buf[4096];
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    if (xdg && *xdg)
        snprintf(buf, sizeof buf, "%s/clseg", xdg);
    else if (home && *home)
        snprintf(buf, sizeof buf, "%s/.cache/clseg", home);
    else
        return NULL;
    return clseg_strdup(buf);
}

clseg_status device_context_create(clseg_context **out, const clseg_context_options *opts,
                                   char *errbuf, size_t errlen) {
    *out = NULL;

    clseg_device_info *devs = NULL;
    size_t n = 0, pick = 0;
    clseg_status st = clseg_devices_list(&devs, &n);
    if (st != CLSEG_OK)
        return clseg_fail(errbuf, errlen, st, "cannot enumerate OpenCL devices: %s",
                          clseg_status_str(st));
    const char *sel = opts->device;
    if (!sel || !*sel) sel = getenv("CLSEG_DEVICE");
    st = device_select(devs, n, sel, &pick, errbuf, errlen);
    if (st != CLSEG_OK) {
        free(devs);
        return st;
    }
    clseg_context *ctx = clseg_calloc(1, sizeof *ctx);
    if (ctx) {
        pthread_mutexattr_t a;
        int ok = pthread_mutexattr_init(&a) == 0;
        ok = ok && pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE) == 0;
        ok = ok && pthread_mutex_init(&ctx->lock, &a) == 0;
        pthread_mutexattr_destroy(&a);
        if (!ok) {
            free(ctx);
            ctx = NULL;
        } else {
            ctx->lock_ready = 1;
        }
    }
    if (!ctx) {
        free(devs);
        return clseg_fail(errbuf, errlen, CLSEG_ERR_OUT_OF_MEMORY, "out of memory");
    }
    ctx->info = devs[pick];
    free(devs);

    st = device_ids(ctx->info.platform_index, ctx->info.device_index, &ctx->platform, &ctx->device);
    cl_int e = CL_SUCCESS;
    if (st == CLSEG_OK) {
        cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)ctx->platform,
                                         0};
        ctx->cl = clCreateContext(props, 1, &ctx->device, NULL, NULL, &e);
        if (e != CL_SUCCESS) st = ctx_cl_fail(ctx, e, "clCreateContext");
    } else {
        ctx_fail(ctx, st, "cannot find device %d:%d again: %s", ctx->info.platform_index,
                 ctx->info.device_index, clseg_status_str(st));
    }
    if (st == CLSEG_OK) {
        ctx->profiling = opts->enable_profiling != 0;
        cl_command_queue_properties qp = ctx->profiling ? CL_QUEUE_PROFILING_ENABLE : 0;
        ctx->queue = clCreateCommandQueue(ctx->cl, ctx->device, qp, &e);
        if (e != CL_SUCCESS) st = ctx_cl_fail(ctx, e, "clCreateCommandQueue");
    }
    if (st == CLSEG_OK) {
        ctx->kernel_dir = env_or(opts->kernel_dir, "CLSEG_KERNEL_DIR");
        const char *nc = getenv("CLSEG_NO_CACHE");
        int no_cache = opts->disable_cache || (nc && *nc && strcmp(nc, "0") != 0);
        if (!no_cache) {
            ctx->cache_dir = env_or(opts->cache_dir, "CLSEG_CACHE_DIR");
            if (!ctx->cache_dir) ctx->cache_dir = default_cache_dir();
        }
        ctx->driver_caches =
            driver_caches_programs(&ctx->info, ctx->program_cache, sizeof ctx->program_cache);
        if (!ctx->driver_caches && ctx->cache_dir)
            snprintf(ctx->program_cache, sizeof ctx->program_cache, "binary cache in %s",
                     ctx->cache_dir);
        else if (!ctx->driver_caches)
            snprintf(ctx->program_cache, sizeof ctx->program_cache, "no cache");
    }
    if (st != CLSEG_OK) {
        if (errbuf) snprintf(errbuf, errlen, "%s", ctx->error);
        device_context_free(ctx);
        return st;
    }
    *out = ctx;
    return CLSEG_OK;
}

void device_context_free(clseg_context *ctx) {
    if (!ctx) return;
    if (ctx->queue) clFinish(ctx->queue); /* nothing in flight uses what is released below */
    programs_release(ctx);
    if (ctx->scratch) clReleaseMemObject(ctx->scratch);
    if (ctx->queue) clReleaseCommandQueue(ctx->queue);
    if (ctx->cl) clReleaseContext(ctx->cl);
    free(ctx->kernel_dir);
    free(ctx->cache_dir);
    free(ctx->build_log);
    if (ctx->lock_ready) pthread_mutex_destroy(&ctx->lock);
    free(ctx);
}

const clseg_device_info *clseg_context_device(const clseg_context *ctx) {
    return ctx ? &ctx->info : NULL;
}

const char *clseg_context_error(const clseg_context *ctx) {
    return ctx ? ctx->error : "";
}

const char *clseg_context_build_log(const clseg_context *ctx) {
    return (ctx && ctx->build_log) ? ctx->build_log : "";
}

void clseg_context_startup_stats(const clseg_context *ctx, clseg_startup_stats *out) {
    if (ctx && out) *out = ctx->stats;
}

int clseg_context_program_count(const clseg_context *ctx) {
    return ctx ? (int)programs_count(ctx) : 0;
}

clseg_status clseg_context_program_get(const clseg_context *ctx, int i, clseg_program_info *out) {
    if (!ctx || !out || i < 0 || !programs_get(ctx, (size_t)i, out))
        return CLSEG_ERR_INVALID_ARGUMENT;
    return CLSEG_OK;
}

const char *clseg_context_program_cache(const clseg_context *ctx) {
    return ctx ? ctx->program_cache : "no cache";
}

size_t ctx_kernel_max_group(const clseg_context *ctx, cl_kernel kernel) {
    size_t max = 0;
    if (clGetKernelWorkGroupInfo(kernel, ctx->device, CL_KERNEL_WORK_GROUP_SIZE, sizeof max, &max,
                                 NULL) != CL_SUCCESS ||
        max == 0)
        max = ctx->info.max_work_group_size;
    return max;
}

static void kernel_name(cl_kernel kernel, char *name, size_t size) {
    name[0] = 0;
    clGetKernelInfo(kernel, CL_KERNEL_FUNCTION_NAME, size, name, NULL);
    name[size - 1] = 0;
}

clseg_status ctx_run(clseg_context *ctx, cl_kernel kernel, const karg *args, int n_args,
                     cl_uint dims, const size_t *gws, const size_t *lws) {
    for (int i = 0; i < n_args; i++) {
        cl_int e = clSetKernelArg(kernel, (cl_uint)i, args[i].size, args[i].ptr);
        if (e != CL_SUCCESS) {
            char what[96];
            snprintf(what, sizeof what, "clSetKernelArg(%d)", i);
            return ctx_cl_fail(ctx, e, what);
        }
    }
    size_t g[3] = {1, 1, 1};
    for (cl_uint d = 0; d < dims; d++) {
        g[d] = gws[d] ? gws[d] : 1;
        if (lws) g[d] = (g[d] + lws[d] - 1) / lws[d] * lws[d];
    }
    cl_event ev = NULL;
    cl_int e = clEnqueueNDRangeKernel(ctx->queue, kernel, dims, NULL, g, lws, 0, NULL,
                                      ctx->on_launch ? &ev : NULL);
    if (e != CL_SUCCESS) {
        size_t items = 1;
        for (cl_uint d = 0; lws && d < dims; d++) items *= lws[d];
        const size_t max = ctx_kernel_max_group(ctx, kernel);
        if ((e == CL_OUT_OF_RESOURCES || e == CL_INVALID_WORK_GROUP_SIZE) && lws && items > max) {
            char name[128];
            kernel_name(kernel, name, sizeof name);
            return ctx_fail(ctx, CLSEG_ERR_UNSUPPORTED,
                            "kernel %s: a work-group of %zu work-items exceeds its limit of %zu on "
                            "%s (registers or local memory per work-group)",
                            name, items, max, ctx->info.name);
        }
        return ctx_cl_fail(ctx, e, "clEnqueueNDRangeKernel");
    }
    if (ev) {
        char name[128];
        kernel_name(kernel, name, sizeof name);
        ctx->on_launch(ctx->on_launch_user, name, ev);
        clReleaseEvent(ev);
    }
    return CLSEG_OK;
}

clseg_status ctx_buffer(clseg_context *ctx, size_t bytes, const void *host, cl_mem *out) {
    *out = NULL;
    if (bytes == 0) bytes = 4;
    if ((uint64_t)bytes > ctx->info.max_alloc_bytes || (uint64_t)bytes > ctx->info.global_mem_bytes)
        return ctx_fail(ctx, CLSEG_ERR_TOO_LARGE,
                        "a %.1f MiB buffer exceeds the device's limit (max allocation %.1f MiB) "
                        "on %s",
                        bytes / 1048576.0, ctx->info.max_alloc_bytes / 1048576.0, ctx->info.name);
    cl_int e;
    cl_mem_flags flags = CL_MEM_READ_WRITE | (host ? CL_MEM_COPY_HOST_PTR : 0);
    cl_mem m = clCreateBuffer(ctx->cl, flags, bytes, (void *)host, &e);
    if (e != CL_SUCCESS) return ctx_cl_fail(ctx, e, "clCreateBuffer");
    *out = m;
    return CLSEG_OK;
}

clseg_status ctx_write(clseg_context *ctx, cl_mem mem, size_t offset, size_t bytes,
                       const void *host) {
    cl_int e = clEnqueueWriteBuffer(ctx->queue, mem, CL_TRUE, offset, bytes, host, 0, NULL, NULL);
    return e == CL_SUCCESS ? CLSEG_OK : ctx_cl_fail(ctx, e, "clEnqueueWriteBuffer");
}

clseg_status ctx_read(clseg_context *ctx, cl_mem mem, size_t offset, size_t bytes, void *host) {
    cl_int e = clEnqueueReadBuffer(ctx->queue, mem, CL_TRUE, offset, bytes, host, 0, NULL, NULL);
    return e == CL_SUCCESS ? CLSEG_OK : ctx_cl_fail(ctx, e, "clEnqueueReadBuffer");
}

clseg_status ctx_fill_zero(clseg_context *ctx, cl_mem mem, size_t bytes) {
    const cl_float zero = 0;
    cl_int e = clEnqueueFillBuffer(ctx->queue, mem, &zero, sizeof zero, 0, bytes, 0, NULL, NULL);
    return e == CL_SUCCESS ? CLSEG_OK : ctx_cl_fail(ctx, e, "clEnqueueFillBuffer");
}

clseg_status ctx_finish(clseg_context *ctx) {
    cl_int e = clFinish(ctx->queue);
    return e == CL_SUCCESS ? CLSEG_OK : ctx_cl_fail(ctx, e, "clFinish");
}
