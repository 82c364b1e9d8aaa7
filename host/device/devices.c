/* devices.c - enumerates OpenCL platforms/devices through the ICD loader and resolves a device
   selector ("P:D" or a name substring) to one of them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "runtime.h"

/* Every property queried is core OpenCL 1.2, so a failed query means a failing driver: *bad is
   set and the listing fails rather than describe the device with zeros (a zero memory size would
   later read as "too large"). */
static void query(cl_device_id d, cl_device_info what, size_t size, void *out, int *bad) {
    if (clGetDeviceInfo(d, what, size, out, NULL) != CL_SUCCESS) *bad = 1;
}

static void query_str(cl_device_id d, cl_device_info what, char *out, size_t size, int *bad) {
    query(d, what, size, out, bad);
    out[size - 1] = 0;
}

static uint64_t query_u64(cl_device_id d, cl_device_info what, int *bad) {
    cl_ulong v = 0;
    query(d, what, sizeof v, &v, bad);
    return v;
}

static uint32_t query_u32(cl_device_id d, cl_device_info what, int *bad) {
    cl_uint v = 0;
    query(d, what, sizeof v, &v, bad);
    return v;
}

static int has_extension(const char *exts, const char *name) {
    size_t n = strlen(name);
    for (const char *p = exts; (p = strstr(p, name)) != NULL; p += n)
        if ((p == exts || p[-1] == ' ') && (p[n] == ' ' || p[n] == 0)) return 1;
    return 0;
}

static clseg_status fill_info(cl_platform_id plat, cl_device_id d, int pi, int di,
                              clseg_device_info *o) {
    int bad = 0;
    memset(o, 0, sizeof *o);
    o->platform_index = pi;
    o->device_index = di;
    bad |= clGetPlatformInfo(plat, CL_PLATFORM_NAME, sizeof o->platform_name, o->platform_name,
                             NULL) != CL_SUCCESS;
    bad |= clGetPlatformInfo(plat, CL_PLATFORM_VERSION, sizeof o->platform_version,
                             o->platform_version, NULL) != CL_SUCCESS;
    bad |= clGetPlatformInfo(plat, CL_PLATFORM_VENDOR, sizeof o->platform_vendor,
                             o->platform_vendor, NULL) != CL_SUCCESS;
    o->platform_vendor[sizeof o->platform_vendor - 1] = 0;
    o->platform_name[sizeof o->platform_name - 1] = 0;
    o->platform_version[sizeof o->platform_version - 1] = 0;
    query_str(d, CL_DEVICE_NAME, o->name, sizeof o->name, &bad);
    query_str(d, CL_DEVICE_VENDOR, o->vendor, sizeof o->vendor, &bad);
    query_str(d, CL_DRIVER_VERSION, o->driver_version, sizeof o->driver_version, &bad);
    query_str(d, CL_DEVICE_OPENCL_C_VERSION, o->opencl_c_version, sizeof o->opencl_c_version, &bad);
    cl_device_type t = 0;
    query(d, CL_DEVICE_TYPE, sizeof t, &t, &bad);
    o->type = (t & CL_DEVICE_TYPE_GPU)           ? CLSEG_DEVICE_GPU
              : (t & CL_DEVICE_TYPE_CPU)         ? CLSEG_DEVICE_CPU
              : (t & CL_DEVICE_TYPE_ACCELERATOR) ? CLSEG_DEVICE_ACCELERATOR
                                                 : CLSEG_DEVICE_OTHER;
    o->vendor_id = query_u32(d, CL_DEVICE_VENDOR_ID, &bad);
    o->compute_units = query_u32(d, CL_DEVICE_MAX_COMPUTE_UNITS, &bad);
    o->clock_mhz = query_u32(d, CL_DEVICE_MAX_CLOCK_FREQUENCY, &bad);
    o->global_mem_bytes = query_u64(d, CL_DEVICE_GLOBAL_MEM_SIZE, &bad);
    o->local_mem_bytes = query_u64(d, CL_DEVICE_LOCAL_MEM_SIZE, &bad);
    cl_device_local_mem_type lt = CL_GLOBAL;
    query(d, CL_DEVICE_LOCAL_MEM_TYPE, sizeof lt, &lt, &bad);
    o->local_mem_is_dedicated = lt == CL_LOCAL;
    o->max_alloc_bytes = query_u64(d, CL_DEVICE_MAX_MEM_ALLOC_SIZE, &bad);
    query(d, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof o->max_work_group_size, &o->max_work_group_size,
          &bad);
    cl_uint dims = query_u32(d, CL_DEVICE_MAX_WORK_ITEM_DIMENSIONS, &bad);
    size_t sizes[16] = {0};
    if (dims >= 3 && dims <= 16) {
        query(d, CL_DEVICE_MAX_WORK_ITEM_SIZES, sizeof sizes, sizes, &bad);
        memcpy(o->max_work_item_sizes, sizes, sizeof o->max_work_item_sizes);
    }
    o->preferred_vector_width_float = query_u32(d, CL_DEVICE_PREFERRED_VECTOR_WIDTH_FLOAT, &bad);
    o->preferred_vector_width_half = query_u32(d, CL_DEVICE_PREFERRED_VECTOR_WIDTH_HALF, &bad);
    o->native_vector_width_float = query_u32(d, CL_DEVICE_NATIVE_VECTOR_WIDTH_FLOAT, &bad);
    size_t ext_len = 0;
    if (clGetDeviceInfo(d, CL_DEVICE_EXTENSIONS, 0, NULL, &ext_len) != CL_SUCCESS) bad = 1;
    if (!bad && ext_len) {
        char *exts = clseg_calloc(ext_len + 1, 1);
        if (!exts) return CLSEG_ERR_OUT_OF_MEMORY;
        query(d, CL_DEVICE_EXTENSIONS, ext_len, exts, &bad);
        o->has_fp16 = has_extension(exts, "cl_khr_fp16");
        o->has_fp64 = has_extension(exts, "cl_khr_fp64");
        o->has_subgroups =
            has_extension(exts, "cl_khr_subgroups") || has_extension(exts, "cl_intel_subgroups");
        free(exts);
    }
    return bad ? CLSEG_ERR_OPENCL : CLSEG_OK;
}

/* Calls fn for every device; stops early when fn returns nonzero. */
typedef int (*device_visit)(void *user, cl_platform_id p, cl_device_id d, int pi, int di);

static clseg_status for_each_device(device_visit fn, void *user) {
    cl_uint np = 0;
    cl_int e = clGetPlatformIDs(0, NULL, &np);
    /* -1001 = CL_PLATFORM_NOT_FOUND_KHR: the loader found no ICD at all */
    if (e == -1001 || (e == CL_SUCCESS && np == 0)) return CLSEG_OK;
    if (e != CL_SUCCESS) return CLSEG_ERR_OPENCL;
    cl_platform_id *plats = clseg_calloc(np, sizeof *plats);
    if (!plats) return CLSEG_ERR_OUT_OF_MEMORY;
    clseg_status st = CLSEG_OK;
    if (clGetPlatformIDs(np, plats, NULL) != CL_SUCCESS) {
        free(plats);
        return CLSEG_ERR_OPENCL;
    }
    for (cl_uint p = 0; p < np; p++) {
        cl_uint nd = 0;
        e = clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, 0, NULL, &nd);
        if (e == CL_DEVICE_NOT_FOUND || (e == CL_SUCCESS && nd == 0)) continue;
        if (e != CL_SUCCESS) {
            st = CLSEG_ERR_OPENCL;
            break;
        }
        cl_device_id *devs = clseg_calloc(nd, sizeof *devs);
        if (!devs) {
            st = CLSEG_ERR_OUT_OF_MEMORY;
            break;
        }
        int stop = 0;
        if (clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, nd, devs, NULL) != CL_SUCCESS) {
            st = CLSEG_ERR_OPENCL; /* the count query just succeeded: a failing driver */
            stop = 1;
        }
        for (cl_uint d = 0; d < nd && !stop; d++) stop = fn(user, plats[p], devs[d], p, d);
        free(devs);
        if (stop) break;
    }
    free(plats);
    return st;
}

typedef struct list_acc {
    clseg_device_info *items;
    size_t n, cap;
    clseg_status status;
} list_acc;

static int collect(void *user, cl_platform_id p, cl_device_id d, int pi, int di) {
    list_acc *a = user;
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 4;
        clseg_device_info *items = clseg_realloc(a->items, cap * sizeof *items);
        if (!items) {
            a->status = CLSEG_ERR_OUT_OF_MEMORY;
            return 1;
        }
        a->items = items;
        a->cap = cap;
    }
    a->status = fill_info(p, d, pi, di, &a->items[a->n++]);
    return a->status != CLSEG_OK;
}

clseg_status clseg_devices_list(clseg_device_info **out, size_t *count) {
    if (!out || !count) return CLSEG_ERR_INVALID_ARGUMENT;
    list_acc a = {0};
    clseg_status st = for_each_device(collect, &a);
    if (st == CLSEG_OK) st = a.status;
    if (st != CLSEG_OK) {
        free(a.items);
        *out = NULL;
        *count = 0;
        return st;
    }
    *out = a.items;
    *count = a.n;
    return CLSEG_OK;
}

static int contains_nocase(const char *hay, const char *needle) {
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0) return 1;
    return n == 0;
}

clseg_status device_select(const clseg_device_info *devs, size_t n, const char *selector,
                           size_t *index, char *err, size_t errlen) {
    if (n == 0)
        return clseg_fail(err, errlen, CLSEG_ERR_NO_DEVICE,
                          "no OpenCL device found (is an ICD such as pocl-opencl-icd installed?)");
    if (!selector || !*selector) {
        for (size_t i = 0; i < n; i++)
            if (devs[i].type == CLSEG_DEVICE_GPU) {
                *index = i;
                return CLSEG_OK;
            }
        *index = 0;
        return CLSEG_OK;
    }
    int p, d, used = 0;
    if (sscanf(selector, "%d:%d%n", &p, &d, &used) == 2 && selector[used] == 0) {
        for (size_t i = 0; i < n; i++)
            if (devs[i].platform_index == p && devs[i].device_index == d) {
                *index = i;
                return CLSEG_OK;
            }
    } else {
        for (size_t i = 0; i < n; i++)
            if (contains_nocase(devs[i].platform_name, selector) ||
                contains_nocase(devs[i].platform_vendor, selector) ||
                contains_nocase(devs[i].name, selector)) {
                *index = i;
                return CLSEG_OK;
            }
    }
    /* Say what exists, so the user can pick. */
    size_t off = 0;
    int w = snprintf(err, errlen, "no OpenCL device matches '%s'; available:", selector);
    off = w > 0 ? (size_t)w : 0;
    for (size_t i = 0; i < n && err && off < errlen; i++) {
        w = snprintf(err + off, errlen - off, "%s %d:%d %s (%s)", i ? ";" : "",
                     devs[i].platform_index, devs[i].device_index, devs[i].name,
                     devs[i].platform_name);
        if (w < 0) break;
        off += (size_t)w;
    }
    return CLSEG_ERR_NO_DEVICE;
}

/* Finds the cl ids of the listed device (index from clseg_devices_list order). */
typedef struct find_acc {
    int pi, di;
    cl_platform_id p;
    cl_device_id d;
    int found;
} find_acc;

static int find_ids(void *user, cl_platform_id p, cl_device_id d, int pi, int di) {
    find_acc *f = user;
    if (pi != f->pi || di != f->di) return 0;
    f->p = p;
    f->d = d;
    f->found = 1;
    return 1;
}

clseg_status device_ids(int platform_index, int device_index, cl_platform_id *p, cl_device_id *d) {
    find_acc f = {.pi = platform_index, .di = device_index};
    clseg_status st = for_each_device(find_ids, &f);
    if (st != CLSEG_OK) return st;
    if (!f.found) return CLSEG_ERR_NO_DEVICE;
    *p = f.p;
    *d = f.d;
    return CLSEG_OK;
}
