"""What the document tests share (test_xlsx.py, test_bulletin.py).

Against the test PostgreSQL cluster (CTest's `pg` fixture) a `Deployment` creates a
database of its own, starts the real citytally-aggregator (HTTP on a free port) and 17 real
collectors, and delivers the bundled sample files (deploy/sample/) through their spools, as
tests/integration/dashboard/test_dashboard.py does. `Checks` counts assertions and prints
the closing line; every process started is stopped with SIGTERM and must exit 0.
Environment: CT_BIN_DIR, CT_SOURCE_DIR, CT_TEST_PGHOST, CT_TEST_PGPORT, CT_ARTIFACT_DIR.
"""
import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

BIN = os.environ["CT_BIN_DIR"]
SRC = os.environ["CT_SOURCE_DIR"]
PGHOST = os.environ["CT_TEST_PGHOST"]
PGPORT = os.environ["CT_TEST_PGPORT"]
ARTIFACTS = os.environ.get("CT_ARTIFACT_DIR", os.path.join(os.getcwd(), "test-artifacts"))
AGGREGATOR = os.path.join(BIN, "citytally-aggregator")
COLLECTOR = os.path.join(BIN, "citytally-collector")


class Checks:
    def __init__(self, name):
        self.name = name
        self.passed = 0
        self.failed = 0

    def check(self, cond, what):
        if cond:
            self.passed += 1
        else:
            self.failed += 1
            print(f"FAIL: {what}", flush=True)
        return cond

    def close(self):
        print(f"{self.name}: {self.passed} passed, {self.failed} failed", flush=True)
        return 1 if self.failed else 0


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


def get(url):
    """(status, headers, body bytes)"""
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def units():
    """The reporting units of data/districts.csv: [(id, name_zh, name_en)] in its order."""
    rows = []
    with open(os.path.join(SRC, "data/districts.csv"), encoding="utf-8") as f:
        next(f)
        for line in f:
            cells = line.rstrip("\n").split(",")
            rows.append((cells[0], cells[1], cells[2]))
    return rows


class Deployment:
    """The aggregator with the sample data delivered; `base` is its HTTP address."""

    def __init__(self, db, checks):
        self.db = db
        self.checks = checks
        self.procs = []
        self.work = tempfile.mkdtemp(prefix=f"ct-{db}-")
        self.tmpdir = os.path.join(self.work, "tmp")  # the aggregator's TMPDIR
        os.makedirs(self.tmpdir)
        self.conninfo = f"host={PGHOST} port={PGPORT} user=postgres dbname={db}"
        self.base = None

    def _start(self, argv, log, env=None):
        p = subprocess.Popen(argv, stdout=open(log, "ab"), stderr=subprocess.STDOUT, env=env)
        self.procs.append(p)
        return p

    def start(self):
        http_port, zmq_port, feed_port = free_port(), free_port(), free_port()
        psql("postgres", f'DROP DATABASE IF EXISTS "{self.db}" WITH (FORCE)')
        psql("postgres", f'CREATE DATABASE "{self.db}"')
        agg_log = os.path.join(self.work, "aggregator.log")
        self.agg_log = agg_log
        env = dict(os.environ, TMPDIR=self.tmpdir)
        self._start([AGGREGATOR, "--db", self.conninfo, "--insecure", "--listen",
                     f"tcp://127.0.0.1:{zmq_port}", "--publish", f"tcp://127.0.0.1:{feed_port}",
                     "--http", f"127.0.0.1:{http_port}"], agg_log, env)
        wait_until("the aggregator",
                   lambda: "ready:" in open(agg_log, encoding="utf-8").read(), 60)
        self.base = f"http://127.0.0.1:{http_port}"
        # The units' own targets, as the quickstart loads them: the assessment has content.
        r = subprocess.run([AGGREGATOR, "targets", "import",
                            os.path.join(SRC, "deploy/sample/targets-2015-units.csv"),
                            "--db", self.conninfo], capture_output=True, text=True)
        self.checks.check(r.returncode == 0, f"targets import of the units' split: {r.stderr}")
        ids = [u[0] for u in units()]
        for unit in ids:
            psql(self.db, f"INSERT INTO agents (agent_id, district) VALUES ('{unit}-1', '{unit}')")
        psql(self.db, "NOTIFY citytally_agents")
        for unit in ids:
            d = os.path.join(self.work, unit)
            os.makedirs(os.path.join(d, "spool"))
            self._start([COLLECTOR, "--agent", f"{unit}-1", "--district", unit, "--connect",
                         f"tcp://127.0.0.1:{zmq_port}", "--state-dir", os.path.join(d, "state"),
                         "--spool", os.path.join(d, "spool"), "--insecure"],
                        os.path.join(self.work, f"collector-{unit}.log"))

        def welcomed(unit):
            r = subprocess.run([COLLECTOR, "status", "--state-dir",
                                os.path.join(self.work, unit, "state")],
                               capture_output=True, text=True)
            return any(line.startswith("catalog:") and line.split()[1].isdigit()
                       for line in r.stdout.splitlines())
        wait_until("17 welcomed collectors", lambda: all(welcomed(u) for u in ids), 60)

        expected = 0
        for unit in ids:
            for f in sorted(glob.glob(os.path.join(SRC, "deploy/sample", unit, "*.csv"))):
                expected += sum(1 for _ in open(f, "rb")) - 1
                tmp = os.path.join(self.work, unit, "spool", "." + os.path.basename(f) + ".part")
                shutil.copyfile(f, tmp)
                os.rename(tmp, os.path.join(self.work, unit, "spool", os.path.basename(f)))
        wait_until(f"{expected} stored updates", lambda: int(psql(
            self.db, "SELECT (SELECT count(*) FROM updates) + "
                     "(SELECT count(*) FROM rejected_updates)")) >= expected, 300)
        self.checks.check(psql(self.db, "SELECT count(*) FROM rejected_updates") == "0",
                          "sample updates rejected")
        print(f"delivered {expected} sample updates through 17 collectors", flush=True)

    def report(self, *args):
        """`citytally-aggregator report --db ... ARGS`: (exit status, stdout, stderr)."""
        r = subprocess.run([AGGREGATOR, "report", "--db", self.conninfo, *args],
                           capture_output=True, timeout=120)
        return r.returncode, r.stdout, r.stderr.decode("utf-8", "replace")

    def stop(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                rc = p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                rc = "killed after 15 s"
            # A clean stop is part of the contract (and what a sanitizer build reports on).
            self.checks.check(rc == 0, f"{os.path.basename(p.args[0])} exit status {rc} "
                                       "on SIGTERM")
        if self.checks.failed == 0:
            shutil.rmtree(self.work, ignore_errors=True)
        else:
            print(f"kept {self.work} (logs) for the failed run", flush=True)
