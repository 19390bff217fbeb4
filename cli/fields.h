/* fields.h — an entry body as JSON (see fields.c). */
#ifndef KETEN_CLI_FIELDS_H
#define KETEN_CLI_FIELDS_H
#include <jansson.h>
#include <stdint.h>
json_t *cli_body_json(uint32_t type, const uint8_t *body, size_t len);
/* The whole entry as the export object (id, author, prev, seq, ...). */
json_t *cli_entry_json(const keten_entry *e);
#endif
