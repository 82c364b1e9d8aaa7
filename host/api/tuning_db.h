/* tuning_db.h - the public tuning-database handle of host/api/: a wrapper of the internal one. */
#ifndef CLSEG_API_TUNING_DB_H
#define CLSEG_API_TUNING_DB_H

#include "clseg_tune.h"
#include "tune/tunedb.h"

struct clseg_tuning_db {
    tunedb db;
};

#endif
