/* devices.c - enumerates OpenCL platforms/devices through the ICD loader and resolves a device
   selector ("P:D" or a name substring) to one of them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "runtime.h"

static void query_str(cl_device_id d, cl_device_info what, char *out, size_t size) {
    out[0] = 0;
    if (clGetDeviceInfo(d, what, size, out, NULL) != CL_SUCCESS) out[0] = 0;
    out[size - 1] = 0;
}

static uint64_t query_u64(cl_device_id d, cl_device_info what) {
    cl_ulong v = 0;
    clGetDeviceInfo(d, what, sizeof v, &v, NULL);
    return v;
}

static uint32_t query_u32(cl_device_id d, cl_device_info what) {
    cl_uint v = 0;
    clGetDeviceInfo(d, what, sizeof v, &v, NULL);
    return v;
}

static int has_extension(const char *exts, const char *name) {
    size_t n = strlen(name);
    for (const char *p = exts; (p = strstr(p, name)) != NULL; p += n)
        if ((p == exts || p[-1] == ' ') && (p[n] == ' ' || p[n] == 0)) return 1;
    return 0;
}

static void fill_info(cl_platform_id plat, cl_device_id d, int pi, int di, clseg_device_info *o) {
    memset(o, 0, sizeof *o);
    o->platform_index = pi;
    o->device_index = di;
    clGetPlatformInfo(plat, CL_PLATFORM_NAME, sizeof o->platform_name, o->platform_name, NULL);
    clGetPlatformInfo(plat, CL_PLATFORM_VERSION, sizeof o->platform_version, o->platform_version,
                      NULL);
    clGetPlatformInfo(plat, CL_PLATFORM_VENDOR, sizeof o->platform_vendor, o->platform_vendor,
                      NULL);
    o->platform_vendor[sizeof o->platform_vendor - 1] = 0;
    o->platform_name[sizeof o->platform_name - 1] = 0;
    o->platform_version[sizeof o->platform_version - 1] = 0;
    query_str(d, CL_DEVICE_NAME, o->name, sizeof o->name);
    query_str(d, CL_DEVICE_VENDOR, o->vendor, sizeof o->vendor);
    query_str(d, CL_DRIVER_VERSION, o->driver_version, sizeof o->driver_version);
    query_str(d, CL_DEVICE_OPENCL_C_VERSION, o->opencl_c_version, sizeof o->opencl_c_version);
    cl_device_type t = 0;
    clGetDeviceInfo(d, CL_DEVICE_TYPE, sizeof t, &t, NULL);
    o->type = (t & CL_DEVICE_TYPE_GPU)           ? CLSEG_DEVICE_GPU
              : (t & CL_DEVICE_TYPE_CPU)         ? CLSEG_DEVICE_CPU
              : (t & CL_DEVICE_TYPE_ACCELERATOR) ? CLSEG_DEVICE_ACCELERATOR
                                                 : CLSEG_DEVICE_OTHER;
    o->vendor_id = query_u32(d, CL_DEVICE_VENDOR_ID);
    o->compute_units = query_u32(d, CL_DEVICE_MAX_COMPUTE_UNITS);
    o->clock_mhz = query_u32(d, CL_DEVICE_MAX_CLOCK_FREQUENCY);
    o->global_mem_bytes = query_u64(d, CL_DEVICE_GLOBAL_MEM_SIZE);
    o->local_mem_bytes = query_u64(d, CL_DEVICE_LOCAL_MEM_SIZE);
    cl_device_local_mem_type lt = CL_GLOBAL;
    clGetDeviceInfo(d, CL_DEVICE_LOCAL_MEM_TYPE, sizeof lt, &lt, NULL);
    o->local_mem_is_dedicated = lt == CL_LOCAL;
    o->max_alloc_bytes = query_u64(d, CL_DEVICE_MAX_MEM_ALLOC_SIZE);
    clGetDeviceInfo(d, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof o->max_work_group_size,
                    &o->max_work_group_size, NULL);
    cl_uint dims = 0;
    clGetDeviceInfo(d, CL_DEVICE_MAX_WORK_ITEM_DIMENSIONS, sizeof dims, &dims, NULL);
    size_t sizes[16] = {0};
    if (dims >= 3 && dims <= 16 &&
        clGetDeviceInfo(d, CL_DEVICE_MAX_WORK_ITEM_SIZES, sizeof sizes, sizes, NULL) == CL_SUCCESS)
        memcpy(o->max_work_item_sizes, sizes, sizeof o->max_work_item_sizes);
    o->preferred_vector_width_float = query_u32(d, CL_DEVICE_PREFERRED_VECTOR_WIDTH_FLOAT);
    o->preferred_vector_width_half = query_u32(d, CL_DEVICE_PREFERRED_VECTOR_WIDTH_HALF);
    o->native_vector_width_float = query_u32(d, CL_DEVICE_NATIVE_VECTOR_WIDTH_FLOAT);
    size_t ext_len = 0;
    if (clGetDeviceInfo(d, CL_DEVICE_EXTENSIONS, 0, NULL, &ext_len) == CL_SUCCESS && ext_len) {
        char *exts = clseg_calloc(ext_len + 1, 1);
        if (exts && clGetDeviceInfo(d, CL_DEVICE_EXTENSIONS, ext_len, exts, NULL) == CL_SUCCESS) {
            o->has_fp16 = has_extension(exts, "cl_khr_fp16");
            o->has_fp64 = has_extension(exts, "cl_khr_fp64");
            o->has_subgroups = has_extension(exts, "cl_khr_subgroups") ||
                               has_extension(exts, "cl_intel_subgroups");
        }
        free(exts);
    }
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
    if (clGetPlatformIDs(np, plats, NULL) != CL_SUCCESS) np = 0;
    for (cl_uint p = 0; p < np; p++) {
        cl_uint nd = 0;
        if (clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, 0, NULL, &nd) != CL_SUCCESS || !nd)
            continue;
        cl_device_id *devs = clseg_calloc(nd, sizeof *devs);
        if (!devs) {
            st = CLSEG_ERR_OUT_OF_MEMORY;
            break;
        }
        int stop = 0;
        if (clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, nd, devs, NULL) == CL_SUCCESS)
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
    int oom;
} list_acc;

static int collect(void *user, cl_platform_id p, cl_device_id d, int pi, int di) {
    list_acc *a = user;
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 4;
        clseg_device_info *items = clseg_realloc(a->items, cap * sizeof *items);
        if (!items) {
            a->oom = 1;
            return 1;
        }
        a->items = items;
        a->cap = cap;
    }
    fill_info(p, d, pi, di, &a->items[a->n++]);
    return 0;
}

clseg_status clseg_devices_list(clseg_device_info **out, size_t *count) {
    if (!out || !count) return CLSEG_ERR_INVALID_ARGUMENT;
    list_acc a = {0};
    clseg_status st = for_each_device(collect, &a);
    if (st == CLSEG_OK && a.oom) st = CLSEG_ERR_OUT_OF_MEMORY;
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
