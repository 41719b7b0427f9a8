"""`approvers: {distinct: true}`: the operator of a run cannot answer its gates, through the API
or the CLI; another approver can. The check is the library's approve path, shared by both."""

from __future__ import annotations

from pathlib import Path

from conftest import run_cli
from web_support import FAST, make_token, project, run_status, serving, wait_until

DISTINCT = """\
version: 1
project: shop
environments:
  production:
    protected: true
    approvers: {distinct: true}
runbooks:
  release:
    steps:
      - id: build
        run: echo build
      - id: window
        gate: Status page updated
      - id: deploy
        run: echo deploy
"""


def test_the_operator_of_a_run_cannot_approve_its_gate_but_another_approver_can(
    tmp_path: Path,
) -> None:
    root = project(tmp_path, DISTINCT)
    store_url = f"sqlite:///{root / 'state.db'}"
    alice = make_token(root, store_url, "approver", "alice")
    bob = make_token(root, store_url, "approver", "bob")
    with serving(root, store_url) as served:
        with served.client(alice) as api:
            run_id = api.post("/api/v1/runs", json={"runbook": "release", "env": "production"})
            run_id = run_id.json()["id"]
            wait_until(lambda: run_status(api, run_id)["run"]["status"] == "waiting", timeout=60)
            refused = api.post(f"/api/v1/runs/{run_id}/steps/window/approve", json={"note": "me"})
        assert refused.status_code == 403, refused.text
        assert refused.json()["code"] == "forbidden"
        assert "different approver" in refused.json()["detail"]
        # The CLI refuses the same person (the run's operator is token:alice).
        cli = run_cli(
            "approve",
            run_id,
            "window",
            cwd=root,
            env={**FAST, "OPSBOOK_DATABASE_URL": store_url, "OPSBOOK_OPERATOR": "token:alice"},
        )
        assert cli.returncode == 2 and "different approver" in cli.stderr, cli.stderr
        with served.client(bob) as api:
            ok = api.post(f"/api/v1/runs/{run_id}/steps/window/approve", json={"note": "checked"})
            assert ok.status_code == 200, ok.text
            assert ok.json()["operator"] == "token:bob"
            wait_until(lambda: run_status(api, run_id)["run"]["status"] == "succeeded", timeout=60)
