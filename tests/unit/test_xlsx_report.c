/* aggregator/xlsx_report.c: a hand-made briefing with every optional section, written with
 * libxlsxwriter and read back with python3-openpyxl. Checks the cells the integration test
 * cannot reach yet (the pace columns, the 考核 Assessment sheet, null scores and ranks), the
 * in-memory form leaving nothing in TMPDIR, and the errors for paths that cannot be
 * written. */
#include "xlsx_report.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct agg_progress_unit rd_units[] = {{"gaoxin", "40", NULL, NULL},
                                              {"jinshui", "47.25", NULL, NULL}};
static struct agg_progress_target targets[] = {
    {"rd_centers_municipal", "新建市级研发中心100家", "Build 100 municipal R&D centres", "家",
     "sum", "87.25", "100", ">=", "87.25", "on_track", 2, rd_units, 2, "49.589", "175.95", NULL},
    {"st_contribution_rate", "科技进步对经济增长的贡献率达到60%", "S&T contributes 60%", "", "city",
     NULL, "60", ">=", NULL, "no_data", 0, NULL, 0, NULL, NULL, NULL},
};
static struct agg_progress progress = {2015, 1435679999999LL, NULL, targets, 2, NULL, NULL, NULL,
                                       NULL};
static const struct agg_briefing_unit units[] = {
    {"jinshui", "金水区", "Jinshui District"},
    {"gaoxin", "郑州高新技术产业开发区", "High-tech zone"},
    {"city", "市本级", "City level"},
};
static struct agg_assessment_item items[] = {
    {"rd_centers_municipal", "47.25", "50", "94.5", "on_track"}};
static struct agg_assessment_unit ranked[] = {
    {"1", "jinshui", "金水区", "Jinshui District", "94.5", 1, 0, 1, 0, 0, items, 1},
    {NULL, "gaoxin", "郑州高新技术产业开发区", "High-tech zone", NULL, 0, 0, 0, 0, 0, NULL, 0},
};
static const struct agg_assessment assessment = {.year = 2015, .units = ranked, .n_units = 2};

static struct agg_briefing briefing(bool optional)
{
    struct agg_briefing b = {.progress = &progress, .units = units, .n_units = 3};
    if (optional) {
        b.paced = true;
        b.assessment = &assessment;
    }
    return b;
}

/* "SHEET ROW COL TYPE VALUE" per non-empty cell, then "frozen SHEET CELL". */
static char *read_back(const char *dir, const char *path)
{
    static const char script[] = "import sys, openpyxl\n"
                                 "wb = openpyxl.load_workbook(sys.argv[1])\n"
                                 "for ws in wb:\n"
                                 "    print('frozen', ws.title, ws.freeze_panes)\n"
                                 "    for r, row in enumerate(ws.iter_rows(values_only=True), 1):\n"
                                 "        for c, v in enumerate(row, 1):\n"
                                 "            if v is not None:\n"
                                 "                print(ws.title, r, c, type(v).__name__, v)\n";
    char cmd[1024], chunk[4096], py[300];
    struct ct_buf out = CT_BUF_INIT;
    FILE *f;
    FILE *p;
    size_t n;

    snprintf(py, sizeof(py), "%s/read_back.py", dir);
    cr_assert_not_null(f = fopen(py, "w"));
    fputs(script, f);
    cr_assert_eq(fclose(f), 0);
    snprintf(cmd, sizeof(cmd), "/usr/bin/python3 '%s' '%s'", py, path);
    cr_assert_not_null(p = popen(cmd, "r"));
    while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0)
        ct_buf_append(&out, chunk, n);
    cr_assert_eq(pclose(p), 0, "openpyxl could not read %s", path);
    unlink(py);
    ct_buf_puts(&out, "");
    return out.data;
}

static char *scratch_dir(void)
{
    char *dir = strdup("/tmp/ct-xlsx-test-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    return dir;
}

static size_t entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    size_t n = 0;

    cr_assert_not_null(d);
    while ((e = readdir(d)) != NULL)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

#define HAS(cells, line) cr_expect(strstr(cells, line "\n") != NULL, "no '%s' in:\n%s", line, cells)
#define LACKS(cells, line) cr_expect_null(strstr(cells, line), "'%s' in:\n%s", line, cells)

Test(xlsx_report, every_optional_section_reads_back_as_written)
{
    struct agg_briefing b = briefing(true);
    char err[256], path[300];
    char *dir = scratch_dir(), *cells;

    snprintf(path, sizeof(path), "%s/out.xlsx", dir);
    cr_assert_eq(agg_xlsx_write_file(&b, path, err, sizeof(err)), 0, "%s", err);
    cells = read_back(dir, path);
    HAS(cells, "frozen 进度 Progress C2");
    HAS(cells, "frozen 各单位 Units C2");
    HAS(cells, "frozen 考核 Assessment D2");
    /* Progress: numbers as numbers, null as nothing, the pace after units_reporting */
    HAS(cells, "进度 Progress 2 5 float 87.25");
    HAS(cells, "进度 Progress 2 6 int 100");
    HAS(cells, "进度 Progress 2 10 int 2");
    HAS(cells, "进度 Progress 1 11 str 序时目标 Expected to date");
    HAS(cells, "进度 Progress 1 12 str 序时进度 % Pace");
    HAS(cells, "进度 Progress 2 11 float 49.589");
    HAS(cells, "进度 Progress 2 12 float 175.95");
    LACKS(cells, "进度 Progress 3 5 ");  /* no actual */
    LACKS(cells, "进度 Progress 3 4 ");  /* no unit */
    LACKS(cells, "进度 Progress 3 8 ");  /* no pct */
    LACKS(cells, "进度 Progress 3 11 "); /* no pace */
    HAS(cells, "进度 Progress 3 9 str no_data");
    /* Units: a row per unit in their order, the target's unit in its header */
    HAS(cells, "各单位 Units 1 4 str 新建市级研发中心100家（家）");
    HAS(cells, "各单位 Units 1 5 str 科技进步对经济增长的贡献率达到60%");
    HAS(cells, "各单位 Units 2 1 str jinshui");
    HAS(cells, "各单位 Units 2 4 float 47.25");
    HAS(cells, "各单位 Units 3 4 int 40");
    HAS(cells, "各单位 Units 4 1 str city");
    LACKS(cells, "各单位 Units 4 4 ");
    /* Assessment: an unranked unit has no rank and no score */
    HAS(cells, "考核 Assessment 1 1 str 名次 Rank");
    HAS(cells, "考核 Assessment 2 1 int 1");
    HAS(cells, "考核 Assessment 2 5 float 94.5");
    HAS(cells, "考核 Assessment 3 2 str gaoxin");
    HAS(cells, "考核 Assessment 3 6 int 0");
    /* one column for the one target assigned to anyone, after the counts */
    HAS(cells, "考核 Assessment 1 11 str 新建市级研发中心100家（完成率 %）");
    LACKS(cells, "考核 Assessment 1 12 ");
    HAS(cells, "考核 Assessment 2 11 float 94.5");
    LACKS(cells, "考核 Assessment 3 11 ");
    LACKS(cells, "考核 Assessment 3 1 ");
    LACKS(cells, "考核 Assessment 3 5 ");
    free(cells);
    unlink(path);
    cr_expect_eq(entries(dir), 0, "a scratch file stayed beside the workbook");
    rmdir(dir);
    free(dir);
}

Test(xlsx_report, without_the_optional_sections_there_are_two_sheets_and_ten_columns)
{
    struct agg_briefing b = briefing(false);
    char err[256], path[300];
    char *dir = scratch_dir(), *cells;

    snprintf(path, sizeof(path), "%s/out.xlsx", dir);
    cr_assert_eq(agg_xlsx_write_file(&b, path, err, sizeof(err)), 0, "%s", err);
    cells = read_back(dir, path);
    LACKS(cells, "考核 Assessment");
    LACKS(cells, "进度 Progress 1 11 ");
    HAS(cells, "进度 Progress 1 10 str 报送单位数 Units reporting");
    free(cells);
    unlink(path);
    rmdir(dir);
    free(dir);
}

Test(xlsx_report, in_memory_the_workbook_leaves_nothing_in_tmpdir)
{
    struct agg_briefing b = briefing(true);
    struct ct_buf out = CT_BUF_INIT;
    char err[256];
    char *dir = scratch_dir();

    cr_assert_eq(setenv("TMPDIR", dir, 1), 0);
    cr_assert_eq(agg_xlsx_render(&b, &out, err, sizeof(err)), 0, "%s", err);
    cr_expect_gt(out.len, 1000);
    cr_expect_eq(memcmp(out.data, "PK\x03\x04", 4), 0, "not a zip file");
    cr_expect_eq(entries(dir), 0);
    unsetenv("TMPDIR");
    ct_buf_free(&out);
    rmdir(dir);
    free(dir);
}

Test(xlsx_report, a_path_that_cannot_be_written_is_named_in_the_error)
{
    struct agg_briefing b = briefing(false);
    char err[256] = "";

    cr_expect_eq(agg_xlsx_write_file(&b, "/nonexistent-ct-dir/out.xlsx", err, sizeof(err)), -1);
    cr_expect(strstr(err, "'/nonexistent-ct-dir/out.xlsx'") != NULL, "%s", err);
    cr_expect(strstr(err, "No such file or directory") != NULL, "%s", err);
    cr_expect_eq(agg_xlsx_write_file(&b, "/tmp/", err, sizeof(err)), -1);
    cr_expect(strstr(err, "not a file name") != NULL, "%s", err);
}
