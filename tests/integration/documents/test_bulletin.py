#!/usr/bin/python3
"""The printable bulletin (issue 18, CONTRACT section 11) printed to PDF by Chromium.

With the sample data delivered (harness.Deployment), GET /bulletin?year=2015&as_of=2015-06-30
is checked as served (a row per target of /api/progress, with its status; headline counts;
no script, nothing from another host) and then printed to A4 PDF by Debian's headless
Chromium. Through poppler's pdftotext the PDF names all 35 targets, and page by page no
table row is cut across a page break: each row's code, its Chinese name and its status
word are on one page, and every page the table continues on repeats its header. The
first page as a PNG and the PDF go to $CT_ARTIFACT_DIR (CTest attaches them).
Failure paths: bad parameters are 400, a year without targets is 404.
"""
import html.parser
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from harness import ARTIFACTS, Checks, Deployment, get

CHROMIUM = "/usr/bin/chromium"
STATUS_WORDS = {"met": "已完成", "on_track": "进度正常", "behind": "滞后", "no_data": "暂无数据"}
QUERY = "year=2015&as_of=2015-06-30"

checks = Checks("bulletin")
check = checks.check


class Page(html.parser.HTMLParser):
    """Each <tr data-code> of the targets table with its text; every src/href; scripts."""

    def __init__(self):
        super().__init__()
        self.rows = {}
        self.order = []
        self.row = None
        self.refs = []
        self.scripts = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.refs += [a[k] for k in ("src", "href") if k in a]
        if tag == "script":
            self.scripts += 1
        if tag == "tr" and "data-code" in a:
            self.row = a["data-code"]
            self.order.append(self.row)
            self.rows[self.row] = {"class": a.get("class"), "text": ""}

    def handle_endtag(self, tag):
        if tag == "tr":
            self.row = None

    def handle_data(self, data):
        if self.row is not None:
            self.rows[self.row]["text"] += data


def squash(text):
    return re.sub(r"\s+", "", text)


def chromium_pdf(url, pdf, work):
    profile = tempfile.mkdtemp(prefix="ct-chromium-", dir=work)
    argv = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--disable-dev-shm-usage", f"--user-data-dir={profile}",
            f"--print-to-pdf={pdf}", "--no-pdf-header-footer", url]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    shutil.rmtree(profile, ignore_errors=True)
    if r.returncode != 0 or not os.path.exists(pdf):
        raise RuntimeError(f"chromium failed ({r.returncode}): {r.stderr[-2000:]}")


def pdftotext(pdf, page=None):
    argv = ["pdftotext", "-enc", "UTF-8"]
    if page is not None:
        argv += ["-f", str(page), "-l", str(page)]
    return subprocess.run(argv + [pdf, "-"], check=True, capture_output=True,
                          text=True).stdout


def page_count(pdf):
    info = subprocess.run(["pdfinfo", pdf], check=True, capture_output=True, text=True).stdout
    pages = int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))
    size = re.search(r"^Page size:\s+([\d.]+) x ([\d.]+) pts", info, re.M)
    return pages, (float(size.group(1)), float(size.group(2)))


def main(dep):
    dep.start()
    work = tempfile.mkdtemp(prefix="ct-bulletin-", dir=dep.work)
    status, _, body = get(f"{dep.base}/api/progress?{QUERY}")
    doc = json.loads(body)
    targets = doc["targets"]
    check(len(targets) == 35, f"/api/progress: {len(targets)} targets")

    status, headers, body = get(f"{dep.base}/bulletin?{QUERY}")
    check(status == 200, f"/bulletin?{QUERY}: HTTP {status}")
    check(headers.get("Content-Type") == "text/html; charset=utf-8",
          f"content type {headers.get('Content-Type')}")
    check("default-src 'none'" in (headers.get("Content-Security-Policy") or ""),
          f"CSP {headers.get('Content-Security-Policy')}")
    served = body.decode("utf-8")
    page = Page()
    page.feed(served)
    check(page.order == [t["code"] for t in targets], f"rows {page.order}")
    for t in targets:
        row = page.rows.get(t["code"], {"class": None, "text": ""})
        check(row["class"] == t["status"], f"{t['code']}: row class {row['class']}")
        check(t["name_zh"] in row["text"] and STATUS_WORDS[t["status"]] in row["text"],
              f"{t['code']}: row text {row['text']!r}")
    counts = {s: sum(1 for t in targets if t["status"] == s) for s in STATUS_WORDS}
    headline = (f"已完成 <b>{counts['met']}</b> 项，进度正常 <b>{counts['on_track']}</b> 项，"
                f"滞后 <b>{counts['behind']}</b> 项，暂无数据 <b>{counts['no_data']}</b> 项")
    check(headline in served, f"headline counts {counts} not in the page")
    check(page.scripts == 0, f"{page.scripts} scripts in the page")
    check(not [r for r in page.refs if r.startswith(("http:", "https:", "//"))],
          f"external references {page.refs}")
    print(f"as of 2015-06-30: {counts}", flush=True)

    pdf = os.path.join(work, "bulletin.pdf")
    chromium_pdf(f"{dep.base}/bulletin?{QUERY}", pdf, work)
    shutil.copyfile(pdf, os.path.join(ARTIFACTS, "bulletin.pdf"))
    pages, (w, h) = page_count(pdf)
    check(abs(w - 595.28) < 2 and abs(h - 841.89) < 2, f"page size {w} x {h} pts is not A4")
    check(2 <= pages <= 6, f"{pages} pages")
    whole = squash(pdftotext(pdf))
    missing = [t["code"] for t in targets if squash(t["name_zh"]) not in whole]
    check(not missing, f"the PDF does not name {missing}")

    # Page by page: a row's code is a line of its own; its name and status must be on the
    # same page (a row cut by a page break leaves them on different ones).
    texts = [pdftotext(pdf, n) for n in range(1, pages + 1)]
    on_page = {}
    for t in targets:
        where = [n for n, text in enumerate(texts, 1)
                 if t["code"] in (line.strip() for line in text.splitlines())]
        # the targets table comes first; a later section may name the code again
        check(len(where) >= 1, f"{t['code']} is on no page")
        if not where:
            continue
        text = squash(texts[where[0] - 1])
        on_page.setdefault(where[0], []).append(t["code"])
        check(squash(t["name_zh"]) in text,
              f"{t['code']}: its name is not on page {where[0]} with its code (row split)")
        check(STATUS_WORDS[t["status"]] in text,
              f"{t['code']}: its status is not on page {where[0]} with its code (row split)")
    for n, codes in sorted(on_page.items()):
        # the repeated header of the targets table
        check("完成值" in texts[n - 1] and "完成率" in texts[n - 1],
              f"page {n} has rows {codes[:2]}... but no table header")
    print(f"{pages} A4 pages; rows per page: "
          f"{ {n: len(c) for n, c in sorted(on_page.items())} }", flush=True)

    png = os.path.join(ARTIFACTS, "bulletin-page1")
    subprocess.run(["pdftoppm", "-png", "-r", "110", "-f", "1", "-l", "1", "-singlefile", pdf,
                    png], check=True)
    check(os.path.getsize(png + ".png") > 30000, f"{png}.png is too small to show the page")
    print(f"first page: {png}.png", flush=True)

    for query, want in (("year=abc", 400), ("year=1999", 404), ("as_of=tomorrow", 400),
                        ("bogus=1", 400)):
        status, _, _ = get(f"{dep.base}/bulletin?{query}")
        check(status == want, f"/bulletin?{query}: HTTP {status}, want {want}")


if __name__ == "__main__":
    os.makedirs(ARTIFACTS, exist_ok=True)
    dep = Deployment("documents_bulletin", checks)
    try:
        main(dep)
    except Exception as e:  # one clear line; the logs stay in dep.work
        import traceback
        traceback.print_exc()
        check(False, f"{type(e).__name__}: {e}")
    finally:
        dep.stop()
    sys.exit(checks.close())
