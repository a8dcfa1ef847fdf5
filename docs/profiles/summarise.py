"""Summarise py-spy raw profiles (`py-spy record --format raw`).

Usage:
  python docs/profiles/summarise.py PROFILE.raw [TOP]
      top frames by share of samples
  python docs/profiles/summarise.py --per-request RATE A.raw REQUESTS_A B.raw REQUESTS_B [TOP]
      two profiles side by side in microseconds of sampled time per request: a frame's samples
      divided by the sampling rate (Hz) and by the requests served while sampling. Shares hide
      a machine that slowed down between two profiles; time per request shows where one app
      spends more than the other on the same work.

Each line of a raw profile is a stack, frames joined by ';', then a sample count. A frame is
named "function (file)".
"""

import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

# Frames every sample of a uvicorn server shares (its entry point and event loop), which say nothing.
_ENTRY_FRAMES = ("(<frozen runpy>)", "(core.py)", "(__main__.py)", "(main.py)", "(server.py)", "(_compat.py)")


def frame_name(frame: str) -> str:
    function, _, location = frame.partition(" (")
    if not location:
        return frame
    return f"{function} ({location.split(':')[0].rsplit('/', 1)[-1]})"


@dataclass(frozen=True)
class Profile:
    total: int
    inclusive: Counter[str]
    own: Counter[str]


def read_profile(lines: list[str]) -> Profile:
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in lines:
        stack, _, count = line.rstrip().rpartition(" ")
        if not stack:
            continue
        samples = int(count)
        total += samples
        frames = [frame_name(f) for f in stack.split(";")]
        for name in set(frames):
            inclusive[name] += samples
        own[frames[-1]] += samples
    if total == 0:
        raise SystemExit("no samples in the profile")
    return Profile(total, inclusive, own)


def _telling(counter: Counter[str]) -> list[tuple[str, int]]:
    return [(n, v) for n, v in counter.most_common() if not n.endswith(_ENTRY_FRAMES)]


def summarise(lines: list[str], top: int) -> str:
    profile = read_profile(lines)

    def rows(counter: Counter[str], count: int) -> list[str]:
        return [f"{100 * v / profile.total:6.1f}%  {n}" for n, v in _telling(counter)[:count]]

    return "\n".join(
        [
            f"samples: {profile.total}",
            "## inclusive",
            *rows(profile.inclusive, top),
            "## self",
            *rows(profile.own, 25),
        ]
    )


def per_request(rate_hz: float, a: Profile, requests_a: int, b: Profile, requests_b: int, top: int) -> str:
    us_a = 1e6 / rate_hz / requests_a
    us_b = 1e6 / rate_hz / requests_b

    def line(counter_a: Counter[str], counter_b: Counter[str], n: str) -> str:
        spent_a, spent_b = counter_a[n] * us_a, counter_b[n] * us_b
        return f"{spent_a:8.1f} {spent_b:8.1f} {spent_b - spent_a:+8.1f}  {n}"

    def rows(name: str, counter_a: Counter[str], counter_b: Counter[str], count: int) -> list[str]:
        names = {n for n, _ in _telling(counter_a)} | {n for n, _ in _telling(counter_b)}
        ranked = sorted(names, key=lambda n: -max(counter_a[n] * us_a, counter_b[n] * us_b))[:count]
        return [
            f"## {name}: us per request, A then B, then B - A",
            *(line(counter_a, counter_b, n) for n in ranked),
        ]

    return "\n".join(
        [
            f"sampled time per request: A {a.total * us_a:.0f} us, B {b.total * us_b:.0f} us",
            *rows("inclusive", a.inclusive, b.inclusive, top),
            *rows("self", a.own, b.own, 25),
        ]
    )


def _read(path: str) -> Profile:
    return read_profile(Path(path).read_text().splitlines())


def main() -> None:
    args = sys.argv[1:]
    if args and args[0] == "--per-request":
        rate, path_a, requests_a, path_b, requests_b, *rest = args[1:]
        top = int(rest[0]) if rest else 50
        print(per_request(float(rate), _read(path_a), int(requests_a), _read(path_b), int(requests_b), top))
        return
    top = int(args[1]) if len(args) > 1 else 50
    print(summarise(Path(args[0]).read_text().splitlines(), top))


if __name__ == "__main__":
    main()
