/* progress.h - a one-line progress bar for long loops (training epochs, evaluation): redrawn in
   place on a terminal, a plain line now and then when the stream is a log file. */
#ifndef CLSEG_PROGRESS_H
#define CLSEG_PROGRESS_H

#include <stdio.h>

typedef struct progress {
    FILE *f;
    int tty;
    int total, base; /* base: items already done when the bar started (a resumed epoch) */
    double start_ms, last_ms;
    int last_len;
} progress;

void progress_start(progress *p, FILE *f, int total);
/* The same for a loop that starts with `base` of `total` items already done. */
void progress_start_at(progress *p, FILE *f, int total, int base);
/* Shows done/total, the rate in items/s, the ETA and `extra` (may be NULL). Terminals: at most
   ~10 redraws a second; otherwise one line every `log_every_s` seconds and at the end. */
void progress_update(progress *p, int done, const char *label, const char *extra,
                     double log_every_s);
/* Clears the bar on a terminal (so the next line starts clean). */
void progress_end(progress *p);

/* "1h02m", "3m05s", "12s" */
void progress_format_duration(double seconds, char *buf, size_t len);

#endif
