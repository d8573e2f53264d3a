"""Issue 22: docs/grafana-dashboard.json loads, has what Grafana needs to import it, and every query names
only metrics the bot really exports (compared with the names its registry exposes)."""
from __future__ import annotations

import json
import re
from pathlib import Path

from krakenbot.metrics import BotMetrics
from krakensim.clock import ManualClock

DASHBOARD = Path(__file__).resolve().parents[3] / "docs" / "grafana-dashboard.json"
_SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "summary": ("_count", "_sum")}
_METRIC = re.compile(r"\b(?:krakenbot|process)_[a-z_]+\b")


def exported_names() -> set[str]:
    names = set()
    for family in BotMetrics(ManualClock(0)).registry.collect():
        names.update(family.name + s for s in _SUFFIXES.get(family.type, ("",)))
    return names


def test_the_dashboard_loads_with_the_schema_essentials():
    board = json.loads(DASHBOARD.read_text())
    assert board["title"] and isinstance(board["schemaVersion"], int) and board["uid"]
    assert board["panels"], "a dashboard without panels"
    ids = [p["id"] for p in board["panels"]]
    assert len(set(ids)) == len(ids)
    for panel in board["panels"]:
        assert panel["title"] and panel["type"] in ("timeseries", "stat", "bargauge", "gauge", "table"), panel
        assert set(panel["gridPos"]) == {"x", "y", "w", "h"} and panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24
        assert panel["targets"] and all(t["refId"] and t["expr"] for t in panel["targets"]), panel["title"]


def test_every_query_names_only_metrics_the_bot_exports():
    exported = exported_names()
    board = json.loads(DASHBOARD.read_text())
    used = set()
    for panel in board["panels"]:
        for target in panel["targets"]:
            names = set(_METRIC.findall(target["expr"]))
            assert names, f"{panel['title']}: {target['expr']} reads no metric of the bot"
            assert names <= exported, f"{panel['title']}: {sorted(names - exported)} are not exported"
            used |= names
    wanted = {"krakenbot_order_ack_seconds_bucket", "krakenbot_order_fill_seconds_bucket",
              "krakenbot_exchange_response_seconds_bucket", "krakenbot_exchange_errors_total",
              "krakenbot_requests_refused_total", "krakenbot_breaker_state", "krakenbot_trades_today",
              "krakenbot_trades_limit", "krakenbot_realised_pnl_today", "krakenbot_open_orders",
              "krakenbot_market_data_age_seconds", "krakenbot_rest_counter", "process_resident_memory_bytes"}
    assert wanted <= used, f"the dashboard does not show {sorted(wanted - used)}"
