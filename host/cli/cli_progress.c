/* cli_progress.c - the one-line progress bar of train and eval, fed with the elapsed times the
   library's progress callbacks report. */
#include <string.h>
#include <unistd.h>

#include "cli.h"

void cli_format_duration(double s, char *buf, size_t len) {
    if (!(s >= 0) || s > 1e7) {
        snprintf(buf, len, "?");
        return;
    }
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, len, "%ldh%02ldm", t / 3600, t / 60 % 60);
    else if (t >= 60)
        snprintf(buf, len, "%ldm%02lds", t / 60, t % 60);
    else
        snprintf(buf, len, "%lds", t);
}

void cli_progress_start(cli_progress *p, FILE *f, int total, int base) {
    memset(p, 0, sizeof *p);
    p->f = f;
    p->tty = f && isatty(fileno(f));
    p->total = total;
    p->base = base;
}

void cli_progress_update(cli_progress *p, int done, double elapsed_s, const char *label,
                         const char *extra, double log_every_s) {
    if (!p->f) return;
    int final = done >= p->total;
    if (!final && elapsed_s - p->last_s < (p->tty ? 0.1 : log_every_s)) return;
    p->last_s = elapsed_s;
    double rate = elapsed_s > 0 ? (done - p->base) / elapsed_s : 0;
    char eta[32], spent[32];
    cli_format_duration(rate > 0 ? (p->total - done) / rate : -1, eta, sizeof eta);
    cli_format_duration(elapsed_s, spent, sizeof spent);
    char bar[24];
    int width = 20, fill = p->total ? (int)((long)width * done / p->total) : width;
    for (int i = 0; i < width; i++) bar[i] = i < fill ? '#' : '.';
    bar[width] = 0;
    char line[512];
    int n = snprintf(line, sizeof line, "%s [%s] %d/%d %.2f/s %s ETA %s%s%s", label ? label : "",
                     bar, done, p->total, rate, spent, final ? "0s" : eta, extra ? "  " : "",
                     extra ? extra : "");
    if (n < 0) return;
    if (p->tty) {
        fprintf(p->f, "\r%s", line);
        for (int i = n; i < p->last_len; i++) fputc(' ', p->f);
        p->last_len = n;
    } else {
        fprintf(p->f, "%s\n", line);
    }
    fflush(p->f);
}

void cli_progress_end(cli_progress *p) {
    if (p->f && p->tty && p->last_len) {
        fprintf(p->f, "\r%*s\r", p->last_len, "");
        fflush(p->f);
    }
    p->last_len = 0;
}
