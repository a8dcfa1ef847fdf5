"""Summarise a py-spy raw profile (`py-spy record --format raw`): top frames by share of samples.

Usage: python docs/profiles/summarise.py PROFILE.raw [TOP]. Each line of a raw profile is a
stack, frames joined by ';', then a sample count. A frame is named "function (file)".
"""

import sys
from collections import Counter
from pathlib import Path

# Frames every sample of a uvicorn server shares (its entry point and event loop), which say nothing.
_ENTRY_FRAMES = ("(<frozen runpy>)", "(core.py)", "(__main__.py)", "(main.py)", "(server.py)", "(_compat.py)")


def frame_name(frame: str) -> str:
    function, _, location = frame.partition(" (")
    if not location:
        return frame
    return f"{function} ({location.split(':')[0].rsplit('/', 1)[-1]})"


def summarise(lines: list[str], top: int) -> str:
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

    def rows(counter: Counter[str], count: int) -> list[str]:
        kept = [(n, v) for n, v in counter.most_common() if not n.endswith(_ENTRY_FRAMES)][:count]
        return [f"{100 * v / total:6.1f}%  {n}" for n, v in kept]

    return "\n".join([f"samples: {total}", "## inclusive", *rows(inclusive, top), "## self", *rows(own, 25)])


def main() -> None:
    path = Path(sys.argv[1])
    top = int(sys.argv[2]) if len(sys.argv) > 2 else 50
    print(summarise(path.read_text().splitlines(), top))


if __name__ == "__main__":
    main()
