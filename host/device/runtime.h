/* runtime.h - internal face of a clseg_context: device, queue, kernel programs, buffers,
   launches and error reporting, used by the ops, the network executor and the tests. */
#ifndef CLSEG_RUNTIME_H
#define CLSEG_RUNTIME_H

#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>
#include <pthread.h>

#include "../core/common.h"

#ifdef CLSEG_FAULT_INJECTION
/* Test builds only (cmake -DCLSEG_FAULT_INJECTION=ON; docs/reliability.md): every file that
   includes this header calls the OpenCL functions below through wrappers in cl_calls.c, and the
   calling thread's nth such call from now (of any hooked function, or only of `function` when
   not NULL) fails with `code` without reaching the driver (1 = the next one, 0 = none). Retains
   and releases are never failed but counted: fault_cl_live_objects() is the thread's OpenCL
   objects created or retained minus those released, 0 once everything a test made is freed.
   Normal builds call the driver directly and keep no counters. */
void fault_cl_arm(const char *function, long nth, cl_int code);
long fault_cl_count(void);              /* calls counted since the last arm */
const char *fault_cl_failed_call(void); /* name of the call that was failed, or NULL */
long fault_cl_live_objects(void);

#define CLSEG_CL_HOOKED(X)                                                                         \
    X(clGetPlatformIDs)                                                                            \
    X(clGetPlatformInfo)                                                                           \
    X(clGetDeviceIDs)                                                                              \
    X(clGetDeviceInfo)                                                                             \
    X(clCreateContext)                                                                             \
    X(clCreateCommandQueue)                                                                        \
    X(clCreateBuffer)                                                                              \
    X(clCreateSubBuffer)                                                                           \
    X(clCreateProgramWithSource)                                                                   \
    X(clCreateProgramWithBinary)                                                                   \
    X(clBuildProgram)                                                                              \
    X(clGetProgramInfo)                                                                            \
    X(clGetProgramBuildInfo)                                                                       \
    X(clCreateKernel)                                                                              \
    X(clCreateKernelsInProgram)                                                                    \
    X(clGetKernelInfo)                                                                             \
    X(clGetKernelWorkGroupInfo)                                                                    \
    X(clSetKernelArg)                                                                              \
    X(clEnqueueNDRangeKernel)                                                                      \
    X(clEnqueueReadBuffer)                                                                         \
    X(clEnqueueWriteBuffer)                                                                        \
    X(clEnqueueFillBuffer)                                                                         \
    X(clEnqueueCopyBuffer)                                                                         \
    X(clWaitForEvents)                                                                             \
    X(clGetEventProfilingInfo)                                                                     \
    X(clFlush)                                                                                     \
    X(clFinish)                                                                                    \
    X(clRetainContext)                                                                             \
    X(clReleaseContext)                                                                            \
    X(clRetainCommandQueue)                                                                        \
    X(clReleaseCommandQueue)                                                                       \
    X(clRetainMemObject)                                                                           \
    X(clReleaseMemObject)                                                                          \
    X(clRetainProgram)                                                                             \
    X(clReleaseProgram)                                                                            \
    X(clRetainKernel)                                                                              \
    X(clReleaseKernel)                                                                             \
    X(clRetainEvent)                                                                               \
    X(clReleaseEvent)
#define CLSEG_CL_DECLARE(f) extern __typeof__(f) fi_##f;
CLSEG_CL_HOOKED(CLSEG_CL_DECLARE)
#undef CLSEG_CL_DECLARE

#ifndef CLSEG_CL_CALLS_IMPL
#define clGetPlatformIDs          fi_clGetPlatformIDs
#define clGetPlatformInfo         fi_clGetPlatformInfo
#define clGetDeviceIDs            fi_clGetDeviceIDs
#define clGetDeviceInfo           fi_clGetDeviceInfo
#define clCreateContext           fi_clCreateContext
#define clCreateCommandQueue      fi_clCreateCommandQueue
#define clCreateBuffer            fi_clCreateBuffer
#define clCreateSubBuffer         fi_clCreateSubBuffer
#define clCreateProgramWithSource fi_clCreateProgramWithSource
#define clCreateProgramWithBinary fi_clCreateProgramWithBinary
#define clBuildProgram            fi_clBuildProgram
#define clGetProgramInfo          fi_clGetProgramInfo
#define clGetProgramBuildInfo     fi_clGetProgramBuildInfo
#define clCreateKernel            fi_clCreateKernel
#define clCreateKernelsInProgram  fi_clCreateKernelsInProgram
#define clGetKernelInfo           fi_clGetKernelInfo
#define clGetKernelWorkGroupInfo  fi_clGetKernelWorkGroupInfo
#define clSetKernelArg            fi_clSetKernelArg
#define clEnqueueNDRangeKernel    fi_clEnqueueNDRangeKernel
#define clEnqueueReadBuffer       fi_clEnqueueReadBuffer
#define clEnqueueWriteBuffer      fi_clEnqueueWriteBuffer
#define clEnqueueFillBuffer       fi_clEnqueueFillBuffer
#define clEnqueueCopyBuffer       fi_clEnqueueCopyBuffer
#define clWaitForEvents           fi_clWaitForEvents
#define clGetEventProfilingInfo   fi_clGetEventProfilingInfo
#define clFlush                   fi_clFlush
#define clFinish                  fi_clFinish
#define clRetainContext           fi_clRetainContext
#define clReleaseContext          fi_clReleaseContext
#define clRetainCommandQueue      fi_clRetainCommandQueue
#define clReleaseCommandQueue     fi_clReleaseCommandQueue
#define clRetainMemObject         fi_clRetainMemObject
#define clReleaseMemObject        fi_clReleaseMemObject
#define clRetainProgram           fi_clRetainProgram
#define clReleaseProgram          fi_clReleaseProgram
#define clRetainKernel            fi_clRetainKernel
#define clReleaseKernel           fi_clReleaseKernel
#define clRetainEvent             fi_clRetainEvent
#define clReleaseEvent            fi_clReleaseEvent
#endif
#endif

typedef struct program_entry program_entry;

struct clseg_context {
    clseg_device_info info;
    cl_platform_id platform;
    cl_device_id device;
    cl_context cl;
    cl_command_queue queue;
    int profiling;

    char *kernel_dir; /* NULL = embedded sources */
    char *cache_dir;  /* NULL = no binary cache */
    /* 1 = the driver caches programs itself, so clseg's binary cache is left alone (driver.h);
       program_cache says how programs are cached, in words. */
    int driver_caches;
    char program_cache[256];

    program_entry *programs; /* built programs and their kernels, by (name, defines) */
    size_t n_programs, cap_programs;

    clseg_startup_stats stats;
    /* What the programs built next are for ("enc2: conv2d winograd"), kept with each program
       (clseg_context_program_get); "" = not said. Set by the net while it prepares. */
    char program_reason[96];
    char error[1024];
    char *build_log;

    /* When set, every launch records its event here (for per-layer profiling). */
    void (*on_launch)(void *user, const char *kernel, cl_event ev);
    void *on_launch_user;

    /* Device temporaries of the ops that need them (im2col columns, Winograd tiles), grown on
       demand and reused across calls: host/ops/scratch.c. */
    cl_mem scratch;
    size_t scratch_bytes;

    /* The tuning database (host/tune/tunedb.h), attached by clseg_context_create (host/api) after
       device_context_create; never NULL once attached, maybe empty. A corrupt or foreign file is
       ignored, and why is kept in `warning` for the caller to show (the library prints nothing).
       The device layer only carries these for the layers above it. */
    struct tunedb *tuning;
    char *tuning_path; /* NULL = none */
    int tuning_state;  /* tunedb_state of the file as loaded */
    char warning[1024];
    int plain_kernels; /* 1 = every op runs its plain configuration (op_plain_choice) */

    /* Serialises the public calls on this context and its nets (recursive: a public call may
       make another), so threads may share them (include/clseg.h, "Threads"). */
    pthread_mutex_t lock;
    int lock_ready;
};

/* The context's lock around a public call: CTX_LOCKED(ctx, expr) evaluates expr (a
   clseg_status) holding it. */
static inline clseg_status ctx_locked_status(clseg_context *ctx, clseg_status st) {
    pthread_mutex_unlock(&ctx->lock);
    return st;
}
#define CTX_LOCKED(ctx, expr) (pthread_mutex_lock(&(ctx)->lock), ctx_locked_status((ctx), (expr)))

/* The device half of a context: device selection, OpenCL context and queue, kernel and cache
   directories from opts (complete, struct_size checked by the caller); no tuning. On failure
   *out is NULL and errbuf says why. device_context_free releases what it made (and the scratch
   buffer), never the tuning state. */
clseg_status device_context_create(clseg_context **out, const clseg_context_options *opts,
                                   char *errbuf, size_t errlen);
void device_context_free(clseg_context *ctx);

/* Records a message as the context's error text and returns status. */
clseg_status ctx_fail(clseg_context *ctx, clseg_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Same for a failed OpenCL call: "what: CL_OUT_OF_RESOURCES (-5)". */
clseg_status ctx_cl_fail(clseg_context *ctx, cl_int err, const char *what);
const char *cl_error_name(cl_int err);

/* The kernel `kernel` of program `program` (kernels/<program>.cl) compiled with the extra build
   options `defines` (e.g. "-DTILE=4", may be NULL or ""). Compiled on first use (or loaded from
   the binary cache) and owned by the context. A compile failure is CLSEG_ERR_BUILD with the
   log in clseg_context_build_log(). */
clseg_status ctx_kernel(clseg_context *ctx, const char *program, const char *defines,
                        const char *kernel, cl_kernel *out);

/* Kernel arguments for ctx_run. */
typedef struct karg {
    size_t size;
    const void *ptr; /* NULL = __local memory of `size` bytes */
} karg;
#define KARG_MEM(m)       ((karg){sizeof(cl_mem), &(m)})
#define KARG_INT(v)       ((karg){sizeof(cl_int), &(cl_int){(cl_int)(v)}})
#define KARG_FLOAT(v)     ((karg){sizeof(cl_float), &(cl_float){(cl_float)(v)}})
#define KARG_LOCAL(bytes) ((karg){(bytes), NULL})

/* The largest work-group this compiled kernel can run on the device (CL_KERNEL_WORK_GROUP_SIZE:
   registers and local memory count, so it can be far below the device's maximum, e.g. 256 of
   1024 for a register-heavy tile on NVIDIA); the device's maximum if the driver won't say. */
size_t ctx_kernel_max_group(const clseg_context *ctx, cl_kernel kernel);

/* Sets the arguments and enqueues kernel over gws (rounded up to a multiple of lws; kernels
   bounds-check). lws may be NULL to let the driver choose. A work-group above the kernel's own
   limit that the driver rejects (NVIDIA: CL_OUT_OF_RESOURCES) is reported as such,
   CLSEG_ERR_UNSUPPORTED with both sizes. Not refused beforehand: Mesa rusticl reports 32 for
   every kernel on llvmpipe and runs 64-item groups correctly. */
clseg_status ctx_run(clseg_context *ctx, cl_kernel kernel, const karg *args, int n_args,
                     cl_uint dims, const size_t *gws, const size_t *lws);
#define CTX_RUN(ctx, kernel, dims, gws, lws, ...)                                                  \
    ctx_run((ctx), (kernel), (const karg[]){__VA_ARGS__},                                          \
            (int)(sizeof((const karg[]){__VA_ARGS__}) / sizeof(karg)), (dims), (gws), (lws))

/* Device buffers, checked against CL_DEVICE_MAX_MEM_ALLOC_SIZE before allocating. host may be
   NULL; otherwise bytes are copied from it. */
clseg_status ctx_buffer(clseg_context *ctx, size_t bytes, const void *host, cl_mem *out);
clseg_status ctx_write(clseg_context *ctx, cl_mem mem, size_t offset, size_t bytes,
                       const void *host);
clseg_status ctx_read(clseg_context *ctx, cl_mem mem, size_t offset, size_t bytes, void *host);
clseg_status ctx_fill_zero(clseg_context *ctx, cl_mem mem, size_t bytes);
clseg_status ctx_finish(clseg_context *ctx);

/* Device selection without creating a context (used by the CLI's error messages too). */
clseg_status device_select(const clseg_device_info *devs, size_t n, const char *selector,
                           size_t *index, char *err, size_t errlen);

/* The OpenCL ids of the device listed as platform_index:device_index. */
clseg_status device_ids(int platform_index, int device_index, cl_platform_id *p, cl_device_id *d);

#endif
