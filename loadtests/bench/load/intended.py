"""One open-loop attack summarised against its schedule: each request's latency from its intended send time.

vegeta v12 stamps a request when one of its workers picks it up (`lib/attack.go`, `hit()`), not when
its pacer meant to send it. With every worker busy the pacer waits for a free one, and that wait is in
no one's latency: coordinated omission, back near capacity. The pacer's schedule is fixed, though
(`ConstantPacer`: request k is released at start + k/rate), and every result carries its sequence
number, so each request's intended time is known and its latency is measured from there:

    latency = (pickup stamp + vegeta's latency) - (start + seq / rate)

**The start.** vegeta does not record it. The pacer never releases a request before its time, so every
request's stamp minus seq/rate is at or after the start; the smallest of them is the estimate. That is
usually seq 0's own stamp, but seq 0 was seen up to 2.5 ms late in recorded runs (its worker's first
scheduling), which taken alone would shift every intended time by as much. Two requests released
within one interval can swap sequence numbers (they race for vegeta's lock), so the estimate may be
early by one interval (0.1 ms at 10k req/s): a request's latency is never taken below vegeta's own.

**Requests without a correct answer** (an error status, a refused or reset connection, a timeout) and
requests the schedule asked for but vegeta never sent because all its workers were still waiting on
answers when the attack ended are counted, by kind, and enter the percentiles as if they had waited the full
timeout (TIMEOUT_S): slower than every answer. A client that gives up at the timeout sees exactly
that, and a side failing fast cannot buy a better tail. A percentile that falls among them reads as
the timeout itself. Percentiles are order statistics (no interpolation): each is a latency some
request really had, or the timeout.

vegeta's own latency (from pickup, over the correct answers) is kept beside it for comparison.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from bench.common.errors import BenchError
from bench.common.schema import LatencyMs, LimitKind

TIMEOUT_S = 10  # as wrk's: an answer this late is a timeout
# The generator kept its schedule when it sent at least this share of the asked rate.
KEPT_RATE = 0.97
BUSY_PERCENT = 90.0  # of its cores: beyond this its own scheduling delays requests
# vegeta adds a worker (and a connection) whenever the ones it has are all waiting; past a server's
# capacity that runs away until the generator itself is starved (seen here: thousands of workers at
# 98% of its core, sending a tenth of the rate asked). Capped, its pacer waits for a free worker
# instead, and that wait is counted from the intended send time.
MAX_WORKERS = 1000
# Counted as at the cap from this share of it: a worker hands its result on before it takes the next
# request, so the requests in flight dip just under the number of workers.
AT_CAP = 0.95
# Answers arriving up to this share of the attack's length after its last scheduled send count as
# served on time: the requests in flight at the end are answered after it even by a side keeping up.
DRAIN_SHARE = 0.1
# vegeta's own lateness (while it had free workers) at least this share of a point's p99: the tail is
# mostly the generator's.
OWN_LAG_SHARE = 0.5
PERCENTILES = (50.0, 90.0, 99.0, 99.9, 100.0)


@dataclass(frozen=True)
class Sent:
    """One request as vegeta recorded it."""

    seq: int  # vegeta's sequence number: the request's place in the schedule
    picked_ns: int  # when a worker picked it up (vegeta's timestamp), ns since the epoch
    took_ns: int  # vegeta's latency: from pickup to the answer or the error
    code: int  # HTTP status, 0 when no answer came
    kind: str | None  # None for a correct answer, else its error kind ("status 503", "timeout", ...)


@dataclass(frozen=True)
class Attack:
    """What one fixed-rate attack saw, against its schedule."""

    offered_rps: float  # as asked (vegeta paces round(offered_rps) per second)
    seconds: int
    scheduled: int  # requests the schedule asked for
    requests: int  # requests vegeta sent
    successes: int
    # Scheduled but never sent, because every worker was still waiting on an answer when the attack
    # ended. (A shortfall with workers free, scheduled - requests - unsent, is vegeta's own lateness at
    # its cut-off: a request or two, not the side's.)
    unsent: int
    late: int  # correct answers after the drain (counted in the percentiles, not in goodput_rps)
    sent_rps: float  # the rate vegeta kept while sending
    goodput_rps: float  # correct answers by the end of the schedule plus its drain, per scheduled second
    errors: dict[str, int]
    latency_ms: LatencyMs | None  # from the intended send time, failures at the timeout
    service_latency_ms: LatencyMs | None  # vegeta's own, from pickup, over correct answers
    cpu_percent: float | None
    cores: int
    peak_in_flight: int
    max_workers: int
    own_lag_ms: float | None  # p99 of vegeta's lateness to pick a request up while it had free workers
    # Per request, by intended send time: seconds since the start, latency in ms, success.
    timeline: tuple[tuple[float, float, bool], ...] = ()

    @property
    def capped(self) -> bool:
        """Every worker was waiting on an answer at some moment: the pacer could only wait."""
        return self.peak_in_flight >= AT_CAP * self.max_workers

    def recovered_after(self, normal_ms: float, bin_s: float = 0.25) -> float | None:
        """Seconds from the attack's start after which every bin of `bin_s` answers all its requests
        successfully within `normal_ms`: how long a side took to serve at its normal latency again.
        None: it never did within the attack."""
        if not self.timeline:
            return None
        bins: dict[int, bool] = {}
        for at, latency, ok in self.timeline:
            index = int(at / bin_s)
            bins[index] = bins.get(index, True) and ok and latency <= normal_ms
        last_bad = max((index for index, good in bins.items() if not good), default=-1)
        if last_bad == max(bins):
            return None
        return round((last_bad + 1) * bin_s, 2)

    @property
    def limits(self) -> list[tuple[LimitKind, str]]:
        """Why this point says more about the generator than the server, each with its kind (empty: it
        kept up).

        Falling behind the schedule is the generator's limit only while it had free workers: with all
        of them waiting on answers, the side is holding the requests, and the wait is counted in the
        latency (and the requests never sent as failures)."""
        found: list[tuple[LimitKind, str]] = []
        if self.sent_rps < KEPT_RATE * self.offered_rps and not self.capped:
            found.append((
                "rate",
                f"vegeta sent {self.sent_rps:,.0f} of the {self.offered_rps:,.0f} req/s asked "
                f"with workers to spare ({self.peak_in_flight:,} of {self.max_workers:,} busy at most)",
            ))  # fmt: skip
        if self.cpu_percent is not None and self.cpu_percent >= BUSY_PERCENT * self.cores:
            found.append(("cpu", f"vegeta used {self.cpu_percent:.0f}% CPU of its {self.cores} core(s)"))
        p99 = self.latency_ms.p99 if self.latency_ms else None
        lag = self.own_lag_ms
        if lag is not None and p99 and lag >= OWN_LAG_SHARE * p99:
            found.append((
                "lateness",
                f"vegeta's own lateness in sending (p99 {lag:.2f} ms, with workers free) is "
                f"{lag / p99:.0%} of this point's p99",
            ))  # fmt: skip
        return found

    @property
    def limit_reasons(self) -> list[str]:
        return [reason for _, reason in self.limits]


def _percentiles(values: npt.NDArray[np.float64]) -> LatencyMs:
    found = np.percentile(values, PERCENTILES, method="inverted_cdf")
    p50, p90, p99, p99_9, top = (round(float(v), 3) for v in found)
    return LatencyMs(p50=p50, p90=p90, p99=p99, p99_9=p99_9, max=top)


def attack_start_ns(seq: npt.NDArray[np.int64], picked_ns: npt.NDArray[np.float64], rate: int) -> float:
    """The schedule's start (seq 0's intended time) on `picked_ns`'s clock: see the module docstring."""
    return float(np.min(picked_ns - seq * (1e9 / rate)))


def summarise(
    sent: Sequence[Sent],
    offered_rps: float,
    seconds: int,
    cpu: float | None,
    cores: int,
    max_workers: int = MAX_WORKERS,
    timeout_s: float = TIMEOUT_S,
) -> Attack:
    """The attack's numbers from vegeta's per-request results (any order)."""
    if not sent:
        raise BenchError("vegeta recorded no requests")
    rate = round(offered_rps)
    if rate < 1 or seconds < 1:
        raise BenchError("an open-loop point needs a rate of at least 1 req/s and at least 1 second")
    origin = min(s.picked_ns for s in sent)
    # Offsets from the first pickup, in ns, small enough for float64 to hold exactly.
    seq = np.array([s.seq for s in sent], dtype=np.int64)
    picked = np.array([s.picked_ns - origin for s in sent], dtype=np.float64)
    took = np.array([s.took_ns for s in sent], dtype=np.float64)
    ok = np.array([s.kind is None for s in sent], dtype=bool)
    start = attack_start_ns(seq, picked, rate)
    intended = start + seq * (1e9 / rate)
    wait = np.maximum(picked - intended, 0.0)
    answered = picked + took
    from_intended_ms = (took + wait) / 1e6

    end = start + seconds * 1e9
    on_time = answered <= end + seconds * 1e9 * DRAIN_SHARE
    served = int(np.count_nonzero(ok & on_time))
    successes = int(np.count_nonzero(ok))

    # Requests in flight at given moments (a request picked up at that moment included).
    ordered_picks, ordered_answers = np.sort(picked), np.sort(answered)

    def in_flight_at(moments: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
        return np.searchsorted(ordered_picks, moments, side="right") - np.searchsorted(
            ordered_answers, moments, side="right"
        )

    in_flight = in_flight_at(picked)
    # vegeta stops releasing requests at the attack's end. Those it had not sent by then were held by
    # busy workers if every worker was waiting at that moment: the side's doing, counted as failures.
    # Otherwise they are the few it was late for at the cut-off (its own lateness), left out.
    scheduled = max(rate * seconds, len(sent))
    held = int(in_flight_at(np.array([end]))[0]) >= AT_CAP * max_workers
    unsent = scheduled - len(sent) if held else 0
    free = in_flight < AT_CAP * max_workers
    own_lag = (
        round(float(np.percentile(wait[free], 99.0, method="inverted_cdf")) / 1e6, 3) if free.any() else None
    )

    errors: dict[str, int] = {}
    for s in sent:
        if s.kind is not None:
            errors[s.kind] = errors.get(s.kind, 0) + 1
    latency = service = None
    if successes:
        failures = np.full(len(sent) - successes + unsent, timeout_s * 1000.0)
        latency = _percentiles(np.concatenate([from_intended_ms[ok], failures]))
        service = _percentiles(took[ok] / 1e6)
    span = (picked.max() - picked.min()) / 1e9
    order = np.argsort(intended, kind="stable")
    return Attack(
        offered_rps=offered_rps,
        seconds=seconds,
        scheduled=scheduled,
        requests=len(sent),
        successes=successes,
        unsent=unsent,
        late=successes - served,
        sent_rps=round((len(sent) - 1) / span, 2) if len(sent) > 1 and span > 0 else 0.0,
        goodput_rps=round(served / seconds, 2),
        errors=dict(sorted(errors.items())),
        latency_ms=latency,
        service_latency_ms=service,
        cpu_percent=cpu,
        cores=cores,
        peak_in_flight=int(in_flight.max()),
        max_workers=max_workers,
        own_lag_ms=own_lag,
        timeline=tuple((int(seq[i]) / rate, float(from_intended_ms[i]), bool(ok[i])) for i in order),
    )
