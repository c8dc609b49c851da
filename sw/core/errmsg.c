/* errmsg.c — see errmsg.h. */
#include "core/errmsg.h"

#include <stdarg.h>
#include <stdio.h>

void bq_seterr(char *err, size_t errlen, const char *fmt, ...) {
    if (!err || errlen == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    /* one line whatever the arguments hold: a quoted YAML value or a name read from a file may
     * carry newlines or other control bytes (found by fuzzing, docs/reliability.md) */
    for (char *p = err; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = *p == '\n' || *p == '\r' || *p == '\t' ? ' ' : '?';
}
