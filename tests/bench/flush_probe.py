#!/usr/bin/env python3
"""Does this disk's flush stall? The WAL's write pattern, without PostgreSQL.

    tests/bench/flush_probe.py [--dir DIR] [--seconds S] [--kib K] [--per-second F]
                               [--dirty-mib-per-second D]

Overwrites a preallocated 16 MiB file (a recycled WAL segment) K KiB at a time, F times a
second, each write followed by fdatasync, as PostgreSQL's commits do; beside it a thread
dirties the page cache at D MiB/s without syncing, as backends evicting table pages do.
Prints the flushes' p50/p99/max and each flush over 30 ms with its time. The defaults are
what the half-rate phase of tests/bench/run.sh does to the disk: 160 KiB 160 times a
second beside 14 MiB/s. On a steady disk every flush stays under a few ms; tests/bench/
RESULTS.md shows this VM's, and why they decide the benchmark's p99.
"""
import argparse
import os
import sys
import threading
import time

SEGMENT = 16 << 20


def dirty_writer(path, mib_per_second, stop):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        chunk = b"d" * 8192
        per_tick = max(1, int(mib_per_second * (1 << 20) / 8192 / 20))
        while not stop.is_set():
            for _ in range(per_tick):
                os.write(fd, chunk)
            time.sleep(0.05)
    finally:
        os.close(fd)
        os.unlink(path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", default="/var/tmp", help="where the files go (default /var/tmp)")
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--kib", type=int, default=160, help="bytes per flush, in KiB")
    ap.add_argument("--per-second", type=float, default=160, help="flushes per second")
    ap.add_argument("--dirty-mib-per-second", type=float, default=14)
    a = ap.parse_args()
    for name, value, low, high in (("--seconds", a.seconds, 1, 3600), ("--kib", a.kib, 1, 16384),
                                   ("--per-second", a.per_second, 1, 10000),
                                   ("--dirty-mib-per-second", a.dirty_mib_per_second, 0, 1024)):
        if not low <= value <= high:
            sys.exit("flush_probe: %s must be from %g to %g, not %g" % (name, low, high, value))

    path = os.path.join(a.dir, "flush_probe.%d" % os.getpid())
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    stop = threading.Event()
    dirtier = None
    try:
        os.write(fd, b"\0" * SEGMENT)
        os.fsync(fd)
        if a.dirty_mib_per_second > 0:
            dirtier = threading.Thread(target=dirty_writer,
                                       args=(path + ".dirty", a.dirty_mib_per_second, stop))
            dirtier.start()
        buf = b"w" * (a.kib << 10)
        interval = 1 / a.per_second
        latencies, slow = [], []
        offset = 0
        end = time.monotonic() + a.seconds
        while time.monotonic() < end:
            t0 = time.monotonic()
            os.pwrite(fd, buf, offset)
            os.fdatasync(fd)
            ms = (time.monotonic() - t0) * 1000
            latencies.append(ms)
            if ms > 30:
                slow.append("%s %.0f ms" % (time.strftime("%H:%M:%S"), ms))
            offset = (offset + len(buf)) % (SEGMENT - len(buf) + 1)
            time.sleep(max(0.0, interval - ms / 1000))
    finally:
        stop.set()
        if dirtier is not None:
            dirtier.join()
        os.close(fd)
        os.unlink(path)

    latencies.sort()
    n = len(latencies)
    print("flushes=%d kib=%d per_second=%g dirty_mib_s=%g p50_ms=%.2f p99_ms=%.2f max_ms=%.2f"
          " over_30ms=%d" % (n, a.kib, a.per_second, a.dirty_mib_per_second,
                              latencies[n // 2], latencies[int(n * 0.99)], latencies[-1],
                              len(slow)))
    for s in slow:
        print("  slow flush at " + s)


if __name__ == "__main__":
    main()
