"""``check secrets``: committed secrets in the project tree.

Files are those a commit could include (:mod:`opsbook.checks.tree`: gitignored files are never
read). Each is scanned by detect-secrets (every plugin, default filters, which honour
``pragma: allowlist secret`` comments) and by opsbook's rules:

- ``contract_secret``: the value of a variable the contract declares ``secret`` (as any
  environment resolves it, including the process environment), or its URL-encoded or base64
  form, appears in the file;
- ``public_secret_value``: a browser-exposed variable (``NEXT_PUBLIC_*`` ...) is assigned a
  value that looks like a credential;
- ``stripe_live_key``: a Stripe live key of any length (detect-secrets wants exactly 24
  characters).

Several rules firing on the same value on the same line make one finding. Findings accepted in
the baseline (:mod:`opsbook.checks.baseline`) are counted, not reported.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from detect_secrets.core.scan import scan_file

from opsbook.checks import baseline as baselines
from opsbook.checks.detectors import credential_detector, stripe_live_keys
from opsbook.checks.findings import Report
from opsbook.checks.public import BROWSER_PREFIXES
from opsbook.checks.tree import in_git_work_tree, project_files
from opsbook.environ import resolve
from opsbook.errors import UsageError
from opsbook.masking import secret_forms
from opsbook.spec.loader import LoadedSpec

MIN_CONTRACT_SECRET = 8
"""Shorter secret values are not searched for: they would match ordinary words and numbers."""
PARALLEL_MIN_FILES = 16
"""Fewer files per core than this are scanned in the calling process (a fork costs more)."""
MAX_FILE_BYTES = 2_000_000
"""Larger files (bundles, dumps) are skipped and reported as info."""
ALLOWLIST = "pragma: allowlist secret"
PUBLIC_ASSIGNMENT = re.compile(
    r"(?<![A-Za-z0-9_])((?:" + "|".join(BROWSER_PREFIXES) + r")[A-Za-z0-9_]*)"
    r"""\s*[:=]\s*["'`]?([^\s"'`,;#]+)"""
)
# The finding for a place is named after the most specific rule that fired there.
PRIORITY = ("public_secret_value", "contract_secret", "stripe_live_key", "detected_secret")


@dataclass
class Hit:
    """A secret value found at one line, and every rule that found it."""

    file: str
    line: int
    value: str
    reasons: dict[str, str] = field(default_factory=dict)
    variable: str | None = None

    @property
    def code(self) -> str:
        return next(c for c in PRIORITY if c in self.reasons)


class _FileHits:
    """Hits in one file, keyed by line and value so that rules agreeing make one hit."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.hits: dict[tuple[int, str], Hit] = {}

    def add(self, line: int, value: str, code: str, reason: str, variable: str | None) -> None:
        entry = self.hits.setdefault((line, value), Hit(self.file, line, value))
        entry.reasons.setdefault(code, reason)
        if variable and (entry.variable is None or code == "public_secret_value"):
            entry.variable = variable


@dataclass
class SecretsReport(Report):
    """What the scan found, how many files it read and what the baseline accepted."""

    root: str = ""
    listing: str = ""
    files_scanned: int = 0
    baseline: str = ""
    accepted: int = 0
    baseline_written: bool = False

    def details(self) -> dict[str, Any]:
        return {
            "root": self.root,
            "listing": self.listing,
            "files_scanned": self.files_scanned,
            "baseline": self.baseline,
            "accepted": self.accepted,
            "baseline_written": self.baseline_written,
        }


def scan_secrets(
    loaded: LoadedSpec,
    path: Path | None = None,
    baseline_file: Path | None = None,
    update_baseline: bool = False,
) -> SecretsReport:
    """Scan ``path`` (default: the project root) for committed secrets.

    With ``update_baseline`` every current finding is written to the baseline and accepted.
    UsageError when ``path`` does not exist.
    """
    root = (path if path is not None else loaded.root).resolve()
    if not root.exists():
        raise UsageError(f"{path}: no such file or directory", hint="pass a path to scan")
    project = loaded.root.resolve()
    baseline_path = (baseline_file or project / baselines.FILENAME).resolve()
    if root.is_file():
        files, base, listing = [Path(root.name)], root.parent, "file"
    else:
        git = in_git_work_tree(root)
        files, base, listing = project_files(root), root, "git" if git else "gitignore"
    report = SecretsReport(
        "secrets",
        root=_display(project, root),
        listing=listing,
        baseline=_display(project, baseline_path),
    )
    hits = _scan(report, loaded, project, base, files, skip=baseline_path)
    baseline = baselines.load(baseline_path)
    if update_baseline:
        baseline.entries = [
            baselines.Entry(h.file, baseline.hash(h.value), h.code, h.line) for h in hits
        ]
        baselines.save(baseline_path, baseline)
        report.baseline_written = True
        report.accepted = len(hits)
        return report
    for hit in hits:
        if baseline.accepts(hit.file, hit.value):
            report.accepted += 1
            continue
        report.add(
            "error",
            hit.code,
            hit.variable,
            "holds "
            + ", ".join(hit.reasons[c] for c in PRIORITY if c in hit.reasons)
            + "; remove it, rotate the credential, or accept it with --update-baseline",
            file=hit.file,
            line=hit.line,
        )
    return report


def _display(project: Path, path: Path) -> str:
    try:
        return path.relative_to(project).as_posix() or "."
    except ValueError:
        return str(path)


def _contract_secrets(loaded: LoadedSpec) -> dict[str, tuple[str, str]]:
    """Every searchable form of every contract secret → (variable, environment)."""
    forms: dict[str, tuple[str, str]] = {}
    declared = {n for n, d in loaded.spec.env.items() if d.secret}
    for env_name in loaded.spec.environments:
        eff = resolve(loaded, env_name)
        for name in sorted(declared):
            value = eff.values.get(name, "")
            if len(value) < MIN_CONTRACT_SECRET:
                continue
            for form in secret_forms(value):
                if len(form) >= MIN_CONTRACT_SECRET:
                    forms.setdefault(form, (name, env_name))
    return forms


def _scan(
    report: SecretsReport,
    loaded: LoadedSpec,
    project: Path,
    base: Path,
    files: list[Path],
    skip: Path,
) -> list[Hit]:
    contract = _contract_secrets(loaded)
    pattern = (
        re.compile("|".join(re.escape(f) for f in sorted(contract, key=len, reverse=True)))
        if contract
        else None
    )
    hits: list[Hit] = []
    with credential_detector() as kinds:
        readable = []
        for relative in files:
            absolute = base / relative
            if absolute.resolve() == skip:
                continue
            shown = _display(project, absolute)
            text = _read_text(report, absolute, shown)
            if text is not None:
                readable.append((absolute, shown, text))
        report.files_scanned = len(readable)
        detected = _detect_all([str(absolute) for absolute, _, _ in readable])
        for (_, shown, text), secrets in zip(readable, detected, strict=True):
            found = _FileHits(shown)
            hit = found.add
            for line_number, value, kind in secrets:
                hit(line_number, value, "detected_secret", f"a {kind} (detect-secrets)", None)
            for number, line in enumerate(text.splitlines(), start=1):
                if ALLOWLIST in line:
                    continue
                _line_rules(number, line, pattern, contract, kinds, hit)
            hits.extend(_merge(list(found.hits.values())))
    return hits


Detected = list[tuple[int, str, str]]
"""What detect-secrets found in one file: (line number, value, kind)."""


def _detect(path: str) -> Detected:
    return [(s.line_number, s.secret_value or "", s.type) for s in scan_file(path)]


def _detect_all(paths: list[str]) -> list[Detected]:
    """detect-secrets over ``paths``, on every core when there are many files.

    detect-secrets spends about 0.4 ms per line in pure Python (a repository of 50,000 lines
    takes 20 s on one core), so a large tree is split over forked processes, which inherit the
    plugin settings already entered. Results come back through the pool's pipes, never a file.
    """
    import multiprocessing
    import os

    workers = min(os.cpu_count() or 1, len(paths) // PARALLEL_MIN_FILES)
    if workers < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return [_detect(p) for p in paths]
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        return list(pool.map(_detect, paths, chunksize=4))


def _line_rules(
    number: int,
    line: str,
    pattern: re.Pattern[str] | None,
    contract: dict[str, tuple[str, str]],
    kinds: Callable[[str], list[str]],
    hit: Callable[[int, str, str, str, str | None], None],
) -> None:
    if pattern is not None:
        for match in pattern.finditer(line):
            name, env_name = contract[match.group(0)]
            hit(
                number,
                match.group(0),
                "contract_secret",
                f"the value of secret {name} (environment {env_name})",
                name,
            )
    for key in stripe_live_keys(line):
        hit(number, key, "stripe_live_key", "a Stripe live key", None)
    for match in PUBLIC_ASSIGNMENT.finditer(line):
        name, value = match.group(1), match.group(2)
        found = kinds(value)
        if found:
            hit(
                number,
                value,
                "public_secret_value",
                f"a secret-looking value ({', '.join(found)}) assigned to browser-exposed {name}",
                name,
            )


def _merge(hits: list[Hit]) -> Iterator[Hit]:
    """One hit per secret per line: a value found inside a longer one on the same line joins it.

    (detect-secrets reports a Stripe key truncated to 24 characters, opsbook the whole key.)
    """
    by_length = sorted(hits, key=lambda h: (h.line, -len(h.value)))
    kept: list[Hit] = []
    for candidate in by_length:
        into = next(
            (k for k in kept if k.line == candidate.line and candidate.value in k.value), None
        )
        if into is None:
            kept.append(candidate)
            continue
        for code, reason in candidate.reasons.items():
            into.reasons.setdefault(code, reason)
        if candidate.variable and (
            into.variable is None or "public_secret_value" in candidate.reasons
        ):
            into.variable = candidate.variable
    yield from sorted(kept, key=lambda h: h.line)


def _read_text(report: SecretsReport, path: Path, shown: str) -> str | None:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            report.add(
                "info",
                "skipped_large_file",
                None,
                f"{shown} is larger than 2 MB; not scanned",
                file=shown,
            )
            return None
        data = path.read_bytes()
    except OSError as err:
        report.add(
            "warning",
            "unreadable_file",
            None,
            f"{shown} cannot be read: {err.strerror}",
            file=shown,
        )
        return None
    if b"\0" in data[:8192]:  # binary: images, SQLite files, archives
        return None
    return data.decode("utf-8", errors="replace")
