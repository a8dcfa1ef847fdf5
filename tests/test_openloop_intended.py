"""Latency from the intended send time, on vegeta's recorded per-request results (tests/fixtures/openloop)."""

import dataclasses
import gzip
from pathlib import Path

import numpy as np
import pytest

from bench.analysis.curves import failing
from bench.common.errors import BenchError
from bench.common.schema import OpenLoopPoint
from bench.load.intended import DRAIN_SHARE, TIMEOUT_S, Attack, Sent, attack_start_ns, summarise
from bench.load.vegeta import parse_results, read_raw, write_raw

FIXTURES = Path(__file__).parent / "fixtures" / "openloop"
TIMEOUT_MS = TIMEOUT_S * 1000.0


def recorded(name: str) -> list[Sent]:
    with gzip.open(FIXTURES / f"{name}.csv.gz", "rt") as handle:
        return parse_results(handle.read())


def as_point(result: Attack) -> OpenLoopPoint:
    return OpenLoopPoint(
        side="s:default", scenario="ping", kind="curve", fraction=0.5, offered_rps=result.offered_rps,
        sent_rps=result.sent_rps, goodput_rps=result.goodput_rps, requests=result.requests,
        successes=result.successes, errors=result.errors, latency_ms=result.latency_ms,
        generator_cpu_percent=None, generator_limited=False, limit_reasons=[], started_at=0.0,
        seconds=result.seconds, latency_from="intended", unsent=result.unsent,
    )  # fmt: skip


def test_vegeta_csv_gives_every_request_with_its_sequence_number() -> None:
    sent = recorded("kept")
    assert len(sent) == 300
    assert sorted(s.seq for s in sent) == list(range(300))
    assert all(s.kind is None and s.code == 200 for s in sent)
    assert all(s.took_ns > 0 for s in sent)


def test_the_start_is_the_earliest_a_schedule_allows_not_seq_0s_stamp() -> None:
    sent = recorded("kept")
    seq = np.array([s.seq for s in sent])
    picked = np.array([s.picked_ns for s in sent], dtype=np.float64) - min(s.picked_ns for s in sent)
    start = attack_start_ns(seq, picked, 300)
    zero = picked[seq == 0][0]
    # Taking seq 0's stamp as the start would put some requests before their own send time.
    assert (picked - (zero + seq * 1e9 / 300)).min() < 0
    assert start < zero
    assert (picked - (start + seq * 1e9 / 300)).min() == pytest.approx(0.0, abs=1.0)


def test_when_vegeta_keeps_its_schedule_the_latency_adds_only_its_own_lateness() -> None:
    result = summarise(recorded("kept"), 300, 1, None, 1)
    assert (result.scheduled, result.requests, result.unsent, result.late) == (300, 300, 0, 0)
    assert result.goodput_rps == 300
    assert result.latency_ms is not None
    assert result.service_latency_ms is not None
    assert result.own_lag_ms is not None
    assert (
        result.service_latency_ms.p99
        <= result.latency_ms.p99
        <= result.service_latency_ms.p99 + 2 * result.own_lag_ms
    )
    assert not result.capped
    assert result.limit_reasons == []


def test_when_the_pacer_waits_for_a_worker_the_wait_counts() -> None:
    sent = recorded("waited")  # one worker, asked for more than it could send
    result = summarise(sent, 400, 1, None, 1, max_workers=1)
    assert result.capped
    assert result.unsent == 400 - len(sent) > 0, "what the busy worker kept from being sent is counted"
    assert result.latency_ms is not None
    assert result.service_latency_ms is not None
    assert result.latency_ms.p99 > result.service_latency_ms.p99
    assert result.latency_ms.p99 == TIMEOUT_MS, "the unsent are over 1%: p99 is the timeout"
    # The requests that were sent: the later in the schedule, the longer each had waited.
    by_intended = [ms for _, ms, ok in result.timeline if ok]
    assert by_intended[-1] > 10 * max(s.took_ns for s in sent) / 1e6
    assert result.limit_reasons == [], "the side held the worker: not the generator's limit"
    assert failing(as_point(result)) is not None


def test_the_same_shortfall_with_workers_free_is_the_generators() -> None:
    result = summarise(recorded("waited"), 400, 1, None, 1)  # as if vegeta had its 1000 workers
    assert not result.capped
    assert result.unsent == 0
    assert [kind for kind, _ in result.limits] == ["rate", "lateness"], "its waits read as its own lateness"
    assert "with workers to spare" in result.limit_reasons[0]


def test_timeouts_are_counted_and_rank_at_the_timeout() -> None:
    sent = recorded("timeouts")  # vegeta's timeout set to 4 ms against a ~3 ms endpoint
    result = summarise(sent, 200, 1, None, 1)
    failures = sum(s.kind is not None for s in sent)
    assert result.errors == {"timeout": failures}
    assert result.successes == len(sent) - failures
    assert result.latency_ms is not None
    assert result.service_latency_ms is not None
    assert result.latency_ms.max == TIMEOUT_MS
    share = failures / len(sent)
    assert 0.1 < share < 0.5
    assert result.latency_ms.p50 < TIMEOUT_MS <= result.latency_ms.p90
    assert result.service_latency_ms.max < TIMEOUT_MS, "vegeta's own is over correct answers only"
    assert failing(as_point(result)) is not None


def test_one_late_answer_does_not_read_as_a_shortfall() -> None:
    sent = recorded("kept")
    last = max(sent, key=lambda s: s.seq)
    late = [dataclasses.replace(s, took_ns=s.took_ns + 500_000_000) if s is last else s for s in sent]
    result = summarise(late, 300, 1, None, 1)
    assert result.late == 1
    assert result.goodput_rps == 299
    assert failing(as_point(result)) is None
    assert DRAIN_SHARE * 1e9 < 500_000_000, "the answer came after the drain"


def test_the_kept_file_is_small_and_reads_back_the_same(tmp_path: Path) -> None:
    sent = recorded("timeouts")
    path = tmp_path / "requests.csv.gz"
    write_raw(path, sent)
    assert read_raw(path) == sent
    with gzip.open(FIXTURES / "timeouts.csv.gz", "rb") as vegeta_csv:
        assert path.stat().st_size < len(vegeta_csv.read()) / 10
    path.write_bytes(gzip.compress(b"a,b\n1,2\n"))
    with pytest.raises(BenchError, match="not a per-request results file"):
        read_raw(path)


def test_bad_input_is_one_clear_error() -> None:
    with pytest.raises(BenchError, match="no requests"):
        summarise([], 100, 1, None, 1)
    with pytest.raises(BenchError, match="expected CSV form"):
        parse_results("x,200,1,0,0,,,,0,GET,u,\n")
