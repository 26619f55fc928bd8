/*
 * Every renderer over progress documents in which any figure may be missing, zero,
 * negative, larger than a double, or numeric's NaN and infinities (tests/support/
 * progress_gen.c makes them; tests/fuzz/fuzz_render.c runs the same checks under
 * libFuzzer). Run under ASan/UBSan in CI, a crash or an out-of-bounds read fails it.
 */
#include "progress_gen.h"

#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define DOCUMENTS 10000
#define DOCUMENT_BYTES 768

/* xorshift64*: the same documents on every run, so a failure names a seed that repeats. */
static uint64_t next_random(uint64_t *state)
{
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    return *state * 2685821657736338717ULL;
}

Test(render_props, every_format_renders_ten_thousand_documents_with_missing_and_odd_figures,
     .timeout = 600)
{
    struct pgen *g = malloc(sizeof(*g));
    uint8_t bytes[DOCUMENT_BYTES];
    size_t with_null_unit = 0, with_null_actual = 0, huge = 0;
    char why[256];

    cr_assert_not_null(g);
    for (uint64_t seed = 1; seed <= DOCUMENTS; seed++) {
        uint64_t state = seed * 0x9E3779B97F4A7C15ULL;
        for (size_t i = 0; i < sizeof(bytes); i += 8) {
            uint64_t r = next_random(&state);
            memcpy(bytes + i, &r, sizeof(r));
        }
        pgen_from_bytes(g, bytes, sizeof(bytes));
        /* The workbook goes through a file: every 20th document is enough to vary it. */
        if (pgen_check_renderers(g, seed % 20 == 0, why, sizeof(why)) != 0) {
            free(g);
            cr_assert_fail("document %llu: %s", (unsigned long long)seed, why);
        }
        for (size_t i = 0; i < g->doc.n_targets; i++) {
            const struct agg_progress_target *t = &g->doc.targets[i];
            with_null_actual += t->actual == NULL;
            huge += t->actual != NULL && strlen(t->actual) > 250;
            for (size_t k = 0; k < t->n_units; k++)
                with_null_unit += t->units[k].value == NULL;
        }
    }
    free(g);
    /* The generator must reach the cases this test exists for. */
    cr_expect_gt(with_null_unit, 1000, "units without a value: %zu", with_null_unit);
    cr_expect_gt(with_null_actual, 1000, "targets without a value: %zu", with_null_actual);
    cr_expect_gt(huge, 100, "figures beyond a double: %zu", huge);
}

/* The document of issue 19: the municipal level's growth figure has no value. */
static struct agg_progress_unit growth_units[] = {{"city", NULL, NULL, NULL},
                                                  {"erqi", "12.5", NULL, NULL}};
static struct agg_progress_target growth_target = {.code = "hightech_growth",
                                                   .name_zh = "高新技术产业增加值增长",
                                                   .name_en = "High-tech growth",
                                                   .unit = "%",
                                                   .kind = "growth",
                                                   .actual = NULL,
                                                   .target = "20",
                                                   .comparator = ">=",
                                                   .pct = NULL,
                                                   .status = "no_data",
                                                   .units_reporting = 1,
                                                   .units = growth_units,
                                                   .n_units = 2};

Test(render_props, a_unit_figure_without_a_value_renders_as_a_dash_last_in_its_chart)
{
    struct agg_progress doc = {
        .year = 2015, .as_of_ms = 1448812800000LL, .targets = &growth_target, .n_targets = 1};
    struct agg_dashboard_unit units[] = {{"city", "市本级", "Municipal level"},
                                         {"erqi", "二七区", "Erqi District"}};
    struct agg_dashboard_view view = {
        .progress = &doc, .year = 2015, .as_of = "", .units = units, .n_units = 2};
    struct ct_buf b = CT_BUF_INIT;
    const char *erqi, *city;

    cr_assert_eq(agg_dashboard_render(&view, &b), 0);
    erqi = strstr(b.data, "<tr data-district=\"erqi\" data-value=\"12.5\">");
    city = strstr(b.data, "<tr data-district=\"city\" data-value=\"\">");
    cr_assert_not_null(erqi, "erqi's row is missing");
    cr_assert_not_null(city, "the municipal level's row is missing");
    cr_expect(erqi < city, "a unit without a value sorts after those with one");
    cr_expect_not_null(strstr(city, "style=\"width: 0.0%;\"></span></td><td class=\"v\">—</td>"),
                       "no bar and a dash for no value");
    ct_buf_free(&b);
}
