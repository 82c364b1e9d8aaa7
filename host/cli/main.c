/* main.c - the clseg command: dispatches to subcommands and owns the process exit code. */
#include <string.h>

#include "cli.h"

static const struct {
    const char *name;
    int (*run)(int, char **);
    const char *summary;
} commands[] = {
    {"devices", cmd_devices, "list OpenCL platforms and devices with their properties"},
    {"init", cmd_init, "write a model with seeded He-initialised weights from a network spec"},
    {"segment", cmd_segment, "segment PNG images with a model"},
    {"train", cmd_train, "train a model on a directory of images and label PNGs"},
    {"eval", cmd_eval, "confusion matrix, per-class IoU and mIoU of a model on labelled images"},
    {"bench", cmd_bench, "time a model per layer and end to end, start-up and memory"},
    {"plan", cmd_plan, "show the kernel variant and parameters chosen for each layer, and why"},
    {"tune", cmd_tune, "time kernel variants on this device and store the fastest (tuning db)"},
    {"compare", cmd_compare,
     "check devices against each other and the C reference, layer by layer"},
    {"import", cmd_import, "turn an ONNX model into a clseg model file"},
    {"export", cmd_export, "write a clseg model as an ONNX file"},
};

static void usage(FILE *f) {
    fprintf(f, "usage: clseg <command> [options]\n\n"
               "CNN semantic segmentation of road scenes on any OpenCL device.\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f,
            "\n'clseg <command> --help' describes a command's options.\n"
            "Environment: CLSEG_DEVICE (device selector), CLSEG_CACHE_DIR, CLSEG_NO_CACHE=1,\n"
            "CLSEG_KERNEL_DIR (load kernels/*.cl from disk), CLSEG_TUNING_DB (tuning database),\n"
            "CLSEG_PLAIN_KERNELS=1 (force each op's plain kernel).\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return EXIT_OK;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
        printf("clseg %s\n", clseg_version());
        return EXIT_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "clseg: unknown command '%s' (see 'clseg --help')\n", argv[1]);
    return EXIT_USAGE;
}
