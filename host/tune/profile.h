/* profile.h - device profile: the class of a device (PoCL CPU, llvmpipe, Intel/AMD/NVIDIA GPU,
   Mali Bifrost/Valhall, Adreno, unknown) from its queried properties, and recorded property sets
   (tests/fixtures/devices/) for devices that are not on this machine. */
#ifndef CLSEG_PROFILE_H
#define CLSEG_PROFILE_H

#include "../core/common.h"

typedef enum dev_class {
    DEV_POCL_CPU,
    DEV_LLVMPIPE, /* Mesa's software rasteriser, under rusticl or clover */
    DEV_INTEL_GPU,
    DEV_AMD_GPU,
    DEV_MALI_BIFROST, /* Mali-G31/G51/G52/G71/G72/G76 */
    DEV_MALI_VALHALL, /* Mali-G57/G68/G77/G78 and later G-series (incl. 5th gen) */
    DEV_ADRENO,
    DEV_NVIDIA,
    DEV_UNKNOWN_GPU, /* any other GPU or accelerator */
    DEV_UNKNOWN_CPU, /* any other CPU runtime (Intel's, AMD's, ...) */
    DEV_CLASS_COUNT
} dev_class;

/* "pocl-cpu", "llvmpipe", "intel-gpu", "amd-gpu", "mali-bifrost", "mali-valhall", "adreno",
   "nvidia", "unknown-gpu", "unknown-cpu". */
const char *dev_class_name(dev_class c);
/* The class named `name` (as dev_class_name writes it); -1 if none. */
int dev_class_parse(const char *name);

dev_class dev_classify(const clseg_device_info *dev);

/* The vector ISA a CPU device compiles kernels for: the defaults table's level between the
   device class and the exact device (CLBlast's database has the same ladder). */
typedef enum cpu_isa {
    ISA_ANY = 0, /* a GPU, or a CPU whose ISA cannot be told; in a rule: any ISA */
    ISA_SSE,     /* 4 floats per vector */
    ISA_AVX2,    /* 8 floats (AVX and AVX2, with or without FMA) */
    ISA_AVX512,  /* 16 floats */
    ISA_COUNT
} cpu_isa;

/* "any", "sse", "avx2", "avx512". */
const char *cpu_isa_name(cpu_isa isa);

/* A CPU device's ISA: from the LLVM target PoCL puts in the device name ("pthread-haswell-...",
   "pthread-skylake-avx512-...", "cpu-znver4-..."), else from the native float vector width it
   reports (16, 8, 4); ISA_ANY for other devices. */
cpu_isa dev_cpu_isa(const clseg_device_info *dev);

/* The device name without runtime decoration, for classification and database keys: PoCL's
   device-type prefixes ("pthread-", "cpu-", "basic-") dropped, runs of blanks collapsed, ends
   trimmed. */
void dev_normalized_name(const clseg_device_info *dev, char *out, size_t len);

/* Parses a recorded device (tests/fixtures/devices/NAME.dev, format in docs/tuning.md): one
   `key = value` per line, keys as `clseg devices --json` prints them, plus `extensions` and the
   expected `class`. Unknown keys, bad numbers and missing required keys are errors
   ("line N: ..."). expect_class (may be NULL) receives the `class` value, or -1. */
clseg_status dev_fixture_parse(const char *text, clseg_device_info *out, int *expect_class,
                               char *err, size_t errlen);
clseg_status dev_fixture_load(const char *path, clseg_device_info *out, int *expect_class,
                              char *err, size_t errlen);

#endif
