/* yamldoc.c — see yamldoc.h. */
#include "core/yamldoc.h"

#include "core/errmsg.h"

int bq_yaml_load(yaml_document_t *doc, const void *text, size_t len, const char *fname, char *err,
                 size_t errlen) {
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) {
        bq_seterr(err, errlen, "%s: out of memory initialising the YAML parser", fname);
        return -1;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    int rc = 0;
    if (!yaml_parser_load(&parser, doc)) {
        /* libyaml marks are 0-based; editors count from 1 */
        bq_seterr(err, errlen, "%s:%zu:%zu: YAML syntax error: %s%s%s", fname,
                  parser.problem_mark.line + 1, parser.problem_mark.column + 1,
                  parser.problem ? parser.problem : "unknown problem", parser.context ? " " : "",
                  parser.context ? parser.context : "");
        rc = -1;
    } else {
        /* A second document in the same file is almost certainly a mistake (a pasted config). */
        yaml_document_t doc2;
        if (yaml_parser_load(&parser, &doc2)) {
            const yaml_node_t *root2 = yaml_document_get_root_node(&doc2);
            if (root2) {
                bq_seterr(err, errlen, "%s:%zu:%zu: a second YAML document ('---') is not allowed; "
                          "keep one document per file", fname, root2->start_mark.line + 1,
                          root2->start_mark.column + 1);
                yaml_document_delete(doc);
                rc = -1;
            }
            yaml_document_delete(&doc2);
        }
    }
    yaml_parser_delete(&parser);
    return rc;
}
