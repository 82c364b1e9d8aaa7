/* test_memplan.c - the activation memory planner on every shipped spec: live ranges, reuse, and
   that no two tensors live at once ever share a buffer (checked by simulating execution). */
/* ctest-label: host */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/memplan.h"
#include "net/plan.h"
#include "testutil.h"

/* The last step that reads layer i's output (or, with indices = 1, its maxpool indices), worked
   out from the spec rather than the plan; n for the network output, i if nobody reads it. */
static int expected_last(const net_spec *spec, int i, int indices) {
    int last = i;
    for (int j = 0; j < spec->n_layers; j++) {
        const spec_layer *L = &spec->layers[j];
        if (indices) {
            if (L->type == LAYER_UNPOOL && L->pool_layer == i) last = j;
        } else {
            for (int k = 0; k < L->n_inputs; k++)
                if (L->inputs[k] == i) last = j;
        }
    }
    return (!indices && i == spec->n_layers - 1) ? spec->n_layers : last;
}

/* Runs the layers in order with each slot remembering which tensor it holds: every read must
   find the tensor it expects, i.e. nothing overwrote it while it was live. */
static void simulate(const char *what, const memplan *p, const layer_step *steps, int n) {
    int owner[MEMPLAN_MAX_TENSORS];
    for (int s = 0; s < p->n_slots; s++) owner[s] = -1;
    for (int j = 0; j < n; j++) {
        for (int k = 0; k < steps[j].n_in; k++) {
            int src = steps[j].in[k];
            if (src < 0) continue;
            int t = p->out_tensor[src];
            CHECK(owner[p->t[t].slot] == t, "%s: layer %d reads layer %d's output, overwritten",
                  what, j, src);
        }
        if (steps[j].op == OP_MAXUNPOOL) {
            int t = p->idx_tensor[steps[j].pool_layer];
            CHECK(t >= 0 && owner[p->t[t].slot] == t, "%s: layer %d's indices overwritten", what,
                  j);
        }
        owner[p->t[p->out_tensor[j]].slot] = p->out_tensor[j];
        if (p->idx_tensor[j] >= 0) {
            CHECK(p->t[p->idx_tensor[j]].slot != p->t[p->out_tensor[j]].slot,
                  "%s: layer %d writes output and indices into one buffer", what, j);
            owner[p->t[p->idx_tensor[j]].slot] = p->idx_tensor[j];
        }
    }
    int out = p->out_tensor[n - 1];
    CHECK(owner[p->t[out].slot] == out, "%s: network output overwritten", what);
}

static void check_plan(const char *what, const net_spec *spec, const layer_step *steps,
                       const memplan *p, int reuse) {
    int n = spec->n_layers, want_tensors = n;
    for (int i = 0; i < n; i++) want_tensors += step_writes_indices(&steps[i]);
    CHECK(p->n_tensors == want_tensors, "%s: %d tensors, want %d", what, p->n_tensors,
          want_tensors);
    uint64_t unplanned = 0, slot_sum = 0, biggest[MEMPLAN_MAX_TENSORS] = {0};
    for (int i = 0; i < p->n_tensors; i++) {
        const memplan_tensor *t = &p->t[i];
        CHECK(t->layer >= 0 && t->layer < n, "%s: tensor %d layer %d", what, i, t->layer);
        if (t->layer < 0 || t->layer >= n) continue;
        CHECK(t->bytes == shape4_count(steps[t->layer].out) * 4, "%s: tensor %d size", what, i);
        CHECK(t->first == t->layer, "%s: %s of layer %d live from %d", what,
              t->is_indices ? "indices" : "output", t->layer, t->first);
        int last = expected_last(spec, t->layer, t->is_indices);
        CHECK(t->last == last, "%s: %s of layer %d live to %d, want %d", what,
              t->is_indices ? "indices" : "output", t->layer, t->last, last);
        CHECK(t->slot >= 0 && t->slot < p->n_slots, "%s: tensor %d slot %d", what, i, t->slot);
        if (t->slot < 0 || t->slot >= p->n_slots) continue;
        CHECK(p->slot_bytes[t->slot] >= t->bytes, "%s: tensor %d larger than its buffer", what, i);
        biggest[t->slot] = CLSEG_MAX(biggest[t->slot], t->bytes);
        unplanned += t->bytes;
        for (int o = 0; o < i; o++)
            if (p->t[o].slot == t->slot)
                CHECK(!memplan_overlap(p, o, i),
                      "%s: layers %d and %d share a buffer while both are live", what,
                      p->t[o].layer, t->layer);
    }
    for (int i = 0; i < n; i++) {
        CHECK(p->t[p->out_tensor[i]].layer == i && !p->t[p->out_tensor[i]].is_indices,
              "%s: out_tensor[%d]", what, i);
        CHECK((p->idx_tensor[i] >= 0) == step_writes_indices(&steps[i]), "%s: idx_tensor[%d]", what,
              i);
    }
    for (int s = 0; s < p->n_slots; s++) {
        CHECK(p->slot_bytes[s] == biggest[s], "%s: buffer %d larger than its largest tensor", what,
              s);
        slot_sum += p->slot_bytes[s];
    }
    CHECK(p->total_bytes == slot_sum, "%s: total %llu != %llu", what,
          (unsigned long long)p->total_bytes, (unsigned long long)slot_sum);
    CHECK(p->unplanned_bytes == unplanned, "%s: unplanned bytes", what);
    CHECK(p->live_peak_bytes <= p->total_bytes, "%s: below the live peak", what);
    if (reuse) {
        CHECK(p->total_bytes <= p->unplanned_bytes, "%s: planning costs memory", what);
        if (n > 2)
            CHECK(p->n_slots < p->n_tensors, "%s: no buffer reused (%d buffers)", what, p->n_slots);
    } else {
        CHECK(p->n_slots == p->n_tensors && p->total_bytes == p->unplanned_bytes,
              "%s: without planning every tensor has its own buffer", what);
    }
    simulate(what, p, steps, n);
}

static int test_spec_file(const char *path, memplan *p) {
    uint8_t *text = NULL;
    size_t size;
    char err[512];
    CHECK_OK(clseg_read_file(path, 1 << 20, &text, &size, err, sizeof err));
    if (!text) return 0;
    net_spec *spec = malloc(sizeof *spec);
    layer_step *steps = malloc(SPEC_MAX_LAYERS * sizeof *steps);
    clseg_status st = spec_parse((const char *)text, spec, err, sizeof err);
    CHECK(st == CLSEG_OK, "%s: %s", path, err);
    static const int sizes[][3] = {{1, 352, 480}, {1, 360, 480}, {2, 17, 33}, {1, 64, 64}};
    int planned = 0;
    for (size_t k = 0; st == CLSEG_OK && k < CLSEG_ARRAY_LEN(sizes); k++) {
        shape4 in = {sizes[k][0], spec->input_channels, sizes[k][1], sizes[k][2]};
        if (net_plan(spec, 12, in, steps, err, sizeof err) != CLSEG_OK) continue;
        planned++;
        for (int reuse = 0; reuse <= 1; reuse++) {
            char what[1200];
            snprintf(what, sizeof what, "%s %dx%d batch %d%s", path, in.w, in.h, in.n,
                     reuse ? "" : " (no planning)");
            memplan_build(steps, spec->n_layers, reuse, p);
            check_plan(what, spec, steps, p, reuse);
            if (reuse)
                printf("%-50s %2d tensors in %2d buffers: %7.1f MiB (one each %7.1f, live peak "
                       "%7.1f)\n",
                       what + strlen(CLSEG_SOURCE_DIR) + 1, p->n_tensors, p->n_slots,
                       p->total_bytes / 1048576.0, p->unplanned_bytes / 1048576.0,
                       p->live_peak_bytes / 1048576.0);
        }
    }
    CHECK(st != CLSEG_OK || planned > 0, "%s: no test size fits the network", path);
    free(steps);
    free(spec);
    free(text);
    return 1;
}

/* The seed net is a chain whose first and last stages hold the largest tensors. Its live peak
   is the last decoder stage plus its input (1.5 x the largest); separate buffers can come within
   one smallest tensor of it (a chain alternates between two buffers, and the two largest
   tensors sit at steps of different parity, so a third buffer must break the alternation). */
static void test_seednet_near_optimal(memplan *p) {
    uint8_t *text = NULL;
    size_t size;
    char err[512];
    CHECK_OK(clseg_read_file(CLSEG_SOURCE_DIR "/models/seednet.cfg", 1 << 20, &text, &size, err,
                             sizeof err));
    net_spec *spec = malloc(sizeof *spec);
    layer_step *steps = malloc(SPEC_MAX_LAYERS * sizeof *steps);
    if (text) CHECK_OK(spec_parse((const char *)text, spec, err, sizeof err));
    shape4 in = {1, 3, 352, 480};
    if (text && net_plan(spec, 12, in, steps, err, sizeof err) == CLSEG_OK) {
        memplan_build(steps, spec->n_layers, 1, p);
        uint64_t full = (uint64_t)64 * 352 * 480 * 4; /* enc1 / dec4 output */
        uint64_t smallest = full;
        for (int i = 0; i < p->n_tensors; i++) smallest = CLSEG_MIN(smallest, p->t[i].bytes);
        CHECK(p->live_peak_bytes == full + full / 2, "seednet: live peak %llu, want 1.5 x %llu",
              (unsigned long long)p->live_peak_bytes, (unsigned long long)full);
        CHECK(p->total_bytes <= p->live_peak_bytes + smallest,
              "seednet: %llu bytes, live peak %llu + smallest tensor %llu",
              (unsigned long long)p->total_bytes, (unsigned long long)p->live_peak_bytes,
              (unsigned long long)smallest);
        CHECK(p->n_slots == 3, "seednet: %d buffers", p->n_slots);
    } else {
        CHECK(0, "seednet does not plan: %s", err);
    }
    free(steps);
    free(spec);
    free(text);
}

int main(void) {
    memplan *p = malloc(sizeof *p);
    DIR *d = opendir(CLSEG_SOURCE_DIR "/models");
    CHECK(d != NULL, "cannot list %s/models", CLSEG_SOURCE_DIR);
    int files = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".cfg") != 0) continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/models/%s", CLSEG_SOURCE_DIR, e->d_name);
        files += test_spec_file(path, p);
    }
    if (d) closedir(d);
    CHECK(files >= 3, "only %d specs in models/", files);
    files += test_spec_file(CLSEG_SOURCE_DIR "/tests/fixtures/cli/tiny.cfg", p);
    test_seednet_near_optimal(p);
    free(p);
    return tu_finish("memplan");
}
