#!/usr/bin/python3
"""The assessment page and the pace colours in a real browser (issue 16, acceptance 2).

Against the test PostgreSQL cluster (CTest's `pg` fixture) this starts the real
citytally-aggregator and 17 real collectors, imports the sample split of the targets
(deploy/sample/targets-2015-units.csv), delivers the sample files through the spools, and
then, in Debian's headless Chromium with JavaScript disabled:

- /assessment: every one of the scorecard's 17 x N cells (N: the targets any unit holds a
  target of) against /api/assessment: status class, pct and text, or "no target of its
  own"; and the ranking's order, ranks and scores;
- /: every target's amber/red class against the pace rule (behind at >= 90% of pace:
  lag-amber; behind below: lag-red; otherwise neither; a target without a pro rata is
  paced by its pct) and its
  pro-rata mark against expected_to_date, from /api/progress; also with JavaScript on,
  after the script has redrawn the page.

Both at the half year (as_of=2015-06-30, where targets are behind by different margins)
and at the year end. Screenshots go to $CT_ARTIFACT_DIR/assessment.png and
dashboard-pace.png (CTest attaches them). Helpers come from test_dashboard.py.
"""
import glob
import html.parser
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_dashboard as base  # noqa: E402

DB = "assessment_browser"
check = base.check


def no_script(url):
    """The page as a browser without JavaScript has it: the served HTML, which nothing
    redraws. (Chromium's --dump-dom and --screenshot themselves need JavaScript, so a
    script-off page is taken from the server, as test_dashboard.py does.)"""
    status, served = base.get(url)
    check(status == 200, f"{url}: HTTP {status}")
    return served


class Page(html.parser.HTMLParser):
    """Scorecard cells and columns, ranking rows, and each target's classes and pace mark."""

    def __init__(self):
        super().__init__()
        self.cells, self.columns, self.ranking, self.targets = {}, [], [], {}
        self.cell = None
        self.table = None
        self.target = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        cls = (a.get("class") or "").split()
        if tag == "table":
            self.table = cls[0] if cls else None
        elif tag == "td" and "cell" in cls:
            self.cell = {"class": cls, "attrs": a, "text": ""}
            self.cells[(a.get("data-district"), a.get("data-code"))] = self.cell
        elif tag == "th" and "t" in cls and self.table == "scorecard":
            self.columns.append(a.get("data-code"))
        elif tag == "tr" and self.table == "ranking" and "data-district" in a:
            self.ranking.append(a)
        elif tag == "details" and "target" in cls:
            self.target = {"class": cls, "attrs": a, "pace": None}
            self.targets[a.get("data-code")] = self.target
        elif tag == "span" and "pace" in cls and self.target is not None:
            self.target["pace"] = a.get("style", "")

    def handle_endtag(self, tag):
        if tag == "td":
            self.cell = None
        elif tag == "table":
            self.table = None
        elif tag == "details":
            self.target = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell["text"] += data


def num(text):
    return None if text in (None, "") else float(text)


def keep(view, dom):
    name = "dom-" + "".join(c if c.isalnum() else "-" for c in view) + ".html"
    with open(os.path.join(base.ARTIFACTS, name), "w", encoding="utf-8") as f:
        f.write(dom)  # what the browser had, for a failing run


def check_assessment(view, dom, doc):
    keep(view, dom)
    page = Page()
    page.feed(dom)
    codes = []
    for u in doc["units"]:
        for it in u["items"]:
            if it["code"] not in codes:
                codes.append(it["code"])
    check(len(doc["units"]) == 17, f"{view}: {len(doc['units'])} units in /api/assessment")
    check(sorted(page.columns) == sorted(codes),
          f"{view}: scorecard columns {page.columns} != the targets units hold {codes}")
    check(len(page.cells) == 17 * len(codes),
          f"{view}: {len(page.cells)} scorecard cells, want 17 x {len(codes)}")
    compared = 0
    for u in doc["units"]:
        items = {it["code"]: it for it in u["items"]}
        for code in codes:
            cell = page.cells.get((u["district"], code))
            if cell is None:
                check(False, f"{view}: no cell for {u['district']} x {code}")
                continue
            it = items.get(code)
            if it is None:
                check("na" in cell["class"] and "data-status" not in cell["attrs"],
                      f"{view} {u['district']} x {code}: {cell['class']} for no target")
            else:
                check(f"st-{it['status']}" in cell["class"]
                      and cell["attrs"].get("data-status") == it["status"],
                      f"{view} {u['district']} x {code}: {cell['class']} != {it['status']}")
                check(num(cell["attrs"].get("data-pct")) == it["pct"],
                      f"{view} {u['district']} x {code}: pct {cell['attrs'].get('data-pct')}"
                      f" != {it['pct']}")
                want = "—" if it["pct"] is None else base.fmt(it["pct"], 1) + "%"
                check(cell["text"].split(" ")[0] == want,
                      f"{view} {u['district']} x {code}: text {cell['text']!r}, want {want!r}")
            compared += 1
    shown = [(r.get("data-district"), num(r.get("data-rank")), num(r.get("data-score")))
             for r in page.ranking]
    want = [(u["district"], u["rank"], u["score"]) for u in doc["units"]]
    check(shown == want, f"{view}: ranking {shown} != {want}")
    print(f"{view}: compared {compared} scorecard cells ({len(codes)} targets) and the ranking",
          flush=True)
    return compared


def lag_class(t):
    """Behind at 90% of pace or more: amber; below: red. A target without a pro rata (a
    level, a ratio, a growth rate) should be at its target all year: its pct is its pace."""
    if t["status"] != "behind":
        return None
    pace = t["pace_pct"] if t["expected_to_date"] is not None else t["pct"]
    return "lag-amber" if pace is not None and pace >= 90 else "lag-red"


def check_pace(view, dom, doc):
    keep(view, dom)
    page = Page()
    page.feed(dom)
    seen = {"lag-amber": 0, "lag-red": 0}
    for t in doc["targets"]:
        s = page.targets.get(t["code"])
        if s is None:
            check(False, f"{view}: target {t['code']} not shown")
            continue
        want = lag_class(t)
        got = [c for c in s["class"] if c.startswith("lag-")]
        check(got == ([want] if want else []),
              f"{view} {t['code']}: classes {got}, pace rule says {want} "
              f"(status {t['status']}, pace_pct {t['pace_pct']})")
        if want:
            seen[want] += 1
        if t["expected_to_date"] is None:
            check(s["pace"] is None, f"{view} {t['code']}: a pace mark without a pace")
        else:
            # the server writes 49.6%; a browser's script serialises 100.0 as 100%
            left = round(min(100.0, max(0.0, t["expected_to_date"] / t["target"] * 100)), 1)
            m = re.fullmatch(r"left: ([0-9.]+)%;", s["pace"] or "")
            check(m is not None and float(m.group(1)) == left,
                  f"{view} {t['code']}: pace mark {s['pace']!r}, want left {left}%")
    print(f"{view}: {seen['lag-amber']} amber, {seen['lag-red']} red", flush=True)
    return seen


def main(work):
    os.makedirs(base.ARTIFACTS, exist_ok=True)
    http_port, zmq_port, feed_port = base.free_port(), base.free_port(), base.free_port()
    base.psql("postgres", f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
    base.psql("postgres", f'CREATE DATABASE "{DB}"')
    conninfo = f"host={base.PGHOST} port={base.PGPORT} user=postgres dbname={DB}"
    agg = os.path.join(base.BIN, "citytally-aggregator")
    agg_log = os.path.join(work, "aggregator.log")
    base.start([agg, "--db", conninfo, "--insecure", "--listen", f"tcp://127.0.0.1:{zmq_port}",
                "--publish", f"tcp://127.0.0.1:{feed_port}", "--http",
                f"127.0.0.1:{http_port}"], agg_log)
    base.wait_until("the aggregator",
                    lambda: "ready:" in open(agg_log, encoding="utf-8").read(), 60)
    subprocess.run([agg, "targets", "import",
                    os.path.join(base.SRC, "deploy/sample/targets-2015-units.csv"), "--db",
                    conninfo], check=True, capture_output=True)
    url = f"http://127.0.0.1:{http_port}"

    units = [line.split(",")[0] for line in open(os.path.join(base.SRC, "data/districts.csv"))][1:]
    for unit in units:
        base.psql(DB, f"INSERT INTO agents (agent_id, district) VALUES ('{unit}-1', '{unit}')")
    base.psql(DB, "NOTIFY citytally_agents")
    col = os.path.join(base.BIN, "citytally-collector")
    for unit in units:
        d = os.path.join(work, unit)
        os.makedirs(os.path.join(d, "spool"))
        base.start([col, "--agent", f"{unit}-1", "--district", unit, "--connect",
                    f"tcp://127.0.0.1:{zmq_port}", "--state-dir", os.path.join(d, "state"),
                    "--spool", os.path.join(d, "spool"), "--insecure"],
                   os.path.join(work, f"collector-{unit}.log"))

    def welcomed(unit):
        r = subprocess.run([col, "status", "--state-dir", os.path.join(work, unit, "state")],
                           capture_output=True, text=True)
        return any(line.startswith("catalog:") and line.split()[1].isdigit()
                   for line in r.stdout.splitlines())
    base.wait_until("17 welcomed collectors", lambda: all(welcomed(u) for u in units), 60)
    expected = 0
    for unit in units:
        folder = os.path.join(base.SRC, "deploy/sample", unit)
        for name in sorted(n for n in os.listdir(folder) if n.endswith(".csv")):
            expected += sum(1 for _ in open(os.path.join(folder, name), "rb")) - 1
            tmp = os.path.join(work, unit, "spool", "." + name + ".part")
            shutil.copyfile(os.path.join(folder, name), tmp)
            os.rename(tmp, os.path.join(work, unit, "spool", name))
    base.wait_until(f"{expected} stored updates", lambda: int(base.psql(
        DB, "SELECT (SELECT count(*) FROM updates) + (SELECT count(*) FROM rejected_updates)"))
        >= expected, 300)
    print(f"delivered {expected} sample updates through 17 collectors", flush=True)

    half_year = None
    for view, query in (("half-year", "year=2015&as_of=2015-06-30"), ("year-end", "year=2015")):
        status, body = base.get(f"{url}/api/assessment?{query}")
        check(status == 200, f"/api/assessment?{query}: HTTP {status}")
        doc = json.loads(body)
        # The page has no script, and its CSP (no script-src) forbids any: what Chromium
        # renders is what a browser with JavaScript off shows.
        served = no_script(f"{url}/assessment?{query}")
        check("<script" not in served, f"{view}: /assessment carries a script")
        check_assessment(f"{view} /assessment, served", served, doc)
        check_assessment(f"{view} /assessment, in Chromium",
                         base.chromium(f"{url}/assessment?{query}", work), doc)
        status, body = base.get(f"{url}/api/progress?{query}")
        check(status == 200, f"/api/progress?{query}: HTTP {status}")
        progress = json.loads(body)
        seen = check_pace(f"{view} / without JavaScript", no_script(f"{url}/?{query}"),
                          progress)
        check_pace(f"{view} / with JavaScript", base.chromium(f"{url}/?{query}", work),
                   progress)
        if half_year is None:
            half_year = seen
    check(half_year["lag-amber"] > 0 and half_year["lag-red"] > 0,
          f"the half year shows both amber and red targets: {half_year}")
    status, body = base.get(f"{url}/api/assessment?year=abc")
    check(status == 400 and "year" in body, f"/api/assessment?year=abc: HTTP {status} {body!r}")
    status, body = base.get(f"{url}/api/assessment?year=2016")
    check(status == 404 and "no targets for year 2016" in body,
          f"/api/assessment?year=2016: HTTP {status} {body!r}")

    for name, page in (("assessment.png", "assessment?year=2015&as_of=2015-06-30"),
                       ("dashboard-pace.png", "?year=2015&as_of=2015-06-30")):
        # as a browser without JavaScript gets it: the served HTML, scripts removed
        local = os.path.join(work, name + ".html")
        with open(local, "w", encoding="utf-8") as f:
            f.write(re.sub(r"<script\b.*?</script>", "", no_script(f"{url}/{page}"), flags=re.S))
        shot = os.path.join(base.ARTIFACTS, name)
        base.chromium("file://" + local, work, screenshot=shot)
        check(os.path.getsize(shot) > 50000, f"screenshot {shot}: {os.path.getsize(shot)} bytes")
        print(f"screenshot without JavaScript: {shot}", flush=True)


if __name__ == "__main__":
    work = tempfile.mkdtemp(prefix="ct-assessment-")
    try:
        main(work)
    except Exception as e:  # one clear line
        base.checks["failed"] += 1
        print(f"FAIL: {e}", flush=True)
    finally:
        for p in reversed(base.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in base.procs:
            try:
                rc = p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                rc = "killed after 15 s"
            check(rc == 0, f"{os.path.basename(p.args[0])} exit status {rc} on SIGTERM")
        if base.checks["failed"]:  # the daemons' last words, before their folder goes
            for log in sorted(glob.glob(os.path.join(work, "*.log"))):
                with open(log, encoding="utf-8", errors="replace") as f:
                    print(f"--- {log}\n" + "".join(f.readlines()[-15:]), flush=True)
        shutil.rmtree(work, ignore_errors=True)
    print(f"assessment page: {base.checks['passed']} passed, {base.checks['failed']} failed",
          flush=True)
    sys.exit(1 if base.checks["failed"] else 0)
