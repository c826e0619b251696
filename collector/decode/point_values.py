"""Which metric point values can be stored: a value the daily figures cannot use is refused at decode, with its
reason, instead of being stored and breaking every org's rollup or the API's JSON later.

Generic rules for every metric: no NaN or infinity anywhere a number is stored (the value or sum, min, max,
quantiles), and no negative value on a monotonic sum (a counter only goes up; a reset starts again from zero).
The metrics the figures sum (aggregator/figures.py) have a bound each, and those that are counts must be whole.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable

from collector.decode.common import RecordRejected


@dataclass(frozen=True)
class FigureMetric:
    whole: bool  # a count: lines, tokens, commits... rather than an amount (USD, seconds)
    largest: float  # the largest value one point may carry


# One point is one export interval (delta) or one process's total so far (cumulative). A heavy day of one developer
# is well under 10^10 tokens; 10^11 per point stays far above any real count yet, with 2^53 ~ 9*10^15, keeps every
# sum of points an exact integer in Float64 up to 90,000 such points and under Int64 (9.2*10^18) up to 92 million.
LARGEST_COUNT = 1e11
# Cost in USD and active time in seconds per point: a thousand times any real process, and the same reasoning.
LARGEST_AMOUNT = 1e9

FIGURE_METRICS = {
    "claude_code.lines_of_code.count": FigureMetric(whole=True, largest=LARGEST_COUNT),
    "claude_code.code_edit_tool.decision": FigureMetric(whole=True, largest=LARGEST_COUNT),
    "claude_code.commit.count": FigureMetric(whole=True, largest=LARGEST_COUNT),
    "claude_code.pull_request.count": FigureMetric(whole=True, largest=LARGEST_COUNT),
    "claude_code.token.usage": FigureMetric(whole=True, largest=LARGEST_COUNT),
    "claude_code.session.count": FigureMetric(whole=True, largest=LARGEST_COUNT),
    "claude_code.cost.usage": FigureMetric(whole=False, largest=LARGEST_AMOUNT),
    "claude_code.active_time.total": FigureMetric(whole=False, largest=LARGEST_AMOUNT),
}


def check_finite(numbers: Iterable[tuple[str, float]]) -> None:
    """Refuse NaN and ±infinity: the rollup's sums and the API's JSON cannot carry them."""
    for what, number in numbers:
        if not math.isfinite(number):
            raise RecordRejected(f"its {what} is {number!r}; only finite numbers can be stored")


def check_value(metric_name: str, value: float, *, monotonic: bool) -> None:
    """The value of a sum or gauge point (or the sum of a histogram or summary), already known to be finite."""
    figure = FIGURE_METRICS.get(metric_name)
    if value < 0 and (monotonic or figure):
        raise RecordRejected(f"its value {value!r} is negative; a counter never goes below zero")
    if figure is None:
        return
    if value > figure.largest:
        raise RecordRejected(f"its value {value!r} is larger than {figure.largest:.0e}, more than any one "
                             "point of a real client holds")
    # a count of 2.5 lines is no count: rounding it would make up or lose part of a figure
    if figure.whole and not value.is_integer():
        raise RecordRejected(f"its value {value!r} is not a whole number, and {metric_name} counts")
