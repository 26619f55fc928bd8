#!/usr/bin/python3
"""The Excel workbook (issue 18, CONTRACT section 11) equals the JSON report, cell by cell.

With the sample data delivered (harness.Deployment), for as-of 2015-06-30 and 2015-12-31:
`report --format xlsx --output FILE` and GET /api/progress.xlsx are read back with openpyxl
and compared with `report --format json`: sheet names, the header rows, one row per target
in `进度 Progress` (every cell, numbers as numbers, null as an empty cell, the pace of
section 8 included), one row per unit and one column per target in `各单位 Units`, the
ranking of `考核 Assessment` against GET /api/assessment (every count, score and each
unit's pct of its own target), the frozen header row and column widths that fit the
Chinese names. The two workbooks hold the same cells.

Failure paths: --format xlsx without --output and --output without xlsx are usage errors
(exit 2, one line); an unwritable path is a runtime error (exit 1, one line naming it) and
an existing file is left as it was when the report fails; bad HTTP parameters are 400/404;
no scratch file stays in the aggregator's TMPDIR.
"""
import io
import json
import os
import sys
import tempfile
import unicodedata

import openpyxl

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from harness import ARTIFACTS, Checks, Deployment, get, units

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PROGRESS_HEADER = ["代码 Code", "名称 Name (中文)", "Name (English)", "计量单位 Unit",
                   "完成值 Actual", "目标值 Target", "比较 Comparator", "完成率 % Pct",
                   "状态 Status", "报送单位数 Units reporting", "序时目标 Expected to date",
                   "序时进度 % Pace"]
PROGRESS_FIELDS = ["code", "name_zh", "name_en", "unit", "actual", "target", "comparator",
                   "pct", "status", "units_reporting", "expected_to_date", "pace_pct"]
NUMBERS = {"actual", "target", "pct", "units_reporting", "expected_to_date", "pace_pct"}
ASSESSMENT_FIELDS = ["rank", "district", "name_zh", "name_en", "score", "assigned", "met",
                     "on_track", "behind", "no_data"]
ASSESSMENT_NUMBERS = {"rank", "score", "assigned", "met", "on_track", "behind", "no_data"}
SHEETS = ["进度 Progress", "各单位 Units", "考核 Assessment"]

checks = Checks("xlsx")
check = checks.check


def width(text):
    """Display cells: East Asian wide and fullwidth count two (report.c's rule)."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def cell_equal(got, want, numeric):
    if want is None or want == "":
        return got is None
    if numeric:
        return isinstance(got, (int, float)) and not isinstance(got, bool) and \
            float(got) == float(want)
    return got == want


def rows(ws):
    return [list(r) for r in ws.iter_rows(values_only=True)]


def compare(view, wb, doc, assessment):
    check(wb.sheetnames == SHEETS, f"{view}: sheets {wb.sheetnames}")
    if wb.sheetnames != SHEETS:
        return 0
    ws = wb["进度 Progress"]
    table = rows(ws)
    check(table[0] == PROGRESS_HEADER, f"{view}: Progress header {table[0]}")
    check(len(table) == 1 + len(doc["targets"]),
          f"{view}: Progress has {len(table) - 1} rows, JSON {len(doc['targets'])} targets")
    check(ws.freeze_panes == "C2", f"{view}: Progress frozen at {ws.freeze_panes}")
    cells = 0
    for t, row in zip(doc["targets"], table[1:]):
        for col, field in enumerate(PROGRESS_FIELDS):
            got = row[col] if col < len(row) else None
            ok = cell_equal(got, t[field], field in NUMBERS)
            check(ok, f"{view} Progress {t['code']}.{field}: cell {got!r}, JSON {t[field]!r}")
            cells += 1
        check(len(row) == len(PROGRESS_FIELDS), f"{view} {t['code']}: {len(row)} columns")
    # Column widths fit the widest text, CJK counting two (capped at 60 + 2 for long text).
    for col, field in ((1, "name_zh"), (2, "name_en"), (3, "unit")):
        letter = openpyxl.utils.get_column_letter(col + 1)
        widest = max(width(t[field]) for t in doc["targets"])
        got = ws.column_dimensions[letter].width
        check(got >= min(widest, 60), f"{view}: column {letter} ({field}) width {got}, "
                                      f"widest text {widest}")

    ws = wb["各单位 Units"]
    table = rows(ws)
    want_header = ["单位代码 Unit ID", "单位 Unit (中文)", "Unit (English)"] + [
        f"{t['name_zh']}（{t['unit']}）" if t["unit"] else t["name_zh"] for t in doc["targets"]]
    check(table[0] == want_header, f"{view}: Units header {table[0]}")
    check(ws.freeze_panes == "C2", f"{view}: Units frozen at {ws.freeze_panes}")
    all_units = units()
    check(len(table) == 1 + len(all_units), f"{view}: Units has {len(table) - 1} rows")
    for (uid, zh, en), row in zip(all_units, table[1:]):
        check(row[:3] == [uid, zh, en], f"{view} Units row {row[:3]}")
        for i, t in enumerate(doc["targets"]):
            want = next((u["value"] for u in t["by_district"] if u["district"] == uid), None)
            got = row[3 + i] if 3 + i < len(row) else None
            check(cell_equal(got, want, True),
                  f"{view} Units {uid}/{t['code']}: cell {got!r}, JSON {want!r}")
            cells += 1
    return cells + compare_assessment(view, wb["考核 Assessment"], doc, assessment)


def compare_assessment(view, ws, doc, assessment):
    """A row per unit in rank order, then each assigned target's pct of the unit's own."""
    table = rows(ws)
    assigned = [t["code"] for t in doc["targets"]
                if any(i["code"] == t["code"] for u in assessment["units"] for i in u["items"])]
    check(len(assigned) > 0, f"{view}: no unit has a target of its own")
    check(len(table[0]) == len(ASSESSMENT_FIELDS) + len(assigned),
          f"{view}: Assessment has {len(table[0])} columns for {len(assigned)} assigned targets")
    check(len(table) == 1 + len(assessment["units"]),
          f"{view}: Assessment has {len(table) - 1} rows, API {len(assessment['units'])} units")
    cells = 0
    for u, row in zip(assessment["units"], table[1:]):
        for col, field in enumerate(ASSESSMENT_FIELDS):
            ok = cell_equal(row[col], u[field], field in ASSESSMENT_NUMBERS)
            check(ok, f"{view} Assessment {u['district']}.{field}: cell {row[col]!r}, "
                      f"API {u[field]!r}")
            cells += 1
        for k, code in enumerate(assigned):
            want = next((i["pct"] for i in u["items"] if i["code"] == code), None)
            got = row[len(ASSESSMENT_FIELDS) + k]
            check(cell_equal(got, want, True),
                  f"{view} Assessment {u['district']}/{code}: cell {got!r}, API {want!r}")
            cells += 1
    return cells


def cell_values(wb):
    return {name: rows(wb[name]) for name in wb.sheetnames}


def main(dep):
    dep.start()
    work = tempfile.mkdtemp(prefix="ct-xlsx-", dir=dep.work)
    total = 0
    for as_of in ("2015-06-30", "2015-12-31"):
        rc, out, err = dep.report("--year", "2015", "--as-of", as_of, "--format", "json")
        check(rc == 0, f"report json as of {as_of}: exit {rc} {err}")
        doc = json.loads(out)
        check(len(doc["targets"]) == 35, f"{as_of}: {len(doc['targets'])} targets")
        status, headers, body = get(f"{dep.base}/api/assessment?year=2015&as_of={as_of}")
        check(status == 200, f"/api/assessment as of {as_of}: HTTP {status}")
        assessment = json.loads(body)
        statuses = sorted({t["status"] for t in doc["targets"]})
        nulls = sum(1 for t in doc["targets"] if t["actual"] is None)

        path = os.path.join(work, f"progress-{as_of}.xlsx")
        rc, out, err = dep.report("--year", "2015", "--as-of", as_of, "--format", "xlsx",
                                  "--output", path)
        check(rc == 0 and out == b"" and err == "", f"report xlsx {as_of}: exit {rc} {err!r}")
        check(oct(os.stat(path).st_mode & 0o777) == oct(0o666 & ~current_umask()),
              f"{path} mode {oct(os.stat(path).st_mode & 0o777)}")
        cli = openpyxl.load_workbook(path)
        total += compare(f"report --as-of {as_of}", cli, doc, assessment)

        status, headers, body = get(f"{dep.base}/api/progress.xlsx?year=2015&as_of={as_of}")
        check(status == 200, f"/api/progress.xlsx as of {as_of}: HTTP {status}")
        check(headers.get("Content-Type") == XLSX_TYPE, f"content type {headers.get('Content-Type')}")
        check("attachment" in (headers.get("Content-Disposition") or ""),
              f"content disposition {headers.get('Content-Disposition')}")
        api = openpyxl.load_workbook(io.BytesIO(body))
        total += compare(f"/api/progress.xlsx as_of={as_of}", api, doc, assessment)
        check(cell_values(api) == cell_values(cli), f"{as_of}: the API's workbook differs "
                                                    "from report's")
        with open(os.path.join(ARTIFACTS, f"progress-{as_of}.xlsx"), "wb") as f:
            f.write(body)
        print(f"as of {as_of}: statuses {statuses}, {nulls} targets without a value, "
              f"{len(body)} bytes", flush=True)

    # No as_of: now, the latest year.
    status, headers, body = get(f"{dep.base}/api/progress.xlsx")
    check(status == 200 and body[:2] == b"PK", f"/api/progress.xlsx: HTTP {status}")

    # Failure paths.
    rc, out, err = dep.report("--format", "xlsx")
    check(rc == 2 and err.count("\n") == 1 and "--output" in err,
          f"xlsx without --output: exit {rc}, stderr {err!r}")
    rc, out, err = dep.report("--output", os.path.join(work, "x.xlsx"))
    check(rc == 2 and err.count("\n") == 1 and "--format xlsx" in err,
          f"--output without xlsx: exit {rc}, stderr {err!r}")
    rc, out, err = dep.report("--format", "xlsx", "--output", os.path.join(work, "y.xlsx"),
                              "--district", "erqi")
    check(rc == 2 and err.count("\n") == 1, f"xlsx with --district: exit {rc}, stderr {err!r}")
    bad = os.path.join(work, "no-such-dir", "progress.xlsx")
    rc, out, err = dep.report("--year", "2015", "--format", "xlsx", "--output", bad)
    check(rc == 1 and err.count("\n") == 1 and bad in err,
          f"unwritable output: exit {rc}, stderr {err!r}")
    rc, out, err = dep.report("--year", "2015", "--format", "xlsx", "--output", work + "/")
    check(rc == 1 and err.count("\n") == 1 and work in err,
          f"a directory as output: exit {rc}, stderr {err!r}")
    keep = os.path.join(work, "keep.xlsx")
    with open(keep, "wb") as f:
        f.write(b"an earlier workbook")
    rc, out, err = dep.report("--year", "1999", "--format", "xlsx", "--output", keep)
    check(rc == 1 and "1999" in err, f"xlsx for a year without targets: exit {rc} {err!r}")
    check(open(keep, "rb").read() == b"an earlier workbook", "a failed report touched the file")
    check(sorted(os.listdir(work)) == ["keep.xlsx", "progress-2015-06-30.xlsx",
                                       "progress-2015-12-31.xlsx"],
          f"files left in the output directory: {sorted(os.listdir(work))}")

    for query, want in (("year=abc", 400), ("year=1999", 404), ("as_of=soon", 400),
                        ("bogus=1", 400)):
        status, headers, body = get(f"{dep.base}/api/progress.xlsx?{query}")
        check(status == want and headers.get("Content-Disposition") is None,
              f"/api/progress.xlsx?{query}: HTTP {status} {body[:80]!r}")
    check(os.listdir(dep.tmpdir) == [], f"scratch files left: {os.listdir(dep.tmpdir)}")
    print(f"compared {total} cells with the JSON report", flush=True)


def current_umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


if __name__ == "__main__":
    os.makedirs(ARTIFACTS, exist_ok=True)
    dep = Deployment("documents_xlsx", checks)
    try:
        main(dep)
    except Exception as e:  # one clear line; the logs stay in dep.work
        import traceback
        traceback.print_exc()
        check(False, f"{type(e).__name__}: {e}")
    finally:
        dep.stop()
    sys.exit(checks.close())
