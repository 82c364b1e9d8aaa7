/* cmd_export.c - `clseg export`: a clseg model written as an ONNX file. */
#include <getopt.h>
#include <stdlib.h>

#include "cli.h"

static void help(void) {
    printf("usage: clseg export MODEL.clsm -o MODEL.onnx [--input-size WxH]\n\n"
           "Writes the model as an ONNX graph (opset 13) for a fixed input size: input 'data',\n"
           "the normalised 1xCxHxW float tensor; output the class scores. BatchNorm is folded\n"
           "into the convolutions, max-unpool becomes MaxUnpool. The normalisation and class\n"
           "names are not part of the graph (docs/onnx.md). Nothing is written on failure.\n\n"
           "  -o, --out FILE      ONNX file to write (atomically)\n"
           "  --input-size WxH    the graph's input size (default 480x360)\n"
           "  -h, --help          this text\n");
}

int cmd_export(int argc, char **argv) {
    const char *out = NULL;
    int width = 0, height = 0, c;
    static const struct option opts[] = {{"out", required_argument, 0, 'o'},
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
        case 'i':
            if (!cli_parse_size(optarg, &width, &height))
                return cli_usage_error("export", "--input-size must be WxH, not '%s'", optarg);
            break;
        case 'h':
            help();
            return EXIT_OK;
        case ':':
            return cli_usage_error("export", "option '%s' needs a value", argv[optind - 1]);
        default:
            return cli_usage_error("export", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind >= argc) return cli_usage_error("export", "a model file is required");
    if (optind + 1 < argc)
        return cli_usage_error("export", "unexpected argument '%s'", argv[optind + 1]);
    if (!out) return cli_usage_error("export", "-o/--out is required");

    char err[2048];
    clseg_model *m = NULL;
    if (clseg_model_load(&m, argv[optind], err, sizeof err) != CLSEG_OK)
        return cli_error("%s", err);
    clseg_model_export_options o;
    clseg_model_export_options_init(&o);
    o.input_width = width;
    o.input_height = height;
    clseg_status st = clseg_model_export_onnx(m, out, &o, err, sizeof err);
    int layers = clseg_model_layer_count(m), classes = clseg_model_num_classes(m);
    clseg_model_free(m);
    if (st != CLSEG_OK) return cli_error("%s", err);
    printf("wrote %s: %d layers, %d classes, input 1x%dx%d (data), opset 13\n", out, layers,
           classes, height ? height : 360, width ? width : 480);
    return EXIT_OK;
}
