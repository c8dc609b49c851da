/*
 * yamldoc.h — the one place that turns YAML text into a libyaml document for every config reader
 * (recipe, bits file, flow, hardware config), so that syntax errors read the same everywhere:
 * "file:line:col: YAML syntax error: <problem> <context>". A file holds exactly one document.
 */
#ifndef BQ_YAMLDOC_H
#define BQ_YAMLDOC_H
#include <stddef.h>
#include <yaml.h>

/* Parse text (len bytes) into *doc. Returns 0 (the caller owns *doc: yaml_document_delete) or -1
 * with the message in err (nothing to free). fname only names the input in the message. */
int bq_yaml_load(yaml_document_t *doc, const void *text, size_t len, const char *fname, char *err,
                 size_t errlen);
#endif
