"""``opsbook init``: a starter opsbook.yaml for a project that has no runbook yet.

Detected, each traced to the file and line it came from: package.json scripts (lint, typecheck,
test, build, e2e) run with the project's package manager (pnpm, yarn, bun or npm by lock file),
Makefile targets when package.json has none, supabase/migrations (or prisma/db migrations),
.env.example (the env contract), vercel.json and a Dockerfile (the deploy step).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from opsbook.environ import read_env_file
from opsbook.errors import UsageError
from opsbook.importer import emit
from opsbook.importer.draft import Draft, EnvEntry, RunbookDraft, StepDraft, slug
from opsbook.importer.envcontract import is_secret
from opsbook.spec.loader import LoadedSpec

SCRIPTS = (
    ("lint", ("lint",)),
    ("typecheck", ("typecheck", "type-check", "types", "check-types", "tsc")),
    ("test", ("test", "test:unit", "unit")),
    ("build", ("build",)),
    ("e2e", ("e2e", "test:e2e", "playwright")),
)
READ_ONLY = frozenset({"lint", "typecheck", "test", "e2e"})
"""Scripts that check the code and change no environment: a release's plan does not count them."""
_LOCKS = (
    ("pnpm-lock.yaml", "pnpm"),
    ("yarn.lock", "yarn"),
    ("bun.lockb", "bun"),
    ("bun.lock", "bun"),
    ("package-lock.json", "npm"),
)
_MIGRATIONS = (
    ("supabase/migrations", "supabase db push"),
    ("prisma/migrations", "npx prisma migrate deploy"),
    ("db/migrations", None),
    ("migrations", None),
)
_TARGET = re.compile(r"^([A-Za-z0-9][A-Za-z0-9_.-]*)\s*:(?!=)")


@dataclass
class InitResult:
    text: str
    loaded: LoadedSpec
    detected: list[str] = field(default_factory=list)
    """What was found, one line each (shown by the CLI)."""


def _line_of(text: str, needle: str) -> int:
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return number
    return 1


def _package_manager(root: Path, package: dict[str, object]) -> str:
    declared = package.get("packageManager")
    if isinstance(declared, str) and declared.split("@")[0] in ("pnpm", "yarn", "bun", "npm"):
        return declared.split("@")[0]
    for lock, manager in _LOCKS:
        if (root / lock).is_file():
            return manager
    return "npm"


def _run_script(manager: str, script: str) -> str:
    if manager == "npm":
        return "npm test" if script == "test" else f"npm run {script}"
    return f"{manager} run {script}"


def _read_package(path: Path) -> tuple[dict[str, object], str]:
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise UsageError(
            f"cannot parse JSON: {err.msg}", file=str(path), line=err.lineno,
            hint="fix package.json, or move it aside and run `opsbook init` again",
        ) from None  # fmt: skip
    if not isinstance(data, dict):
        raise UsageError("package.json is not a JSON object", file=str(path))
    return data, text


def detect(root: Path) -> tuple[Draft, list[str]]:
    """The starter spec for the project in root, and what was detected."""
    if not root.is_dir():
        raise UsageError(f"{root} is not a directory", hint="pass the project's directory")
    draft = Draft(file=".", project=slug(root.resolve().name, fallback="project"))
    found: list[str] = []
    release = RunbookDraft("release", 0, description="Check, build and ship a release")
    steps = release.steps
    env_file = root / ".env.example"
    if env_file.is_file():
        text = env_file.read_text(encoding="utf-8", errors="replace")
        for name, value in read_env_file(env_file).items():
            secret = is_secret(name, value)
            draft.add_env(
                EnvEntry(
                    name, _line_of(text, name + "="), required=True, secret=secret,
                    example=value or None if not secret else None, file=".env.example",
                )
            )  # fmt: skip
        found.append(f".env.example: {len(draft.env)} variables")
        steps.append(StepDraft("check", "env", 1, id="env", file=".env.example"))
    covered: set[str] = set()
    package_path = root / "package.json"
    if package_path.is_file():
        package, text = _read_package(package_path)
        if isinstance(package.get("name"), str):
            draft.project = slug(str(package["name"]).split("/")[-1], fallback=draft.project)
        scripts = package.get("scripts")
        manager = _package_manager(root, package)
        found.append(f"package.json with {manager}")
        if isinstance(scripts, dict):
            for step_id, names in SCRIPTS:
                script = next((n for n in names if n in scripts), None)
                if script is None:
                    continue
                covered.add(step_id)
                found.append(f"package.json script {script}")
                steps.append(
                    StepDraft(
                        "run", _run_script(manager, script), _line_of(text, f'"{script}"'),
                        id=step_id, file="package.json", read_only=step_id in READ_ONLY,
                    )
                )  # fmt: skip
    makefile = root / "Makefile"
    if makefile.is_file():
        text = makefile.read_text(encoding="utf-8", errors="replace")
        targets = [m.group(1) for m in map(_TARGET.match, text.splitlines()) if m]
        for step_id, names in SCRIPTS:
            target = next((n for n in names if n in targets), None)
            if target is not None and step_id not in covered:
                covered.add(step_id)
                found.append(f"Makefile target {target}")
                steps.append(
                    StepDraft("run", f"make {target}", _line_of(text, f"{target}:"), id=step_id,
                              file="Makefile", read_only=step_id in READ_ONLY)
                )  # fmt: skip
    steps.append(
        StepDraft(
            "gate", "On-call engineer is aware of the deployment window", 0, id="window",
            condition="${{ environment.protected }}",
        )
    )  # fmt: skip
    for folder, command in _MIGRATIONS:
        if (root / folder).is_dir():
            count = len(list((root / folder).glob("*.sql")))
            found.append(f"{folder}/ ({count} SQL files)")
            run = command or f"echo 'apply the migrations in {folder}/ with your tool' && false"
            steps.append(
                StepDraft("run", run, 1, id="migrate", irreversible=True, file=folder + "/")
            )
            break
    if (root / "vercel.json").is_file():
        found.append("vercel.json")
        steps.append(StepDraft("run", "vercel deploy --prod", 1, id="deploy", file="vercel.json"))
    elif (root / "Dockerfile").is_file():
        found.append("Dockerfile")
        image = draft.project
        steps.append(
            StepDraft(
                "run", f'docker build -t {image}:"${{{{ run.id }}}}" .', 1, id="deploy",
                file="Dockerfile",
            )
        )  # fmt: skip
    if not any(s.kind == "run" for s in steps):
        steps.append(
            StepDraft("gate", "Replace this gate with your release steps", 0, id="todo")
        )  # fmt: skip
    draft.runbooks["release"] = release
    return draft, found


def init_project(root: Path) -> InitResult:
    """Build and validate the starter opsbook.yaml for root (nothing is written)."""
    draft, found = detect(root)
    header = "# Written by `opsbook init`; each step says which file it was detected from.\n"
    text, loaded = emit.emit(draft, "opsbook.yaml", header=header)
    return InitResult(text, loaded, found)
