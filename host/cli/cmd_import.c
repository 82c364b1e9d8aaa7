/* cmd_import.c - `clseg import`: an ONNX model turned into a .clsm model file. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define MAX_NAMES 255

static void help(void) {
    printf("usage: clseg import MODEL.onnx -o MODEL.clsm [--classes K|FILE] [--mean M,M,M]\n"
           "                    [--std S,S,S] [--input-size WxH]\n\n"
           "Maps an ONNX graph (opsets 7..18) onto clseg's layers and writes it as a model file\n"
           "(docs/onnx.md lists what is supported). Nothing is written when the import fails.\n"
           "The class count is the graph output's channel count; with 12 classes the names and\n"
           "palette are CamVid's, otherwise class0.. with generated colours. The input\n"
           "normalisation defaults to ImageNet's mean and std.\n\n"
           "  -o, --out FILE      model file to write (atomically)\n"
           "  --classes K|FILE    the class count (must match the graph), or a file of class\n"
           "                      names, one per line\n"
           "  --mean M,M,M        per input channel, applied to pixel/255 (default ImageNet's)\n"
           "  --std S,S,S         likewise (default ImageNet's)\n"
           "  --input-size WxH    the input size to map the graph for; required when the graph's\n"
           "                      height or width is dynamic\n"
           "  -h, --help          this text\n");
}

/* "a,b,c": 1..4 finite floats. */
static int parse_floats(const char *s, float *out, int *n) {
    *n = 0;
    const char *p = s;
    while (*n < 4) {
        char *end;
        errno = 0;
        double v = strtod(p, &end);
        if (end == p || errno || !isfinite(v)) return 0;
        out[(*n)++] = (float)v;
        if (*end == 0) return 1;
        if (*end != ',') return 0;
        p = end + 1;
    }
    return 0;
}

/* One class name a line (a trailing \r and empty lines ignored). */
static int read_names(const char *path, char ***names, int *count) {
    FILE *f = fopen(path, "r");
    if (!f) return cli_error("cannot open %s: %s", path, strerror(errno));
    char **v = calloc(MAX_NAMES, sizeof *v);
    char line[256];
    int n = 0, rc = EXIT_OK;
    while (v && fgets(line, sizeof line, f)) {
        size_t len = strcspn(line, "\r\n");
        line[len] = 0;
        if (!len) continue;
        if (n == MAX_NAMES) {
            rc = cli_error("%s: more than %d class names", path, MAX_NAMES);
            break;
        }
        if (!(v[n++] = strdup(line))) break;
    }
    fclose(f);
    if (!v || (n && !v[n - 1])) rc = cli_error("out of memory");
    if (rc == EXIT_OK && !n) rc = cli_error("%s: no class names", path);
    if (rc != EXIT_OK) {
        for (int i = 0; v && i < n; i++) free(v[i]);
        free(v);
        return rc;
    }
    *names = v;
    *count = n;
    return EXIT_OK;
}

int cmd_import(int argc, char **argv) {
    const char *out = NULL, *classes_arg = NULL;
    float mean[4], std[4];
    int n_mean = 0, n_std = 0, width = 0, height = 0, c;
    static const struct option opts[] = {{"out", required_argument, 0, 'o'},
                                         {"classes", required_argument, 0, 'k'},
                                         {"mean", required_argument, 0, 'm'},
                                         {"std", required_argument, 0, 's'},
                                         {"input-size", required_argument, 0, 'i'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'o':
            out = optarg;
            break;
        case 'k':
            classes_arg = optarg;
            break;
        case 'm':
            if (!parse_floats(optarg, mean, &n_mean))
                return cli_usage_error("import", "--mean takes 1..4 numbers, not '%s'", optarg);
            break;
        case 's':
            if (!parse_floats(optarg, std, &n_std))
                return cli_usage_error("import", "--std takes 1..4 numbers, not '%s'", optarg);
            break;
        case 'i':
            if (!cli_parse_size(optarg, &width, &height))
                return cli_usage_error("import", "--input-size must be WxH, not '%s'", optarg);
            break;
        case 'h':
            help();
            return EXIT_OK;
        case ':':
            return cli_usage_error("import", "option '%s' needs a value", argv[optind - 1]);
        default:
            return cli_usage_error("import", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind >= argc) return cli_usage_error("import", "an ONNX model file is required");
    if (optind + 1 < argc)
        return cli_usage_error("import", "unexpected argument '%s'", argv[optind + 1]);
    if (!out) return cli_usage_error("import", "-o/--out is required");
    const char *in = argv[optind];

    clseg_model_import_options o;
    clseg_model_import_options_init(&o);
    o.input_width = width;
    o.input_height = height;
    o.mean = n_mean ? mean : NULL;
    o.n_mean = n_mean;
    o.std = n_std ? std : NULL;
    o.n_std = n_std;
    char **names = NULL;
    int n_names = 0;
    if (classes_arg) {
        long k;
        if (cli_parse_int(classes_arg, 1, 255, &k)) {
            o.classes = (int)k;
        } else {
            int rc = read_names(classes_arg, &names, &n_names);
            if (rc != EXIT_OK) return rc;
            o.classes = n_names;
            o.class_names = (const char *const *)names;
        }
    }
    char err[2048];
    clseg_model *m = NULL;
    clseg_status st = clseg_model_import_onnx(&m, in, &o, err, sizeof err);
    for (int i = 0; i < n_names; i++) free(names[i]);
    free(names);
    if (st != CLSEG_OK) return cli_error("%s", err);
    st = clseg_model_save(m, out, err, sizeof err);
    int layers = clseg_model_layer_count(m), classes = clseg_model_num_classes(m);
    size_t params = clseg_model_parameter_count(m);
    clseg_model_free(m);
    if (st != CLSEG_OK) return cli_error("%s", err);
    printf("wrote %s: %d layers, %zu parameters, %d classes\n", out, layers, params, classes);
    return EXIT_OK;
}
