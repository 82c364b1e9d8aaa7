/* cli_mpi.c - `clseg train` and `clseg eval` under mpirun: MPI_COMM_WORLD as the library's
   clseg_reducer, the device of each rank, and stopping every rank (docs/distributed.md). */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#ifdef CLSEG_HAVE_MPI
#include <limits.h>
#include <mpi.h>

/* A launcher (Open MPI's mpirun, MPICH's Hydra, Slurm's PMIx) started this process. */
static int launched(void) {
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", NULL};
    for (int i = 0; vars[i]; i++)
        if (getenv(vars[i])) return 1;
    return 0;
}

static clseg_status mpi_fail(int rc, const char *call, char *err, size_t errlen) {
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(rc, text, &len) != MPI_SUCCESS)
        snprintf(text, sizeof text, "error %d", rc);
    snprintf(err, errlen, "%s: %.200s", call, text);
    return CLSEG_ERR_IO;
}

/* MPI counts are ints: buffers over INT_MAX elements go in chunks. */
static clseg_status mpi_allreduce(void *user, void *buf, size_t count, clseg_reduce_type type,
                                  char *err, size_t errlen) {
    (void)user;
    MPI_Datatype dt = type == CLSEG_REDUCE_DOUBLE ? MPI_DOUBLE : MPI_FLOAT;
    size_t size = type == CLSEG_REDUCE_DOUBLE ? sizeof(double) : sizeof(float);
    for (size_t at = 0; at < count;) {
        int n = count - at > INT_MAX ? INT_MAX : (int)(count - at);
        int rc =
            MPI_Allreduce(MPI_IN_PLACE, (char *)buf + at * size, n, dt, MPI_SUM, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS) return mpi_fail(rc, "MPI_Allreduce", err, errlen);
        at += (size_t)n;
    }
    return CLSEG_OK;
}

static clseg_status mpi_broadcast(void *user, void *buf, size_t bytes, char *err, size_t errlen) {
    (void)user;
    for (size_t at = 0; at < bytes;) {
        int n = bytes - at > INT_MAX ? INT_MAX : (int)(bytes - at);
        int rc = MPI_Bcast((char *)buf + at, n, MPI_BYTE, 0, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS) return mpi_fail(rc, "MPI_Bcast", err, errlen);
        at += (size_t)n;
    }
    return CLSEG_OK;
}

int cli_mpi_begin(cli_mpi *m) {
    memset(m, 0, sizeof *m);
    m->size = 1;
    if (!launched()) return 1;
    int provided, rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
    if (rc != MPI_SUCCESS) return cli_error("MPI_Init_thread failed (error %d)", rc), 0;
    m->active = 1;
    /* Errors come back to the caller, which stops every rank with one line, instead of MPI's
       default of aborting the job from inside the failed call. */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &m->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &m->size);
    MPI_Comm node;
    if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, m->rank, MPI_INFO_NULL, &node) ==
        MPI_SUCCESS) {
        MPI_Comm_rank(node, &m->local_rank);
        MPI_Comm_free(&node);
    }
    m->reducer =
        (clseg_reducer){sizeof m->reducer, m->rank, m->size, mpi_allreduce, mpi_broadcast, NULL};
    return 1;
}

int cli_mpi_end(cli_mpi *m, int rc, int coordinated) {
    if (!m->active) return rc;
    m->active = 0;
    /* A failure the other ranks do not know of leaves them waiting in a collective: end them
       all (rank 0's checkpoint, written atomically, stays whole). */
    if (rc != EXIT_OK && !coordinated && m->size > 1) MPI_Abort(MPI_COMM_WORLD, rc);
    MPI_Finalize();
    return rc;
}

double cli_mpi_allreduce_seconds(const cli_mpi *m, size_t floats, int reps) {
    if (!m->active || reps < 1) return -1;
    float *buf = calloc(floats ? floats : 1, sizeof *buf);
    if (!buf) return -1;
    char err[256];
    double best = -1;
    for (int i = 0; i <= reps; i++) { /* the first is a warm-up */
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = MPI_Wtime();
        if (mpi_allreduce(NULL, buf, floats, CLSEG_REDUCE_FLOAT, err, sizeof err) != CLSEG_OK) {
            best = -1;
            break;
        }
        double t = MPI_Wtime() - t0;
        MPI_Allreduce(MPI_IN_PLACE, &t, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
        if (i && (best < 0 || t < best)) best = t;
    }
    free(buf);
    return best;
}

#else /* one process */

int cli_mpi_begin(cli_mpi *m) {
    memset(m, 0, sizeof *m);
    m->size = 1;
    return 1;
}

int cli_mpi_end(cli_mpi *m, int rc, int coordinated) {
    (void)m;
    (void)coordinated;
    return rc;
}

double cli_mpi_allreduce_seconds(const cli_mpi *m, size_t floats, int reps) {
    (void)m;
    (void)floats;
    (void)reps;
    return -1;
}

#endif

const clseg_reducer *cli_mpi_reducer(const cli_mpi *m) {
    return m->size > 1 ? &m->reducer : NULL;
}

/* "%r" in the selector becomes the rank; --device-per-rank takes the node-local rank's device
   among the GPUs (every device when there is none), round robin. */
const char *cli_mpi_device(const cli_mpi *m, const char *sel, int per_rank, char *buf, size_t len) {
    if (per_rank) {
        clseg_device_info *devs = NULL;
        size_t n = 0, gpus = 0;
        if (clseg_devices_list(&devs, &n) != CLSEG_OK || n == 0) {
            clseg_free(devs);
            return sel;
        }
        for (size_t i = 0; i < n; i++) gpus += devs[i].type == CLSEG_DEVICE_GPU;
        size_t want = (size_t)m->local_rank % (gpus ? gpus : n), seen = 0;
        for (size_t i = 0; i < n; i++) {
            if (gpus && devs[i].type != CLSEG_DEVICE_GPU) continue;
            if (seen++ == want) {
                snprintf(buf, len, "%d:%d", devs[i].platform_index, devs[i].device_index);
                break;
            }
        }
        clseg_free(devs);
        return buf;
    }
    if (!sel) sel = getenv("CLSEG_DEVICE");
    if (!sel || !strstr(sel, "%r")) return sel;
    size_t o = 0;
    for (const char *p = sel; *p && o + 1 < len; p++) {
        if (p[0] == '%' && p[1] == 'r') {
            o += (size_t)snprintf(buf + o, len - o, "%d", m->rank);
            if (o >= len) o = len - 1;
            p++;
        } else {
            buf[o++] = *p;
        }
    }
    buf[o] = 0;
    return buf;
}
