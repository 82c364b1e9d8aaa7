/* test_signatures.c - for every shipped spec, the calls the tuner and `clseg plan` see
   (net_calls) have the same tuning signatures as the calls the executor runs, so a tuned record
   is found by the layer it was tuned for. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/calls.h"
#include "net/exec.h"
#include "net/model.h"
#include "testutil.h"
#include "tune/tunedb.h"

static void check_spec(clseg_context *ctx, const char *name, int w, int h) {
    char path[512], err[1024];
    snprintf(path, sizeof path, "%s/models/%s.cfg", CLSEG_SOURCE_DIR, name);
    uint8_t *text = NULL;
    size_t len = 0;
    clseg_model *m = NULL;
    CHECK_OK(clseg_read_file(path, 1 << 20, &text, &len, err, sizeof err));
    if (text) CHECK_OK(model_init((const char *)text, 12, 1, NULL, NULL, &m, err, sizeof err));
    free(text);
    if (!m) return;
    op_named_call *calls = calloc(SPEC_MAX_LAYERS + 1, sizeof *calls);
    int n = 0;
    shape4 in = {1, m->spec.input_channels, h, w};
    CHECK_OK(net_calls(&m->spec, m->classes, in, calls, &n, err, sizeof err));
    clseg_net *net = NULL;
    CHECK_OK(clseg_net_create(&net, ctx, m));
    if (net) CHECK_OK(clseg_net_prepare(net, 1, h, w));
    int same = 0;
    for (int i = 0; net && i < m->spec.n_layers && i < n; i++) {
        char want[256], got[256] = "";
        op_signature(&calls[i].call, want, sizeof want);
        CHECK_OK(net_layer_signature(net, i, got, sizeof got));
        CHECK(!strcmp(want, got), "%s layer %s: tuner '%s' vs executor '%s'", name, calls[i].name,
              want, got);
        same += !strcmp(want, got);
    }
    CHECK(same == m->spec.n_layers, "%s: %d of %d layers agree", name, same, m->spec.n_layers);
    clseg_net_free(net);
    clseg_model_free(m);
    free(calls);
}

int main(void) {
    clseg_context **ctxs;
    int n_ctx = tu_contexts(&ctxs);
    static const char *const specs[] = {"seednet", "segnet-basic", "unet-lite", "fcn-lite"};
    for (int d = 0; d < n_ctx; d++)
        for (size_t s = 0; s < sizeof specs / sizeof specs[0]; s++)
            check_spec(ctxs[d], specs[s], 96, 64);
    tu_contexts_free(ctxs, n_ctx);
    return tu_finish("test_signatures");
}
