/* camvid.c - the CamVid (SegNet split) class names and label colours. */
#include "camvid.h"

const char *const camvid_class_names[CAMVID_CLASSES] = {
    "Sky",        "Building", "Pole", "Road",       "Pavement",  "Tree",
    "SignSymbol", "Fence",    "Car",  "Pedestrian", "Bicyclist", "Unlabelled",
};

const uint8_t camvid_palette[CAMVID_CLASSES][3] = {
    {128, 128, 128}, /* Sky */
    {128, 0, 0},     /* Building */
    {192, 192, 128}, /* Pole */
    {128, 64, 128},  /* Road */
    {60, 40, 222},   /* Pavement */
    {128, 128, 0},   /* Tree */
    {192, 128, 128}, /* SignSymbol */
    {64, 64, 128},   /* Fence */
    {64, 0, 128},    /* Car */
    {64, 64, 0},     /* Pedestrian */
    {0, 128, 192},   /* Bicyclist */
    {0, 0, 0},       /* Unlabelled */
};
