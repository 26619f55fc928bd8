#include "progress_gen.h"

#include "bulletin.h"
#include "feed.h"
#include "jsoncheck.h"
#include "report.h"
#include "wire.h"
#include "xlsx_report.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- drawing from bytes */

struct source {
    const uint8_t *p;
    size_t left;
};

/* 0..bound-1 from the next byte or two; 0 once the bytes are spent. */
static unsigned take(struct source *s, unsigned bound)
{
    unsigned v = 0;

    for (int i = 0; i < (bound > 256 ? 2 : 1) && s->left > 0; i++, s->p++, s->left--)
        v = v << 8 | *s->p;
    return bound > 0 ? v % bound : 0;
}

#define PICK(s, array) ((array)[take((s), sizeof(array) / sizeof((array)[0]))])

/* Copies `text` into the arena; NULL when it does not fit (the field then has no value,
 * which the renderers must take as well). */
static const char *keep(struct pgen *g, const char *text)
{
    size_t n = strlen(text) + 1;
    char *at;

    if (n > sizeof(g->arena) - g->arena_used)
        return NULL;
    at = memcpy(g->arena + g->arena_used, text, n);
    g->arena_used += n;
    return at;
}

/* Numbers as PostgreSQL's numeric prints them, and what else the text of one can be. */
static const char *const figures[] = {
    NULL,
    NULL,
    "0",
    "-0",
    "1",
    "-1",
    "0.5",
    "-0.5",
    "87",
    "100",
    "99.995",
    "0.0001",
    "-12345.6789",
    "1e+21",
    "NaN",
    "Infinity",
    "-Infinity",
    "1234567890123456789012345.125",
    "-0.000000000000000000000000000001",
    "9999999999999999999999999999999999999999999999999999999999999999999999999999999999999999"
    "9999999999999999999999999999999999999999999999999999999999999999999999999999999999999999"
    "9999999999999999999999999999999999999999999999999999999999999999999999999999999999999999"
    "99999999999999999999999999999.5",
};

/* A figure: from the dictionary, or digits straight from the bytes. */
static const char *figure(struct pgen *g, struct source *s)
{
    char text[96];
    size_t n = 0, len;

    if (take(s, 4) != 0)
        return PICK(s, figures);
    if (take(s, 2))
        text[n++] = '-';
    len = 1 + take(s, 60);
    for (size_t i = 0; i < len; i++) {
        if (i > 0 && i + 1 < len && take(s, 8) == 0 && strchr(text, '.') == NULL)
            text[n++] = '.';
        text[n++] = (char)('0' + take(s, 10));
        text[n] = '\0';
    }
    text[n] = '\0';
    return keep(g, text);
}

static const char *const names[] = {
    "新建市级研发中心100家",
    "Build 100 municipal R&D centres",
    "<script>alert(1)</script>",
    "a,b\"c'd",
    "=HYPERLINK(\"http://x\")",
    "",
    "技术合同成交额达到130亿元，增长16%技术合同成交额达到130亿元，增长16%技术合同成交额达到130亿元",
    "&amp; <!--@targets--> \\u003c",
};
static const char *const codes[] = {"rd_centers_municipal", "patents_per_10k", "hightech_growth",
                                    "x"};
static const char *const units_of_measure[] = {"家", "亿元", "%", "件/万人", "", "<b>"};
static const char *const kinds[] = {"sum", "ratio", "growth", "city"};
static const char *const comparators[] = {">=", ">", "<=", "<"};
static const char *const scopes[] = {NULL, "unit", "city"};
static const char *const statuses[] = {"met", "on_track", "behind", "no_data", "unknown"};
static const char *const districts[] = {
    "city",     "erqi",    "jinshui",      "gaoxin",     "zhengdong", "xinzheng",  "dengfeng",
    "gongyi",   "zhongmu", "huiji",        "shangjie",   "guancheng", "zhongyuan", "xinmi",
    "xingyang", "jingkai", "hangkonggang", "not-a-unit", "",
};
static const int64_t as_of_times[] = {1435636800000LL, 0, 1451577599999LL, 253402300799000LL,
                                      -86400000LL};
static const char *const as_of_params[] = {"", "2015-06-30", "2015-06-30T17:00:00+08:00",
                                           "x<\"y\">", "20150630"};
static const char *const problems[] = {NULL, NULL, "the database is unavailable <b>now</b>"};

static void make_target(struct pgen *g, struct source *s, size_t i)
{
    struct agg_progress_target *t = &g->targets[i];

    *t = (struct agg_progress_target){
        .code = PICK(s, codes),
        .name_zh = PICK(s, names),
        .name_en = PICK(s, names),
        .unit = PICK(s, units_of_measure),
        .kind = PICK(s, kinds),
        .actual = figure(g, s),
        .target = figure(g, s),
        .comparator = PICK(s, comparators),
        .pct = figure(g, s),
        .status = PICK(s, statuses),
        .units_reporting = (int)take(s, 40) - 2,
        .units = g->units[i],
        .n_units = take(s, PGEN_MAX_UNITS + 1),
        .expected_to_date = figure(g, s),
        .pace_pct = figure(g, s),
        .target_scope = PICK(s, scopes),
    };
    for (size_t k = 0; k < t->n_units; k++)
        g->units[i][k] = (struct agg_progress_unit){PICK(s, districts), figure(g, s), figure(g, s),
                                                    figure(g, s)};
}

void pgen_from_bytes(struct pgen *g, const uint8_t *data, size_t size)
{
    struct source s = {data, size};
    size_t n_view_units;

    g->arena_used = 0;
    g->doc = (struct agg_progress){
        .year = (int)PICK(&s, ((const int[]){2015, 1900, 9999})),
        .as_of_ms = PICK(&s, as_of_times),
        .district = take(&s, 3) == 0 ? PICK(&s, districts) : NULL,
        .targets = g->targets,
        .n_targets = take(&s, PGEN_MAX_TARGETS + 1),
    };
    for (size_t i = 0; i < g->doc.n_targets; i++)
        make_target(g, &s, i);

    n_view_units = take(&s, PGEN_MAX_UNITS + 1);
    for (size_t i = 0; i < n_view_units; i++)
        g->view_units[i] =
            (struct agg_dashboard_unit){PICK(&s, districts), PICK(&s, names), PICK(&s, names)};
    g->years[0] = 2014;
    g->years[1] = 2015;
    g->years[2] = 2016;
    g->view = (struct agg_dashboard_view){
        .progress = take(&s, 8) == 0 ? NULL : &g->doc,
        .problem = PICK(&s, problems),
        .year = g->doc.year,
        .as_of = PICK(&s, as_of_params),
        .years = g->years,
        .n_years = take(&s, 4),
        .units = g->view_units,
        .n_units = n_view_units,
        .refresh_s = take(&s, 120),
    };
}

/* ---------------------------------------------------------------- checks */

static size_t count(const char *text, size_t len, const char *needle)
{
    size_t n = 0, k = strlen(needle);

    for (const char *p = text; p != NULL && (size_t)(p - text) + k <= len;) {
        p = memmem(p, len - (size_t)(p - text), needle, k);
        if (p != NULL) {
            n++;
            p += k;
        }
    }
    return n;
}

/* A bar, a width or a label that says "nan" or "inf" is a double that escaped its check. */
static const char *unfinite(const struct ct_buf *b)
{
    static const char *const marks[] = {"nan%",  "inf%",  "\"nan\"", "\"inf\"", "-nan",
                                        ": nan", ": inf", "(nan",    "(inf"};

    for (size_t i = 0; i < sizeof(marks) / sizeof(marks[0]); i++) {
        if (b->data != NULL && memmem(b->data, b->len, marks[i], strlen(marks[i])) != NULL)
            return marks[i];
    }
    return NULL;
}

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        snprintf(why, why_size, __VA_ARGS__);                                                      \
        goto out;                                                                                  \
    } while (0)

static int check_dashboard(const struct pgen *g, struct ct_buf *b, char *why, size_t why_size)
{
    size_t want = g->view.progress != NULL ? g->doc.n_targets : 0;
    const char *bad;
    int rc = -1;

    if (agg_dashboard_render(&g->view, b) != 0)
        FAIL("dashboard: render failed");
    if (count(b->data, b->len, "<details class=\"target") != want)
        FAIL("dashboard: %zu targets drawn of %zu",
             count(b->data, b->len, "<details class=\"target"), want);
    if ((bad = unfinite(b)) != NULL)
        FAIL("dashboard: the page says '%s'", bad);
    if (b->len < 7 || memmem(b->data, b->len, "</html>", 7) == NULL)
        FAIL("dashboard: the page does not end");
    rc = 0;
out:
    return rc;
}

static int check_report(const struct pgen *g, struct ct_buf *b, char *why, size_t why_size)
{
    size_t n = g->doc.n_targets, at;
    int rc = -1;

    for (int colour = 0; colour < 2; colour++) {
        ct_buf_reset(b);
        if (agg_report_render(&g->doc, AGG_REPORT_TABLE, colour, b) != 0)
            FAIL("table: render failed");
        /* title, scope, blank, header, two lines a target, blank, counts */
        if (count(b->data, b->len, "\n") != 6 + 2 * n)
            FAIL("table: %zu lines for %zu targets", count(b->data, b->len, "\n"), n);
        if (unfinite(b) != NULL)
            FAIL("table: says '%s'", unfinite(b));
    }
    ct_buf_reset(b);
    if (agg_report_render(&g->doc, AGG_REPORT_CSV, false, b) != 0)
        FAIL("csv: render failed");
    if (count(b->data, b->len, "\n") != 1 + n)
        FAIL("csv: %zu lines for %zu targets", count(b->data, b->len, "\n"), n);
    ct_buf_reset(b);
    if (agg_report_render(&g->doc, AGG_REPORT_JSON, false, b) != 0)
        FAIL("json: render failed");
    if (jsoncheck(b->data, b->len, &at) != 0)
        FAIL("json: not JSON at byte %zu: %.40s", at, b->data + (at < b->len ? at : b->len));
    if (count(b->data, b->len, "{\"code\":") != n)
        FAIL("json: %zu targets of %zu", count(b->data, b->len, "{\"code\":"), n);
    rc = 0;
out:
    return rc;
}

static int check_feed(const struct pgen *g, char *why, size_t why_size)
{
    struct ct_feed_msg *msg = calloc(1, sizeof(*msg)), *back = calloc(1, sizeof(*back));
    struct ct_wire_encoder *enc = ct_wire_encoder_new();
    struct ct_wire_fault fault;
    const void *bytes;
    size_t len;
    int rc = -1;

    if (msg == NULL || back == NULL || enc == NULL)
        FAIL("feed: out of memory");
    msg->year = g->doc.year;
    msg->as_of_ms = g->doc.as_of_ms;
    msg->n_targets = g->doc.n_targets;
    for (size_t i = 0; i < g->doc.n_targets; i++) {
        const struct agg_progress_target *t = &g->doc.targets[i];
        struct ct_feed_target *f = &msg->targets[i];
        snprintf(f->code, sizeof(f->code), "%s", t->code);
        snprintf(f->status, sizeof(f->status), "%s", t->status);
        agg_feed_figure(t->actual, &f->has_actual, &f->actual);
        agg_feed_figure(t->target, &f->has_target, &f->target);
        agg_feed_figure(t->pct, &f->has_pct, &f->pct);
    }
    if (ct_wire_encode_feed(enc, msg, &bytes, &len) != 0)
        FAIL("feed: the year's map could not be encoded");
    if (ct_wire_decode_feed(bytes, len, back, &fault) != 0)
        FAIL("feed: its own map does not decode");
    for (size_t i = 0; i < msg->n_targets; i++) {
        const struct ct_feed_target *a = &msg->targets[i], *z = &back->targets[i];
        if (a->has_actual != z->has_actual || a->has_pct != z->has_pct ||
            (a->has_actual && a->actual != z->actual))
            FAIL("feed: target %zu changed on the way", i);
    }
    rc = 0;
out:
    ct_wire_encoder_free(enc);
    free(msg);
    free(back);
    return rc;
}

/* The briefing documents over the same figures: the bulletin always, the workbook (a file
 * written and read back, so slower) when asked. */
static int check_briefing(const struct pgen *g, bool xlsx, struct ct_buf *b, char *why,
                          size_t why_size)
{
    struct agg_briefing_unit units[PGEN_MAX_UNITS];
    struct agg_briefing briefing = {
        .progress = &g->doc, .units = units, .n_units = g->view.n_units};
    char err[256];
    const char *bad;
    int rc = -1;

    for (size_t i = 0; i < g->view.n_units; i++)
        units[i] = (struct agg_briefing_unit){g->view_units[i].id, g->view_units[i].name_zh,
                                              g->view_units[i].name_en};
    ct_buf_reset(b);
    if (agg_bulletin_render(&briefing, g->doc.as_of_ms, b) != 0)
        FAIL("bulletin: render failed");
    if ((bad = unfinite(b)) != NULL)
        FAIL("bulletin: the page says '%s'", bad);
    if (xlsx) {
        ct_buf_reset(b);
        if (agg_xlsx_render(&briefing, b, err, sizeof(err)) != 0)
            FAIL("xlsx: %s", err);
        if (b->len < 4 || memcmp(b->data, "PK\3\4", 4) != 0)
            FAIL("xlsx: not a zip file");
    }
    rc = 0;
out:
    return rc;
}

int pgen_check_renderers(const struct pgen *g, bool xlsx, char *why, size_t why_size)
{
    struct ct_buf b = CT_BUF_INIT;
    int rc = -1;

    if (check_dashboard(g, &b, why, why_size) != 0 || check_report(g, &b, why, why_size) != 0 ||
        check_feed(g, why, why_size) != 0 || check_briefing(g, xlsx, &b, why, why_size) != 0)
        goto out;
    rc = 0;
out:
    ct_buf_free(&b);
    return rc;
}
