/* test_net_limits.c - a net whose activations do not fit the device is refused by
   clseg_net_prepare before anything is allocated, whatever this machine's memory (the context's
   device is made to report 64 MiB); and an op whose buffer is smaller than its shape is refused
   before any kernel runs (release builds; debug builds assert). */
#include <stdlib.h>
#include <string.h>

#include "device/runtime.h"
#include "net/model.h"
#include "tune/select.h"
#include "testutil.h"

int main(void) {
    clseg_context **ctxs;
    int n_ctx = tu_contexts(&ctxs);
    char err[1024];
    uint8_t *text = NULL;
    size_t len = 0;
    clseg_model *m = NULL;
    CHECK_OK(clseg_read_file(CLSEG_SOURCE_DIR "/models/seednet.cfg", 1 << 20, &text, &len, err,
                             sizeof err));
    if (text) CHECK_OK(model_init((const char *)text, 12, 1, NULL, NULL, &m, err, sizeof err));
    free(text);
    for (int d = 0; m && d < n_ctx; d++) {
        clseg_context *ctx = ctxs[d];
        clseg_net *net = NULL;
        CHECK_OK(clseg_net_create(&net, ctx, m));
        if (!net) continue;
        uint64_t before = clseg_net_device_bytes(net);
        const uint64_t real = ctx->info.global_mem_bytes;
        ctx->info.global_mem_bytes = 64u << 20;
        clseg_status st = clseg_net_prepare(net, 1, 352, 480);
        CHECK(st == CLSEG_ERR_TOO_LARGE, "480x352 on a 64 MiB device: %s", clseg_status_str(st));
        CHECK(strstr(clseg_context_error(ctx), "of device memory") != NULL, "message: %s",
              clseg_context_error(ctx));
        CHECK(clseg_net_device_bytes(net) <= before, "allocated %llu bytes before refusing",
              (unsigned long long)clseg_net_device_bytes(net));
        ctx->info.global_mem_bytes = real;
        CHECK_OK(clseg_net_prepare(net, 1, 64, 96)); /* still usable afterwards */
        clseg_net_free(net);
    }
#ifdef NDEBUG
    for (int d = 0; d < n_ctx; d++) {
        clseg_context *ctx = ctxs[d];
        const shape4 s = {1, 3, 8, 8};
        cl_mem a = NULL, b = NULL, y = NULL;
        CHECK_OK(ctx_buffer(ctx, shape4_count(s) * 4, NULL, &a));
        CHECK_OK(ctx_buffer(ctx, shape4_count(s) * 4, NULL, &b));
        CHECK_OK(ctx_buffer(ctx, shape4_count(s) * 4 - 4, NULL, &y)); /* one float short */
        op_call c = {.kind = OP_ADD, .in = {{a, s}, {b, s}}, .out = {{y, s}}};
        clseg_status st = tune_run_call(ctx, &c);
        CHECK(st == CLSEG_ERR_INTERNAL, "add into a buffer one float short: %s",
              clseg_status_str(st));
        CHECK(strstr(clseg_context_error(ctx), "out[0]") != NULL, "message: %s",
              clseg_context_error(ctx));
        clReleaseMemObject(a);
        clReleaseMemObject(b);
        clReleaseMemObject(y);
    }
#endif
    clseg_model_free(m);
    tu_contexts_free(ctxs, n_ctx);
    return tu_finish("test_net_limits");
}
