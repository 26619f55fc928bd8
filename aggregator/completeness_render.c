#include "completeness_render.h"

#include "cli.h"
#include "commands.h"
#include "db.h"

#include <stdio.h>
#include <string.h>

static const struct {
    const char *code, *zh, *en;
} cells[] = {
    [AGG_CELL_NOT_EXPECTED] = {"none", "无需报送", "not expected"},
    [AGG_CELL_ON_TIME] = {"on_time", "按时", "on time"},
    [AGG_CELL_LATE] = {"late", "迟报", "late"},
    [AGG_CELL_PARTIAL] = {"partial", "部分报送", "partial"},
    [AGG_CELL_MISSING] = {"missing", "未报", "missing"},
};

const char *agg_cell_zh(enum agg_cell cell)
{
    return cells[cell].zh;
}

const char *agg_cell_en(enum agg_cell cell)
{
    return cells[cell].en;
}

const char *agg_cell_code(enum agg_cell cell)
{
    return cells[cell].code;
}

/* `s` padded with spaces to `cells` terminal cells (CJK counts two). */
static void padded(struct ct_buf *out, const char *s, size_t width)
{
    size_t w = agg_report_text_width(s);

    ct_buf_puts(out, s);
    for (; w < width; w++)
        ct_buf_puts(out, " ");
}

static void pct(struct ct_buf *out, int part, int whole)
{
    if (whole > 0)
        ct_buf_printf(out, " (%.1f%%)", 100.0 * part / whole);
}

static void codes_line(struct ct_buf *out, const char *label, const char *const *codes, size_t n)
{
    if (n == 0)
        return;
    ct_buf_printf(out, "      %s: ", label);
    for (size_t i = 0; i < n; i++)
        ct_buf_printf(out, "%s%s", i ? ", " : "", codes[i]);
    ct_buf_puts(out, "\n");
}

static void render_table(const struct agg_completeness *c, struct ct_buf *out)
{
    size_t name_w = 0;

    for (size_t i = 0; i < c->n_rounds; i++) {
        for (size_t k = 0; k < c->rounds[i].n_units; k++) {
            size_t w = agg_report_text_width(c->rounds[i].units[k].name_zh);
            name_w = w > name_w ? w : name_w;
        }
    }
    ct_buf_printf(out, "郑州市%d年报送完整性与及时性 · Completeness and timeliness of %d\n",
                  c->year, c->year);
    for (size_t i = 0; i < c->n_rounds; i++) {
        const struct agg_completeness_round *r = &c->rounds[i];
        ct_buf_printf(out, "\n%s  截至 period end %s · 报送期限 due %s\n", r->round, r->period_end,
                      r->due);
        ct_buf_printf(out, "    应报 expected %d · 已报 reported %d", r->expected, r->reported);
        pct(out, r->reported, r->expected);
        ct_buf_printf(out, " · 按时 on time %d", r->on_time);
        pct(out, r->on_time, r->expected);
        ct_buf_puts(out, "\n    ");
        padded(out, "单位", name_w);
        ct_buf_puts(out, "  应报  已报  按时  状态 state\n");
        for (size_t k = 0; k < r->n_units; k++) {
            const struct agg_completeness_unit *u = &r->units[k];
            enum agg_cell cell = agg_completeness_cell(u);
            ct_buf_puts(out, "    ");
            padded(out, u->name_zh, name_w);
            ct_buf_printf(out, "  %4d  %4d  %4d  %s %s\n", u->expected, u->reported, u->on_time,
                          cells[cell].zh, cells[cell].en);
            codes_line(out, "迟报 late", u->late, u->n_late);
            codes_line(out, "未报 missing", u->missing, u->n_missing);
        }
    }
}

static void csv_codes(struct ct_buf *out, const char *const *codes, size_t n)
{
    /* Codes are ids ([a-z0-9_-]), so the field needs no quoting. */
    for (size_t i = 0; i < n; i++)
        ct_buf_printf(out, "%s%s", i ? ";" : "", codes[i]);
}

static void render_csv(const struct agg_completeness *c, struct ct_buf *out)
{
    ct_buf_puts(out, "year,round,period_end,due,district,expected,reported,on_time,state,late,"
                     "missing\n");
    for (size_t i = 0; i < c->n_rounds; i++) {
        const struct agg_completeness_round *r = &c->rounds[i];
        for (size_t k = 0; k < r->n_units; k++) {
            const struct agg_completeness_unit *u = &r->units[k];
            ct_buf_printf(out, "%d,%s,%s,%s,%s,%d,%d,%d,%s,", c->year, r->round, r->period_end,
                          r->due, u->district, u->expected, u->reported, u->on_time,
                          cells[agg_completeness_cell(u)].code);
            csv_codes(out, u->late, u->n_late);
            ct_buf_puts(out, ",");
            csv_codes(out, u->missing, u->n_missing);
            ct_buf_puts(out, "\n");
        }
    }
}

int agg_completeness_render(const struct agg_completeness *c, enum agg_report_format format,
                            struct ct_buf *out)
{
    switch (format) {
    case AGG_REPORT_TABLE:
        render_table(c, out);
        break;
    case AGG_REPORT_CSV:
        render_csv(c, out);
        break;
    case AGG_REPORT_JSON:
        agg_completeness_json(c, out);
        ct_buf_puts(out, "\n");
        break;
    }
    return out->failed ? -1 : 0;
}

int agg_completeness_report(const struct agg_settings *settings, int year, const char *round,
                            enum agg_report_format format)
{
    struct agg_completeness *c = NULL;
    struct ct_buf out = CT_BUF_INIT;
    char err[AGG_DB_ERR_MAX];
    PGconn *conn;
    int rc = CT_EXIT_FAILURE;

    if ((conn = agg_db_connect(settings->db, err, sizeof(err))) == NULL)
        goto fail;
    if (year == 0 && agg_completeness_latest_year(conn, &year, err, sizeof(err)) != 0)
        goto fail;
    if (agg_completeness_load(conn, year, round, &c, err, sizeof(err)) != AGG_COMPLETENESS_OK)
        goto fail;
    if (agg_completeness_render(c, format, &out) != 0) {
        snprintf(err, sizeof(err), "out of memory rendering the report");
        goto fail;
    }
    if (fwrite(out.data, 1, out.len, stdout) != out.len || fflush(stdout) != 0) {
        snprintf(err, sizeof(err), "cannot write the report to stdout");
        goto fail;
    }
    rc = CT_EXIT_OK;
    goto out;
fail:
    fprintf(stderr, "%s report: %s\n", AGG_PROGRAM, err);
out:
    ct_buf_free(&out);
    agg_completeness_free(c);
    PQfinish(conn);
    return rc;
}
