/* The loss-explosion watcher: a loss far above its recent level means the parameters
 * were damaged by an earlier step, even when every number is still finite. */
#include "nf_internal.h"

#include <math.h>

#define DECAY 0.95   /* about 20 steps of memory */
#define SPREADS 10.0 /* a rise of this many mean absolute deviations is never noise */

nf_status nf_loss_watch_init(nf_loss_watch *w, double rise) {
    NF_CHECK_NULL(w);
    if (!(rise > 0) || !isfinite(rise))
        return nf_fail(NF_ERR_ARG, "nf_loss_watch_init: the allowed rise must be > 0 and finite, got %g", rise);
    *w = (nf_loss_watch){.rise = rise};
    return NF_OK;
}

double nf_loss_watch_limit(const nf_loss_watch *w) {
    if (!w || w->seen < NF_LOSS_WATCH_WARMUP) return INFINITY;
    return w->level + fmax(w->rise, SPREADS * w->spread);
}

nf_status nf_loss_watch_step(nf_loss_watch *w, double loss) {
    NF_CHECK_NULL(w);
    if (!isfinite(loss)) return nf_fail(NF_ERR_NUMERIC, "the loss is not finite (%g)", loss);
    double limit = nf_loss_watch_limit(w);
    if (loss > limit)
        return nf_fail(NF_ERR_NUMERIC,
                       "the loss jumped to %.6g, %.4g above its recent level %.6g (more than the %.4g allowed): "
                       "an earlier step damaged the parameters",
                       loss, loss - w->level, w->level, limit - w->level);
    if (w->seen == 0) {
        w->level = loss;
        w->spread = 0;
    } else {
        w->spread = DECAY * w->spread + (1 - DECAY) * fabs(loss - w->level);
        w->level = DECAY * w->level + (1 - DECAY) * loss;
    }
    w->seen++;
    return NF_OK;
}
