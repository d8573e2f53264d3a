"""The bot's monitoring page as the specification reads it: over loopback HTTP, parsed as Prometheus would,
attached to the report, and compared with the exchange's own record of the scenario."""
from __future__ import annotations

import urllib.request
from collections import Counter
from typing import Any

import allure


def read_page(world: Any) -> dict[str, list]:
    """{metric family: samples} of the page the scenario's bot serves; the page is attached to the report."""
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(f"http://127.0.0.1:{world.notes['page_port']}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    allure.attach(text, name="monitoring page", attachment_type=allure.attachment_type.TEXT)
    return {family.name: family.samples for family in text_string_to_metric_families(text)}


def per_endpoint(samples: list, name: str) -> dict[str, float]:
    """{endpoint: value} of the samples called ``name`` (zeros left out)."""
    found: Counter = Counter()
    for sample in samples:
        if sample.name == name:
            found[sample.labels["endpoint"]] += sample.value
    return {endpoint: value for endpoint, value in found.items() if value}


def page_calls(page: dict[str, list]) -> tuple[dict[str, float], dict[str, float]]:
    """(calls per endpoint, failed calls per endpoint) as the page counts them."""
    return (per_endpoint(page.get("krakenbot_exchange_response_seconds", []),
                         "krakenbot_exchange_response_seconds_count"),
            per_endpoint(page.get("krakenbot_exchange_errors", []), "krakenbot_exchange_errors_total"))


def exchange_calls_since_page(world: Any) -> tuple[dict[str, int], dict[str, int]]:
    """(calls per endpoint, failed calls per endpoint) the exchange recorded since the page was up."""
    records = world.exchange_calls()[world.notes["page_from"]:]
    return (dict(Counter(r.endpoint for r in records)),
            dict(Counter(r.endpoint for r in records if r.outcome != "ok")))


def histogram_count(page: dict[str, list], family: str) -> float:
    return sum(s.value for s in page.get(family, []) if s.name == f"{family}_count")


def histogram_quantile(page: dict[str, list], family: str, q: float, endpoints: set[str] | None = None) -> float:
    """Prometheus's ``histogram_quantile(q, sum(rate(family_bucket)))`` over the page's cumulative buckets (of the
    given endpoints, or all): the bucket holding the q-th observation, linearly interpolated; seconds."""
    buckets: dict[float, float] = {}
    for sample in page.get(family, []):
        if sample.name != f"{family}_bucket":
            continue
        if endpoints is not None and sample.labels.get("endpoint") not in endpoints:
            continue
        bound = float(sample.labels["le"])
        buckets[bound] = buckets.get(bound, 0.0) + sample.value
    bounds = sorted(buckets)
    total = buckets[bounds[-1]] if bounds else 0.0
    if not total:
        raise ValueError(f"{family}: no observation on the page")
    rank, lower, below = q * total, 0.0, 0.0
    for bound in bounds:
        if buckets[bound] >= rank:
            if bound == float("inf"):
                return lower
            return lower + (bound - lower) * (rank - below) / ((buckets[bound] - below) or 1.0)
        lower, below = bound, buckets[bound]
    return lower
