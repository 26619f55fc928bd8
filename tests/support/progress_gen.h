/*
 * progress_gen.h - progress documents made from bytes, and every renderer run over them.
 *
 * A daemon must never crash on figures the store can hold: no value (NULL), zero,
 * negative, more digits than a double holds, numeric's 'NaN' and infinities. The property
 * test (tests/unit/test_render_props.c) and the libFuzzer target (tests/fuzz/fuzz_render.c)
 * share this one generator: the bytes pick every field of a `struct agg_progress` and of
 * the dashboard's view, from dictionaries of awkward values or from the bytes themselves.
 * Once the bytes run out every further choice is 0, so any input makes a document.
 *
 * pgen_check_renderers() then renders the document through the dashboard, the report's
 * table (with and without colour), CSV and JSON, and the progress feed, and checks what a
 * reader relies on: each call succeeds, each output holds one entry per target, the JSON
 * parses, no bar or label says "nan" or "inf", and the feed map always encodes and decodes.
 * The briefing documents (the bulletin and the Excel workbook) render the same figures.
 *
 * A `struct pgen` is large and self-contained (its strings live in its own arena): put it on
 * the heap. Nothing here allocates except the renderers' output buffers, freed before
 * pgen_check_renderers() returns.
 */
#ifndef CT_PROGRESS_GEN_H
#define CT_PROGRESS_GEN_H

#include "dashboard.h"
#include "progress.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PGEN_MAX_TARGETS 40
#define PGEN_MAX_UNITS 20
#define PGEN_ARENA 65536

struct pgen {
    struct agg_progress doc;
    struct agg_dashboard_view view;
    struct agg_progress_target targets[PGEN_MAX_TARGETS];
    struct agg_progress_unit units[PGEN_MAX_TARGETS][PGEN_MAX_UNITS];
    struct agg_dashboard_unit view_units[PGEN_MAX_UNITS];
    int years[3];
    char arena[PGEN_ARENA];
    size_t arena_used;
};

/* Fills `g` (every previous content forgotten) from data[0..size). */
void pgen_from_bytes(struct pgen *g, const uint8_t *data, size_t size);

/* 0 when every renderer passed every check; -1 with the first failure in `why`. With `xlsx`
 * the Excel workbook is made too (it goes through a temporary file, so it is slower). */
int pgen_check_renderers(const struct pgen *g, bool xlsx, char *why, size_t why_size);

#endif
