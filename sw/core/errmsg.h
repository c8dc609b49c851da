/*
 * errmsg.h — the project's error convention: a function that can fail takes (char *err, size_t
 * errlen), returns -1 and leaves one line in err ("file:line:col: what is wrong; how to fix it").
 * bq_seterr is the one formatter for that line (control bytes in the arguments become ' ' for
 * newline/CR/tab, '?' otherwise, so it stays one line); err may be NULL or errlen 0 (dropped).
 */
#ifndef BQ_ERRMSG_H
#define BQ_ERRMSG_H
#include <stddef.h>

void bq_seterr(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
#endif
