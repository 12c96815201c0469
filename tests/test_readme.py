"""The README's Python example runs as written (against the test Redis)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_example_runs(
    redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = re.search(r"```python\n(.*?)```", README.read_text(), re.S)
    assert code is not None
    source = code.group(1).replace("redis://127.0.0.1:6379/0", redis_url)
    source = source.replace(
        "DialerState(redis.Redis", "DialerState(prefix=PREFIX, client=redis.Redis"
    )
    (tmp_path / "leads.csv").write_text("phone,name\n(212) 555-0100,Ann\n2125550101,Bob\nbad,Cy\n")
    monkeypatch.chdir(tmp_path)
    scope: dict[str, object] = {"PREFIX": f"readme-{tmp_path.name}"}
    exec(compile(source, "README.md", "exec"), scope)
    report = scope["report"]
    assert getattr(report, "accepted", None) == 2
    campaign = scope["campaign"]
    state = scope["state"]
    progress = state.campaigns.progress(campaign.id)  # type: ignore[attr-defined]
    # One of the two contacts is on the DNC list.
    assert (progress.total, progress.ready, progress.outcomes) == (2, 1, {"dnc_blocked": 1})
