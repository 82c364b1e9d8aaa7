/* select.h - the selection a context makes for an op call: its tuning database and plain-kernel
   switch fed to the lookup of choose.h; and choosing + running in one go, where a choice is
   not kept (tests, one-off calls). */
#ifndef CLSEG_SELECT_H
#define CLSEG_SELECT_H

#include "../ops/ops.h"

/* Picks the variant and parameters for call on ctx's device (CLSEG_ERR_UNSUPPORTED, with the
   context's error text, if none). */
clseg_status tune_select(clseg_context *ctx, const op_call *call, op_choice *out);
/* tune_select + op_prepare_choice / op_run_choice. */
clseg_status tune_prepare_call(clseg_context *ctx, const op_call *call);
clseg_status tune_run_call(clseg_context *ctx, const op_call *call);

#endif
