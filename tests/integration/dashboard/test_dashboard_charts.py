#!/usr/bin/python3
"""The dashboard's trend charts, sparklines, revised marks and /changes page in headless
Chromium with JavaScript disabled (issue 18, acceptance 3 and 4).

Against the test PostgreSQL cluster (CTest's `pg` fixture) this starts the real
citytally-aggregator and 17 real collectors (test_dashboard.py's helpers), delivers the
sample files except the back-dated correction, records K, then delivers the correction,
so that it arrives later as it would. Then, with scripts off in the browser:

- every one of the 35 targets has its sparkline in the row and its trend chart (an SVG
  with the actual, the target line, axes in Chinese and English) in its body;
- with revised_since=K as of 30 June, exactly the correction's target is marked revised,
  with the figure known at K; without revised_since nothing is;
- /changes for June lists the correction under its target, with unit, note and a
  received time after K;
- the page refers to nothing outside the server.
With scripts on, the redrawn rows keep the server's charts.

Screenshots: $CT_ARTIFACT_DIR/dashboard-charts.png (scripts off, as served) and
dashboard-charts-open.png (scripts off, the first rows opened to their charts).
"""
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_dashboard as td  # noqa: E402  (the shared harness: processes, psql, chromium)

DB = "dashboard_charts"
CORRECTION = "erqi-2015-h1-correction.csv"
JUNE = "2015-06-30"


def chromium_noscript(url, out_dir, screenshot=None):
    """Chromium with JavaScript blocked (the profile's content setting, as a user turns it
    off: --blink-settings=scriptEnabled=false also stops --dump-dom), dumping the DOM it
    built or taking a screenshot."""
    profile = tempfile.mkdtemp(prefix="ct-chromium-", dir=out_dir)
    os.makedirs(os.path.join(profile, "Default"))
    with open(os.path.join(profile, "Default", "Preferences"), "w") as f:
        json.dump({"profile": {"default_content_setting_values": {"javascript": 2}}}, f)
    argv = [td.CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--no-first-run", "--disable-dev-shm-usage", f"--user-data-dir={profile}",
            "--window-size=1600,2600"]
    argv.append(f"--screenshot={screenshot}" if screenshot else "--dump-dom")
    r = subprocess.run(argv + [url], capture_output=True, text=True, timeout=120)
    shutil.rmtree(profile, ignore_errors=True)
    if r.returncode != 0:
        raise RuntimeError(f"chromium failed ({r.returncode}): {r.stderr[-2000:]}")
    return r.stdout


def get(url):
    """td.get with room for a loaded machine: the revised page reads 27 progresses."""
    try:
        with td.urllib.request.urlopen(url, timeout=60) as r:
            return r.status, r.read().decode("utf-8")
    except td.urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8")


def rows(dom):
    """Each details.target's code and its HTML, in page order."""
    parts = re.split(r'(?=<details [^>]*class="target)', dom)
    out = []
    for p in parts[1:]:
        code = re.search(r'data-code="([^"]*)"', p).group(1)
        out.append((code, p.split("</details>")[0]))
    return out


def check_charts(view, dom, codes, check):
    shown = rows(dom)
    check([c for c, _ in shown] == codes, f"{view}: rows {[c for c, _ in shown]} != {codes}")
    for code, body in shown:
        summary = body.split("</summary>")[0]
        check(summary.count('<svg class="spark"') == 1, f"{view} {code}: no sparkline in the row")
        chart = re.search(r'<div class="trend"[^>]*>(<svg class="trend-chart".*?</svg>)</div>',
                          body, flags=re.S)
        check(chart is not None, f"{view} {code}: no trend chart")
        if chart is None:
            continue
        svg = chart.group(1)
        check("月末 Month end (2015)" in svg and "数值 Value" in svg,
              f"{view} {code}: axes not labelled in Chinese and English")
        check('class="target-line"' in svg, f"{view} {code}: no target line")
        check("2015 实际 Actual" in svg, f"{view} {code}: no legend for the actual")
    print(f"{view}: {len(shown)} rows, each with a sparkline and a chart", flush=True)


def main(work):
    check = td.check
    os.makedirs(td.ARTIFACTS, exist_ok=True)
    http_port, zmq_port, feed_port = td.free_port(), td.free_port(), td.free_port()
    td.psql("postgres", f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
    td.psql("postgres", f'CREATE DATABASE "{DB}"')
    conninfo = f"host={td.PGHOST} port={td.PGPORT} user=postgres dbname={DB}"
    agg_log = os.path.join(work, "aggregator.log")
    td.start([os.path.join(td.BIN, "citytally-aggregator"), "--db", conninfo, "--insecure",
              "--listen", f"tcp://127.0.0.1:{zmq_port}", "--publish",
              f"tcp://127.0.0.1:{feed_port}", "--http", f"127.0.0.1:{http_port}"], agg_log)
    td.wait_until("the aggregator", lambda: "ready:" in open(agg_log, encoding="utf-8").read(), 60)
    base = f"http://127.0.0.1:{http_port}"

    units = [line.split(",")[0] for line in open(os.path.join(td.SRC, "data/districts.csv"))][1:]
    for unit in units:
        td.psql(DB, f"INSERT INTO agents (agent_id, district) VALUES ('{unit}-1', '{unit}')")
    td.psql(DB, "NOTIFY citytally_agents")
    for unit in units:
        d = os.path.join(work, unit)
        os.makedirs(os.path.join(d, "spool"))
        td.start([os.path.join(td.BIN, "citytally-collector"), "--agent", f"{unit}-1",
                  "--district", unit, "--connect", f"tcp://127.0.0.1:{zmq_port}",
                  "--state-dir", os.path.join(d, "state"), "--spool", os.path.join(d, "spool"),
                  "--insecure"], os.path.join(work, f"collector-{unit}.log"))

    def welcomed(unit):
        r = subprocess.run([os.path.join(td.BIN, "citytally-collector"), "status", "--state-dir",
                            os.path.join(work, unit, "state")], capture_output=True, text=True)
        return any(line.startswith("catalog:") and line.split()[1].isdigit()
                   for line in r.stdout.splitlines())
    td.wait_until("17 welcomed collectors", lambda: all(welcomed(u) for u in units), 60)

    def stored():
        return int(td.psql(DB, "SELECT (SELECT count(*) FROM updates)"
                               " + (SELECT count(*) FROM rejected_updates)"))

    def drop(f, unit):
        tmp = os.path.join(work, unit, "spool", "." + os.path.basename(f) + ".part")
        shutil.copyfile(f, tmp)
        os.rename(tmp, os.path.join(work, unit, "spool", os.path.basename(f)))
        return sum(1 for _ in open(f, "rb")) - 1

    expected, held = 0, []
    for unit in units:
        for f in sorted(glob.glob(os.path.join(td.SRC, "deploy/sample", unit, "*.csv"))):
            if os.path.basename(f) == CORRECTION:
                held.append((f, unit))
            else:
                expected += drop(f, unit)
    check(len(held) == 1, f"the sample has {len(held)} files named {CORRECTION}")
    td.wait_until(f"{expected} stored updates", lambda: stored() >= expected, 300)
    # K: a millisecond after everything above committed, on the server's clock, in the
    # millisecond text the page reads; the correction is sent only once K is past.
    k = td.psql(DB, "SELECT to_char((date_trunc('milliseconds', clock_timestamp()) +"
                    " interval '1 millisecond') AT TIME ZONE 'UTC',"
                    " 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')")
    td.wait_until("K to pass", lambda: td.psql(
        DB, f"SELECT clock_timestamp() > '{k}'::timestamptz") == "t", 10)
    for f, unit in held:
        expected += drop(f, unit)
    td.wait_until(f"{expected} stored updates", lambda: stored() >= expected, 120)
    check(td.psql(DB, "SELECT count(*) FROM rejected_updates") == "0", "sample updates rejected")
    check(td.psql(DB, f"SELECT count(*) FROM updates WHERE received_at > '{k}'") == "1",
          "exactly the correction was received after K")
    print(f"delivered {expected} sample updates, the correction after K = {k}", flush=True)

    status, body = get(f"{base}/api/progress?year=2015")
    codes = [t["code"] for t in json.loads(body)["targets"]]
    check(len(codes) == 35, f"/api/progress lists {len(codes)} targets")

    for query in ("year=2015", f"year=2015&as_of={JUNE}"):
        dom = chromium_noscript(f"{base}/?{query}", work)
        check('class="no-js"' in dom, f"?{query}: the page's script ran with scripts off")
        check("修订 revised</span>" not in dom, f"?{query}: a revised mark without revised_since")
        check_charts(f"?{query}, scripts off", dom, codes, check)
        external = re.findall(r'(?:src|href)="((?:https?:)?//[^"]*)"', dom)
        check(not external, f"?{query}: external references {external}")
    dom = td.chromium(f"{base}/?year=2015&as_of={JUNE}", work)
    check('class="js"' in dom, "with scripts on, the script did not run")
    check_charts("as of June, scripts on", dom, codes, check)

    # The revised mark: the correction (erqi's R&D centres, observed 30 June, sent after K)
    # changed exactly one figure as of 30 June.
    q = f"year=2015&as_of={JUNE}&revised_since={k}"
    dom = chromium_noscript(f"{base}/?{q}", work)
    with open(os.path.join(td.ARTIFACTS, "dom-revised.html"), "w", encoding="utf-8") as f:
        f.write(dom)  # what the browser had, for a failing run
    status, _ = get(f"{base}/?{q}")
    check(status == 200, f"/?{q}: HTTP {status}")
    check(len(rows(dom)) == 35, f"?{q}: {len(rows(dom))} rows")
    marked = [c for c, body in rows(dom) if "修订 revised</span>" in body]
    check(marked == ["rd_centers_municipal"], f"revised marks on {marked}")
    before = td.psql(DB, f"SELECT actual FROM citytally_progress(2015, '{JUNE} 23:59:59.999+08',"
                         f" '{k}') WHERE target_code = 'rd_centers_municipal'")
    check(f"时为 was {before}\"" in dom, f"the mark does not show the figure known at K ({before})")
    check("1 项数字在此后修订" in dom, "the count of revised figures")
    status, _ = get(f"{base}/?year=2015&revised_since=yesterday")
    check(status == 400, f"revised_since=yesterday: HTTP {status}")

    # Since the last month end: June's changes, with the correction behind its target.
    # The tables were loaded a moment ago; without statistics (autovacuum gathers them a
    # minute later) the diff's plan took longer than a page may.
    td.psql(DB, "ANALYZE")
    status, page = get(f"{base}/changes?year=2015&as_of={JUNE}")
    check(status == 200, f"/changes: HTTP {status}: {page[:300]!r}")
    dom = chromium_noscript(f"{base}/changes?year=2015&as_of={JUNE}", work)
    section = re.search(r'<section class="change" data-code="rd_centers_municipal">(.*?)</section>',
                        dom, flags=re.S)
    check(section is not None, "/changes: no section for rd_centers_municipal")
    if section is not None:
        row = [r for r in re.findall(r'<tr class="update".*?</tr>', section.group(1), flags=re.S)
               if "backdated correction" in r]
        check(len(row) == 1, f"/changes: {len(row)} rows for the correction")
        if row:
            check("二七区" in row[0], "/changes: the correction's unit is not named")
            received = re.search(r'class="t received">([^<]*)<', row[0]).group(1)
            k_local = td.psql(DB, f"SELECT to_char('{k}'::timestamptz AT TIME ZONE"
                                  " 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI:SS')")
            check(received >= k_local, f"/changes: received {received} is before K {k_local}")
    check(len(re.findall(r'<section class="change"', dom)) == int(td.psql(
        DB, f"SELECT count(*) FROM citytally_diff(2015, '2015-05-31 23:59:59.999+08',"
            f" '{JUNE} 23:59:59.999+08')")), "/changes: one section per changed target")
    status, _ = get(f"{base}/changes?year=2015&as_of=2015-06-30&from=2015-07-01")
    check(status == 400, f"/changes with from after as_of: HTTP {status}")

    shot = os.path.join(td.ARTIFACTS, "dashboard-charts.png")
    chromium_noscript(f"{base}/?{q}", work, screenshot=shot)
    check(os.path.getsize(shot) > 50000, f"screenshot {shot} is {os.path.getsize(shot)} bytes")
    # A browser opens <details> on a click; for the picture, the first rows come open.
    status, served = get(f"{base}/?{q}")
    opened = os.path.join(work, "opened.html")
    with open(opened, "w", encoding="utf-8") as f:
        f.write(served.replace('<details class="target', '<details open class="target', 3))
    shot = os.path.join(td.ARTIFACTS, "dashboard-charts-open.png")
    chromium_noscript("file://" + opened, work, screenshot=shot)
    check(os.path.getsize(shot) > 50000, f"screenshot {shot} is {os.path.getsize(shot)} bytes")
    print(f"screenshots: {td.ARTIFACTS}/dashboard-charts.png, dashboard-charts-open.png",
          flush=True)


if __name__ == "__main__":
    work = tempfile.mkdtemp(prefix="ct-charts-")
    try:
        main(work)
    except Exception as e:
        td.checks["failed"] += 1
        print(f"FAIL: {e}", flush=True)
    finally:
        for p in reversed(td.procs):
            if p.poll() is None:
                p.send_signal(td.signal.SIGTERM)
        for p in td.procs:
            try:
                rc = p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                rc = "killed after 15 s"
            td.check(rc == 0, f"{os.path.basename(p.args[0])} exit status {rc} on SIGTERM")
        if td.checks["failed"]:  # the daemons' last words, before their folder goes
            for log in sorted(glob.glob(os.path.join(work, "*.log"))):
                with open(log, encoding="utf-8", errors="replace") as f:
                    print(f"--- {log}\n" + "".join(f.readlines()[-15:]), flush=True)
        shutil.rmtree(work, ignore_errors=True)
    print(f"dashboard charts: {td.checks['passed']} passed, {td.checks['failed']} failed",
          flush=True)
    sys.exit(1 if td.checks["failed"] else 0)
