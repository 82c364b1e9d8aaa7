/* cli.h - shared pieces of the clseg command: subcommand entry points and option helpers. */
#ifndef CLSEG_CLI_H
#define CLSEG_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "clseg.h"
#include "clseg_train.h"

/* Exit codes of the command. */
enum { EXIT_OK = 0, EXIT_FAILURE_RUN = 1, EXIT_USAGE = 2 };

int cmd_devices(int argc, char **argv);
int cmd_init(int argc, char **argv);
int cmd_segment(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_plan(int argc, char **argv);
int cmd_tune(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_export(int argc, char **argv);
/* Shared by plan and tune (cmd_plan.c): "WxH"; a .clsm model, or a model made from a .cfg
   network description with `classes` classes (seed 1; *from_spec = 1 then, and the weights mean
   nothing); a context with tuning database `db` (NULL = default) that prints its warnings. Print
   their errors. */
int cli_parse_size(const char *s, int *w, int *h);
int cli_load_network(const char *path, int classes, clseg_model **model, int *from_spec);
int cli_open_tuned_context(const char *device, const char *db, int plain, clseg_context **out);

/* One input of `clseg segment` through its stages (segment_run.c): the output paths (NULL = not
   written; owned by the caller), then what the stages fill in. */
typedef struct seg_job {
    const char *in, *seg, *overlay, *labels_png;
    uint8_t *rgb, *labels;
    int width, height;
    int submitted;    /* in the net's frames in flight */
    char error[1024]; /* set by the stage that failed */
} seg_job;
/* Decodes, segments and writes jobs[0..n): one after another, or (pipelined, n > 1) with a
   decoder thread and an encoder thread around the net's frames in flight. Reports each failure on
   stderr and returns how many jobs failed; with timing, the images per second. */
int segment_run(clseg_net *net, clseg_context *ctx, const clseg_model *model, seg_job *jobs, int n,
                int pipelined, int timing);

/* Prints "clseg: <message>" on stderr; returns EXIT_FAILURE_RUN for `return cli_error(...)`. */
int cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints "clseg <cmd>: <message>" and a hint to --help; returns EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* --test-flip on|off (segment, eval): *flip = 1 / 0; 0 for anything else. */
int cli_parse_on_off(const char *s, int *flip);

/* Strict integer parsing: the whole string, within [lo, hi]. */
int cli_parse_int(const char *s, long lo, long hi, long *out);

/* A context on --device (or $CLSEG_DEVICE / default); prints the error itself. */
int cli_open_context(const char *device, int profiling, clseg_context **out);

/* Removes a directory and the plain files in it (best effort). */
void cli_remove_dir(const char *dir);

/* Data-parallel runs under mpirun (cli_mpi.c, docs/distributed.md). Built with MPI and started
   by a launcher, MPI_COMM_WORLD is the library's reducer; otherwise one process (rank 0 of 1). */
typedef struct cli_mpi {
    int rank, size, local_rank; /* local_rank: among the ranks of this node */
    int active;                 /* MPI is initialised */
    clseg_reducer reducer;
} cli_mpi;
/* Initialises MPI when a launcher started the process; 0 (printed) when that fails. */
int cli_mpi_begin(cli_mpi *m);
/* Finalises MPI and returns rc. A failure (rc != 0) that the other ranks do not share
   (coordinated = 0) aborts them all, as they may be waiting for this rank. */
int cli_mpi_end(cli_mpi *m, int rc, int coordinated);
/* The reducer for the library, NULL for one process. */
const clseg_reducer *cli_mpi_reducer(const cli_mpi *m);
/* This rank's device selector: sel (or $CLSEG_DEVICE) with "%r" replaced by the rank, or with
   per_rank the node-local rank's GPU (round robin; every device when there is no GPU). */
const char *cli_mpi_device(const cli_mpi *m, const char *sel, int per_rank, char *buf, size_t len);
/* The fastest of reps allreduces of `floats` floats across the ranks, in seconds (after a
   warm-up); -1 without MPI. */
double cli_mpi_allreduce_seconds(const cli_mpi *m, size_t floats, int reps);

/* A one-line progress bar for long loops (training epochs, evaluation), cli_progress.c: redrawn
   in place on a terminal, a plain line now and then when the stream is a log file. */
typedef struct cli_progress {
    FILE *f;
    int tty;
    int total, base; /* base: items already done when the bar started (a resumed epoch) */
    double last_s;   /* elapsed time of the last line drawn */
    int last_len;
} cli_progress;
/* A bar for a loop of `total` items that starts with `base` of them done. */
void cli_progress_start(cli_progress *p, FILE *f, int total, int base);
/* Shows done/total, the rate in items/s and the ETA from elapsed_s (seconds since the loop
   began, as the library's callbacks report it), and `extra` (may be NULL). Terminals: at most
   ~10 redraws a second; otherwise one line every `log_every_s` seconds and at the end. */
void cli_progress_update(cli_progress *p, int done, double elapsed_s, const char *label,
                         const char *extra, double log_every_s);
/* Clears the bar on a terminal (so the next line starts clean). */
void cli_progress_end(cli_progress *p);
/* "1h02m", "3m05s", "12s" */
void cli_format_duration(double seconds, char *buf, size_t len);

/* A program's origin in reports: "compiled", "cache" or "driver" (clseg_program_info). */
const char *program_origin_name(clseg_program_origin origin);

/* JSON values for the commands' reports (cli_json.c): a string with escapes; a number, null for
   NaN or infinity (JSON has neither); "TILE_X=4 TILE_CO=8" as {"TILE_X": 4, "TILE_CO": 8}. */
void cli_json_str(FILE *f, const char *s);
void cli_json_num(FILE *f, double v);
void cli_json_params(FILE *f, const char *params);

#endif
