/* clseg_tune.h - public C API of kernel selection: plans, the autotuner, tuning databases. */
#ifndef CLSEG_TUNE_H
#define CLSEG_TUNE_H

#include "clseg.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Every op has kernel variants with tunable parameters; for each layer the selector picks, in
   order: the tuning database's record for this exact device, driver and layer shape ("tuned"),
   the defaults table of the device's class ("class default"), the first variant that supports the
   layer with its generic defaults ("generic"); or, when plain kernels are asked for, the op's
   last-resort variant with its smallest tiles ("plain"). docs/tuning.md explains. */

/* ---- Devices -------------------------------------------------------------------------------- */

/* The class the selector's defaults table files a device under: "pocl-cpu", "llvmpipe",
   "intel-gpu", "amd-gpu", "mali-bifrost", "mali-valhall", "adreno", "nvidia", "unknown-gpu" or
   "unknown-cpu". Never NULL ("unknown-gpu" for NULL). */
CLSEG_API const char *clseg_device_class_name(const clseg_device_info *dev);

/* Reads a recorded device (tests/fixtures/devices/NAME.dev: `key = value` lines, keys as
   `clseg devices --json` prints them; docs/tuning.md), so that plans can be made for devices
   that are not on this machine. CLSEG_ERR_IO / CLSEG_ERR_FORMAT ("PATH: line N: ...") on
   failure, with the message in errbuf (may be NULL). */
CLSEG_API clseg_status clseg_device_info_load(const char *path, clseg_device_info *out,
                                              char *errbuf, size_t errbuf_size);

/* Compiles (or loads from the binary cache) every kernel program the library embeds, whether a
   network needs it or not, and sets *programs (may be NULL) to how many there are: what a cold
   and a warm start-up cost on the device. Errors as clseg_context_error / _build_log. */
CLSEG_API clseg_status clseg_context_build_all_programs(clseg_context *ctx, int *programs);

/* ---- Roofline: what the device can do at best ----------------------------------------------- */

/* The device's FMA peak and copy bandwidth, from clseg's own micro-kernels (kernels/peak.cl, as
   clpeak measures them): many independent fma chains on float vectors of the device's preferred
   width, and a copy between two large buffers. A layer's roofline bound is
   min(gflops, intensity x gbs), intensity being its flop per byte moved. */
typedef struct clseg_device_peak {
    double gflops;    /* GFLOP/s, an fma counting as 2 */
    double gbs;       /* GB/s (1e9 bytes/s), bytes read plus bytes written */
    int vector_width; /* float lanes per vector of the FMA kernel */
    int from_cache;   /* 1 = read from the cache, 0 = measured by this call */
} clseg_device_peak;

typedef struct clseg_peak_options {
    size_t struct_size;    /* sizeof(clseg_peak_options): set by clseg_peak_options_init */
    int quick;             /* 1 = a few milliseconds per figure (tests): rougher, never cached */
    int remeasure;         /* 1 = measure even when a cached result exists (and replace it) */
    const char *cache_dir; /* where the result is kept; NULL = the context's binary cache */
} clseg_peak_options;

CLSEG_API void clseg_peak_options_init(clseg_peak_options *opts);

/* Measures the peak of the context's device (about a second; opts may be NULL for defaults), or
   reads it from opts->cache_dir, else the context's binary cache directory (peak-HASH.txt, keyed
   by device, driver and platform version), where a full measurement is stored for later calls
   and runs. No directory (CLSEG_NO_CACHE=1 and no cache_dir): measured every call. Takes the
   context's lock. Fails with CLSEG_ERR_INVALID_ARGUMENT (NULL out, uninitialised options),
   CLSEG_ERR_BUILD / _OPENCL / _OUT_OF_MEMORY as the kernels and buffers do; the message is in
   clseg_context_error. */
CLSEG_API clseg_status clseg_device_peak_measure(clseg_context *ctx, const clseg_peak_options *opts,
                                                 clseg_device_peak *out);

/* ---- Tuning databases ------------------------------------------------------------------------ */

/* How a tuning database file fared when it was loaded. Values are stable. */
typedef enum clseg_tuning_db_state {
    CLSEG_TUNING_DB_EMPTY = 0,   /* no file (not an error), or an empty database */
    CLSEG_TUNING_DB_LOADED = 1,  /* parsed and checksum verified */
    CLSEG_TUNING_DB_CORRUPT = 2, /* clseg's format but truncated or altered: ignored; may be
                                    overwritten */
    CLSEG_TUNING_DB_FOREIGN = 3  /* not a database this version writes: ignored, never
                                    overwritten */
} clseg_tuning_db_state;

/* A tuning database read from a file, for planning without a context. */
typedef struct clseg_tuning_db clseg_tuning_db;

/* Loads the database at path. A missing file is an empty database (CLSEG_OK, state EMPTY). A
   corrupt or foreign file fails with CLSEG_ERR_FORMAT, *out NULL, *state (may be NULL) CORRUPT or
   FOREIGN and the reason in errbuf (may be NULL). Free with clseg_tuning_db_free. */
CLSEG_API clseg_status clseg_tuning_db_load(clseg_tuning_db **out, const char *path,
                                            clseg_tuning_db_state *state, char *errbuf,
                                            size_t errbuf_size);
CLSEG_API void clseg_tuning_db_free(clseg_tuning_db *db);

/* Records in db: all of them when dev is NULL, else those for dev's device and driver (the
   ones its plans can use). 0 for a NULL db. */
CLSEG_API size_t clseg_tuning_db_record_count(const clseg_tuning_db *db,
                                              const clseg_device_info *dev);

/* The file of the context's tuning database (clseg_context_options.tuning_db, else
   $CLSEG_TUNING_DB, else tuning.db in the cache directory), or NULL when it has none (tuning_db
   "", or no cache directory). Valid while ctx lives. */
CLSEG_API const char *clseg_context_tuning_path(const clseg_context *ctx);
/* How that file fared when the context was created. */
CLSEG_API clseg_tuning_db_state clseg_context_tuning_state(const clseg_context *ctx);
/* Records in the context's database (as loaded, plus what clseg_tuner_run added): all of them
   (this_device = 0) or those for the context's device and driver (this_device = 1). */
CLSEG_API size_t clseg_context_tuning_record_count(const clseg_context *ctx, int this_device);

/* Writes the context's database to clseg_context_tuning_path, atomically (a temporary file then
   a rename), creating its directory. Refuses, with CLSEG_ERR_INVALID_ARGUMENT, a context without
   a path, and one whose file is FOREIGN (someone else's file is never overwritten). Errors as
   clseg_context_error. */
CLSEG_API clseg_status clseg_context_save_tuning(clseg_context *ctx);

/* The database a context uses when clseg_context_options.tuning_db is NULL: $CLSEG_TUNING_DB,
   else tuning.db in cache_dir (NULL = the default cache directory: $CLSEG_CACHE_DIR, else
   $XDG_CACHE_HOME/clseg, else ~/.cache/clseg). Returns 0, with buf "", when there is none (no
   home directory) or it does not fit in len bytes; else 1. */
CLSEG_API int clseg_tuning_db_default_path(const char *cache_dir, char *buf, size_t len);

/* ---- Plans: what the selector picks for every layer ---------------------------------------- */

/* Where a layer's choice came from. Values are stable. */
typedef enum clseg_choice_source {
    CLSEG_CHOICE_TUNED = 0,         /* the tuning database, for this device and driver */
    CLSEG_CHOICE_CLASS_DEFAULT = 1, /* the defaults table of the device's class */
    CLSEG_CHOICE_GENERIC = 2,       /* the first supporting variant, generic defaults */
    CLSEG_CHOICE_PLAIN = 3          /* plain kernels were asked for */
} clseg_choice_source;

/* "tuned", "class default", "generic", "plain" (as `clseg plan` prints them); "?" otherwise. */
CLSEG_API const char *clseg_choice_source_name(clseg_choice_source source);

typedef struct clseg_plan_layer {
    char name[64];    /* the spec's layer name; "(argmax)" for the final label op */
    char op[16];      /* "conv2d", "deconv2d", "maxpool", ... */
    int out_shape[4]; /* n, c, h, w of its (first) output */
    double flop;      /* floating-point operations (conv and deconv; 0 for the others) */
    double bytes;     /* bytes read and written: inputs, weights, outputs as stored */
    char variant[32]; /* the kernel variant chosen */
    char params[160]; /* every parameter of it, "TILE_CO=8 TILE_X=4 WG_X=8" ("" if none) */
    clseg_choice_source source;
} clseg_plan_layer;

/* The choices for every op call a forward pass of a model runs at one input size: the network's
   layers in order, then the argmax that segmentation runs. */
typedef struct clseg_plan clseg_plan;

/* The plan on ctx's device with ctx's tuning database and plain-kernel setting. Runs nothing.
   CLSEG_ERR_FORMAT / CLSEG_ERR_TOO_LARGE when the network does not fit the size,
   CLSEG_ERR_UNSUPPORTED ("layer NAME: no OP variant supports it on DEVICE"); errors as
   clseg_context_error. The model may be freed afterwards. */
CLSEG_API clseg_status clseg_plan_create(clseg_plan **out, clseg_context *ctx,
                                         const clseg_model *model, int n, int height, int width);

/* The same for a device given by its properties, which need not be on this machine (e.g. from
   clseg_device_info_load), with database db (NULL = none) and plain = 1 for the plain kernels.
   Errors in errbuf (may be NULL). */
CLSEG_API clseg_status clseg_plan_create_for_device(clseg_plan **out, const clseg_device_info *dev,
                                                    const clseg_tuning_db *db, int plain,
                                                    const clseg_model *model, int n, int height,
                                                    int width, char *errbuf, size_t errbuf_size);
CLSEG_API void clseg_plan_free(clseg_plan *plan);

/* Op calls in the plan (the model's layers + 1); 0 for NULL. */
CLSEG_API int clseg_plan_layer_count(const clseg_plan *plan);
/* Call i, 0 <= i < clseg_plan_layer_count. */
CLSEG_API clseg_status clseg_plan_layer_get(const clseg_plan *plan, int i, clseg_plan_layer *out);
/* Why call i got its variant: one line per variant of its op, in preference order, "NAME:
   chosen", "NAME: refused: REASON" (at its generic defaults: the variant's own supports() or
   the device's limits) or "NAME: supported, not preferred"; lines end with '\n'. Truncated to
   len - 1 characters. */
CLSEG_API clseg_status clseg_plan_layer_why(const clseg_plan *plan, int i, char *buf, size_t len);

/* Runs call i's chosen variant alone on ctx, on its own buffers of seeded random data (seed 1 +
   i): one warm-up run, then the median of `reps` runs, each followed by clFinish, in
   milliseconds of wall clock. ctx must be on the device the plan was made for. Errors as
   clseg_context_error. */
CLSEG_API clseg_status clseg_plan_time_layer(const clseg_plan *plan, clseg_context *ctx, int i,
                                             int reps, double *ms);

/* ---- Kernel variants ------------------------------------------------------------------------- */

#define CLSEG_VARIANT_MAX_PARAMS  8
#define CLSEG_VARIANT_MAX_CHOICES 16

typedef struct clseg_variant_param {
    char name[32];     /* "TILE_X"; WG_* are work-group sizes */
    int default_value; /* the generic default */
    int n_choices;     /* values the tuner tries */
    int choices[CLSEG_VARIANT_MAX_CHOICES];
} clseg_variant_param;

typedef struct clseg_variant_info {
    char op[16];   /* "conv2d", ... */
    char name[32]; /* "direct", "tiled", ..., unique within its op */
    int n_params;
    clseg_variant_param params[CLSEG_VARIANT_MAX_PARAMS];
} clseg_variant_info;

/* The forward kernel variants plans choose among and the tuner times (those of ops the tuner
   can verify), in the selector's preference order within an op. */
CLSEG_API int clseg_variant_count(void);
/* Variant i, 0 <= i < clseg_variant_count. */
CLSEG_API clseg_status clseg_variant_get(int i, clseg_variant_info *out);

/* ---- The autotuner -------------------------------------------------------------------------- */

/* What the progress callback is told: when a layer or phase starts and after each candidate. */
typedef struct clseg_tune_progress {
    int layer;                /* the distinct layer being tuned, in tuning order (heaviest first);
                                 == n_layers in the CLBlast phase */
    int n_layers;             /* distinct layers */
    const char *layer_name;   /* its first layer's name; NULL in the CLBlast phase */
    double layer_flop;        /* floating-point operations of one call (0 without arithmetic) */
    const char *phase;        /* "reference", "search", "clblast" */
    int tried;                /* candidates timed so far for this layer */
    double best_ms;           /* the best time so far; <= 0: none yet */
    const char *best_variant; /* the best candidate so far (NULL if none, or CLBlast phase) */
    const char *best_params;  /* its parameters, "TILE_CO=8 TILE_X=4 ..." ("" if none) */
    double elapsed_s, budget_s;
} clseg_tune_progress;

typedef struct clseg_tune_options {
    size_t struct_size; /* start from CLSEG_TUNE_OPTIONS_INIT or clseg_tune_options_init */
    int batch;          /* batch size (0 = 1) */
    int height, width;  /* input size; required */
    double budget_s;    /* tuning time in seconds (0 = 60); every layer gets at least its current
                           choice measured, so small budgets may run over a little */
    uint64_t seed;      /* seed of the random search and the test data */
    int train;          /* 1 = also the forward calls a training step runs for the data gradients
                           (a conv's is a transposed conv and the other way round), named
                           "LAYER dx"; give the training batch and crop as batch and size */
    /* Called from clseg_tuner_run's thread; may be NULL. The pointers in p are valid during the
       call only. */
    void (*progress)(void *user, const clseg_tune_progress *p);
    void *user;
} clseg_tune_options;
#define CLSEG_TUNE_OPTIONS_INIT .struct_size = sizeof(clseg_tune_options)
CLSEG_API void clseg_tune_options_init(clseg_tune_options *opts);

/* The distinct layer shapes (op signatures) of a network at one size, their tuning and results. */
typedef struct clseg_tuner clseg_tuner;

/* Collects the distinct layer shapes of model at opts' size (layers sharing a shape are tuned
   once). Runs nothing and needs no device. Errors (the network does not fit the size, bad
   options) in errbuf (may be NULL). The model may be freed afterwards. */
CLSEG_API clseg_status clseg_tuner_create(clseg_tuner **out, const clseg_model *model,
                                          const clseg_tune_options *opts, char *errbuf,
                                          size_t errbuf_size);
CLSEG_API void clseg_tuner_free(clseg_tuner *tuner);

/* Distinct layers; 0 for NULL. */
CLSEG_API int clseg_tuner_layer_count(const clseg_tuner *tuner);

/* Finds the fastest variant and parameters for each distinct layer on ctx's device within about
   the budget (most of it to the heaviest layers): starts from the current choice, searches each
   variant's parameters (greedy steps, then random), times each candidate and checks its output
   against the C reference before accepting it. The winners go into ctx's tuning database in
   memory (nets created on ctx afterwards use them; clseg_context_save_tuning writes them).
   Where a GEMM variant takes part, CLBlast's Xgemm parameters are tuned too, and a winning set
   is applied to the device at once: CLBlast keeps such overrides process-wide per device, so
   from then on every context on the same device in this process uses it, not only ctx (each new
   context re-applies the set its own database holds, if any). Fails only on errors that make
   further measurement meaningless (out of memory, a lost device); errors as clseg_context_error.
   Not thread-safe with other calls on ctx. May be run once per tuner. */
CLSEG_API clseg_status clseg_tuner_run(clseg_tuner *tuner, clseg_context *ctx);

/* One distinct layer: what it is and, after clseg_tuner_run, how it fared. */
typedef struct clseg_tune_layer {
    char name[64]; /* its first layer's name ("LAYER dx" for a data gradient) */
    char op[16];
    int count;          /* layers of the network that share the shape */
    int first;          /* index of that first layer among the tuned calls (network order) */
    double flop, bytes; /* of one call */
    int skipped;        /* 1 = nothing to choose (one variant, no parameters) */
    double before_ms;   /* the starting choice; < 0: it failed (wrong output or run error) */
    double best_ms;     /* the winner; < 0: no candidate passed */
    char best_variant[32];
    char best_params[160];
    int tried, wrong, failed; /* candidates timed; rejected for wrong output; failed to run */
    char first_problem[256];  /* the first rejection ("" if none) */
} clseg_tune_layer;

/* Distinct layer i in network order (by `first`), 0 <= i < clseg_tuner_layer_count. Before
   clseg_tuner_run only the fields up to `bytes` are set. */
CLSEG_API clseg_status clseg_tuner_layer_get(const clseg_tuner *tuner, int i,
                                             clseg_tune_layer *out);

/* CLBlast's Xgemm parameters, as tuned by clseg_tuner_run. */
typedef struct clseg_tune_gemm {
    int ran;                   /* 0 = no GEMM variant can run any of the layers */
    int tried, rejected;       /* parameter sets timed; failed or wrong */
    double before_ms, best_ms; /* total over the GEMM layers: with the parameters in effect
                                  before, and with the best set (< 0 = none passed) */
    char best[512];            /* the winning set, "MWG=64 NWG=64 ..." ("" = none beat them) */
} clseg_tune_gemm;
CLSEG_API clseg_status clseg_tuner_gemm_get(const clseg_tuner *tuner, clseg_tune_gemm *out);

#ifdef __cplusplus
}
#endif

#endif /* CLSEG_TUNE_H */
