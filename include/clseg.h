/* clseg.h - public C API: devices, models, networks and segmentation of RGB images. */
#ifndef CLSEG_H
#define CLSEG_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CLSEG_VERSION_MAJOR 0
#define CLSEG_VERSION_MINOR 1
#define CLSEG_VERSION_PATCH 0

/* Every fallible call returns one of these. Values are stable (part of the ABI). */
typedef enum clseg_status {
    CLSEG_OK = 0,
    CLSEG_ERR_INVALID_ARGUMENT = 1, /* caller passed a NULL, a negative size, ... */
    CLSEG_ERR_OUT_OF_MEMORY = 2,    /* host allocation failed */
    CLSEG_ERR_IO = 3,               /* file could not be opened, read or written */
    CLSEG_ERR_FORMAT = 4,           /* malformed file: model, spec, image, database */
    CLSEG_ERR_TOO_LARGE = 5,        /* absurd dimensions, or does not fit the device */
    CLSEG_ERR_NO_DEVICE = 6,        /* no OpenCL device, or the selector matched none */
    CLSEG_ERR_OPENCL = 7,           /* an OpenCL call failed; see the handle's error text */
    CLSEG_ERR_BUILD = 8,            /* a kernel failed to compile; see clseg_context_build_log */
    CLSEG_ERR_UNSUPPORTED = 9,      /* no variant of an op supports this shape on this device */
    CLSEG_ERR_INTERNAL = 10,        /* a bug in clseg */
    CLSEG_STATUS_COUNT
} clseg_status;

/* Short English name of a status, never NULL. */
const char *clseg_status_str(clseg_status status);

/* "0.1.0" */
const char *clseg_version(void);

/* ---- Devices ------------------------------------------------------------------------------- */

typedef enum clseg_device_type {
    CLSEG_DEVICE_CPU = 1,
    CLSEG_DEVICE_GPU = 2,
    CLSEG_DEVICE_ACCELERATOR = 4,
    CLSEG_DEVICE_OTHER = 8
} clseg_device_type;

/* What a kernel selector needs to know about a device, as queried from the driver. */
typedef struct clseg_device_info {
    int platform_index;
    int device_index;
    char platform_name[128];
    char platform_version[128];
    char platform_vendor[128];
    char name[256];
    char vendor[128];
    char driver_version[128];
    char opencl_c_version[64];
    clseg_device_type type;
    uint32_t vendor_id;
    uint32_t compute_units;
    uint32_t clock_mhz;
    uint64_t global_mem_bytes;
    uint64_t local_mem_bytes;
    int local_mem_is_dedicated; /* 1 = CL_LOCAL, 0 = emulated in global memory */
    uint64_t max_alloc_bytes;
    size_t max_work_group_size;
    size_t max_work_item_sizes[3];
    uint32_t preferred_vector_width_float;
    uint32_t preferred_vector_width_half;
    uint32_t native_vector_width_float;
    int has_fp16;
    int has_fp64;
    int has_subgroups;
} clseg_device_info;

/* Enumerates every device of every platform through the ICD loader. On success *out is an array
   of *count entries that the caller releases with clseg_free(). Zero devices is not an error. */
clseg_status clseg_devices_list(clseg_device_info **out, size_t *count);

/* Releases memory that clseg handed to the caller (device lists, label maps). NULL is fine. */
void clseg_free(void *ptr);

/* ---- Context: one device, its queue, and the compiled kernels ------------------------------ */

typedef struct clseg_context clseg_context;

typedef struct clseg_context_options {
    const char *device; /* selector: "P:D", or a substring of platform name/vendor or device name;
                           NULL = $CLSEG_DEVICE, else first GPU, else first device */
    const char *kernel_dir; /* load kernels/NAME.cl from here (NULL = $CLSEG_KERNEL_DIR or the
                               sources embedded at build time) */
    const char *cache_dir;  /* program binary cache (NULL = $CLSEG_CACHE_DIR, else
                               $XDG_CACHE_HOME/clseg, else ~/.cache/clseg) */
    int disable_cache;      /* 1 = never read or write the cache (also $CLSEG_NO_CACHE=1) */
    int enable_profiling;   /* 1 = create the queue with CL_QUEUE_PROFILING_ENABLE */
    const char *tuning_db;  /* tuning database written by `clseg tune` (NULL = $CLSEG_TUNING_DB,
                               else tuning.db in the cache directory above; "" = none). A
                               corrupt or foreign file is ignored: see clseg_context_warning */
    int plain_kernels;      /* 1 = run every op's plain kernel (its last-resort variant with the
                               smallest tiles), the baseline for benchmarks; also
                               $CLSEG_PLAIN_KERNELS=1 */
} clseg_context_options;

/* Creates a context on the selected device. opts may be NULL for defaults. On failure *out is
   NULL and, if errbuf is not NULL, a one-line message is written to it. */
clseg_status clseg_context_create(clseg_context **out, const clseg_context_options *opts,
                                  char *errbuf, size_t errbuf_size);
void clseg_context_free(clseg_context *ctx);

/* The device this context runs on. */
const clseg_device_info *clseg_context_device(const clseg_context *ctx);

/* Text of the last error on this context ("" if none). Valid until the next call on ctx. */
const char *clseg_context_error(const clseg_context *ctx);

/* Why the context ignored something it was given, e.g. a corrupt or foreign tuning database
   ("" if nothing). The library never prints; callers may show it. */
const char *clseg_context_warning(const clseg_context *ctx);

/* Build log of the last failed kernel compilation ("" if none). */
const char *clseg_context_build_log(const clseg_context *ctx);

/* Start-up statistics: programs compiled from source vs loaded from the binary cache, and the
   time spent in each, in milliseconds. */
typedef struct clseg_startup_stats {
    int programs_built;
    int programs_from_cache;
    double build_ms;
    double cache_load_ms;
} clseg_startup_stats;
void clseg_context_startup_stats(const clseg_context *ctx, clseg_startup_stats *out);

/* ---- Model: a network description plus its weights, from a .clsm file ---------------------- */

typedef struct clseg_model clseg_model;

clseg_status clseg_model_load(clseg_model **out, const char *path, char *errbuf,
                              size_t errbuf_size);
void clseg_model_free(clseg_model *model);

int clseg_model_num_classes(const clseg_model *model);
/* Class name i (0 <= i < num_classes). */
const char *clseg_model_class_name(const clseg_model *model, int i);
/* Palette colour of class i as {r, g, b}. */
const uint8_t *clseg_model_class_color(const clseg_model *model, int i);

/* ---- Network: a model instantiated on a context -------------------------------------------- */

typedef struct clseg_net clseg_net;

/* Uploads the weights (folding BatchNorm into convolutions) and compiles the kernels the model
   needs. The model may be freed afterwards. */
clseg_status clseg_net_create(clseg_net **out, clseg_context *ctx, const clseg_model *model);
void clseg_net_free(clseg_net *net);

/* Allocates the activations and compiles the kernels for inputs of n x height x width, so the
   first forward does not pay for it (otherwise it happens on first use, and again whenever the
   input size changes). Fails with CLSEG_ERR_TOO_LARGE, before allocating anything, when the
   activations would not fit the device. */
clseg_status clseg_net_prepare(clseg_net *net, int n, int height, int width);

/* Bytes of device memory the net holds now (weights + activations). */
uint64_t clseg_net_device_bytes(const clseg_net *net);

/* Segments one interleaved 8-bit RGB image (row-major, stride = 3*width bytes). labels receives
   width*height class indices. Normalisation is the model's. Errors are described by
   clseg_context_error() of the net's context. */
clseg_status clseg_net_segment(clseg_net *net, const uint8_t *rgb, int width, int height,
                               uint8_t *labels);

/* Runs the network on a normalised NCHW float32 batch (n x 3 x height x width) and writes the
   class scores (n x K x height x width, before softmax) to logits. */
clseg_status clseg_net_forward(clseg_net *net, const float *input, int n, int height, int width,
                               float *logits);

/* ---- Benchmarking: per-layer timing, variants, memory ------------------------------------- */

/* Memory planning (on by default): intermediate activations share device buffers when they are
   never live at the same time, so peak memory follows the largest set of tensors live at once
   rather than the sum over all layers. enabled = 0 gives every tensor its own buffer (to compare);
   the change re-allocates the activations of the current input size at once. */
clseg_status clseg_net_set_memory_planning(clseg_net *net, int enabled);

typedef struct clseg_memory_stats {
    uint64_t weight_bytes;               /* folded weights and biases */
    uint64_t io_bytes;                   /* network input and label buffers */
    uint64_t activation_bytes;           /* intermediate tensors, as allocated now */
    uint64_t activation_bytes_planned;   /* ... what they take with the planner */
    uint64_t activation_bytes_unplanned; /* ... and with one buffer per tensor */
    uint64_t activation_bytes_live_peak; /* most bytes live at one step (the planner's floor) */
    int activation_buffers;              /* device buffers holding the intermediate tensors */
    int memory_planning;                 /* 1 = the planner is on */
    uint64_t scratch_bytes; /* the context's scratch buffer that some kernel variants share (im2col
                               columns, Winograd tiles), as large as it has grown so far */
    uint64_t scratch_bytes_needed; /* what the current input size's variants ask for at most;
                                      counted, with everything above, in the device-memory check
                                      of clseg_net_prepare before anything is allocated */
} clseg_memory_stats;

/* Device memory of the net for the current input size. Peak device memory is weight_bytes +
   io_bytes + activation_bytes (= clseg_net_device_bytes) + scratch_bytes; with or without the
   planner: replace activation_bytes by activation_bytes_planned / _unplanned. */
void clseg_net_memory_stats(const clseg_net *net, clseg_memory_stats *out);

/* Layers of the network, in execution order (the spec's layers). */
int clseg_net_layer_count(const clseg_net *net);

typedef struct clseg_layer_info {
    char name[64];    /* the spec's layer name */
    char op[16];      /* "conv2d", "deconv2d", "maxpool", ... */
    char variant[32]; /* the kernel variant chosen for the current input size ("" if none) */
    char source[16];  /* where that choice came from: "tuned", "default" or "generic" */
    char params[160]; /* its parameters, "TILE_X=4 TILE_CO=8" ("" if it has none) */
    int out_shape[4]; /* n, c, h, w */
    double flop;      /* floating-point operations (conv and deconv; 0 for the others) */
    double bytes;     /* bytes read and written: inputs + weights + outputs, float32 */
} clseg_layer_info;

/* Layer i (0 <= i < clseg_net_layer_count) as prepared for the current input size. */
clseg_status clseg_net_layer_info(const clseg_net *net, int i, clseg_layer_info *out);

/* How clseg_net_forward_profiled times each layer. */
typedef enum clseg_layer_timing {
    /* The sum of the layer's kernels' OpenCL profiling events (end - start): device time, no
       extra synchronisation. Needs a context created with enable_profiling = 1. */
    CLSEG_LAYER_TIMING_EVENTS = 0,
    /* Host wall clock around each layer, with a clFinish after it: for drivers whose events
       carry no real durations (Mesa 22's rusticl reports about 1 ns per kernel). */
    CLSEG_LAYER_TIMING_HOST = 1
} clseg_layer_timing;

/* clseg_net_forward that also writes each layer's time in milliseconds to
   layer_ms[0 .. clseg_net_layer_count). */
clseg_status clseg_net_forward_profiled(clseg_net *net, const float *input, int n, int height,
                                        int width, float *logits, double *layer_ms,
                                        clseg_layer_timing timing);

#ifdef __cplusplus
}
#endif

#endif /* CLSEG_H */
