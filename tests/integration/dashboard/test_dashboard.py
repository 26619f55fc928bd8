#!/usr/bin/python3
"""The bureau's dashboard in a real browser (issue 7, acceptance 4).

Against the test PostgreSQL cluster (CTest's `pg` fixture) this starts the real
citytally-aggregator with HTTP on a free port and 17 real collectors, delivers the bundled
sample files (deploy/sample/) through their spools, then loads the dashboard in Debian's
headless Chromium and checks that what the page shows equals /api/progress:

- with JavaScript (the page's script has redrawn it from /api/progress), and without
  (the server-rendered HTML alone), for every target: status, actual, target, percentage
  and the units' bars;
- the same for the half-year view (?as_of=2015-06-30), where statuses differ;
- the page refers to nothing outside the server.

The screenshot is written to $CT_ARTIFACT_DIR/dashboard.png (CTest attaches it).
Environment: CT_BIN_DIR, CT_SOURCE_DIR, CT_TEST_PGHOST, CT_TEST_PGPORT, CT_ARTIFACT_DIR.
"""
import glob
import html.parser
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

BIN = os.environ["CT_BIN_DIR"]
SRC = os.environ["CT_SOURCE_DIR"]
PGHOST = os.environ["CT_TEST_PGHOST"]
PGPORT = os.environ["CT_TEST_PGPORT"]
ARTIFACTS = os.environ.get("CT_ARTIFACT_DIR", os.path.join(os.getcwd(), "test-artifacts"))
CHROMIUM = "/usr/bin/chromium"
DB = "dashboard_browser"
STATUS_WORDS = {"met": "已完成", "on_track": "进度正常", "behind": "滞后", "no_data": "暂无数据"}
CMP = {">=": "≥", "<=": "≤", ">": ">", "<": "<"}

checks = {"passed": 0, "failed": 0}
procs = []


def check(cond, what):
    if cond:
        checks["passed"] += 1
    else:
        checks["failed"] += 1
        print(f"FAIL: {what}", flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def psql(dbname, sql):
    out = subprocess.run(["psql", "-X", "-q", "-tA", "-h", PGHOST, "-p", PGPORT, "-U",
                          "postgres", "-d", dbname, "-v", "ON_ERROR_STOP=1", "-c", sql],
                         check=True, capture_output=True, text=True)
    return out.stdout.strip()


def wait_until(what, cond, timeout):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.1)


def start(argv, log):
    p = subprocess.Popen(argv, stdout=open(log, "ab"), stderr=subprocess.STDOUT)
    procs.append(p)
    return p


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read().decode("utf-8")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8")


def fmt(v, decimals):
    """The page's rule (dashboard.c format_figure, the script's fmt): round the decimal text
    half away from zero, drop trailing zeros, group thousands."""
    if v is None:
        return "—"
    s = repr(v) if isinstance(v, float) else str(v)
    if "e" in s or "E" in s:
        s = f"{v:.{decimals}f}"
    neg = s.startswith("-")
    s = s.lstrip("-")
    ip, _, fp = s.partition(".")
    if len(fp) > decimals:
        digits = list(ip + fp[:decimals])
        up = fp[decimals] >= "5"
        i = len(digits) - 1
        while up and i >= 0:
            if digits[i] == "9":
                digits[i] = "0"
            else:
                digits[i] = str(int(digits[i]) + 1)
                up = False
            i -= 1
        if up:
            digits.insert(0, "1")
        joined = "".join(digits)
        ip, fp = joined[:len(joined) - decimals], joined[len(joined) - decimals:]
    fp = fp.rstrip("0")
    ip = ip.lstrip("0") or "0"
    ip = f"{int(ip):,}"
    out = ip + ("." + fp if fp else "")
    return ("-" if neg and any(c in "123456789" for c in out) else "") + out


class Page(html.parser.HTMLParser):
    """Collects each details.target: its data- attributes, the texts of its parts, and its
    unit rows; plus every src/href, to prove nothing is loaded from elsewhere."""

    def __init__(self):
        super().__init__()
        self.targets = []
        self.refs = []
        self.stack = []  # (tag, class) of open elements
        self.field = None
        self.unit = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        cls = a.get("class", "") or ""
        for key in ("src", "href"):
            if key in a:
                self.refs.append(a[key])
        if tag == "details" and "target" in cls.split():
            self.targets.append({"attrs": a, "text": {}, "units": []})
        elif self.targets and tag == "tr" and "data-district" in a:
            self.unit = {"district": a["data-district"], "value": a["data-value"], "text": ""}
            self.targets[-1]["units"].append(self.unit)
        if self.targets and tag == "span" and cls in ("actual", "goal", "unit", "pct", "status"):
            self.field = cls
        if self.unit is not None and tag == "td" and cls == "v":
            self.field = "unit-value"
        if tag not in ("br", "meta", "input", "link", "img"):
            self.stack.append((tag, cls, self.field))

    def handle_endtag(self, tag):
        while self.stack:
            t, cls, _ = self.stack.pop()
            if t == tag:
                break
        self.field = self.stack[-1][2] if self.stack else None
        if tag == "tr":
            self.unit = None

    def handle_data(self, data):
        if not self.targets or self.field is None:
            return
        if self.field == "unit-value":
            self.unit["text"] += data
        else:
            t = self.targets[-1]["text"]
            t[self.field] = t.get(self.field, "") + data


def chromium(url, out_dir, screenshot=None):
    profile = tempfile.mkdtemp(prefix="ct-chromium-", dir=out_dir)
    argv = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--no-first-run", "--disable-dev-shm-usage", f"--user-data-dir={profile}",
            "--virtual-time-budget=8000", "--window-size=1600,2600"]
    if screenshot:
        argv.append(f"--screenshot={screenshot}")
    else:
        argv.append("--dump-dom")
    r = subprocess.run(argv + [url], capture_output=True, text=True, timeout=120)
    shutil.rmtree(profile, ignore_errors=True)
    if r.returncode != 0:
        raise RuntimeError(f"chromium failed ({r.returncode}): {r.stderr[-2000:]}")
    return r.stdout


def compare(view, dom, doc):
    name = "dom-" + "".join(c if c.isalnum() else "-" for c in view) + ".html"
    with open(os.path.join(ARTIFACTS, name), "w", encoding="utf-8") as f:
        f.write(dom)  # what the browser had, for a failing run
    page = Page()
    page.feed(dom)
    shown = {t["attrs"].get("data-code"): t for t in page.targets}
    check(len(page.targets) == len(doc["targets"]),
          f"{view}: {len(page.targets)} targets shown, /api/progress has {len(doc['targets'])}")
    compared = 0
    for t in doc["targets"]:
        s = shown.get(t["code"])
        if s is None:
            check(False, f"{view}: target {t['code']} not shown")
            continue
        a, text = s["attrs"], s["text"]
        check(a.get("data-status") == t["status"],
              f"{view} {t['code']}: status {a.get('data-status')} != {t['status']}")
        check(STATUS_WORDS[t["status"]] in text.get("status", ""),
              f"{view} {t['code']}: status text {text.get('status')!r}")
        want_actual = fmt(t["actual"], 2)
        check(text.get("actual", "").strip() == want_actual,
              f"{view} {t['code']}: actual shown {text.get('actual')!r}, API {t['actual']} "
              f"-> {want_actual!r}")
        if t["actual"] is not None:
            check(abs(float(a.get("data-actual")) - t["actual"]) <= 1e-9 * max(1, abs(t["actual"])),
                  f"{view} {t['code']}: data-actual {a.get('data-actual')} != {t['actual']}")
        want_goal = CMP[t["comparator"]] + " " + fmt(t["target"], 2)
        check(text.get("goal", "").strip() == want_goal,
              f"{view} {t['code']}: target shown {text.get('goal')!r}, want {want_goal!r}")
        want_pct = "—" if t["pct"] is None else fmt(t["pct"], 1) + "%"
        check(text.get("pct", "").strip() == want_pct,
              f"{view} {t['code']}: pct shown {text.get('pct')!r}, want {want_pct!r}")
        check(text.get("unit", "").strip() == t["unit"],
              f"{view} {t['code']}: unit {text.get('unit')!r} != {t['unit']!r}")
        bars = {u["district"]: u for u in s["units"]}
        check(len(bars) == len(t["by_district"]),
              f"{view} {t['code']}: {len(bars)} unit bars, API has {len(t['by_district'])}")
        for u in t["by_district"]:
            b = bars.get(u["district"])
            if b is None:
                check(False, f"{view} {t['code']}: no bar for {u['district']}")
                continue
            check(b["text"].split(" (")[0].strip() == fmt(u["value"], 2),
                  f"{view} {t['code']}/{u['district']}: {b['text']!r} vs {u['value']}")
        compared += 1
    external = [r for r in page.refs if r.startswith(("http:", "https:", "//"))]
    check(not external, f"{view}: external references {external}")
    print(f"{view}: compared {compared} targets with /api/progress", flush=True)
    return compared


def main(work):
    os.makedirs(ARTIFACTS, exist_ok=True)
    http_port, zmq_port, feed_port = free_port(), free_port(), free_port()
    psql("postgres", f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
    psql("postgres", f'CREATE DATABASE "{DB}"')
    conninfo = f"host={PGHOST} port={PGPORT} user=postgres dbname={DB}"
    agg_log = os.path.join(work, "aggregator.log")
    start([os.path.join(BIN, "citytally-aggregator"), "--db", conninfo, "--insecure",
           "--listen", f"tcp://127.0.0.1:{zmq_port}", "--publish", f"tcp://127.0.0.1:{feed_port}",
           "--http", f"127.0.0.1:{http_port}"], agg_log)
    wait_until("the aggregator", lambda: "ready:" in open(agg_log, encoding="utf-8").read(), 60)
    base = f"http://127.0.0.1:{http_port}"

    units = [line.split(",")[0] for line in open(os.path.join(SRC, "data/districts.csv"))][1:]
    for unit in units:
        psql(DB, f"INSERT INTO agents (agent_id, district) VALUES ('{unit}-1', '{unit}')")
    psql(DB, "NOTIFY citytally_agents")
    for unit in units:
        d = os.path.join(work, unit)
        os.makedirs(os.path.join(d, "spool"))
        start([os.path.join(BIN, "citytally-collector"), "--agent", f"{unit}-1", "--district",
               unit, "--connect", f"tcp://127.0.0.1:{zmq_port}", "--state-dir",
               os.path.join(d, "state"), "--spool", os.path.join(d, "spool"), "--insecure"],
              os.path.join(work, f"collector-{unit}.log"))

    def welcomed(unit):
        r = subprocess.run([os.path.join(BIN, "citytally-collector"), "status", "--state-dir",
                            os.path.join(work, unit, "state")], capture_output=True, text=True)
        return any(line.startswith("catalog:") and line.split()[1].isdigit()
                   for line in r.stdout.splitlines())
    wait_until("17 welcomed collectors", lambda: all(welcomed(u) for u in units), 60)

    expected = 0
    for unit in units:
        for f in sorted(glob.glob(os.path.join(SRC, "deploy/sample", unit, "*.csv"))):
            expected += sum(1 for _ in open(f, "rb")) - 1
            tmp = os.path.join(work, unit, "spool", "." + os.path.basename(f) + ".part")
            shutil.copyfile(f, tmp)
            os.rename(tmp, os.path.join(work, unit, "spool", os.path.basename(f)))
    wait_until(f"{expected} stored updates", lambda: int(psql(
        DB, "SELECT (SELECT count(*) FROM updates) + (SELECT count(*) FROM rejected_updates)"))
        >= expected, 300)
    check(psql(DB, "SELECT count(*) FROM rejected_updates") == "0", "sample updates rejected")
    print(f"delivered {expected} sample updates through 17 collectors", flush=True)

    total = 0
    for view, query in (("year-end", "year=2015"), ("half-year", "year=2015&as_of=2015-06-30")):
        status, body = get(f"{base}/api/progress?{query}")
        check(status == 200, f"/api/progress?{query}: HTTP {status}")
        doc = json.loads(body)
        check(len(doc["targets"]) == 35, f"{view}: {len(doc['targets'])} targets")
        total += compare(f"{view}, with JavaScript", chromium(f"{base}/?{query}", work), doc)
        # Without scripts the page is the server's HTML as it came (--dump-dom itself
        # needs JavaScript, so the browser's no-script view is checked as a screenshot).
        status, served = get(f"{base}/?{query}")
        check(status == 200, f"/?{query}: HTTP {status}")
        total += compare(f"{view}, without JavaScript", served, doc)
        statuses = {t["status"] for t in doc["targets"]}
        print(f"{view}: statuses {sorted(statuses)}", flush=True)
    status, _ = get(f"{base}/?year=abc")
    check(status == 400, f"/?year=abc: HTTP {status}")

    shot = os.path.join(ARTIFACTS, "dashboard.png")
    chromium(f"{base}/?year=2015", work, screenshot=shot)
    check(os.path.getsize(shot) > 50000, f"screenshot {shot} is {os.path.getsize(shot)} bytes")
    print(f"screenshot: {shot}", flush=True)
    # Chromium has no switch that turns scripts off and still screenshots, so the page is
    # shown as a browser without JavaScript gets it: the served HTML, scripts removed.
    status, served = get(f"{base}/?year=2015&as_of=2015-06-30")
    noscript = os.path.join(work, "noscript.html")
    with open(noscript, "w", encoding="utf-8") as f:
        f.write(re.sub(r"<script\b.*?</script>", "", served, flags=re.S))
    shot = os.path.join(ARTIFACTS, "dashboard-noscript.png")
    chromium("file://" + noscript, work, screenshot=shot)
    check(os.path.getsize(shot) > 50000, f"screenshot {shot} is {os.path.getsize(shot)} bytes")
    print(f"screenshot without JavaScript, as of 2015-06-30: {shot}", flush=True)
    print(f"compared {total} target views with /api/progress", flush=True)


if __name__ == "__main__":
    work = tempfile.mkdtemp(prefix="ct-dashboard-")
    try:
        main(work)
    except Exception as e:  # one clear line, then the logs' tails help
        checks["failed"] += 1
        print(f"FAIL: {e}", flush=True)
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                rc = p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                rc = "killed after 15 s"
            # A clean stop is part of the contract (and what a sanitizer build reports on).
            check(rc == 0, f"{os.path.basename(p.args[0])} exit status {rc} on SIGTERM")
        if checks["failed"]:  # the daemons' last words, before their folder goes
            for log in sorted(glob.glob(os.path.join(work, "*.log"))):
                with open(log, encoding="utf-8", errors="replace") as f:
                    print(f"--- {log}\n" + "".join(f.readlines()[-15:]), flush=True)
        shutil.rmtree(work, ignore_errors=True)
    print(f"dashboard: {checks['passed']} passed, {checks['failed']} failed", flush=True)
    sys.exit(1 if checks["failed"] else 0)
