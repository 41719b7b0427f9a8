"""Monitoring commands: ``monitor eval|replay``, ``watch``, ``alerts``, ``silence ...``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from opsbook.cli.app import app, subgroup
from opsbook.cli.options import Json, Now, SpecFile, StoreUrl
from opsbook.wording import counted

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    import uvicorn

    from opsbook.spec.loader import LoadedSpec
    from opsbook.store import Store

monitor = subgroup("monitor", "Evaluate metrics and alerts once, or replay a past interval.")
silence = subgroup("silence", "Mute notifications of matching alerts for a while.")
tests = subgroup("test", "Unit tests of opsbook.yaml's rules.")

EnvOpt = Annotated[
    str | None,
    typer.Option("--env", "-e", help="Environment whose env/vars fill ${{ }} in sources."),
]


@monitor.command("eval")
def eval_(
    now: Now = None,
    json: Json = False,
    file: SpecFile = None,
    store: StoreUrl = None,
    env: EnvOpt = None,
) -> None:
    """Evaluate every metric and alert once at --now; store alert states. Exit 1 when an alert
    fires."""
    from opsbook.cli.common import project_store
    from opsbook.clock import parse_time
    from opsbook.errors import CheckFailed
    from opsbook.monitor.evaluate import evaluate
    from opsbook.spec.loader import load_spec

    loaded = load_spec(file)
    when = parse_time(now)
    evaluation = evaluate(project_store(store, loaded.path), loaded, when, environment=env)
    if json:
        from opsbook.console import print_json

        print_json(
            {
                "now": when,
                "metrics": {
                    n: {
                        "samples": [{"labels": s.labels, "value": s.value} for s in r.samples],
                        "error": r.error,
                    }
                    for n, r in evaluation.readings.items()
                },
                "alerts": [a.to_dict() for a in evaluation.alerts],
                "transitions": [t.to_dict() for t in evaluation.transitions],
                "bands": {
                    name: [b.to_dict() for b in found] for name, found in evaluation.bands.items()
                },
            }
        )
    else:
        from opsbook.console.monitor import show_evaluation

        show_evaluation(evaluation)
    if evaluation.firing:
        raise CheckFailed(f"{counted(len(evaluation.firing), 'alert')} firing")


@monitor.command("replay")
def replay_(
    from_: Annotated[str, typer.Option("--from", help="Start of the interval (a --now TIME).")],
    to: Annotated[str, typer.Option("--to", help="End of the interval.")],
    every: Annotated[str, typer.Option("--every", help="Evaluation step.")] = "1m",
    now: Now = None,
    json: Json = False,
    file: SpecFile = None,
    env: EnvOpt = None,
) -> None:
    """Evaluate alerts over a past interval and print every state transition with its time.
    Nothing is stored or sent."""
    from opsbook.clock import parse_time
    from opsbook.errors import UsageError
    from opsbook.monitor.replay import replay
    from opsbook.spec.durations import parse_duration
    from opsbook.spec.loader import load_spec

    loaded = load_spec(file)
    ref = parse_time(now)
    try:
        step = parse_duration(every)
    except ValueError as err:
        raise UsageError(f"--every: {err}") from None
    result = replay(
        loaded,
        parse_time(from_, now=ref, option="--from"),
        parse_time(to, now=ref, option="--to"),
        step,
        environment=env,
    )
    if json:
        from opsbook.console import print_json
        from opsbook.console.monitor import transition_dict

        print_json(
            {
                "from": result.start,
                "to": result.end,
                "evaluations": result.steps,
                "errors": result.errors,
                "transitions": [transition_dict(t) for t in result.transitions],
            }
        )
    else:
        from opsbook.console.monitor import show_transitions

        show_transitions(result)


@app.command("watch")
def watch_(
    interval: Annotated[str, typer.Option("--interval", help="Time between evaluations.")] = "1s",
    listen: Annotated[
        str | None,
        typer.Option("--listen", help="Also serve POST /api/v2/alerts on HOST:PORT."),
    ] = None,
    once: Annotated[
        bool, typer.Option("--once", help="Run every tick once and exit (for cron and drills).")
    ] = False,
    now: Now = None,
    json: Json = False,
    file: SpecFile = None,
    store: StoreUrl = None,
) -> None:
    """Evaluate every --interval, queue and send notifications, until Ctrl-C or SIGTERM."""
    import signal
    import threading
    from datetime import timedelta

    from opsbook.cli.common import project_store
    from opsbook.clock import parse_time, utcnow
    from opsbook.errors import UsageError
    from opsbook.monitor.watch import watch
    from opsbook.spec.durations import parse_duration
    from opsbook.spec.loader import load_spec

    loaded = load_spec(file)
    try:
        seconds = parse_duration(interval)
    except ValueError as err:
        raise UsageError(f"--interval: {err}") from None
    if seconds <= 0:
        raise UsageError("--interval must be longer than 0s")
    the_store = project_store(store, loaded.path)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    start = parse_time(now) if now else None
    shift = (start - utcnow()) if start is not None else timedelta(0)
    server = _listen(listen, the_store, loaded, lambda: utcnow() + shift) if listen else None
    from opsbook.console.watching import tick_printer

    try:
        watch(
            the_store,
            loaded,
            interval=seconds,
            start=start,
            stop=stop,
            on_tick=tick_printer(json),
            max_ticks=1 if once else None,
        )
    except KeyboardInterrupt:
        pass
    finally:
        if server is not None:
            server.should_exit = True


def _listen(
    where: str, store: Store, loaded: LoadedSpec, clock: Callable[[], datetime]
) -> uvicorn.Server:
    import threading

    import uvicorn

    from opsbook.errors import UsageError
    from opsbook.web.alertmanager import app as intake_app

    host, _, port = where.rpartition(":")
    if not host or not port.isdigit():
        raise UsageError(f"--listen {where!r} is not HOST:PORT", hint="e.g. 127.0.0.1:9093")
    config = uvicorn.Config(
        intake_app(store, loaded, clock), host=host, port=int(port), log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    return server


@app.command("alerts")
def alerts_(
    now: Now = None, json: Json = False, file: SpecFile = None, store: StoreUrl = None
) -> None:
    """Current alert states (rules and alerts received on /api/v2/alerts), as last evaluated."""
    from opsbook.cli.common import project_store
    from opsbook.monitor.evaluate import load_statuses
    from opsbook.spec.loader import load_spec

    loaded = load_spec(file)
    statuses = list(load_statuses(project_store(store, loaded.path), loaded.spec.project).values())
    if json:
        from opsbook.console import print_json

        print_json([s.to_dict() for s in statuses])
    else:
        from opsbook.console.monitor import show_alerts

        show_alerts(statuses)


Matchers = Annotated[
    list[str], typer.Argument(help='Label matchers: alertname="x" severity=~"crit.*".')
]


@silence.command("add")
def silence_add(
    matchers: Matchers,
    for_: Annotated[str, typer.Option("--for", help="How long the silence lasts.")] = "2h",
    comment: Annotated[str, typer.Option("--comment", "-m", help="Why.")] = "",
    author: Annotated[str | None, typer.Option("--author", help="Who (default: $USER).")] = None,
    now: Now = None,
    json: Json = False,
    file: SpecFile = None,
    store: StoreUrl = None,
) -> None:
    """Silence alerts matching every matcher from --now for --for."""
    import getpass

    from opsbook.cli.common import project_store
    from opsbook.clock import parse_time
    from opsbook.errors import UsageError
    from opsbook.notify.silences import add_silence
    from opsbook.spec.durations import parse_duration
    from opsbook.spec.loader import load_spec

    loaded = load_spec(file)
    try:
        duration = parse_duration(for_)
    except ValueError as err:
        raise UsageError(f"--for: {err}") from None
    made = add_silence(
        project_store(store, loaded.path),
        loaded.spec.project,
        list(matchers),
        now=parse_time(now),
        duration=duration,
        author=author or getpass.getuser(),
        comment=comment,
    )
    if json:
        from opsbook.console import print_json

        print_json(made.to_dict())
    else:
        from opsbook.console import info

        info(f"silence {made.id} until {parse_time(f'@{made.ends_at}'):%Y-%m-%d %H:%M:%S} UTC")


@silence.command("list")
def silence_list(
    now: Now = None, json: Json = False, file: SpecFile = None, store: StoreUrl = None
) -> None:
    """Stored silences (active, pending and expired)."""
    from opsbook.cli.common import project_store
    from opsbook.clock import parse_time
    from opsbook.notify.silences import list_silences
    from opsbook.spec.loader import load_spec

    loaded = load_spec(file)
    found = list_silences(project_store(store, loaded.path), loaded.spec.project)
    if json:
        from opsbook.console import print_json

        print_json([s.to_dict() for s in found])
    else:
        from opsbook.console.monitor import show_silences

        show_silences(found, parse_time(now).timestamp())


@silence.command("expire")
def silence_expire(
    silence_id: Annotated[str, typer.Argument(help="Silence id (or a unique prefix).")],
    now: Now = None,
    file: SpecFile = None,
    store: StoreUrl = None,
) -> None:
    """End a silence now."""
    import getpass

    from opsbook.cli.common import project_store
    from opsbook.clock import parse_time
    from opsbook.console import info
    from opsbook.notify.silences import expire_silence
    from opsbook.spec.loader import load_spec

    loaded = load_spec(file)
    expire_silence(
        project_store(store, loaded.path),
        loaded.spec.project,
        silence_id,
        now=parse_time(now),
        author=getpass.getuser(),
    )
    info(f"silence {silence_id} expired")


@app.command("slo")
def slo_(
    now: Now = None,
    json: Json = False,
    file: SpecFile = None,
    store: StoreUrl = None,
    env: EnvOpt = None,
) -> None:
    """Each SLO's error budget, what is left of it, and its burn rate per window at --now."""
    from opsbook.cli.common import project_store
    from opsbook.clock import parse_time
    from opsbook.monitor.slo import slo_statuses
    from opsbook.spec.loader import load_spec

    loaded = load_spec(file)
    the_store = (
        project_store(store, loaded.path)
        if any(
            loaded.spec.metrics[m].from_ is None
            for s in loaded.spec.slos.values()
            for m in ([s.sli] if isinstance(s.sli, str) else [])
        )
        else None
    )
    statuses = slo_statuses(loaded, parse_time(now), store=the_store, environment=env)
    if json:
        from opsbook.console import print_json

        print_json([s.to_dict() for s in statuses])
    else:
        from opsbook.console.monitor import show_slos

        show_slos(statuses)


@tests.command("alerts")
def test_alerts(
    test_file: Annotated[Path, typer.Argument(help="Test file: log lines and expected alerts.")],
    now: Now = None,
    json: Json = False,
    file: SpecFile = None,
) -> None:
    """Evaluate the alert rules over a test file's log lines and compare the alerts firing at
    each instant with the expected ones (promtool-style). Exit 1 when one differs."""
    from opsbook.errors import CheckFailed
    from opsbook.monitor.alert_tests import run_alert_tests
    from opsbook.spec.loader import load_spec

    outcomes = run_alert_tests(load_spec(file), test_file)
    if json:
        from opsbook.console import print_json

        print_json([dict(o.__dict__) for o in outcomes])
    else:
        from opsbook.console.monitor import show_alert_tests

        show_alert_tests(outcomes)
    failed = [o for o in outcomes if not o.ok]
    if failed:
        raise CheckFailed(f"{len(failed)} of {counted(len(outcomes), 'alert test')} failed")
