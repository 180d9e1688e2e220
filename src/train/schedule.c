/* Learning-rate schedules: constant, cosine decay, step decay, each with optional
 * linear warm-up. */
#include "nf_internal.h"

#include <math.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

double nf_schedule_lr(const nf_schedule *s, long step, long total) {
    double lr = s->lr;
    if (s->warmup > 0 && step <= s->warmup) return lr * (double)step / (double)s->warmup;
    long t = step - 1 - (s->warmup > 0 ? s->warmup : 0); /* steps since warm-up */
    long span = total - (s->warmup > 0 ? s->warmup : 0);
    switch (s->kind) {
    case NF_SCHEDULE_COSINE: {
        /* lr_min + (lr - lr_min) (1 + cos(pi t / span)) / 2: lr at the first step, just above
         * lr_min at the last (never 0, which Adam refuses) */
        double frac = span > 0 ? (double)t / (double)span : 1.0;
        if (frac > 1) frac = 1;
        return s->lr_min + (lr - s->lr_min) * 0.5 * (1 + cos(M_PI * frac));
    }
    case NF_SCHEDULE_STEP:
        /* lr * gamma^floor(t / every) */
        return s->step_every > 0 ? lr * pow(s->gamma, (double)(t / s->step_every)) : lr;
    case NF_SCHEDULE_CONSTANT:
    default: return lr;
    }
}
