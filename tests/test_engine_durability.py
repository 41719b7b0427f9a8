"""Crashes, takeovers and locks: SIGKILL at random points then resume, one run per environment,
two workers never executing the same step, abort, resolve, and fencing of a stale executor."""

from __future__ import annotations

import random
import signal
import subprocess
import time
from pathlib import Path

import pytest

from engine_support import cli, crash, only_run, popen, project, rows, runs, step_status
from opsbook.store import schema
from waiting import wait_until

STEPS = 8
CRASHY = "version: 1\nproject: crashy\nenvironments: {local: {}}\nrunbooks:\n  release:\n"
CRASHY += "    steps:\n" + "".join(
    f"      - {{id: s{i}, run: 'sleep 0.05; echo s{i} >> side.txt'}}\n" for i in range(STEPS)
)
CRASHY += "      - {id: soak, wait: 200ms}\n      - {id: last, run: echo last >> side.txt}\n"
EXPECTED = [f"s{i}" for i in range(STEPS)] + ["last"]


def _finish(root: Path, url: str, name: str) -> str:
    """Resume (resolving interrupted steps as a careful human would) until the run is done."""
    found = [r for r in runs(url) if r.project == name]
    if not found:  # killed before the run was created: nothing ran, start it again
        assert not (root / "side.txt").exists()
        done = cli(root, url, "run", "release", "--env", "local")
        assert done.returncode == 0, done.stdout + done.stderr
        return "fresh"
    run_id = found[0].id
    for _ in range(200):  # bounded: the lease is 1s, each pass takes a fraction of that
        (run,) = [r for r in runs(url) if r.id == run_id]
        if run.status == "succeeded":
            return "resumed"
        if run.status == "needs_attention":
            side = (root / "side.txt").read_text().split() if (root / "side.txt").exists() else []
            for sid, status in step_status(url, run_id).items():
                if status == "interrupted":
                    # The human looks at the side effect to decide.
                    action = "--mark-done" if sid in side else "--rerun"
                    done = cli(root, url, "resolve", run_id, sid, action)
                    assert done.returncode == 0, done.stderr
            continue
        done = cli(root, url, "resume", run_id)
        if done.returncode != 0 and "is being executed by" in done.stderr:
            time.sleep(0.2)  # the dead process's lease has not expired yet
            continue
        assert done.returncode in (0, 1), done.stdout + done.stderr
    raise AssertionError("the run did not finish")


def _started(root: Path, url: str, name: str) -> subprocess.Popen[str]:
    """`opsbook run release` in ``root``, once its run exists (or the process ended): start-up
    time varies with the machine's load, so a trial counts its random moment from there."""
    proc = popen(root, url, "run", "release", "--env", "local")
    wait_until(
        lambda: proc.poll() is not None or any(r.project == name for r in runs(url)),
        interval=0.01,
        what="the run to be created",
    )
    return proc


@pytest.mark.slow
@pytest.mark.store
# about 20 s on PostgreSQL on a 2-core machine (a dozen kill and resume cycles, each a fresh
# interpreter); it hit 30 s once while other tests loaded the same cores
@pytest.mark.timeout(60)
def test_sigkill_at_random_points_then_resume_never_repeats_a_side_effect(
    tmp_path: Path, store_url: str
) -> None:
    rng = random.Random(20261122)
    how = []
    for trial in range(5):  # bounded: each trial is a start, a kill and a resume or two
        name = f"crashy{trial}"  # one project per trial: trials sharing a PostgreSQL store
        root = project(tmp_path / name, CRASHY.replace("project: crashy", f"project: {name}"))
        proc = _started(root, store_url, name)
        time.sleep(rng.uniform(0.0, 0.8))
        crash(proc)
        how.append(_finish(root, store_url, name))
        assert (root / "side.txt").read_text().split() == EXPECTED, f"trial {trial}"
        (run,) = [r for r in runs(store_url) if r.project == name]
        assert set(step_status(store_url, run.id).values()) == {"succeeded"}
    assert "resumed" in how  # at least some kills landed mid-run


QUICK = 30
INTERRUPTED = ": interrupted; steps in flight were killed."
QUICKLY = "version: 1\nproject: quick\nenvironments: {local: {}}\nrunbooks:\n  release:\n"
QUICKLY += "    steps:\n" + "".join(
    f"      - {{id: s{i}, run: 'echo s{i} >> side.txt'}}\n" for i in range(QUICK)
)


@pytest.mark.slow
@pytest.mark.store
@pytest.mark.timeout(90)  # six runs, each a Ctrl-C and a resume or two: ~10 s on 2 cores
def test_ctrl_c_at_random_points_then_resume_never_repeats_a_side_effect(
    tmp_path: Path, store_url: str
) -> None:
    """Ctrl-C lands anywhere in a run of quick steps, mostly inside the store's transactions
    (each step is two). The run stops as interrupted (130), or had just succeeded; it never
    fails, rolls back or leaves an error, and resuming runs each step exactly once. Trials
    like these found a Ctrl-C after a commit that wrote a step's end twice (exit 2, the run
    left running) and one that left SQLite in a transaction (exit 1)."""
    rng = random.Random(20261207)
    interrupted = 0
    for trial in range(6):  # bounded: each trial is a start, a Ctrl-C and a resume or two
        name = f"quick{trial}"
        root = project(tmp_path / name, QUICKLY.replace("project: quick", f"project: {name}"))
        proc = _started(root, store_url, name)
        time.sleep(rng.uniform(0.0, 0.3))
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        found = [r for r in runs(store_url) if r.project == name]
        status = found[0].status if found else None
        # -2: the Ctrl-C came after the run had succeeded, as the process exited
        ended = proc.returncode in (130, 0) or (proc.returncode == -2 and status == "succeeded")
        assert ended, f"trial {trial}: {proc.returncode} {status} {err}"
        errors = [e for e in err.splitlines() if e.startswith("error:") and INTERRUPTED not in e]
        assert not errors and status not in ("failed", "rolled_back"), err
        interrupted += proc.returncode == 130
        _finish(root, store_url, name)
        assert (root / "side.txt").read_text().split() == [f"s{i}" for i in range(QUICK)]
    assert interrupted  # at least some Ctrl-Cs landed mid-run


LOCKED = """\
version: 1
project: shop
environments: {local: {}}
runbooks:
  release:
    steps:
      - id: hold
        run: i=0; while [ ! -f go ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done
        timeout: 60s
"""


@pytest.mark.store
def test_two_concurrent_runs_one_proceeds_the_other_exits_4(tmp_path: Path, store_url: str) -> None:
    root = project(tmp_path, LOCKED)
    first = popen(root, store_url, "run", "release", "--env", "local", OPSBOOK_OPERATOR="ana")
    second = popen(root, store_url, "run", "release", "--env", "local", OPSBOOK_OPERATOR="bob")
    procs = {"ana": first, "bob": second}
    # The loser exits at once; the winner waits for `go`.
    loser = wait_until(
        lambda: next((n for n, p in procs.items() if p.poll() is not None), None),
        what="one of two runs to exit",
    )
    (root / "go").write_text("")
    winner = "bob" if loser == "ana" else "ana"
    _, err = procs[loser].communicate()
    out, werr = procs[winner].communicate()
    assert procs[loser].returncode == 4, err
    assert procs[winner].returncode == 0, out + werr
    holder = [r for r in runs(store_url) if r.operator == winner]
    assert len(runs(store_url)) == 1 and holder
    assert f"held by run {holder[0].id}" in err
    assert f"started by {winner} since" in err


GATED = """\
version: 1
project: w
environments: {local: {}}
runbooks:
  job:
    lock: false
    steps:
      - {id: ask, gate: go on}
""" + "".join(
    f"      - {{id: w{i}, run: 'echo $OPSBOOK_RUN_ID $OPSBOOK_STEP_ID >> ../side.txt'}}\n"
    for i in range(5)
)


def _two_workers_never_execute_the_same_step(tmp_path: Path, url: str) -> None:
    root = project(tmp_path / "p", GATED)
    ids = []
    for _ in range(6):
        assert cli(root, url, "run", "job", "--env", "local").returncode == 3
    for run in runs(url):
        ids.append(run.id)
        assert cli(root, url, "approve", run.id, "ask").returncode == 0
    workers = [popen(root, url, "worker", "--once", "--poll", "0.1") for _ in range(2)]
    for w in workers:
        out, err = w.communicate(timeout=120)
        assert w.returncode == 0, out + err
    lines = (tmp_path / "side.txt").read_text().splitlines()
    assert sorted(lines) == sorted(f"{rid} w{i}" for rid in ids for i in range(5))
    assert {r.status for r in runs(url)} == {"succeeded"}
    owners = {a.owner.split(":")[1] for a in rows(url, schema.attempts)}
    assert owners  # attempts record which process executed them


@pytest.mark.store
def test_two_workers_never_execute_the_same_step(tmp_path: Path, store_url: str) -> None:
    _two_workers_never_execute_the_same_step(tmp_path, store_url)


@pytest.mark.postgres
def test_two_workers_on_postgresql_never_execute_the_same_step(
    tmp_path: Path, fresh_pg_url: str
) -> None:
    _two_workers_never_execute_the_same_step(tmp_path, fresh_pg_url)


UNSAFE = """\
version: 1
project: u
environments: {local: {}}
runbooks:
  release:
    steps:
      - {id: check, run: 'true'}
      - id: deploy
        run: echo deploy >> side.txt; touch started; sleep 30
        rollback: echo undo >> side.txt
      - {id: after, run: echo after >> side.txt}
"""


@pytest.mark.store
def test_an_interrupted_unsafe_step_needs_a_human_then_resolve_decides(
    tmp_path: Path, store_url: str
) -> None:
    root = project(tmp_path, UNSAFE)
    proc = popen(root, store_url, "run", "release", "--env", "local")
    wait_until(lambda: (root / "started").exists(), what="the step to start")
    crash(proc)
    run = only_run(store_url)
    done = wait_until(lambda: _resumed(root, store_url, run.id), interval=0.2, what="resume")
    assert done.returncode == 1
    assert "needs_attention" in done.stderr and "opsbook resolve" in done.stderr
    assert "step deploy was interrupted mid-way and is not safe to run again" in done.stderr
    assert step_status(store_url, run.id)["deploy"] == "interrupted"
    again = cli(root, store_url, "resume", run.id)
    assert again.returncode == 2 and "decide first" in again.stderr
    assert cli(root, store_url, "resolve", run.id, "deploy", "--mark-done").returncode == 0
    final = cli(root, store_url, "resume", run.id)
    assert final.returncode == 0, final.stdout + final.stderr
    assert (root / "side.txt").read_text().split() == ["deploy", "after"]


@pytest.mark.store
def test_abort_rolls_back_a_paused_run(tmp_path: Path, store_url: str) -> None:
    root = project(
        tmp_path,
        UNSAFE.replace("touch started; sleep 30", "true").replace(
            "- {id: after,", "- {id: gate, gate: ok?}\n      - {id: after,"
        ),
    )
    assert cli(root, store_url, "run", "release", "--env", "local").returncode == 3
    run = only_run(store_url)
    done = cli(root, store_url, "abort", run.id)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (root / "side.txt").read_text().split() == ["deploy", "undo"]
    run = only_run(store_url)
    assert run.status == "aborted" and run.lock_key is None


@pytest.mark.store
def test_a_stale_executor_cannot_write_after_a_takeover(tmp_path: Path, store_url: str) -> None:
    """Fencing: once another owner holds the lease, the old owner's checkpoint is refused."""
    from sqlalchemy import update

    from opsbook.errors import LeaseLost
    from opsbook.store import open_store
    from opsbook.store import runs as q

    root = project(tmp_path, LOCKED)
    (root / "go").write_text("")
    assert cli(root, store_url, "run", "release", "--env", "local").returncode == 0
    run = only_run(store_url)
    store = open_store(store_url)
    try:
        with store.begin() as conn:  # set up by hand: no executor moves a run out of succeeded
            conn.execute(
                update(schema.runs)
                .where(schema.runs.c.id == run.id)
                .values(status="running", lease_owner="old", lease_expires_at=0.0)
            )
        with store.begin() as conn:
            assert q.acquire_lease(conn, run.id, "new", 30)
        with pytest.raises(LeaseLost), store.begin() as conn:
            q.fence(conn, run.id, "old", time.time())
        with store.begin() as conn:
            assert not q.acquire_lease(conn, run.id, "third", 30)
    finally:
        store.close()


STOLEN = """\
version: 1
project: s
environments: {local: {}}
runbooks:
  release:
    steps:
      - {id: slow, run: touch started; sleep 20; echo late >> side.txt}
      - {id: next, run: echo next >> side.txt}
"""


@pytest.mark.store
def test_an_executor_whose_lease_is_taken_stops_and_kills_its_step(
    tmp_path: Path, store_url: str
) -> None:
    from opsbook.store import open_store
    from opsbook.store import runs as q

    root = project(tmp_path, STOLEN)
    proc = popen(root, store_url, "run", "release", "--env", "local")
    wait_until(lambda: (root / "started").exists(), what="the step to start")
    run = only_run(store_url)
    store = open_store(store_url)
    try:
        with store.begin() as conn:  # another process takes the run over
            q.set_run(conn, run.id, lease_owner="thief", lease_expires_at=time.time() + 600)
    finally:
        store.close()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, out + err
    assert "took this run over" in out + err
    assert not (root / "side.txt").exists()  # the step was killed; `next` never started
    assert step_status(store_url, run.id) == {"slow": "running", "next": "pending"}
    assert only_run(store_url).lease_owner == "thief"  # nothing written after the takeover


HEARTBEAT = """\
version: 1
project: h
environments: {local: {}}
runbooks:
  release:
    steps:
      - {id: long, run: 'touch started; while [ ! -f go ]; do sleep 0.05; done', timeout: 60s}
"""


@pytest.mark.store
def test_the_heartbeat_keeps_a_live_run_from_being_taken_over(
    tmp_path: Path, store_url: str
) -> None:
    root = project(tmp_path, HEARTBEAT)
    proc = popen(root, store_url, "run", "release", "--env", "local", OPSBOOK_LEASE_SECONDS="2")
    wait_until(lambda: (root / "started").exists(), what="the step to start")
    time.sleep(3.0)  # longer than the lease: without a heartbeat it would have expired
    run = only_run(store_url)
    taken = cli(root, store_url, "resume", run.id)
    assert taken.returncode == 4 and "is being executed by" in taken.stderr
    (root / "go").write_text("")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, out + err


ABORTABLE = """\
version: 1
project: a
environments: {local: {}}
runbooks:
  release:
    steps:
      - {id: deploy, run: echo deploy >> side.txt, rollback: echo undo >> side.txt}
      - {id: long, run: 'touch started; sleep 30; echo late >> side.txt'}
      - {id: after, run: echo after >> side.txt}
"""


@pytest.mark.store
def test_abort_stops_a_run_another_process_is_executing(tmp_path: Path, store_url: str) -> None:
    root = project(tmp_path, ABORTABLE)
    proc = popen(root, store_url, "run", "release", "--env", "local")
    wait_until(lambda: (root / "started").exists(), what="the step to start")
    run = only_run(store_url)
    asked = cli(root, store_url, "abort", run.id, OPSBOOK_OPERATOR="lead")
    assert asked.returncode == 0, asked.stderr
    assert "abort requested" in asked.stdout
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, out + err
    assert (root / "side.txt").read_text().split() == ["deploy", "undo"]
    run = only_run(store_url)
    assert run.status == "aborted" and run.lock_key is None
    assert "aborted by lead" in run.summary["reason"]


WAITING = """\
version: 1
project: d
environments: {local: {}}
runbooks:
  release:
    steps:
      - {id: deploy, run: echo deploy >> side.txt}
      - {id: soak, wait: 3s}
      - {id: done, run: echo done >> side.txt}
"""


@pytest.mark.store
def test_a_wait_survives_a_crash_with_its_deadline(tmp_path: Path, store_url: str) -> None:
    root = project(tmp_path, WAITING)
    proc = popen(root, store_url, "run", "release", "--env", "local")
    wake_at = wait_until(lambda: _wake_at(store_url), what="the wait to store its deadline")
    crash(proc)
    run = only_run(store_url)
    done = wait_until(lambda: _resumed(root, store_url, run.id), interval=0.2, what="resume")
    assert done.returncode == 0, done.stdout + done.stderr
    (soak,) = [r for r in rows(store_url, schema.steps, run_id=run.id) if r.step_id == "soak"]
    assert soak.wake_at == wake_at  # the deadline set before the crash, not a new one
    assert soak.finished_at >= wake_at
    assert (root / "side.txt").read_text().split() == ["deploy", "done"]


@pytest.mark.store
def test_ctrl_c_kills_the_step_and_lets_go_of_the_run(tmp_path: Path, store_url: str) -> None:
    root = project(tmp_path, UNSAFE)
    proc = popen(root, store_url, "run", "release", "--env", "local")
    wait_until(lambda: (root / "started").exists(), what="the step to start")
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, out + err  # 128 + SIGINT
    assert "interrupted; steps in flight were killed" in out
    run = only_run(store_url)
    assert run.lease_owner is None and run.lock_key == "local"
    done = cli(root, store_url, "resume", run.id)  # at once: no lease to wait for
    assert done.returncode == 1 and "needs_attention" in done.stderr
    assert step_status(store_url, run.id)["deploy"] == "interrupted"


TIMED = """\
version: 1
project: t
environments: {local: {}}
runbooks:
  release:
    steps:
      - {id: deploy, run: echo deploy >> side.txt}
      - {id: soak, wait: 8s}
      - {id: done, run: echo done >> side.txt}
"""


@pytest.mark.slow
@pytest.mark.store
def test_a_worker_pauses_a_long_wait_and_continues_the_run_when_it_is_due(
    tmp_path: Path, store_url: str
) -> None:
    root = project(tmp_path, TIMED)
    proc = popen(root, store_url, "run", "release", "--env", "local")
    wait_until(lambda: _wake_at(store_url), what="the wait to store its deadline")
    crash(proc)  # the worker takes over from a dead process
    short = {"OPSBOOK_WORKER_MAX_WAIT": "0.5"}

    def took() -> subprocess.CompletedProcess[str] | None:
        done = cli(root, store_url, "worker", "--once", "--poll", "0.2", **short)
        return done if "worker took" in done.stdout else None  # the dead lease had not expired

    first = wait_until(took, interval=0.2, what="a worker to take the run")
    assert "soak paused until" in first.stdout, first.stdout
    run = only_run(store_url)
    assert run.status == "waiting" and run.lease_owner is None
    (soak,) = [s for s in rows(store_url, schema.steps, run_id=run.id) if s.step_id == "soak"]
    time.sleep(max(0.0, soak.wake_at - time.time()) + 0.1)  # until the timer is due
    second = cli(root, store_url, "worker", "--once", "--poll", "0.2", **short)
    assert second.returncode == 0, second.stdout + second.stderr
    assert only_run(store_url).status == "succeeded"
    assert (root / "side.txt").read_text().split() == ["deploy", "done"]


def _resumed(root: Path, store_url: str, run_id: str) -> subprocess.CompletedProcess[str] | None:
    """`opsbook resume`, or None while the dead process's lease has not expired yet."""
    done = cli(root, store_url, "resume", run_id)
    return None if "is being executed by" in done.stderr else done


def _wake_at(store_url: str) -> float | None:
    """The stored deadline of the step `soak` of the only run, once there is one."""
    for run in runs(store_url):
        for step in rows(store_url, schema.steps, run_id=run.id):
            if step.step_id == "soak" and step.wake_at:
                return float(step.wake_at)
    return None
