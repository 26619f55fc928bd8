#include "embedded.h"

#include <string.h>

const struct ct_embedded_file *ct_embedded_find(const struct ct_embedded_file *table,
                                                const char *name)
{
    for (; table->name != NULL; table++) {
        if (strcmp(table->name, name) == 0)
            return table;
    }
    return NULL;
}
