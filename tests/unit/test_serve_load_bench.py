"""The load bench's schedule and statistics (bench/serve_load.py): open loop, fixed mix, honest windows."""

from __future__ import annotations

import pytest

from bench.serve_load import Org, Sample, percentile, plan, summarize


def _orgs() -> list[Org]:
    return [Org(f"org-{i}", f"o{i}@example.org", "t", [f"p{i}a", f"p{i}b"]) for i in range(3)]


def test_the_schedule_is_open_loop_and_fixed_by_the_seed():
    schedule = plan(200, 10, _orgs(), 0.10, seed=3)
    assert len(schedule) == 2000
    assert [at for at, *_ in schedule] == pytest.approx([i / 200 for i in range(2000)])  # each at its own time
    assert schedule == plan(200, 10, _orgs(), 0.10, seed=3)
    assert schedule != plan(200, 10, _orgs(), 0.10, seed=4)
    kinds = [kind for _, kind, *_ in schedule]
    assert 0.07 < kinds.count("write") / len(kinds) < 0.13
    paths = [path for *_, path, _ in schedule]
    settings = sum(p.endswith("/settings") for p in paths)
    patients = sum(p.endswith("/patients?limit=50") for p in paths)
    assert 0.40 < settings / len(paths) < 0.50 and 0.40 < patients / len(paths) < 0.50
    for _, kind, method, path, body in schedule:
        if kind == "write":
            slug = path.split("/")[4]
            assert method == "POST" and body["kind"] == "note"
            assert path.split("/")[6] in next(o.patients for o in _orgs() if o.slug == slug)  # its own tenant's patient


def test_windows_count_by_scheduled_time_and_errors_separately():
    samples = [Sample(i / 10, 0.010 if i % 2 else 0.030, "read", True, 200) for i in range(100)]  # 10 s at 10/s
    samples += [Sample(2.0, 0.0, "read", False, -2)]  # refused (over the in-flight bound): no latency
    windows, overall = summarize(samples, 10.0, 5.0)
    assert [w.requests for w in windows] == [51, 50]
    assert windows[0].errors == 1 and windows[1].errors == 0
    assert windows[1].rate == pytest.approx(10.0) and overall.rate == pytest.approx(10.0)
    assert overall.p50 == pytest.approx(20.0) and overall.max == pytest.approx(30.0)


def test_percentile_interpolates():
    assert percentile([], 0.5) == 0.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == pytest.approx(2.5)
    assert percentile(list(map(float, range(101))), 0.99) == pytest.approx(99.0)
