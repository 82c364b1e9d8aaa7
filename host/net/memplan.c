/* memplan.c - liveness of a network's activations and their greedy placement into shared device
   buffers, so that peak memory follows what is live at once rather than the sum of all layers. */
#include <string.h>

#include "memplan.h"

int memplan_overlap(const memplan *p, int a, int b) {
    return p->t[a].first <= p->t[b].last && p->t[b].first <= p->t[a].last;
}

static void add_tensor(memplan *p, int layer, int is_indices, shape4 s) {
    memplan_tensor *t = &p->t[p->n_tensors];
    *t = (memplan_tensor){layer, is_indices, (uint64_t)shape4_count(s) * 4, layer, layer, -1};
    if (is_indices)
        p->idx_tensor[layer] = p->n_tensors;
    else
        p->out_tensor[layer] = p->n_tensors;
    p->n_tensors++;
}

static void find_live_ranges(memplan *p, const layer_step *steps, int n_layers) {
    for (int j = 0; j < n_layers; j++) {
        const layer_step *s = &steps[j];
        for (int k = 0; k < s->n_in; k++)
            if (s->in[k] >= 0) {
                memplan_tensor *t = &p->t[p->out_tensor[s->in[k]]];
                t->last = CLSEG_MAX(t->last, j);
            }
        if (s->op == OP_MAXUNPOOL && s->pool_layer >= 0 && p->idx_tensor[s->pool_layer] >= 0) {
            memplan_tensor *t = &p->t[p->idx_tensor[s->pool_layer]];
            t->last = CLSEG_MAX(t->last, j);
        }
    }
    if (n_layers > 0) p->t[p->out_tensor[n_layers - 1]].last = n_layers;
}

static int slot_accepts(const memplan *p, int slot, int ti) {
    for (int o = 0; o < p->n_tensors; o++)
        if (p->t[o].slot == slot && memplan_overlap(p, o, ti)) return 0;
    return 1;
}

/* Places tensors largest first (stable, so equal sizes keep network order): a big tensor placed
   late could only open a new slot, while small ones fit into the gaps the big ones leave. Among
   the slots a tensor may join, best_fit picks the smallest, otherwise the largest; neither wins
   on every network (a chain where both ends are the largest tensors wants the largest). */
static void assign_slots(memplan *p, const int *order, int reuse, int best_fit) {
    p->n_slots = 0;
    for (int i = 0; i < p->n_tensors; i++) p->t[i].slot = -1;
    for (int k = 0; k < p->n_tensors; k++) {
        int ti = order[k], best = -1;
        for (int s = 0; reuse && s < p->n_slots; s++) {
            int better = best < 0 || (best_fit ? p->slot_bytes[s] < p->slot_bytes[best]
                                               : p->slot_bytes[s] > p->slot_bytes[best]);
            if (better && slot_accepts(p, s, ti)) best = s;
        }
        if (best < 0) {
            best = p->n_slots++;
            p->slot_bytes[best] = p->t[ti].bytes;
        }
        p->t[ti].slot = best;
    }
    p->total_bytes = 0;
    for (int s = 0; s < p->n_slots; s++) p->total_bytes += p->slot_bytes[s];
}

void memplan_build(const layer_step *steps, int n_layers, int reuse, memplan *p) {
    memset(p, 0, sizeof *p);
    for (int i = 0; i < n_layers; i++) {
        p->idx_tensor[i] = -1;
        add_tensor(p, i, 0, steps[i].out);
        if (step_writes_indices(&steps[i])) add_tensor(p, i, 1, steps[i].out);
    }
    find_live_ranges(p, steps, n_layers);

    int order[MEMPLAN_MAX_TENSORS] = {0}; /* zeroed: gcc -O3 cannot see that the sort fills it */
    for (int i = 0; i < p->n_tensors; i++) {
        int j = i;
        while (j > 0 && p->t[order[j - 1]].bytes < p->t[i].bytes) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = i;
    }
    assign_slots(p, order, reuse, 0);
    if (reuse) {
        uint64_t largest_fit = p->total_bytes;
        assign_slots(p, order, reuse, 1);
        if (p->total_bytes > largest_fit) assign_slots(p, order, reuse, 0);
    }

    for (int i = 0; i < p->n_tensors; i++) p->unplanned_bytes += p->t[i].bytes;
    for (int step = 0; step <= n_layers; step++) {
        uint64_t live = 0;
        for (int i = 0; i < p->n_tensors; i++)
            if (p->t[i].first <= step && step <= p->t[i].last) live += p->t[i].bytes;
        p->live_peak_bytes = CLSEG_MAX(p->live_peak_bytes, live);
    }
}
