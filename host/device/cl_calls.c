/* cl_calls.c - OpenCL call wrappers of fault-injection builds: fail the calling thread's nth call.
 */
#define CLSEG_CL_CALLS_IMPL /* see the real functions, not the redirects of runtime.h */
#include "runtime.h"

#include <string.h>

#ifdef CLSEG_FAULT_INJECTION

/* Thread-local so that tests running in parallel threads do not disturb each other; only
   fault-injection builds have them (normal builds keep no mutable global state). */
static _Thread_local long calls, fail_at, live;
static _Thread_local cl_int fail_code;
static _Thread_local const char *only, *failed_call;

void fault_cl_arm(const char *function, long nth, cl_int code) {
    only = function;
    calls = 0;
    fail_at = nth;
    fail_code = code;
    failed_call = NULL;
}

long fault_cl_count(void) {
    return calls;
}

long fault_cl_live_objects(void) {
    return live;
}

const char *fault_cl_failed_call(void) {
    return failed_call;
}

static int fails(const char *name) {
    if (only && strcmp(name, only) != 0) return 0;
    if (++calls != fail_at) return 0;
    failed_call = name;
    return 1;
}

/* A call reporting through its return value; one that may also create an event `ev`; one
   returning a new object and reporting through its last argument `err`; and the reference
   counting calls, which never fail but keep the count of live objects. */
#define STATUS_CALL(name, params, args)                                                            \
    cl_int fi_##name params {                                                                      \
        return fails(#name) ? fail_code : name args;                                               \
    }
#define EVENT_CALL(name, params, args)                                                             \
    cl_int fi_##name params {                                                                      \
        if (fails(#name)) return fail_code;                                                        \
        cl_int r = name args;                                                                      \
        if (r == CL_SUCCESS && ev) live++;                                                         \
        return r;                                                                                  \
    }
#define OBJECT_CALL(type, name, params, args)                                                      \
    type fi_##name params {                                                                        \
        if (fails(#name)) {                                                                        \
            if (err) *err = fail_code;                                                             \
            return NULL;                                                                           \
        }                                                                                          \
        type r = name args;                                                                        \
        if (r) live++;                                                                             \
        return r;                                                                                  \
    }
#define REFCOUNT_CALLS(type, what)                                                                 \
    cl_int fi_clRetain##what(type o) {                                                             \
        cl_int r = clRetain##what(o);                                                              \
        if (r == CL_SUCCESS) live++;                                                               \
        return r;                                                                                  \
    }                                                                                              \
    cl_int fi_clRelease##what(type o) {                                                            \
        cl_int r = clRelease##what(o);                                                             \
        if (r == CL_SUCCESS) live--;                                                               \
        return r;                                                                                  \
    }

REFCOUNT_CALLS(cl_context, Context)
REFCOUNT_CALLS(cl_command_queue, CommandQueue)
REFCOUNT_CALLS(cl_mem, MemObject)
REFCOUNT_CALLS(cl_program, Program)
REFCOUNT_CALLS(cl_kernel, Kernel)
REFCOUNT_CALLS(cl_event, Event)

STATUS_CALL(clGetPlatformIDs, (cl_uint n, cl_platform_id *p, cl_uint *np), (n, p, np))
STATUS_CALL(clGetPlatformInfo, (cl_platform_id p, cl_platform_info i, size_t n, void *v, size_t *r),
            (p, i, n, v, r))
STATUS_CALL(clGetDeviceIDs,
            (cl_platform_id p, cl_device_type t, cl_uint n, cl_device_id *d, cl_uint *nd),
            (p, t, n, d, nd))
STATUS_CALL(clGetDeviceInfo, (cl_device_id d, cl_device_info i, size_t n, void *v, size_t *r),
            (d, i, n, v, r))
OBJECT_CALL(cl_context, clCreateContext,
            (const cl_context_properties *props, cl_uint n, const cl_device_id *d,
             void(CL_CALLBACK *notify)(const char *, const void *, size_t, void *), void *user,
             cl_int *err),
            (props, n, d, notify, user, err))
OBJECT_CALL(cl_command_queue, clCreateCommandQueue,
            (cl_context c, cl_device_id d, cl_command_queue_properties props, cl_int *err),
            (c, d, props, err))
OBJECT_CALL(cl_mem, clCreateBuffer,
            (cl_context c, cl_mem_flags flags, size_t size, void *host, cl_int *err),
            (c, flags, size, host, err))
OBJECT_CALL(cl_mem, clCreateSubBuffer,
            (cl_mem m, cl_mem_flags flags, cl_buffer_create_type t, const void *info, cl_int *err),
            (m, flags, t, info, err))
OBJECT_CALL(cl_program, clCreateProgramWithSource,
            (cl_context c, cl_uint n, const char **src, const size_t *len, cl_int *err),
            (c, n, src, len, err))
OBJECT_CALL(cl_program, clCreateProgramWithBinary,
            (cl_context c, cl_uint n, const cl_device_id *d, const size_t *len,
             const unsigned char **bin, cl_int *bin_status, cl_int *err),
            (c, n, d, len, bin, bin_status, err))
STATUS_CALL(clBuildProgram,
            (cl_program p, cl_uint n, const cl_device_id *d, const char *options,
             void(CL_CALLBACK *notify)(cl_program, void *), void *user),
            (p, n, d, options, notify, user))
STATUS_CALL(clGetProgramInfo, (cl_program p, cl_program_info i, size_t n, void *v, size_t *r),
            (p, i, n, v, r))
STATUS_CALL(clGetProgramBuildInfo,
            (cl_program p, cl_device_id d, cl_program_build_info i, size_t n, void *v, size_t *r),
            (p, d, i, n, v, r))
OBJECT_CALL(cl_kernel, clCreateKernel, (cl_program p, const char *name, cl_int *err),
            (p, name, err))
cl_int fi_clCreateKernelsInProgram(cl_program p, cl_uint n, cl_kernel *k, cl_uint *nk) {
    if (fails("clCreateKernelsInProgram")) return fail_code;
    cl_uint made = 0;
    cl_int r = clCreateKernelsInProgram(p, n, k, &made);
    if (nk) *nk = made;
    if (r == CL_SUCCESS && k) live += made;
    return r;
}
STATUS_CALL(clGetKernelInfo, (cl_kernel k, cl_kernel_info i, size_t n, void *v, size_t *r),
            (k, i, n, v, r))
STATUS_CALL(clGetKernelWorkGroupInfo,
            (cl_kernel k, cl_device_id d, cl_kernel_work_group_info i, size_t n, void *v,
             size_t *r),
            (k, d, i, n, v, r))
STATUS_CALL(clSetKernelArg, (cl_kernel k, cl_uint i, size_t size, const void *v), (k, i, size, v))
EVENT_CALL(clEnqueueNDRangeKernel,
           (cl_command_queue q, cl_kernel k, cl_uint dims, const size_t *off, const size_t *gws,
            const size_t *lws, cl_uint nw, const cl_event *wait, cl_event *ev),
           (q, k, dims, off, gws, lws, nw, wait, ev))
EVENT_CALL(clEnqueueReadBuffer,
           (cl_command_queue q, cl_mem m, cl_bool block, size_t off, size_t size, void *host,
            cl_uint nw, const cl_event *wait, cl_event *ev),
           (q, m, block, off, size, host, nw, wait, ev))
EVENT_CALL(clEnqueueWriteBuffer,
           (cl_command_queue q, cl_mem m, cl_bool block, size_t off, size_t size, const void *host,
            cl_uint nw, const cl_event *wait, cl_event *ev),
           (q, m, block, off, size, host, nw, wait, ev))
EVENT_CALL(clEnqueueFillBuffer,
           (cl_command_queue q, cl_mem m, const void *pattern, size_t psize, size_t off,
            size_t size, cl_uint nw, const cl_event *wait, cl_event *ev),
           (q, m, pattern, psize, off, size, nw, wait, ev))
EVENT_CALL(clEnqueueCopyBuffer,
           (cl_command_queue q, cl_mem src, cl_mem dst, size_t soff, size_t doff, size_t size,
            cl_uint nw, const cl_event *wait, cl_event *ev),
           (q, src, dst, soff, doff, size, nw, wait, ev))
STATUS_CALL(clWaitForEvents, (cl_uint n, const cl_event *ev), (n, ev))
STATUS_CALL(clGetEventProfilingInfo,
            (cl_event e, cl_profiling_info i, size_t n, void *v, size_t *r), (e, i, n, v, r))
STATUS_CALL(clFlush, (cl_command_queue q), (q))
STATUS_CALL(clFinish, (cl_command_queue q), (q))

#else
/* Normal builds call the driver directly; ISO C wants at least one declaration per file. */
typedef int cl_calls_not_hooked;
#endif
