#!/usr/bin/env python3
"""Checks the progress bar's time-left estimate against the truth.

Runs `infoplane run ARGS...` under a pseudo-terminal (the bar is drawn only on a terminal),
timestamps every redraw as it arrives, and once the run is over compares each estimate made
after 5 % of the wall time with the time that really remained. Prints the worst ratio either
way (the target is within 2x) and the first estimate after 5 %.

    python3 benches/compare/eta_check.py target/release/infoplane --preset tishby --repeats 4
"""
import os
import pty
import re
import subprocess
import sys
import tempfile
import time

def main():
    binary, args = sys.argv[1], sys.argv[2:]
    out = tempfile.mkdtemp(prefix="eta-")
    cmd = [binary, "run", *args, "--no-plots", "--out", os.path.join(out, "run")]
    master, slave = pty.openpty()
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    seen = []  # (wall seconds since start, estimated seconds left)
    buf = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        now = time.monotonic() - start
        buf += chunk
        # A redraw is complete once the next one (or the final newline) starts.
        *done, buf = re.split(rb"[\r\n]", buf)
        for line in done:
            m = re.search(rb"(\d+)s left", line)
            if m:
                seen.append((now, float(m.group(1))))
    proc.wait()
    total = time.monotonic() - start
    if proc.returncode != 0:
        sys.exit(f"the run failed with {proc.returncode}")
    late = [(t, left) for t, left in seen if t >= 0.05 * total and total - t >= 1.0]
    if not late:
        sys.exit(f"no estimate after 5 % of {total:.1f} s (run a longer job)")
    if os.environ.get("ETA_VERBOSE"):
        for t, left in late:
            print(f"  {t:6.2f} s: {left:4.0f} s left, truth {total - t:5.1f} s")
    worst = max(max(left / (total - t), (total - t) / max(left, 0.5)) for t, left in late)
    t0, l0 = late[0]
    print(f"wall {total:.1f} s; {len(late)} estimates after 5 % (and >= 1 s before the end)")
    print(f"first: at {t0:.1f} s it said {l0:.0f} s left, the truth was {total - t0:.1f} s")
    print(f"worst ratio either way: {worst:.2f} (target <= 2)")

if __name__ == "__main__":
    main()
