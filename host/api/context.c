/* context.c - the public context: a device context (host/device) with its tuning database and
   CLBlast parameters (host/tune) attached. */
#include <string.h>

#include "../device/runtime.h"
#include "../tune/attach.h"

void clseg_context_options_init(clseg_context_options *opts) {
    if (!opts) return;
    memset(opts, 0, sizeof *opts);
    opts->struct_size = sizeof *opts;
}

clseg_status clseg_context_create(clseg_context **out, const clseg_context_options *opts,
                                  char *errbuf, size_t errlen) {
    if (!out) return clseg_fail(errbuf, errlen, CLSEG_ERR_INVALID_ARGUMENT, "out is NULL");
    *out = NULL;
    clseg_context_options given;
    clseg_context_options_init(&given);
    if (opts) {
        if (opts->struct_size == 0)
            return clseg_fail(errbuf, errlen, CLSEG_ERR_INVALID_ARGUMENT,
                              "options struct_size is 0: start from CLSEG_CONTEXT_OPTIONS_INIT "
                              "or clseg_context_options_init()");
        /* Fields a newer caller knows and this library does not are ignored; fields this
           library has and an older caller does not keep their defaults. */
        memcpy(&given, opts, opts->struct_size < sizeof given ? opts->struct_size : sizeof given);
        given.struct_size = sizeof given;
    }
    clseg_context *ctx;
    clseg_status st = device_context_create(&ctx, &given, errbuf, errlen);
    if (st != CLSEG_OK) return st;
    st = tuning_attach(ctx, &given);
    if (st != CLSEG_OK) {
        clseg_fail(errbuf, errlen, st, "%s", ctx->error);
        clseg_context_free(ctx);
        return st;
    }
    *out = ctx;
    return CLSEG_OK;
}

void clseg_context_free(clseg_context *ctx) {
    if (!ctx) return;
    tuning_detach(ctx);
    device_context_free(ctx);
}
