"""Durations as Locust's --run-time spells them (30, 30s, 2m, 1h30m), turned into whole seconds."""

import argparse
import re

_SPELLED = re.compile(r"(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?(?:(?P<s>\d+)s)?")
FORMS = "seconds (30) or Locust's form (30s, 2m, 1h30m)"


def parse_seconds(text: str) -> int:
    """Whole seconds; raises ValueError for anything Locust's --run-time would not take."""
    spelled = text.strip().lower()
    if spelled.isdigit():
        return int(spelled)
    match = _SPELLED.fullmatch(spelled)
    if not spelled or match is None:
        raise ValueError(f"{text!r} is not a duration; use {FORMS}")
    hours, minutes, seconds = (int(match.group(g) or 0) for g in "hms")
    return hours * 3600 + minutes * 60 + seconds


def duration_argument(text: str) -> int:
    """argparse `type=`: the error names the forms accepted instead of `invalid int value`."""
    try:
        return parse_seconds(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
