"""Run every benchmark in bench/ (`make bench`), one after the other, each in its own process
with this Python, the current environment (DATABASE_URL included) and a time limit; exit
non-zero if any fails. A benchmark is any `bench/*.py` but the helpers in NOT_BENCHMARKS and
files starting with `_`: today active_sessions.py, actions.py, portal_render.py and
server_events.py (the Server Events stream, issue 10).
"""

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
NOT_BENCHMARKS = {"run_all.py", "harness.py", "baseline_server.py"}
TIME_LIMIT = 600  # seconds per benchmark; each bounds its own loops well below this


def run(script: Path) -> int:
    """Run one benchmark in a process group of its own, stopped with its servers on timeout,
    Ctrl-C or SIGTERM."""
    process = subprocess.Popen(
        [sys.executable, str(script)], cwd=BENCH_DIR.parent, start_new_session=True
    )
    try:
        return process.wait(TIME_LIMIT)
    except subprocess.TimeoutExpired:
        print(f"{script.name} did not finish in {TIME_LIMIT}s: stopping it")
        _stop_group(process)
        return -1
    except BaseException:  # Ctrl-C, or SIGTERM (see main)
        _stop_group(process)
        raise


def _stop_group(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGTERM)  # the benchmark stops its servers on SIGTERM
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def benchmarks() -> list[Path]:
    """The benchmark scripts, in name order."""
    return sorted(
        path
        for path in BENCH_DIR.glob("*.py")
        if path.name not in NOT_BENCHMARKS and not path.name.startswith("_")
    )


def main() -> int:
    bounds = f"Each benchmark gets {TIME_LIMIT}s, then SIGTERM and 30s more before SIGKILL."
    argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=bounds).parse_args()
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    scripts = benchmarks()
    if not scripts:
        print("no benchmarks found in bench/")
        return 1
    failed = []
    for script in scripts:
        print(f"=== {script.name}", flush=True)
        started = time.monotonic()
        code = run(script)
        print(
            f"=== {script.name}: {'ok' if code == 0 else f'FAILED ({code})'} "
            f"in {time.monotonic() - started:.0f}s\n",
            flush=True,
        )
        if code != 0:
            failed.append(script.name)
    if failed:
        print(f"failed: {', '.join(failed)}")
        return 1
    print(f"all {len(scripts)} benchmark(s) passed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
