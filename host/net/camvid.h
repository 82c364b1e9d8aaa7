/* camvid.h - the CamVid (SegNet split) class names and label colours. */
#ifndef CLSEG_CAMVID_H
#define CLSEG_CAMVID_H

#include <stdint.h>

#define CAMVID_CLASSES 12
/* Label of pixels that are ignored in the loss and the metrics. */
#define CAMVID_IGNORE 11

extern const char *const camvid_class_names[CAMVID_CLASSES];
extern const uint8_t camvid_palette[CAMVID_CLASSES][3];

#endif
