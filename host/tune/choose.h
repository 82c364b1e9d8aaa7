/* choose.h - picking a variant and its parameters for an op call on a device: tuned entry for
   this exact device + driver -> device-class default (host/tune/defaults.c) -> generic default
   (first supporting variant with its defaults) -> the plain fallback. Pure functions of the
   device's properties, so they run on recorded devices (tests/fixtures/devices/) too. */
#ifndef CLSEG_CHOOSE_H
#define CLSEG_CHOOSE_H

#include "profile.h"
#include "tunedb.h"

/* One rule of the defaults table: for devices of class `cls` (and CPU ISA `isa`, if given),
   calls of `kind` whose shape matches (0 = any), use `variant` with `params` (unnamed parameters
   keep their generic defaults). The first matching rule whose configuration is legal on the
   device wins: the ISA's measured rows (generated) come before the class's. */
typedef struct default_rule {
    dev_class cls;
    cpu_isa isa; /* ISA_ANY = every device of the class; else only CPUs of that ISA */
    op_kind kind;
    int k, stride;          /* conv / deconv kernel size and stride */
    int cin_min, cin_max;   /* input channels */
    int cout_min, cout_max; /* output channels (conv / deconv) */
    long px_min, px_max;    /* output pixels per image (h * w) */
    const char *variant;
    const char *params; /* "TILE_CO=8 TILE_X=4" */
} default_rule;

extern const default_rule default_rules[];
extern const size_t default_rules_len;

/* 1 if variant v with cfg may run call on dev: its own supports(), every parameter one of its
   declared choices (or its default), the local-size parameters (PARAM_LOCAL_X/Y/Z; several on
   one axis multiply) within the device's limits, vector widths (PARAM_VECTOR_WIDTH) among
   1, 2, 3, 4, 8, 16, and the capabilities in v->requires. */
int tune_config_legal(const clseg_device_info *dev, const op_variant *v, const op_call *call,
                      const op_config *cfg);

/* The plain configuration: the op's last-resort variant (the last in the table that supports
   the call) with the smallest choice of each parameter, work-group shape excepted (local sizes keep
   their defaults: the launch shape is not the algorithm). The baseline benchmarks compare with. */
int op_plain_choice(const clseg_device_info *dev, const op_call *call, op_choice *out);

/* The default-table rule configuration for call on dev (CHOICE_CLASS_DEFAULT), if any. */
int op_class_default(const clseg_device_info *dev, const op_call *call, op_choice *out);

/* The whole lookup. db may be NULL; plain = 1 forces op_plain_choice. 0 if no variant at all
   supports the call. A composite variant's inner call is selected the same way, at once, and
   kept in out->cfg (op_config.inner). */
int tune_select_on(const clseg_device_info *dev, const tunedb *db, int plain, const op_call *call,
                   op_choice *out);

/* Fills a composite choice's inner choice (nothing to do for other variants); 0 if none. For
   choices made elsewhere (the tuner's candidates, the tests' every-variant sweeps). */
int tune_complete_choice(const clseg_device_info *dev, const tunedb *db, int plain,
                         const op_call *call, op_choice *c);

#endif
