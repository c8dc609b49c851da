/* resources.c — see resources.h. Placeholder until the calibrated formula lands. */
#include "resources.h"

#include "core/errmsg.h"

int bq_resources_estimate(const bq_hwcfg *cfg, bq_resources *r, char *err, size_t errlen)
{
    if (!cfg || !r) {
        bq_seterr(err, errlen, "bq_resources_estimate: NULL config or result");
        return -1;
    }
    r->lut = r->ff = r->bram18 = r->dsp = 0;
    return 0;
}
