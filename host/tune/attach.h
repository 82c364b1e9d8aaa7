/* attach.h - a context's tuning state: the database loaded at creation (and CLBlast parameters
   re-applied from it), the plain-kernel switch, and CLBlast parameter sets for the tuner. */
#ifndef CLSEG_ATTACH_H
#define CLSEG_ATTACH_H

#include "tunedb.h"

/* Called by clseg_context_create once the queue exists: resolves the database path (option,
   $CLSEG_TUNING_DB, <cache dir>/tuning.db), loads it (a corrupt or foreign file is ignored with
   a warning on the context) and applies this device's CLBlast parameters. Fails only when out of
   memory. */
clseg_status tuning_attach(clseg_context *ctx, const clseg_context_options *opts);
void tuning_detach(clseg_context *ctx);

/* CLBlast's Xgemm takes exactly these 16 parameters (CLBlast 1.5). */
#define CLBLAST_XGEMM_PARAMS 16
extern const char *const clblast_xgemm_names[CLBLAST_XGEMM_PARAMS];

/* Candidate Xgemm parameter sets ("MWG=64 NWG=64 ..."), best-known first; the tuner tries those
   that clblast_params_fit() the device. */
extern const char *const clblast_xgemm_candidates[];
extern const size_t clblast_xgemm_candidates_len;

/* 1 if the set's work-group and local memory fit dev and its tile constraints hold. */
int clblast_params_fit(const clseg_device_info *dev, const char *params);

/* CLBlastOverrideParameters(Xgemm, single precision) on ctx's device; CLSEG_ERR_FORMAT if the
   set is not a complete Xgemm set, CLSEG_ERR_OPENCL if CLBlast rejects it. */
clseg_status clblast_apply(clseg_context *ctx, const char *params);

#endif
