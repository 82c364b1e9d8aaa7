/* clseg_train.h - training and evaluation (unstable API: may change between minor versions). */
#ifndef CLSEG_TRAIN_H
#define CLSEG_TRAIN_H

#include "clseg.h"

#ifdef __cplusplus
extern "C" {
#endif

/* docs/training.md describes the training run (data, loss, optimisers, schedules, checkpoints,
   resuming) and the metrics. Nothing here prints or exits: progress comes through callbacks, and
   errors as a clseg_status plus a one-line message (clseg_train_session_error, or errbuf for
   calls without a session). The messages name options by their `clseg train` flags ("--lr",
   "--class-weights", ...), since that is where most users meet them. No call keeps global
   state; a session is used by one thread at a time. */

/* ---- Collectives: data-parallel training and evaluation ------------------------------------ */

/* docs/distributed.md: several processes ("ranks"), each with its own device, train one model or
   evaluate one set together. The library knows no communication library: the caller hands it a
   reducer, filled in from MPI by `clseg train` / `clseg eval` under mpirun, or from anything
   else that can sum buffers across processes. Every rank calls the library in the same order
   with the same options, so the callbacks are reached in the same order on every rank. */
typedef enum clseg_reduce_type {
    CLSEG_REDUCE_FLOAT = 0, /* float elements */
    CLSEG_REDUCE_DOUBLE = 1 /* double elements */
} clseg_reduce_type;

typedef struct clseg_reducer {
    size_t struct_size; /* sizeof(clseg_reducer) */
    int rank, size;     /* this process's rank in 0..size-1, and the number of ranks */
    /* Replaces buf (count elements of type) by its element-wise sum over every rank, on every
       rank. A failure returns an error status with a one-line reason in err. */
    clseg_status (*allreduce_sum)(void *user, void *buf, size_t count, clseg_reduce_type type,
                                  char *err, size_t errlen);
    /* Replaces buf (bytes) on every rank by rank 0's. */
    clseg_status (*broadcast)(void *user, void *buf, size_t bytes, char *err, size_t errlen);
    void *user; /* passed to both */
} clseg_reducer;

/* ---- Evaluation metrics -------------------------------------------------------------------- */

/* Metrics of a model over a labelled set, from one confusion matrix summed over every pixel of
   every image. Created by clseg_eval or handed to a training progress callback; read-only for
   the caller. Percentages are in [0, 100]; NaN marks an undefined per-class value. */
typedef struct clseg_metrics {
    int classes;                    /* K, the model's classes */
    int ignore_index;               /* ground-truth label left out of everything (-1 = none) */
    int scored_classes;             /* K minus the ignore class */
    double miou;                    /* mean IoU over scored classes whose IoU is defined */
    double pixel_accuracy;          /* correct / labelled pixels */
    double mean_class_accuracy;     /* mean over scored classes present in the truth */
    uint64_t labelled_pixels;       /* pixels scored (ignore index excluded) */
    const double *iou;              /* K entries: TP / (TP + FP + FN); NaN if undefined/ignored */
    const double *accuracy;         /* K entries: TP / (TP + FN); NaN if absent/ignored */
    const uint64_t *confusion;      /* K x K pixel counts: row = ground truth, column = predicted */
    const char *const *class_names; /* K names, copied from the model */
    int images;                     /* images scored */
    double segment_ms;              /* summed time of the segment calls (upload, forward, argmax,
                                       download) */
    double wall_ms;                 /* the whole evaluation, PNG decoding included */
    const char *device;             /* name of the device it ran on */
} clseg_metrics;

CLSEG_API void clseg_metrics_free(clseg_metrics *metrics);

/* Writes the metrics as JSON to path, atomically (keys in docs/training.md: model, device,
   images, ignore_index, miou, pixel_accuracy, mean_class_accuracy, labelled_pixels,
   ms_per_image, per_class_iou, per_class_accuracy, classes, confusion). model_label is written
   as "model" (e.g. the model's path; NULL = ""). metrics must come from this library.
   CLSEG_ERR_IO / CLSEG_ERR_OUT_OF_MEMORY with the reason in errbuf (may be NULL). */
CLSEG_API clseg_status clseg_metrics_write_json(const clseg_metrics *metrics, const char *path,
                                                const char *model_label, char *errbuf,
                                                size_t errbuf_size);

/* Metrics of label maps the caller already has (e.g. from several devices, or a reference):
   an empty set for model's classes (names copied) with ignore_index (-1 = none) that
   clseg_metrics_add fills one image at a time; every field is up to date after each add.
   device is stored as the metrics' device name (NULL = ""). Free with clseg_metrics_free. */
CLSEG_API clseg_status clseg_metrics_create(clseg_metrics **out, const clseg_model *model,
                                            int ignore_index, const char *device, char *errbuf,
                                            size_t errbuf_size);

/* Adds one image of `pixels` pixels: truth, the ground-truth labels, and pred, the predicted
   ones (pixels bytes each). A truth label that is neither a class nor the ignore index, or a
   prediction that is not a class, is CLSEG_ERR_FORMAT (errbuf says which) and adds nothing.
   segment_ms is added to the metrics' segment_ms (0 if not timed). */
CLSEG_API clseg_status clseg_metrics_add(clseg_metrics *metrics, const uint8_t *truth,
                                         const uint8_t *pred, size_t pixels, double segment_ms,
                                         char *errbuf, size_t errbuf_size);

/* Called after each image: done of total, elapsed_s seconds since the evaluation began. */
typedef void (*clseg_eval_progress_fn)(void *user, int done, int total, double elapsed_s);

typedef struct clseg_eval_options {
    size_t struct_size;    /* sizeof(clseg_eval_options); see clseg_context_options */
    const char *image_dir; /* RGB PNGs (every *.png, sorted by name) */
    const char *label_dir; /* label PNGs of the same file names: 8-bit gray class indices */
    int ignore_index;      /* label left out of every metric (-1 = none; set it: 0 is a class) */
    clseg_eval_progress_fn progress; /* may be NULL */
    void *progress_user;
    /* Several ranks evaluate the set together (NULL = this process alone): rank r scores the
       images r, r + size, ... and the confusion matrices are summed, so every rank gets the
       metrics of the whole set; progress counts this rank's images. A rank that fails still
       joins the sum, so all stop: the others with an error beginning "stopped: ". */
    const clseg_reducer *reducer;
} clseg_eval_options;

/* struct_size set, ignore_index -1, everything else 0 / NULL. */
CLSEG_API void clseg_eval_options_init(clseg_eval_options *opts);

/* Segments every image of opts->image_dir at its full size with net (created on ctx from model,
   which gives the class names) and scores it against its label. A label that is neither a class
   nor the ignore index, a missing label file, a size mismatch or an empty directory fails
   (CLSEG_ERR_FORMAT / CLSEG_ERR_IO, the file named in errbuf). On success *out holds the metrics
   (free with clseg_metrics_free); on failure *out is NULL. */
CLSEG_API clseg_status clseg_eval(clseg_metrics **out, clseg_context *ctx, clseg_net *net,
                                  const clseg_model *model, const clseg_eval_options *opts,
                                  char *errbuf, size_t errbuf_size);

/* ---- Training sessions --------------------------------------------------------------------- */

typedef enum clseg_optimizer {
    CLSEG_OPTIMIZER_SGD = 0, /* PyTorch's SGD with momentum, L2 weight decay */
    CLSEG_OPTIMIZER_ADAM = 1 /* Adam with decoupled weight decay (AdamW) */
} clseg_optimizer;

typedef enum clseg_lr_schedule {
    CLSEG_SCHEDULE_CONST = 0,
    CLSEG_SCHEDULE_STEP = 1,  /* lr * lr_gamma every lr_step epochs */
    CLSEG_SCHEDULE_POLY = 2,  /* lr * (1 - t / T)^poly_power over the global step t */
    CLSEG_SCHEDULE_COSINE = 3 /* lr * (1 + cos(pi t / T)) / 2 */
} clseg_lr_schedule;

/* A training run. Start from clseg_train_options_init (several defaults are not 0). Strings and
   arrays are borrowed: they must stay valid until the session is freed. */
typedef struct clseg_train_options {
    size_t struct_size; /* sizeof(clseg_train_options); see clseg_context_options */

    /* Model: exactly one of spec_path, init_model, resume. */
    const char *spec_path;  /* network description (.cfg); weights He-initialised from seed */
    int classes;            /* with spec_path: 1..255 (12 = CamVid's names and colours);
                               with init_model / resume: 0, or it must match the model's */
    const char *class_file; /* instead of classes: one class per line, "name" or "name R G B",
                               '#' comments */
    const char *init_model; /* start from this model's weights, with a fresh optimiser */
    const char *resume;     /* continue the run of this checkpoint; the run's configuration (every
                               option below but epochs and the paths) must be the same */

    /* Data: directories of RGB PNGs and of 8-bit gray label PNGs with the same file names. */
    const char *train_images, *train_labels;
    const char *val_images, *val_labels; /* validation set: both or neither */
    int val_every;    /* validate every N epochs and after the last (default 1) */
    int ignore_index; /* label excluded from the loss and the metrics (default -1 = none) */

    /* Augmentation (docs/training.md). */
    int crop_width, crop_height; /* training crop (default 0 x 0 = the first image's size) */
    double scale_min, scale_max; /* random scale range (default 0.75, 1.25; 1, 1 = off) */
    int flip;                    /* random horizontal flips (default 1) */
    double jitter[3];  /* colour jitter: brightness, contrast, saturation scaled by factors in
                          [1 - j, 1 + j], each 0..0.9 (default 0 = off) */
    double class_crop; /* probability of placing the crop on a pixel of a class drawn uniformly
                          from those in the image (default 0) */

    /* Optimisation. */
    int epochs;                    /* epochs of the whole run (required) */
    int batch;                     /* images per step (default 4) */
    clseg_optimizer optimizer;     /* default CLSEG_OPTIMIZER_ADAM */
    double lr;                     /* base learning rate (default 0 = 1e-3 for Adam, 1e-2 SGD) */
    double momentum;               /* SGD momentum (default 0.9) */
    double weight_decay;           /* conv weights only (default < 0 = 1e-4 Adam, 5e-4 SGD) */
    clseg_lr_schedule schedule;    /* per step (default CLSEG_SCHEDULE_POLY) */
    int lr_step;                   /* step schedule: epochs per decay (default 0 = epochs / 3, at
                                      least 1; a resumed run keeps its own) */
    double lr_gamma;               /* step schedule factor (default 0.1) */
    double poly_power;             /* poly exponent (default 0.9) */
    long warmup_steps;             /* linear warm-up over the first steps (default 0) */
    int class_weights_median_freq; /* 1 = median-frequency balancing from the training labels */
    const float *class_weights;    /* else explicit per-class loss weights (>= 0), ... */
    int class_weights_count;       /* ... this many, which must be the model's classes;
                                      NULL / 0 = all 1 */
    uint64_t seed;                 /* initialisation, shuffling and augmentation (default 1) */

    /* Outputs. */
    const char *out_model;  /* best model by validation mIoU (the latest without a validation
                               set), written atomically (required) */
    const char *checkpoint; /* checkpoint file (default NULL = out_model + ".ckpt"), written
                               atomically after every epoch */
    long checkpoint_every;  /* also every N global steps (default 0 = no) */
    const char *loss_log;   /* append "epoch step global_step loss lr" per step (NULL = none) */
    long stop_at_step;      /* stop after this global step with a checkpoint, as if interrupted
                               (default 0 = no) */

    /* Data-parallel training (docs/distributed.md). With a reducer of size N, batch is per rank
       and a step takes a global batch of N x batch images (rank r the images r*batch ..
       r*batch + batch-1 of it); the loss is averaged over the global batch's labelled pixels,
       the gradients are summed across ranks, and every rank applies the same update. Rank 0
       alone writes the loss log, checkpoints and out_model; the loss and metrics reported are
       global. The checkpoint records the global batch: a run resumes with any N and batch of
       the same product. */
    const clseg_reducer *reducer; /* NULL = this process alone */
    int sync_bn; /* BatchNorm statistics of the global batch (default 1; 0 = each rank's own,
                    running statistics taken from rank 0) */
} clseg_train_options;

/* Every default above, struct_size set. */
CLSEG_API void clseg_train_options_init(clseg_train_options *opts);

CLSEG_API const char *clseg_optimizer_name(clseg_optimizer optimizer);    /* "adam", "sgd" */
CLSEG_API const char *clseg_lr_schedule_name(clseg_lr_schedule schedule); /* "poly", ... */

typedef struct clseg_train_session clseg_train_session;

/* Step 1 of a run: checks the options and builds the model (from spec_path and classes /
   class_file, or init_model), or reads the checkpoint to resume (refusing a different spec or
   class count). Touches no device and no data. On failure *out is NULL and errbuf (may be NULL)
   says why: CLSEG_ERR_INVALID_ARGUMENT for inconsistent options, else as clseg_model_load. */
CLSEG_API clseg_status clseg_train_session_create(clseg_train_session **out,
                                                  const clseg_train_options *opts, char *errbuf,
                                                  size_t errbuf_size);
CLSEG_API void clseg_train_session_free(clseg_train_session *s);

/* Text of the last error on this session ("" if none). Valid until the next call on s. */
CLSEG_API const char *clseg_train_session_error(const clseg_train_session *s);

/* The model being trained as it was loaded or built (class count and names; its weights are not
   kept up to date while training: see out_model and the checkpoint). Owned by the session. */
CLSEG_API const clseg_model *clseg_train_session_model(const clseg_train_session *s);

/* Step 2: lists the training (and validation) images, takes the crop size from the first image
   when none was given, computes the class weights (a pass over every training label for
   median-freq) and the run's configuration, and for a resumed run compares that configuration
   with the checkpoint's, refusing any difference but epochs. CLSEG_ERR_INVALID_ARGUMENT when the
   options do not fit the model or the data (class_weights_count, fewer images than one batch, a
   different configuration on resume, a model that does not take RGB), CLSEG_ERR_IO /
   CLSEG_ERR_FORMAT for unreadable data. A resumed run that has done its epochs already is not an
   error: clseg_train_session_info says finished = 1. */
CLSEG_API clseg_status clseg_train_session_load_data(clseg_train_session *s);

/* Step 3: puts the model, gradients, optimiser state and activations for the crop on ctx (which
   must outlive the session), compiles the kernels, restores the optimiser state of a resumed
   run and opens the loss log. Errors as clseg_context_error. */
CLSEG_API clseg_status clseg_train_session_start(clseg_train_session *s, clseg_context *ctx);

/* Where a session stands; valid fields depend on the steps done. */
typedef struct clseg_train_info {
    const char *network_name;                   /* the spec's name */
    int classes;                                /* after create */
    int crop_width, crop_height, batch, epochs; /* after load_data */
    int train_images;                           /* after load_data */
    int val_images;                             /* 0 without a validation set */
    int steps_per_epoch;                        /* full batches per epoch */
    long total_steps;                           /* epochs x steps_per_epoch */
    const float *class_weights; /* classes entries, as used in the loss (after load_data) */
    double lr;                  /* the base learning rate in use (defaults resolved) */
    const char *optimizer;      /* "adam" / "sgd" */
    const char *schedule;       /* "poly" / ... */
    const char *checkpoint;     /* the checkpoint path in use */
    const char *out_model;
    /* Position: after load_data (a resumed run's), and as training goes. */
    int epoch;             /* epochs completed */
    int step;              /* steps done of the epoch in progress */
    long global_step;      /* steps done in the whole run */
    double best_miou;      /* best validation mIoU so far (-1 = none) */
    int best_epoch;        /* 1-based epoch of best_miou, or of the latest out_model without
                              validation (0 = none) */
    int finished;          /* 1 = epoch >= epochs */
    int stopped;           /* 1 = the last run stopped early (stop_at_step or the callback) */
    int diverged;          /* 1 = the run stopped at a NaN or Inf loss or gradient (on any rank) */
    int peer_failed;       /* 1 = the run stopped because another rank failed (its own error
                              says why; this rank's error only says that it stopped) */
    int stopped_all;       /* 1 = the failure stopped every rank together (a NaN, a rank that
                              could not load its batch or validate, which tells the others):
                              no rank is left waiting for this one */
    uint64_t device_bytes; /* device memory of the training graph (after start) */
} clseg_train_info;

CLSEG_API void clseg_train_session_info(const clseg_train_session *s, clseg_train_info *out);

/* What a progress callback is told. */
typedef enum clseg_train_event {
    CLSEG_TRAIN_EPOCH_BEGIN = 0,         /* the steps of an epoch begin (at step, > 0 when a run
                                            resumed mid-epoch) */
    CLSEG_TRAIN_STEP = 1,                /* one step was applied */
    CLSEG_TRAIN_EPOCH_STEPS_END = 2,     /* the steps of the epoch ended: completed, stopped, or
                                            failed (the run then returns the error) */
    CLSEG_TRAIN_VALIDATION_BEGIN = 3,    /* validation of the epoch's model begins */
    CLSEG_TRAIN_VALIDATION_PROGRESS = 4, /* one more validation image done */
    CLSEG_TRAIN_EPOCH_END = 5            /* the epoch is complete (validated when due, out_model
                                            written when best); its checkpoint comes next */
} clseg_train_event;

typedef struct clseg_train_progress {
    clseg_train_event event;
    int epoch;           /* 1-based epoch in progress */
    int epochs;          /* of the run */
    int step;            /* steps of this epoch done */
    int first_step;      /* step at which this run's part of the epoch began */
    int steps_per_epoch; /* full batches per epoch */
    int batch;           /* images per step */
    long global_step;    /* steps done in the whole run */
    long total_steps;
    double elapsed_s; /* STEP, EPOCH_STEPS_END: since this run's part of the epoch began;
                         VALIDATION_*: since the validation began */
    /* STEP */
    double loss;         /* this step's mean weighted cross-entropy */
    double loss_avg;     /* mean over this run's steps of the epoch */
    double lr;           /* learning rate of this step */
    double images_per_s; /* over this run's part of the epoch */
    double eta_s;        /* whole run, from this run's mean step time */
    /* VALIDATION_BEGIN, VALIDATION_PROGRESS */
    int val_done, val_total;
    /* EPOCH_END */
    double train_loss;            /* mean over this run's steps of the epoch (NaN if none) */
    double epoch_s;               /* this run's part of the epoch, validation excluded */
    int validated;                /* 1 = validated at this epoch: metrics and the rest below */
    const clseg_metrics *metrics; /* valid during the callback */
    double validation_s;
    int new_best;     /* 1 = best mIoU so far: out_model was written */
    double best_miou; /* best so far (-1 = none) */
    int best_epoch;   /* 0 = none */
} clseg_train_progress;

/* Return non-zero from a CLSEG_TRAIN_STEP call to stop after that step, as stop_at_step does (a
   checkpoint is written); the return value of other events is ignored. */
typedef int (*clseg_train_progress_fn)(void *user, const clseg_train_progress *p);

/* Step 4: trains from the current position to the last epoch, or until stop_at_step or the
   callback stops it (info.stopped = 1). After every epoch: validation when due, out_model when
   best (every epoch without validation), then the checkpoint; with checkpoint_every also every N
   steps. A step whose loss or gradient is NaN or Inf is not applied: the run stops with
   CLSEG_ERR_INVALID_ARGUMENT (the learning rate or the data make it diverge), info.diverged = 1
   and a message naming the epoch, step, learning rate and the last good checkpoint, writing
   nothing more. progress may be NULL. Errors in clseg_train_session_error. */
CLSEG_API clseg_status clseg_train_session_run(clseg_train_session *s,
                                               clseg_train_progress_fn progress, void *user);

/* ---- Benchmark of one training step -------------------------------------------------------- */

#define CLSEG_TRAIN_BENCHMARK_MAX_OPS 40

typedef struct clseg_train_benchmark {
    int steps;                        /* timed steps */
    double median_ms, min_ms, max_ms; /* per timed step */
    double forward_gflop;             /* conv and deconv FLOPs of one forward; a step is ~3x */
    double setup_ms;                  /* allocation and kernel compilation (or cache) */
    uint64_t device_bytes;            /* the training graph's device memory */
    double profiled_step_ms;          /* one more step with a wait after every op: */
    int op_count;                     /* entries below (op kinds that took time, in kind order;
                                         the last may be "optimizer+grad check") */
    char op_name[CLSEG_TRAIN_BENCHMARK_MAX_OPS][32];
    double op_ms[CLSEG_TRAIN_BENCHMARK_MAX_OPS];
} clseg_train_benchmark;

/* Called after each step: step 0 is the warm-up, 1..steps the timed ones. */
typedef void (*clseg_train_benchmark_fn)(void *user, int step, double ms, double loss);

/* Times steps training steps (after one warm-up step) of the session's model on random data of
   the options' batch and crop (crop_width and crop_height required), with updates applied as in
   training, then one profiled step. Needs only clseg_train_session_create before it; the session
   is not usable for training afterwards. progress may be NULL. Errors in
   clseg_train_session_error. */
CLSEG_API clseg_status clseg_train_session_benchmark(clseg_train_session *s, clseg_context *ctx,
                                                     int steps, clseg_train_benchmark_fn progress,
                                                     void *user, clseg_train_benchmark *out);

#ifdef __cplusplus
}
#endif

#endif /* CLSEG_TRAIN_H */
