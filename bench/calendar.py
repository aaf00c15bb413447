# ruff: noqa: E402  (imports follow the sys.path repair below)
"""Calendar benchmark: `add_working_days` against a naive day-by-day loop, in the same run.

Prints figures; asserts nothing and exits 0 (run by `make bench`; see bench/README.md).
  - engine: `WorkingCalendar.add_working_days` (two binary searches over the working days);
  - naive: step one day at a time from the start day and ask `chinese_calendar.is_workday`
    until N working days are counted, the obvious implementation;
both over the same 100k (start instant, N) pairs drawn with a fixed seed from 2004–2026 with
N in 1..15, after checking that both give the same due day for every pair.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path and its name would hide the
# standard library's `calendar` (SpiffWorkflow imports it): put the project root there instead.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [str(_HERE.parent)] + [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import argparse
import platform
import random
import statistics
import time
from datetime import UTC, datetime, timedelta

import chinese_calendar

from engine.calendar import calendar_for
from engine.clock import SHANGHAI


def naive_add_working_days(start: datetime, days: int) -> datetime:
    day = start.astimezone(SHANGHAI).date()
    counted = 0
    while counted < days:
        day += timedelta(days=1)
        if chinese_calendar.is_workday(day):
            counted += 1
    return datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=SHANGHAI)


def cases(count: int, seed: int) -> list[tuple[datetime, int]]:
    rng = random.Random(seed)
    first = datetime(2004, 1, 1, tzinfo=UTC).timestamp()
    last = datetime(2026, 11, 30, tzinfo=UTC).timestamp()  # leaves room for 15 working days
    return [(datetime.fromtimestamp(rng.uniform(first, last), UTC), rng.randint(1, 15)) for _ in range(count)]


def timed(func, pairs) -> float:
    began = time.perf_counter()
    for start, days in pairs:
        func(start, days)
    return time.perf_counter() - began


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()

    calendar = calendar_for()
    pairs = cases(args.calls, seed=20260123)
    mismatches = sum(calendar.add_working_days(s, n) != naive_add_working_days(s, n) for s, n in pairs[:5000])
    engine_runs, naive_runs = [], []
    for _ in range(args.repeat):
        engine_runs.append(timed(calendar.add_working_days, pairs))
        naive_runs.append(timed(naive_add_working_days, pairs))
    engine_us = statistics.median(engine_runs) / args.calls * 1e6
    naive_us = statistics.median(naive_runs) / args.calls * 1e6

    print(f"calendar benchmark — Python {platform.python_version()}, {args.calls:,} calls × {args.repeat} runs "
          "(median), N in 1..15, starts 2004–2026")
    print(f"  agreement check (first 5,000 pairs): {'OK' if mismatches == 0 else f'{mismatches} MISMATCHES'}")
    print(f"  add_working_days (engine)      {engine_us:8.2f} µs/call")
    print(f"  naive is_workday loop          {naive_us:8.2f} µs/call")
    print(f"  speed-up naive / engine        {naive_us / engine_us:8.1f} ×")
    return 0


if __name__ == "__main__":
    sys.exit(main())
