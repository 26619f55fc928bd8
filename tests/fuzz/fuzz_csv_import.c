/*
 * fuzz_csv_import.c - libFuzzer target for a CSV file's bytes into updates.
 *
 * Any bytes must either yield updates or a list of bad lines, never both, never a crash.
 * Whatever is accepted must be something the wire can carry: an indicator id, a finite
 * value, a period and time in range, a note of at most 256 bytes of UTF-8.
 */
#include "csv_import.h"
#include "text.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct ct_catalog_entry catalog[] = {
    {"rd_centers_municipal", "市级研发中心", "district"},
    {"hightech_output", "高新技术产业产值", "district"},
    {"st_contribution_rate", "科技进步对经济增长的贡献率", "city"},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct col_import *imp;
    /* The first byte picks whether a catalog is cached, as both cases take other paths. */
    size_t n_catalog = size > 0 && (data[0] & 1) ? sizeof(catalog) / sizeof(catalog[0]) : 0;

    if (imp == NULL && (imp = col_import_new()) == NULL)
        abort();
    if (col_csv_import(imp, (const char *)data, size, 1435636800000LL, catalog, n_catalog,
                       "erqi") != 0) {
        if (imp->n_updates != 0 || imp->n_errors == 0 || imp->errors.len == 0)
            abort(); /* a refusal must name its reasons and yield nothing */
        return 0;
    }
    if (imp->n_errors != 0 || imp->n_updates == 0)
        abort();
    for (size_t i = 0; i < imp->n_updates; i++) {
        const struct col_new_update *u = &imp->updates[i];
        if (!ct_id_valid(u->ind, strlen(u->ind)) || !ct_value_is_finite(&u->value) ||
            u->period < CT_WIRE_PERIOD_MIN || u->period > CT_WIRE_PERIOD_MAX ||
            u->at_ms < CT_WIRE_AT_MIN_MS || u->at_ms >= CT_WIRE_AT_MAX_MS ||
            (u->op != CT_OP_SET && u->op != CT_OP_ADD) || u->line < 2)
            abort();
        if (u->note != NULL &&
            (strlen(u->note) > CT_WIRE_MAX_NOTE || !ct_utf8_valid(u->note, strlen(u->note))))
            abort();
    }
    return 0;
}
