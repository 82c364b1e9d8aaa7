/* test_selection.c - the selector on recorded devices: class of every fixture, and for every
   fixture, shipped network spec, layer and a few input sizes the chosen variant and parameters
   are legal there; the defaults table names only real variants and parameters. */
/* ctest-label: host */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "net/spec.h"
#include "ops/launch_helpers.h"
#include "testutil.h"
#include "tune/choose.h"
#include "net/calls.h"
#include "tune/workload.h"

#define MAX_FILES 64

static int list_dir(const char *dir, const char *suffix, char (*out)[512], int max) {
    DIR *d = opendir(dir);
    int n = 0;
    if (!d) return 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < max) {
        size_t l = strlen(e->d_name), s = strlen(suffix);
        if (l > s && !strcmp(e->d_name + l - s, suffix))
            snprintf(out[n++], 512, "%s/%s", dir, e->d_name);
    }
    closedir(d);
    /* sorted, so that failures read the same on every machine */
    qsort(out, (size_t)n, 512, (int (*)(const void *, const void *))strcmp);
    return n;
}

/* Independent of choose.c's own check, so that a bug there does not hide itself: written from
   the parameters' roles and the variants' declared requirements. */
static int legal_here(const clseg_device_info *dev, const op_call *call, const op_choice *c,
                      char *why, size_t len) {
    const op_variant *v = c->variant;
    if (v->kind != call->kind) return snprintf(why, len, "variant of another op"), 0;
    char refusal[160];
    if (op_variant_refuses(v, dev, call, &c->cfg, refusal, sizeof refusal))
        return snprintf(why, len, "refused: %.100s", refusal), 0;
    size_t wg[3] = {1, 1, 1};
    for (int i = 0; i < v->n_params; i++) {
        const variant_param *p = &v->params[i];
        int val = c->cfg.v[i], listed = val == p->def;
        for (int j = 0; j < p->n_choices; j++) listed |= p->choices[j] == val;
        if (!listed) return snprintf(why, len, "%s=%d is not one of its choices", p->name, val), 0;
        if (p->role == PARAM_LOCAL_X) wg[0] *= (size_t)val;
        if (p->role == PARAM_LOCAL_Y) wg[1] *= (size_t)val;
        if (p->role == PARAM_LOCAL_Z) wg[2] *= (size_t)val;
        if (p->role == PARAM_VECTOR_WIDTH && val != 1 && val != 2 && val != 3 && val != 4 &&
            val != 8 && val != 16)
            return snprintf(why, len, "vector width %s=%d", p->name, val), 0;
    }
    for (int d = 0; d < 3; d++)
        if (wg[d] > dev->max_work_item_sizes[d])
            return snprintf(why, len, "work-group dimension %d is %zu > %zu", d, wg[d],
                            dev->max_work_item_sizes[d]),
                   0;
    if (wg[0] * wg[1] * wg[2] > dev->max_work_group_size)
        return snprintf(why, len, "work-group of %zu > %zu", wg[0] * wg[1] * wg[2],
                        dev->max_work_group_size),
               0;
    if ((v->requires & VARIANT_NEEDS_FP16) && !dev->has_fp16)
        return snprintf(why, len, "needs cl_khr_fp16"), 0;
    if ((v->requires & VARIANT_NEEDS_SUBGROUPS) && !dev->has_subgroups)
        return snprintf(why, len, "needs subgroups"), 0;
    if (v->inner_call) {
        op_call inner;
        op_choice ic = {.variant = c->cfg.inner, .source = CHOICE_GENERIC};
        memcpy(ic.cfg.v, c->cfg.inner_v, sizeof ic.cfg.v);
        if (!c->cfg.inner || !v->inner_call(call, &inner))
            return snprintf(why, len, "composite without its inner choice"), 0;
        return legal_here(dev, &inner, &ic, why, len);
    }
    return 1;
}

static int checked_layers;

static void check_network(const char *dev_file, const clseg_device_info *dev, const char *cfg,
                          const net_spec *spec, int w, int h, int n) {
    op_named_call *calls = calloc(2 * (SPEC_MAX_LAYERS + 1), sizeof *calls);
    int count = 0;
    char err[512];
    clseg_status st = net_calls(spec, 12, (shape4){n, spec->input_channels, h, w}, calls, &count,
                                err, sizeof err);
    if (st != CLSEG_OK) {
        /* Some specs (skip connections) only fit sizes divisible by their total stride. */
        CHECK(w != 480 || h != 352, "%s at 480x352: %s", cfg, err);
        free(calls);
        return;
    }
    /* A training step's calls too: the weight and data gradients of every conv and deconv. */
    int n_fwd = count;
    for (int i = 0; i < n_fwd && count + 2 <= 2 * (SPEC_MAX_LAYERS + 1); i++) {
        const op_call *f = &calls[i].call;
        if (f->kind != OP_CONV2D && f->kind != OP_DECONV2D) continue;
        int conv = f->kind == OP_CONV2D;
        char layer[OP_CALL_NAME_MAX]; /* a copy: gcc -O0 -Wrestrict sees one array on both sides */
        memcpy(layer, calls[i].name, sizeof layer);
        for (int g = 0; g < 2; g++) {
            op_named_call *b = &calls[count++];
            memset(b, 0, sizeof *b);
            snprintf(b->name, sizeof b->name, "%.40s %s", layer, g ? "dx" : "dw");
            b->call.p = f->p;
            if (conv)
                b->call.p.conv.act = 0;
            else
                b->call.p.deconv.relu = 0;
            if (g == 0) {
                b->call.kind = conv ? OP_CONV2D_BWD_WEIGHT : OP_DECONV2D_BWD_WEIGHT;
                b->call.in[0] = f->in[0];
                b->call.in[1] = f->out[0];
            } else {
                b->call.kind = conv ? OP_CONV2D_BWD_DATA : OP_DECONV2D_BWD_DATA;
                b->call.in[0] = f->out[0];
                b->call.out[0] = f->in[0];
            }
        }
    }
    for (int i = 0; i < count; i++) {
        const op_call *c = &calls[i].call;
        for (int plain = 0; plain < 2; plain++) {
            op_choice ch;
            char why[160] = "";
            int ok = tune_select_on(dev, NULL, plain, c, &ch);
            CHECK(ok, "%s: %s %dx%d layer %s: no variant chosen", dev_file, cfg, w, h,
                  calls[i].name);
            if (!ok) continue;
            CHECK(legal_here(dev, c, &ch, why, sizeof why), "%s: %s %dx%d layer %s%s: %s %s",
                  dev_file, cfg, w, h, calls[i].name, plain ? " (plain)" : "", ch.variant->name,
                  why);
            if (!plain) checked_layers++;
        }
    }
    free(calls);
}

/* A tuned record is used only when it is for this device + driver and legal there. */
static void check_tuned_lookup(const clseg_device_info *dev) {
    op_call c;
    memset(&c, 0, sizeof c);
    c.kind = OP_CONV2D;
    c.p.conv = (conv2d_params){64, 128, 3, 1, 1, 1, 1, 1};
    c.in[0] = (dtensor){NULL, {1, 64, 88, 120}};
    c.out[0] = (dtensor){NULL, {1, 128, 88, 120}};
    const op_variant *v = op_variant_find(OP_CONV2D, "direct");
    CHECK(v != NULL, "conv2d has a 'direct' variant");
    if (!v) return;
    tune_record r;
    memset(&r, 0, sizeof r);
    r.kind = TREC_OP;
    tune_device_key(dev, r.device, r.driver);
    op_signature(&c, r.key, sizeof r.key);
    snprintf(r.variant, sizeof r.variant, "direct");
    r.ms = 1;
    tunedb db = {0};

    /* legal: taken */
    snprintf(r.params, sizeof r.params, "TILE_CO=2 TILE_X=2 WG_X=4 WG_Y=4 WG_Z=1");
    CHECK_OK(tunedb_put(&db, &r));
    op_choice ch;
    CHECK(tune_select_on(dev, &db, 0, &c, &ch) && ch.source == CHOICE_TUNED && ch.variant == v &&
              ch.cfg.v[0] == 2,
          "%s: a legal tuned record is used", dev->name);
    tunedb other = {0};
    tune_record r2 = r;
    r2.driver[0] ^= 1; /* another driver version */
    CHECK_OK(tunedb_put(&other, &r2));
    CHECK(tune_select_on(dev, &other, 0, &c, &ch) && ch.source != CHOICE_TUNED,
          "%s: a record for another driver is not used", dev->name);
    /* a work-group beyond the device, a value off the grid, an unknown parameter or variant:
       skipped, the selector falls back */
    const char *bad[] = {"WG_X=32 WG_Y=32 WG_Z=32", "TILE_CO=3", "BOGUS=1", NULL};
    for (int k = 0; bad[k]; k++) {
        snprintf(r.params, sizeof r.params, "%s", bad[k]);
        CHECK_OK(tunedb_put(&db, &r));
        CHECK(tune_select_on(dev, &db, 0, &c, &ch) && ch.source != CHOICE_TUNED &&
                  legal_here(dev, &c, &ch, (char[64]){0}, 64),
              "%s: illegal tuned record '%s' is skipped", dev->name, bad[k]);
    }
    snprintf(r.variant, sizeof r.variant, "no_such_variant");
    snprintf(r.params, sizeof r.params, "TILE_CO=2");
    CHECK_OK(tunedb_put(&db, &r));
    CHECK(tune_select_on(dev, &db, 0, &c, &ch) && ch.source != CHOICE_TUNED,
          "%s: a record naming an unknown variant is skipped", dev->name);
    tunedb_free(&db);
    tunedb_free(&other);
}

/* Every rule names a variant of its op, parameters it has and values among their choices. */
static void check_defaults_table(void) {
    for (size_t i = 0; i < default_rules_len; i++) {
        const default_rule *r = &default_rules[i];
        const op_variant *v = op_variant_find(r->kind, r->variant);
        CHECK(v != NULL, "default rule %zu (%s, %s): no variant '%s'", i, dev_class_name(r->cls),
              op_kind_name(r->kind), r->variant);
        op_config cfg;
        if (!v) continue;
        CHECK(tune_params_to_config(v, r->params, &cfg), "default rule %zu: parameters '%s' of %s",
              i, r->params, v->name);
        for (int p = 0; p < v->n_params; p++) {
            int listed = cfg.v[p] == v->params[p].def;
            for (int j = 0; j < v->params[p].n_choices; j++)
                listed |= v->params[p].choices[j] == cfg.v[p];
            CHECK(listed, "default rule %zu: %s=%d is not a choice", i, v->params[p].name,
                  cfg.v[p]);
        }
    }
}

/* The ISA level of the defaults table: from the LLVM target in a PoCL device name before the
   reported vector width (PoCL reports the host's width whatever it compiles for), and the
   generated rows of an ISA reach only devices of that ISA. */
static void check_cpu_isa(void) {
    static const struct {
        const char *name;
        uint32_t width;
        cpu_isa want;
    } cases[] = {
        {"pthread-skylake-avx512-AMD EPYC", 16, ISA_AVX512},
        {"pthread-haswell-AMD EPYC", 16, ISA_AVX2},
        {"pthread-skylake-Intel(R) Core(TM) i7-6700", 8, ISA_AVX2},
        {"cpu-znver4-AMD Ryzen 9 7950X", 16, ISA_AVX512},
        {"pthread-znver3-AMD EPYC 7763", 8, ISA_AVX2},
        {"pthread-znver5-AMD EPYC 9555", 16, ISA_AVX512},
        {"pthread-nehalem-Intel Xeon", 4, ISA_SSE},
        {"Intel(R) Xeon(R) Gold 6248", 16, ISA_AVX512}, /* other CPU runtimes: the width */
        {"Intel(R) Core(TM) i5-8250U", 8, ISA_AVX2},
        {"some CPU", 0, ISA_ANY},
    };
    for (size_t i = 0; i < CLSEG_ARRAY_LEN(cases); i++) {
        clseg_device_info d = {0};
        snprintf(d.name, sizeof d.name, "%s", cases[i].name);
        d.type = CLSEG_DEVICE_CPU;
        d.native_vector_width_float = cases[i].width;
        CHECK(dev_cpu_isa(&d) == cases[i].want, "%s: ISA %s, expected %s", cases[i].name,
              cpu_isa_name(dev_cpu_isa(&d)), cpu_isa_name(cases[i].want));
    }
    clseg_device_info gpu = {0};
    snprintf(gpu.name, sizeof gpu.name, "NVIDIA GeForce RTX 3080");
    gpu.type = CLSEG_DEVICE_GPU;
    gpu.native_vector_width_float = 1;
    CHECK(dev_cpu_isa(&gpu) == ISA_ANY, "a GPU has no CPU ISA");
    int isa_rows[ISA_COUNT] = {0};
    for (size_t i = 0; i < default_rules_len; i++) {
        const default_rule *r = &default_rules[i];
        isa_rows[r->isa]++;
        CHECK(r->isa == ISA_ANY || r->cls == DEV_POCL_CPU || r->cls == DEV_UNKNOWN_CPU,
              "default rule %zu: an ISA row for a GPU class", i);
    }
    CHECK(isa_rows[ISA_AVX512] > 0 && isa_rows[ISA_AVX2] > 0,
          "measured rows for the AVX-512 and AVX2 classes (%d, %d)", isa_rows[ISA_AVX512],
          isa_rows[ISA_AVX2]);
}

/* Drivers that compile a work-group function per local size (PoCL) get a few fixed shapes for
   the one-work-item-per-element ops whatever the grid; others get the grid-fitted ones. */
static void check_launch_shapes(void) {
    static const char *const files[] = {"pocl-skylake-avx512", "nvidia-rtx3080"};
    for (size_t f = 0; f < CLSEG_ARRAY_LEN(files); f++) {
        char path[512], err[256];
        snprintf(path, sizeof path, "%s/tests/fixtures/devices/%s.dev", CLSEG_SOURCE_DIR, files[f]);
        clseg_device_info dev;
        int cls;
        CHECK(dev_fixture_load(path, &dev, &cls, err, sizeof err) == CLSEG_OK, "%s", err);
        size_t shapes[16][3];
        int n_shapes = 0;
        for (size_t x = 1; x <= 300; x += 7)
            for (size_t y = 1; y <= 200; y += 13)
                for (size_t z = 1; z <= 64; z *= 4) {
                    const size_t gws[3] = {x, y, z};
                    size_t lws[3];
                    launch_local_size(&dev, gws, lws);
                    CHECK(lws[0] * lws[1] * lws[2] <= 64 && lws[0] >= 1 && lws[1] >= 1 &&
                              lws[2] >= 1,
                          "%s: local size %zux%zux%zu", files[f], lws[0], lws[1], lws[2]);
                    CHECK(lws[1] == 1 || y > 1, "%s: y padded on a flat grid", files[f]);
                    int known = 0;
                    for (int i = 0; i < n_shapes && !known; i++)
                        known = !memcmp(shapes[i], lws, sizeof lws);
                    if (!known && n_shapes < 16) memcpy(shapes[n_shapes++], lws, sizeof lws);
                }
        if (f == 0)
            CHECK(n_shapes <= 7,
                  "%s: %d distinct local sizes (x 64, 32 or 16; y, z or neither filling)", files[f],
                  n_shapes);
        else
            CHECK(n_shapes > 7, "%s: the grid-fitted rule (%d shapes)", files[f], n_shapes);
    }
}

static void check_fixture_parser(void) {
    clseg_device_info d;
    char err[256];
    int cls;
    const char *good = "name = X\ndriver_version = 1\ntype = GPU\ncompute_units = 4\n"
                       "global_mem_bytes = 1073741824\nlocal_mem_bytes = 0x8000\n"
                       "local_mem_type = local\nmax_alloc_bytes = 268435456\n"
                       "max_work_group_size = 256\nmax_work_item_sizes = [256, 256, 64]\n"
                       "preferred_vector_width_float = 4\nextensions = cl_khr_fp16 x\n"
                       "class = unknown-gpu\n";
    CHECK(dev_fixture_parse(good, &d, &cls, err, sizeof err) == CLSEG_OK, "good fixture: %s", err);
    CHECK(d.local_mem_bytes == 32768 && d.max_work_item_sizes[2] == 64 && d.has_fp16 &&
              !d.has_fp64 && cls == DEV_UNKNOWN_GPU && d.local_mem_is_dedicated,
          "fixture values");
    char bad[2048];
    snprintf(bad, sizeof bad, "%sbogus = 1\n", good);
    CHECK(dev_fixture_parse(bad, &d, &cls, err, sizeof err) == CLSEG_ERR_FORMAT &&
              strstr(err, "line 14") && strstr(err, "bogus"),
          "unknown key rejected with its line: %s", err);
    CHECK(dev_fixture_parse("name = X\n", &d, &cls, err, sizeof err) == CLSEG_ERR_FORMAT &&
              strstr(err, "missing"),
          "missing keys rejected: %s", err);
    snprintf(bad, sizeof bad, "%sname = Y\n", good);
    CHECK(dev_fixture_parse(bad, &d, &cls, err, sizeof err) == CLSEG_ERR_FORMAT,
          "duplicate key rejected");
}

static void check_names(void) {
    clseg_device_info d;
    memset(&d, 0, sizeof d);
    char out[256];
    snprintf(d.name, sizeof d.name, "pthread-skylake-avx512-AMD EPYC");
    dev_normalized_name(&d, out, sizeof out);
    CHECK(!strcmp(out, "skylake-avx512-AMD EPYC"), "PoCL prefix dropped: '%s'", out);
    snprintf(d.name, sizeof d.name, "  cpu-haswell-Intel(R)   Core(TM) ");
    dev_normalized_name(&d, out, sizeof out);
    CHECK(!strcmp(out, "haswell-Intel(R) Core(TM)"), "blanks collapsed: '%s'", out);
    /* Mali generations by model number */
    d.type = CLSEG_DEVICE_GPU;
    d.vendor_id = 0x13b5;
    const struct {
        const char *name;
        dev_class cls;
    } mali[] = {{"Mali-G76 r0p0", DEV_MALI_BIFROST}, {"Mali-G31", DEV_MALI_BIFROST},
                {"Mali-G77", DEV_MALI_VALHALL},      {"Mali-G610 MC6", DEV_MALI_VALHALL},
                {"Mali-G715", DEV_MALI_VALHALL},     {"Mali-T860", DEV_UNKNOWN_GPU}};
    for (size_t i = 0; i < CLSEG_ARRAY_LEN(mali); i++) {
        snprintf(d.name, sizeof d.name, "%s", mali[i].name);
        CHECK(dev_classify(&d) == mali[i].cls, "%s is %s, got %s", mali[i].name,
              dev_class_name(mali[i].cls), dev_class_name(dev_classify(&d)));
    }
}

int main(void) {
    char(*devs)[512] = calloc(MAX_FILES, 512), (*cfgs)[512] = calloc(MAX_FILES, 512);
    int nd = list_dir(CLSEG_SOURCE_DIR "/tests/fixtures/devices", ".dev", devs, MAX_FILES);
    int nc = list_dir(CLSEG_SOURCE_DIR "/models", ".cfg", cfgs, MAX_FILES);
    CHECK(nd >= 12, "device fixtures found: %d", nd);
    CHECK(nc >= 4, "model specs found: %d", nc);
    int seen_class[DEV_CLASS_COUNT] = {0};
    static const int sizes[][3] = {
        {480, 352, 1}, {64, 48, 1}, {17, 13, 1}, {1280, 720, 1}, {480, 352, 2}};
    net_spec *spec = calloc(1, sizeof *spec);
    for (int i = 0; i < nd; i++) {
        clseg_device_info dev;
        int expect = -1;
        char err[512];
        clseg_status st = dev_fixture_load(devs[i], &dev, &expect, err, sizeof err);
        CHECK(st == CLSEG_OK, "%s", err);
        if (st != CLSEG_OK) continue;
        CHECK(expect >= 0, "%s: names its class", devs[i]);
        CHECK(dev_classify(&dev) == (dev_class)expect, "%s: classified %s, expected %s", devs[i],
              dev_class_name(dev_classify(&dev)), dev_class_name((dev_class)expect));
        if (expect >= 0) seen_class[expect] = 1;
        for (int m = 0; m < nc; m++) {
            uint8_t *text = NULL;
            size_t size;
            st = clseg_read_file(cfgs[m], 1 << 20, &text, &size, err, sizeof err);
            if (st == CLSEG_OK) st = spec_parse((const char *)text, spec, err, sizeof err);
            free(text);
            CHECK(st == CLSEG_OK, "%s: %s", cfgs[m], err);
            if (st != CLSEG_OK) continue;
            for (size_t s = 0; s < CLSEG_ARRAY_LEN(sizes); s++)
                check_network(devs[i], &dev, cfgs[m], spec, sizes[s][0], sizes[s][1], sizes[s][2]);
        }
        check_tuned_lookup(&dev);
    }
    for (int c = 0; c < DEV_CLASS_COUNT; c++)
        CHECK(seen_class[c], "a fixture of class %s", dev_class_name((dev_class)c));
    printf("checked %d layer choices\n", checked_layers);
    check_defaults_table();
    check_cpu_isa();
    check_launch_shapes();
    check_fixture_parser();
    check_names();
    free(spec);
    free(devs);
    free(cfgs);
    return tu_finish("test_selection");
}
