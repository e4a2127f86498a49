"""Run `pip install -v ...` with its whole output in a log file and a short progress on screen.

    python scripts/pip_progress.py LOG -- python -m pip install -v -e '.[llamacpp,dev]'

pip's quiet mode hides a compile of several minutes (llama-cpp-python from source), its verbose
mode prints every compiler command line. This prints what a person wants to watch: the
packages being collected and built, and the compile as `[k/n]` steps with the elapsed time
(a line that updates in a terminal, a line every 5% otherwise). On failure it prints the end
of the log. Exit status: pip's. Standard library only (it runs before anything is installed).
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections import deque

STEP = re.compile(r"^\s*\[\s*(\d+)\s*/\s*(\d+)\s*\]")  # ninja: [k/n] ...
PERCENT = re.compile(r"^\s*\[\s*(\d+)%\]")  # make: [ 12%] ...
SHOW = ("Collecting ", "Building wheel for ", "Created wheel for ", "Successfully installed ",
        "Building editable for ", "ERROR", "error:")


def main(argv: list[str]) -> int:
    if "--" not in argv or argv.index("--") != 1:
        print(__doc__, file=sys.stderr)
        return 2
    log_path, command = argv[0], argv[2:]
    tty = sys.stdout.isatty()
    started = time.monotonic()
    shown = -1
    tail: deque[str] = deque(maxlen=60)
    building = False

    def elapsed() -> str:
        s = int(time.monotonic() - started)
        return f"{s // 60}m{s % 60:02d}s"

    with open(log_path, "w", encoding="utf-8", errors="replace") as log:
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, errors="replace", bufsize=1)
        assert proc.stdout is not None
        for line in proc.stdout:
            log.write(line)
            tail.append(line)
            progress = None
            if m := STEP.match(line):
                done, total = int(m.group(1)), int(m.group(2))
                progress = (done * 100 // max(total, 1), f"{done}/{total}")
            elif m := PERCENT.match(line):
                progress = (int(m.group(1)), f"{m.group(1)}%")
            if progress:
                percent, what = progress
                if tty:
                    print(f"\r  compiling {what} ({percent}%)  {elapsed()}", end="", flush=True)
                    building = True
                elif percent // 5 != shown // 5:
                    print(f"  compiling {what} ({percent}%)  {elapsed()}", flush=True)
                shown = percent
                continue
            if line.lstrip().startswith(SHOW):
                if building:
                    print()
                    building = False
                print(f"{line.strip()[:150]}  [{elapsed()}]", flush=True)
        code = proc.wait()
    if building:
        print()
    if code != 0:
        print(f"\n--- pip failed (exit {code}); the end of {log_path}:", file=sys.stderr)
        sys.stderr.writelines(tail)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
