/* cli_common.c - error printing, strict number parsing and context opening for the CLI. */
#include <errno.h>
#include <stdarg.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

int cli_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("clseg: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return EXIT_FAILURE_RUN;
}

int cli_usage_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "clseg %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see 'clseg %s --help')\n", cmd);
    va_end(ap);
    return EXIT_USAGE;
}

int cli_parse_int(const char *s, long lo, long hi, long *out) {
    if (!s || !*s) return 0;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi) return 0;
    *out = v;
    return 1;
}

int cli_open_context(const char *device, int profiling, clseg_context **out) {
    char err[2048];
    clseg_context_options o = {CLSEG_CONTEXT_OPTIONS_INIT, .device = device,
                               .enable_profiling = profiling};
    if (clseg_context_create(out, &o, err, sizeof err) != CLSEG_OK) {
        cli_error("%s", err);
        return 0;
    }
    return 1;
}

void cli_remove_dir(const char *dir) {
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        char path[4096];
        while ((e = readdir(d)) != NULL) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
        closedir(d);
    }
    rmdir(dir);
}

int cli_parse_on_off(const char *s, int *flip) {
    if (!strcmp(s, "on") || !strcmp(s, "off")) {
        *flip = !strcmp(s, "on");
        return 1;
    }
    return 0;
}

const char *program_origin_name(clseg_program_origin origin) {
    switch (origin) {
    case CLSEG_PROGRAM_FROM_CACHE:
        return "cache";
    case CLSEG_PROGRAM_DRIVER:
        return "driver";
    case CLSEG_PROGRAM_COMPILED:
        break;
    }
    return "compiled";
}
