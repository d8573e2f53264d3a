"""The specification's reading of the bot's monitoring page: quantiles as Prometheus's histogram_quantile gives them."""
from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from tools.spec_support.monitoring import histogram_quantile


def _page(observations: dict[str, list[float]]) -> dict[str, list]:
    registry = CollectorRegistry()
    hist = Histogram("h_seconds", "h", ["endpoint"], buckets=(0.001, 0.01, 0.1), registry=registry)
    for endpoint, values in observations.items():
        for value in values:
            hist.labels(endpoint).observe(value)
    text = generate_latest(registry).decode()
    return {f.name: f.samples for f in text_string_to_metric_families(text)}


def test_the_quantile_is_interpolated_inside_the_bucket_that_holds_it():
    # 10 observations: 4 under 1 ms, 4 in (1, 10] ms, 2 in (10, 100] ms
    page = _page({"Balance": [0.0005] * 4 + [0.005] * 4 + [0.05] * 2})
    assert histogram_quantile(page, "h_seconds", 0.5) == pytest.approx(0.001 + 0.009 * (5 - 4) / 4)
    assert histogram_quantile(page, "h_seconds", 0.2) == pytest.approx(0.001 * 2 / 4)
    assert histogram_quantile(page, "h_seconds", 0.9) == pytest.approx(0.01 + 0.09 * (9 - 8) / 2)


def test_only_the_endpoints_asked_for_are_counted_and_an_empty_page_is_an_error():
    page = _page({"Balance": [0.0005] * 3, "AddOrder": [0.05] * 3})
    assert histogram_quantile(page, "h_seconds", 0.5, {"Balance"}) < 0.001
    assert histogram_quantile(page, "h_seconds", 0.5, {"AddOrder"}) > 0.01
    with pytest.raises(ValueError, match="no observation"):
        histogram_quantile(page, "h_seconds", 0.5, {"Ticker"})


def test_a_quantile_beyond_the_last_finite_bucket_is_that_bucket_s_bound():
    page = _page({"Balance": [5.0] * 4})
    assert histogram_quantile(page, "h_seconds", 0.5) == pytest.approx(0.1)
