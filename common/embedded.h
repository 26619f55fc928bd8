/*
 * embedded.h - data files compiled into the binaries.
 *
 * cmake/embed.cmake turns files such as SQL migrations, seed CSVs and the dashboard page
 * into tables of this struct, so a binary never depends on where its data was installed.
 * Everything here is static, read-only storage; nothing is owned or freed.
 */
#ifndef CT_EMBEDDED_H
#define CT_EMBEDDED_H

#include <stddef.h>

struct ct_embedded_file {
    const char *name;          /* file name without directories, e.g. "001_schema.sql" */
    const unsigned char *data; /* `size` bytes followed by a NUL, so text can be used as-is */
    size_t size;
};

/* Returns the entry called `name` in a table ended by a zeroed entry, or NULL. */
const struct ct_embedded_file *ct_embedded_find(const struct ct_embedded_file *table,
                                                const char *name);

#endif
