/* Part of nflow.h; include <nflow.h> rather than this file. */
#ifndef NFLOW_MODEL_IO_H
#define NFLOW_MODEL_IO_H
#include "nflow.h"
#ifdef __cplusplus
extern "C" {
#endif

#ifdef __cplusplus
}
#endif
#endif
