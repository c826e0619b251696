"""JSON answers carry finite numbers only: a NaN that reaches one is a loud error, never a body JSON parsers refuse."""

from __future__ import annotations

import json
import math

import pytest

from plumbing.json_answer import json_response


def test_a_finite_answer_is_sent_as_json():
    answer = json_response({"cost_usd": 0.5, "lines": 12}, status=200)
    assert (answer.status, json.loads(answer.body)) == (200, {"cost_usd": 0.5, "lines": 12})


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_a_non_finite_number_is_refused_loudly(value):
    with pytest.raises(ValueError):
        json_response({"data": [{"cost_usd": value}]})
