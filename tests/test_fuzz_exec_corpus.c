/* test_fuzz_exec_corpus.c - replays every seed and regression input of fuzz_exec
   (tests/fuzz/corpus/exec/) through the target's own checks on the device ($CLSEG_DEVICE,
   default PoCL), in every build: each input is a network run on the device and compared with
   the C reference forward; a broken check traps (docs/reliability.md). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "fuzz/fuzz_exec.c"

#define CORPUS CLSEG_SOURCE_DIR "/tests/fuzz/corpus/exec"

int main(void) {
    LLVMFuzzerInitialize(NULL, NULL);
    printf("device: %s\n", clseg_context_device(ctx)->name);
    DIR *d = opendir(CORPUS);
    CHECK(d != NULL, "cannot open %s", CORPUS);
    int files = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char path[1024], err[512];
        snprintf(path, sizeof path, "%s/%s", CORPUS, e->d_name);
        uint8_t *data = NULL;
        size_t size = 0;
        clseg_status st = clseg_read_file(path, 1 << 20, &data, &size, err, sizeof err);
        CHECK(st == CLSEG_OK, "%s", err);
        if (st == CLSEG_OK) LLVMFuzzerTestOneInput(data, size);
        printf("  %s\n", e->d_name);
        free(data);
        files++;
    }
    if (d) closedir(d);
    CHECK(files > 0, "no inputs in %s", CORPUS);
    clseg_context_free(ctx);
    return tu_finish("test_fuzz_exec_corpus");
}
