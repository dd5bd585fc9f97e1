"""No test feeds a literal calendar date to an API whose rules are relative to now.

Bookings refuse starts more than a year in the past; a test that books at a fixed date passes
today and fails once the calendar overtakes it. Inputs of that kind are built with
``tests.clock`` (now plus an offset). This scan looks at every string literal in tests/ that is an
ISO 8601 date-time and refuses it when it sits in a JSON body under a time key of the bookings,
payments or journal APIs.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
#: body keys whose values the services compare with the current time
TIME_KEYS = frozenset({"starts_at", "occurred_at", "due_at", "paid_at", "settled_at", "ends_at", "scheduled_at"})


def dated_inputs(source: str) -> list[tuple[int, str, str]]:
    """(line, key, literal) of every ``{"<time key>": "<ISO date-time literal>"}`` pair in ``source``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Dict):
            continue
        for key, value in zip(node.keys, node.values, strict=True):
            if (
                isinstance(key, ast.Constant) and key.value in TIME_KEYS
                and isinstance(value, ast.Constant) and isinstance(value.value, str) and ISO_DATETIME.match(value.value)
            ):
                found.append((value.lineno, key.value, value.value))
    return found


def test_the_scan_finds_a_dated_booking():
    assert dated_inputs('body = {"patient_id": p, "starts_at": "2026-01-10T09:00:00+01:00"}') == [
        (1, "starts_at", "2026-01-10T09:00:00+01:00")
    ]
    assert dated_inputs('body = {"starts_at": clock.iso(days=-2)}') == []
    assert dated_inputs('note = {"text": "2026-01-10T09:00:00 was a Saturday"}') == []


def test_no_test_passes_a_literal_date_time_where_now_matters():
    offenders = [
        f"{path.relative_to(TESTS)}:{line}: {key}={value!r}"
        for path in sorted(TESTS.rglob("*.py"))
        if path.name != Path(__file__).name
        for line, key, value in dated_inputs(path.read_text())
    ]
    assert offenders == [], "use tests.clock (now + offset) instead:\n" + "\n".join(offenders)
