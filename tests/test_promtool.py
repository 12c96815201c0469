"""The alert rules are valid and their unit tests pass (promtool, fetched by
scripts/promtool.sh); the Grafana dashboard is well-formed and plots only metrics we export."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
RULES = DEPLOY / "prometheus" / "alerts.yaml"


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, cwd=cwd)


def test_alert_rules_pass_promtool_check(promtool: str) -> None:
    checked = _run(promtool, "check", "rules", str(RULES))
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_every_alert_has_a_promtool_unit_test(promtool: str) -> None:
    tests = sorted((DEPLOY / "prometheus" / "tests").glob("*.yaml"))
    ran = _run(promtool, "test", "rules", *(t.name for t in tests), cwd=tests[0].parent)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    alerts = set(re.findall(r"^\s+- alert: (\w+)", RULES.read_text(), re.M))
    tested = set()
    for t in tests:
        tested |= set(re.findall(r"alertname: (\w+)", t.read_text()))
    assert alerts and alerts <= tested, f"alerts without a test: {alerts - tested}"


def test_scrape_config_example_is_valid(promtool: str) -> None:
    checked = _run(promtool, "check", "config", str(DEPLOY / "prometheus" / "prometheus.yaml"))
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_dashboard_queries_only_exported_metrics() -> None:
    dashboard = json.loads((DEPLOY / "grafana" / "dialer-dashboard.json").read_text())
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]
    assert exprs
    source = (DEPLOY.parent / "gateway" / "metrics.py").read_text()
    exported = set(re.findall(r'"(dialer_\w+)"', source))
    recorded = re.compile(r"\w*:\w+:\w+")  # recording rules (alerts.yaml), level:metric:ops
    used = {m for e in exprs for m in re.findall(r"\b(dialer_\w+)", recorded.sub("", e))}
    suffixes = ("_total", "_bucket", "_sum", "_count")
    unknown = {
        m
        for m in used
        if m not in exported
        and not any(m.endswith(s) and m.removesuffix(s) in exported for s in suffixes)
    }
    assert not unknown, f"the dashboard plots metrics nobody exports: {unknown}"


def test_committed_dashboard_is_what_its_builder_writes() -> None:
    import runpy

    builder = runpy.run_path(str(DEPLOY / "grafana" / "build_dashboard.py"))
    committed = (DEPLOY / "grafana" / "dialer-dashboard.json").read_text()
    assert committed == builder["render"](), "run python deploy/grafana/build_dashboard.py"
