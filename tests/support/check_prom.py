#!/usr/bin/python3
"""Checks a Prometheus text exposition with Debian's prometheus_client parser.

Usage: check_prom.py FILE|URL|-

The prometheus_client parser is lax (a stray sample becomes an "untyped" family rather
than an error), so on top of it this script insists on what Prometheus' own parser and
good practice demand: every family has # HELP and # TYPE before its samples and appears
once, no untyped families, sample lines follow the grammar, histogram buckets are
cumulative, end with le="+Inf" and agree with _count.

On success it prints one line per sample, "NAME{k="v",...} VALUE", sorted, then "ok N
families"; on failure one line "error: ..." on stderr and exit status 1.
"""
import math
import re
import sys
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\n"])*"'
VALUE = r"(?:[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[+-]Inf|NaN)"
SAMPLE_RE = re.compile(
    rf"^({NAME})(?:\{{(?:{LABEL}(?:,{LABEL})*,?)?\}})? {VALUE}(?: -?[0-9]+)?$")


def fail(msg):
    print(f"error: {msg}", file=sys.stderr)
    sys.exit(1)


def read(source):
    if source == "-":
        return sys.stdin.read()
    if source.startswith(("http://", "https://")):
        with urllib.request.urlopen(source, timeout=10) as resp:
            ctype = resp.headers.get("Content-Type", "")
            if not ctype.startswith("text/plain"):
                fail(f"Content-Type is {ctype!r}, expected text/plain; version=0.0.4")
            return resp.read().decode("utf-8")
    with open(source, encoding="utf-8") as f:
        return f.read()


def check_lines(text):
    """Grammar and ordering, line by line."""
    declared = {}  # family -> type
    current = None
    helped = set()
    for n, line in enumerate(text.split("\n"), 1):
        if line == "":
            continue
        if line.startswith("# HELP "):
            name = line.split(" ", 3)[2]
            if name in helped:
                fail(f"line {n}: second # HELP for {name}")
            helped.add(name)
            current = name
            continue
        if line.startswith("# TYPE "):
            parts = line.split(" ")
            if len(parts) != 4 or parts[3] not in ("counter", "gauge", "histogram", "summary"):
                fail(f"line {n}: malformed # TYPE line: {line!r}")
            if parts[2] in declared:
                fail(f"line {n}: second # TYPE for {parts[2]}")
            if parts[2] not in helped:
                fail(f"line {n}: # TYPE {parts[2]} without # HELP before it")
            declared[parts[2]] = parts[3]
            current = parts[2]
            continue
        if line.startswith("#"):
            continue
        m = SAMPLE_RE.match(line)
        if not m:
            fail(f"line {n}: not a valid sample line: {line!r}")
        name = m.group(1)
        suffixes = {"histogram": ("_bucket", "_sum", "_count")}.get(declared.get(current), ())
        if current is None or not (name == current or name in (current + s for s in suffixes)):
            fail(f"line {n}: sample {name} outside its family (current family: {current})")
    if not text.endswith("\n"):
        fail("the exposition does not end with a newline")
    return declared


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    text = read(sys.argv[1])
    declared = check_lines(text)
    families = list(text_string_to_metric_families(text))
    seen = set()
    out = []
    for fam in families:
        if fam.type == "untyped":
            fail(f"family {fam.name} is untyped (missing # TYPE?)")
        if not fam.documentation:
            fail(f"family {fam.name} has no # HELP text")
        if fam.name in seen:
            fail(f"family {fam.name} appears twice")
        seen.add(fam.name)
        if fam.type == "histogram":
            check_histogram(fam)
        for s in fam.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
            value = s.value
            shown = repr(value) if math.isfinite(value) else str(value)
            if math.isfinite(value) and value == int(value) and abs(value) < 2**53:
                shown = str(int(value))
            out.append(f"{s.name}{{{labels}}} {shown}" if labels else f"{s.name} {shown}")
    if len(families) != len(declared):
        fail(f"{len(declared)} families declared, {len(families)} parsed")
    for line in sorted(out):
        print(line)
    print(f"ok {len(families)} families")


def check_histogram(fam):
    series = {}
    for s in fam.samples:
        key = tuple(sorted((k, v) for k, v in s.labels.items() if k != "le"))
        entry = series.setdefault(key, {"buckets": [], "count": None, "sum": None})
        if s.name.endswith("_bucket"):
            if "le" not in s.labels:
                fail(f"{s.name} without le label")
            entry["buckets"].append((float(s.labels["le"]), s.value))
        elif s.name.endswith("_count"):
            entry["count"] = s.value
        elif s.name.endswith("_sum"):
            entry["sum"] = s.value
    for key, e in series.items():
        b = e["buckets"]
        if not b or b[-1][0] != math.inf:
            fail(f"histogram {fam.name}{dict(key)} does not end with le=\"+Inf\"")
        for (le1, v1), (le2, v2) in zip(b, b[1:]):
            if not le2 > le1:
                fail(f"histogram {fam.name}: bounds not increasing ({le1}, {le2})")
            if v2 < v1:
                fail(f"histogram {fam.name}: buckets not cumulative at le={le2}")
        if e["count"] is None or e["sum"] is None:
            fail(f"histogram {fam.name}{dict(key)} lacks _count or _sum")
        if e["count"] != b[-1][1]:
            fail(f"histogram {fam.name}: _count {e['count']} != +Inf bucket {b[-1][1]}")


if __name__ == "__main__":
    main()
