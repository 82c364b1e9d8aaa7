/* cmd_init.c - `clseg init`: a model file with seeded He-initialised weights from a spec. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void help(void) {
    printf("usage: clseg init --spec SPEC.cfg --classes K --out MODEL.clsm [--seed S]\n\n"
           "Writes a model whose conv weights are He-initialised from a seeded generator (the\n"
           "same seed gives the same file), biases zero and BatchNorm the identity. Useful for\n"
           "benchmarks and tests before a trained model exists. With K = 12 the class names\n"
           "and palette are CamVid's; otherwise class0.. with generated colours.\n\n"
           "  --spec FILE     network description (docs/network-spec.md), e.g. models/seednet.cfg\n"
           "  --classes K     number of classes, 1..255\n"
           "  --out FILE      model file to write (atomically)\n"
           "  --seed S        random seed (default 1)\n"
           "  -h, --help      this text\n");
}

int cmd_init(int argc, char **argv) {
    const char *spec_path = NULL, *out = NULL;
    long classes = 0, seed = 1;
    int c;
    static const struct option opts[] = {
        {"spec", required_argument, 0, 's'}, {"classes", required_argument, 0, 'k'},
        {"out", required_argument, 0, 'o'},  {"seed", required_argument, 0, 'r'},
        {"help", no_argument, 0, 'h'},       {0, 0, 0, 0}};
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":s:k:o:r:h", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            spec_path = optarg;
            break;
        case 'o':
            out = optarg;
            break;
        case 'k':
            if (!cli_parse_int(optarg, 1, 255, &classes))
                return cli_usage_error("init", "--classes must be an integer in 1..255, not '%s'",
                                       optarg);
            break;
        case 'r':
            if (!cli_parse_int(optarg, 0, 0x7fffffffL, &seed))
                return cli_usage_error("init", "--seed must be a non-negative integer, not '%s'",
                                       optarg);
            break;
        case 'h':
            help();
            return EXIT_OK;
        case ':':
            return cli_usage_error("init", "option '%s' needs a value", argv[optind - 1]);
        default:
            return cli_usage_error("init", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) return cli_usage_error("init", "unexpected argument '%s'", argv[optind]);
    if (!spec_path) return cli_usage_error("init", "--spec is required");
    if (!classes) return cli_usage_error("init", "--classes is required");
    if (!out) return cli_usage_error("init", "--out is required");

    char err[2048];
    clseg_model *m;
    clseg_model_init_options o = {CLSEG_MODEL_INIT_OPTIONS_INIT, .classes = (int)classes,
                                  .seed = (uint64_t)seed};
    if (clseg_model_init(&m, spec_path, &o, err, sizeof err) != CLSEG_OK)
        return cli_error("%s", err);
    clseg_status st = clseg_model_save(m, out, err, sizeof err);
    size_t params = clseg_model_parameter_count(m);
    char sizes[160];
    int near = clseg_model_input_sizes(m, 64, sizes, sizeof sizes);
    clseg_model_free(m);
    if (st != CLSEG_OK) return cli_error("%s", err);
    printf("wrote %s: %zu parameters, %ld classes, seed %ld\n", out, params, classes, seed);
    /* The common case (64x64 fits) stays one line; otherwise say what the network takes. */
    if (near != 64) printf("input sizes: %s (64x64 does not fit)\n", sizes);
    return EXIT_OK;
}
