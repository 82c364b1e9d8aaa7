/* cli_json.c - the small JSON writers the commands' reports share. */
#include "cli.h"

void cli_json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fprintf(f, "\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            fprintf(f, "\\u%04x", *s);
        else
            fputc(*s, f);
    }
    fputc('"', f);
}

/* JSON has no NaN or infinity. */
void cli_json_num(FILE *f, double v) {
    if (v != v || v > 1e300 || v < -1e300)
        fputs("null", f);
    else
        fprintf(f, "%.6g", v);
}

/* "TILE_X=4 TILE_CO=8" -> {"TILE_X": 4, "TILE_CO": 8} */
void cli_json_params(FILE *f, const char *p) {
    fputc('{', f);
    int first = 1;
    while (*p) {
        char name[64];
        long v;
        int used = 0;
        if (sscanf(p, " %63[^= ]=%ld%n", name, &v, &used) != 2 || used == 0) break;
        fprintf(f, "%s", first ? "" : ", ");
        cli_json_str(f, name);
        fprintf(f, ": %ld", v);
        first = 0;
        p += used;
    }
    fputc('}', f);
}
