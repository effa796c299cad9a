"""Recovery time from a run's timeline: when each request was sent and when its outcome
showed up, against when the fault began."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Recovery:
    # From the fault until outcomes flowed again at the offered rate (None: never did).
    throughput_back_s: float | None
    seconds: float | None  # until the last disrupted request's outcome; None: one never came
    threshold_s: float  # latency above which a request counts as disrupted
    worst_s: float  # the longest latency of a request finished after the fault
    disrupted: int  # requests that took longer than the threshold


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


def disruption_threshold(
    sent_at: Mapping[str, float], outcome_at: Mapping[str, float], fault_start: float
) -> float:
    """A latency that counts as disrupted: three times the median of the requests that were
    sent and finished before the fault, at least 1 s (a noisy shared machine has hiccups of a
    few hundred milliseconds; the median ignores a slow first batch)."""
    before = [
        outcome_at[r] - sent
        for r, sent in sent_at.items()
        if r in outcome_at and outcome_at[r] < fault_start
    ]
    if not before:
        return 1.0
    return max(1.0, 3 * _percentile(before, 50))


def throughput_back(
    outcomes: list[float], fault_start: float, rate: float, *, window_s: float = 1.0
) -> float | None:
    """Seconds from the fault until, after a dip below half the offered rate, a window of
    ``window_s`` holds outcomes at the offered rate again; 0 if the rate never dipped."""
    times = sorted(t for t in outcomes if t >= fault_start)
    if not times:
        return None
    step, start, dipped = 0.25, fault_start, False
    end = times[-1]
    left = 0
    while start <= end:
        while left < len(times) and times[left] < start:
            left += 1
        right = left
        while right < len(times) and times[right] < start + window_s:
            right += 1
        count = right - left
        if count < 0.5 * rate * window_s and start + window_s <= end:  # a full window only
            dipped = True
        elif dipped and count >= rate * window_s:
            return start + window_s - fault_start
        start += step
    return 0.0 if not dipped else None


def recovery(
    sent_at: Mapping[str, float],
    outcome_at: Mapping[str, float],
    fault_start: float,
    rate: float,
) -> Recovery:
    """Seconds from the fault until the last request it disrupted got its outcome: a request
    is disrupted if it finished after the fault and took longer than the threshold. None if a
    request never got an outcome (not recovered); 0 when nothing was disrupted."""
    threshold = disruption_threshold(sent_at, outcome_at, fault_start)
    last, worst, disrupted, missing = fault_start, 0.0, 0, False
    for request_id, sent in sent_at.items():
        done = outcome_at.get(request_id)
        if done is None:
            missing = True
            continue
        if done < fault_start:
            continue  # finished before the fault
        worst = max(worst, done - sent)
        if done - sent > threshold:
            disrupted += 1
            last = max(last, done)
    back = throughput_back(list(outcome_at.values()), fault_start, rate)
    drained = None if missing else last - fault_start
    return Recovery(back if disrupted else 0.0, drained, threshold, worst, disrupted)
