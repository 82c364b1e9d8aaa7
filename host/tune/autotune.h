/* autotune.h - the autotuner behind `clseg tune`: for each distinct op signature of a network,
   times candidate (variant, parameters) on the real device, verifies each against the C
   reference, and records the winners in the context's tuning database; then tunes CLBlast's
   Xgemm parameters where a GEMM variant takes part. The library prints nothing: progress goes
   to a callback. */
#ifndef CLSEG_AUTOTUNE_H
#define CLSEG_AUTOTUNE_H

#include "workload.h"

typedef struct tune_layer {
    op_call call; /* kind, parameters, shapes; from net_calls (no buffers) */
    char sig[256];
    char name[OP_CALL_NAME_MAX]; /* the first layer with this signature */
    int count;                   /* layers of the network that share it */
    int first;                   /* index of that first layer in the network */
    double flops, bytes;         /* of one call */
} tune_layer;

/* The distinct signatures of calls[0 .. n), heaviest first. Returns how many (<= max). */
int tune_distinct_layers(const op_named_call *calls, int n, tune_layer *out, int max);

typedef struct tune_outcome {
    int skipped;              /* 1 = nothing to choose (one variant, no parameters) or no data */
    op_choice before, best;   /* the choice at the start, and the winner */
    double before_ms;         /* < 0: the starting choice failed (wrong output or run error) */
    double best_ms;           /* < 0: no candidate passed */
    int tried, wrong, failed; /* timed; rejected for wrong output; failed to build or run */
    char first_problem[256];  /* the first rejection, for the report */
} tune_outcome;

typedef struct tune_clblast_outcome {
    int ran;                   /* 0 = no GEMM variant is legal for any layer */
    int tried, rejected;       /* parameter sets timed; failed or wrong */
    double before_ms, best_ms; /* total over the GEMM layers: CLBlast's own parameters (or the
                                  database's), and the best set (< 0 = none passed) */
    char best[512];            /* the winning set ("" = the parameters in effect before won) */
} tune_clblast_outcome;

typedef struct tune_progress {
    int layer, n_layers; /* the signature being tuned (n_layers = CLBlast phase) */
    const tune_layer *L; /* NULL in the CLBlast phase */
    const char *phase;   /* "reference", "search", "clblast" */
    int tried;
    double best_ms; /* < 0: none yet */
    const op_choice *best;
    double elapsed_s, budget_s;
} tune_progress;

typedef struct tune_options {
    double budget_s;
    uint64_t seed;
    void (*progress)(void *user, const tune_progress *p); /* may be NULL */
    void *user;
} tune_options;

/* Tunes layers[0 .. n) on ctx within about budget_s seconds (every layer gets at least its
   starting choice measured), puts the winners into ctx->tuning (records for ctx's device) and
   applies a winning CLBlast set. out has n entries. Fails only on allocation or device errors
   that make further measurement meaningless. */
clseg_status tune_network(clseg_context *ctx, const tune_layer *layers, int n,
                          const tune_options *opt, tune_outcome *out, tune_clblast_outcome *blas);

/* Median wall-clock milliseconds of `reps` runs of choice c on w (after one warm-up run), each
   followed by clFinish. */
clseg_status tune_time_choice(clseg_context *ctx, workload *w, const op_choice *c, int reps,
                              double *median_ms);

#endif
