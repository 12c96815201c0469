# ruff: noqa: E501  (PromQL reads best on one line)
"""Writes dialer-dashboard.json: `python deploy/grafana/build_dashboard.py` (a test fails when
the committed JSON differs from what this writes, so edit here, then regenerate)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

OUT = Path(__file__).with_name("dialer-dashboard.json")
DS = {"type": "prometheus", "uid": "${datasource}"}
CAMPAIGN = 'campaign=~"$campaign"'


def panel(
    title: str,
    targets: list[tuple[str, str]],
    x: int,
    y: int,
    w: int = 12,
    h: int = 8,
    kind: str = "timeseries",
    unit: str = "short",
    description: str = "",
) -> dict[str, Any]:
    return {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DS,
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {},
        "targets": [
            {"refId": chr(ord("A") + i), "expr": expr, "legendFormat": legend, "datasource": DS}
            for i, (expr, legend) in enumerate(targets)
        ],
    }


def dashboard() -> dict[str, Any]:
    panels = [
        panel(
            "Campaign progress (leads of the current run)",
            [(f"sum by (campaign, state) (dialer_campaign_leads{{{CAMPAIGN}}})", "{{campaign}} {{state}}")],
            0, 0, kind="timeseries",
        ),
        panel(
            "Campaign status",
            [(f"dialer_campaign_status{{{CAMPAIGN}}} == 1", "{{campaign}} {{status}}")],
            12, 0, kind="table",
        ),
        panel(
            "Call outcomes (per minute)",
            [(
                f"sum by (outcome) (rate(dialer_call_outcomes_total{{{CAMPAIGN}}}[5m])) * 60",
                "{{outcome}}",
            )],
            0, 8,
        ),
        panel(
            "Calls placed per second and calls in progress",
            [
                (f"sum by (trunk) (rate(dialer_calls_originated_total{{{CAMPAIGN}}}[1m]))", "CPS {{trunk}}"),
                (f"sum(dialer_calls_in_progress{{{CAMPAIGN}}})", "in progress"),
            ],
            12, 8,
        ),
        panel(
            "Abandon rate (compliance window, 24h, per campaign)",
            [
                (f"max by (campaign) (dialer_campaign_abandon_window_ratio{{{CAMPAIGN}}})", "{{campaign}} window"),
                (f"max by (campaign) (dialer_campaign_abandon_target_ratio{{{CAMPAIGN}}})", "{{campaign}} target"),
                (f"campaign:dialer_abandon:ratio24h{{{CAMPAIGN}}}", "{{campaign}} 24h"),
                (f"dialer_campaign_abandon_ratio{{{CAMPAIGN}}}", "{{campaign}} since creation"),
            ],
            0, 16, unit="percentunit",
            description=(
                "Abandoned calls over live answers. Window: the campaign's abandon ledger over its "
                "compliance window (US rolling 30 days; UK today, with the AMD false-positive "
                "estimate), what the law measures and predictive pacing holds under the target. "
                "The limit is 3%."
            ),
        ),
        panel(
            "Agent occupancy",
            [
                ("dialer_agent_occupancy_ratio", "{{queue}}"),
                ("avg_over_time(dialer_agent_occupancy_ratio[15m])", "{{queue}} 15m"),
            ],
            12, 16, unit="percentunit",
        ),
        panel(
            "Agents by state",
            [("sum by (queue, state) (dialer_agents)", "{{queue}} {{state}}")],
            0, 24,
        ),
        panel(
            "Trunk utilisation",
            [(
                "dialer_trunk_channels_in_use / on (trunk) (dialer_trunk_channels > 0)",
                "{{trunk}}",
            )],
            12, 24, unit="percentunit",
        ),
        panel(
            "Ring and talk time (p50, p95)",
            [
                (
                    f"histogram_quantile(0.5, sum by (le) (rate(dialer_call_ring_duration_seconds_bucket{{{CAMPAIGN}}}[5m])))",
                    "ring p50",
                ),
                (
                    f"histogram_quantile(0.95, sum by (le) (rate(dialer_call_ring_duration_seconds_bucket{{{CAMPAIGN}}}[5m])))",
                    "ring p95",
                ),
                (
                    f"histogram_quantile(0.5, sum by (le) (rate(dialer_call_talk_duration_seconds_bucket{{{CAMPAIGN}}}[5m])))",
                    "talk p50",
                ),
            ],
            0, 32, unit="s",
        ),
        panel(
            "DNC blocks and import rows (per hour)",
            [
                (f"sum by (stage) (increase(dialer_dnc_blocked_total{{{CAMPAIGN}}}[1h]))", "DNC {{stage}}"),
                ("sum by (result) (increase(dialer_import_rows_total[1h]))", "import {{result}}"),
            ],
            12, 32,
        ),
        panel(
            "gRPC errors (per second, by method and code)",
            [(
                'sum by (method, code) (rate(dialer_grpc_requests_total{code!="OK"}[5m]))',
                "{{method}} {{code}}",
            )],
            0, 40,
        ),
        panel(
            "gRPC latency p95 (by method)",
            [(
                "histogram_quantile(0.95, sum by (le, method) (rate(dialer_grpc_request_duration_seconds_bucket[5m])))",
                "{{method}}",
            )],
            12, 40, unit="s",
        ),
        panel(
            "Redis reachable",
            [("min(dialer_redis_up)", "redis up")],
            0, 48, w=6, h=4, kind="stat",
        ),
    ]  # fmt: skip
    for i, p in enumerate(panels, start=1):
        p["id"] = i
    return {
        "title": "Dialer",
        "uid": "dialer-overview",
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "time": {"from": "now-6h", "to": "now"},
        "refresh": "30s",
        "tags": ["dialer"],
        "templating": {
            "list": [
                {"name": "datasource", "type": "datasource", "query": "prometheus"},
                {
                    "name": "campaign",
                    "type": "query",
                    "datasource": DS,
                    "query": "label_values(dialer_campaign_info, campaign)",
                    "includeAll": True,
                    "multi": True,
                    "allValue": ".*",
                    "current": {"text": "All", "value": "$__all"},
                },
            ]
        },
        "annotations": {"list": []},
        "panels": panels,
    }


def render() -> str:
    return json.dumps(dashboard(), indent=2) + "\n"


if __name__ == "__main__":
    OUT.write_text(render())
