/* Part of nflow.h; include <nflow.h> rather than this file. */
#ifndef NFLOW_VECTOR_H
#define NFLOW_VECTOR_H
#include "nflow.h"
#ifdef __cplusplus
extern "C" {
#endif

#ifdef __cplusplus
}
#endif
#endif
