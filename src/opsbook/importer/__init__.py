"""Markdown runbook → opsbook.yaml (``opsbook import``), and starter files (``opsbook init``).

    result = import_text(Path("docs/RUNBOOK.md").read_text(), "docs/RUNBOOK.md")
    result.text          # opsbook.yaml, validated, each item with `# from FILE:LINE`
    result.report        # Markdown: counts and every line that mapped to nothing

Stages, one module each: :mod:`markdown` (parse with line maps), :mod:`envcontract` (tables and
lists → env), :mod:`gates` (checklists and procedures), :mod:`fences` (shell → run steps),
:mod:`checks` (health probes), :mod:`operations` (x-operations), :mod:`runbooks` (headings →
runbooks), :mod:`emit` (YAML) and :mod:`report`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from opsbook.errors import SpecError, UsageError
from opsbook.importer import emit, markdown, report, runbooks, specfiles
from opsbook.importer.draft import Draft
from opsbook.importer.report import Counts
from opsbook.importer.specfiles import MonitorImport
from opsbook.spec.loader import LoadedSpec

__all__ = ["ImportResult", "MonitorImport", "import_file", "import_text", "write_outputs"]


@dataclass
class ImportResult:
    draft: Draft
    text: str
    loaded: LoadedSpec
    report: str

    @property
    def counts(self) -> Counts:
        return report.count(self.draft)


def import_text(source: str, file: str, output: str = "opsbook.yaml") -> ImportResult:
    """Import Markdown text; ``file`` is how the source is named in ``# from`` comments.

    Raises SpecError naming the source when the result would not validate (an importer bug
    or input it cannot represent), never anything else.
    """
    clean = source.encode("utf-8", "replace").decode("utf-8").replace("\x00", "\ufffd")
    draft = Draft(file=file)
    runbooks.build(markdown.parse(clean), draft)
    if not draft.runbooks:
        raise UsageError(
            f"{file}: no runbook found (no checklist, command list or shell block under a heading)",
            hint="add steps under a heading, or start from `opsbook init`",
        )
    try:
        text, loaded = emit.emit(draft, output)
    except SpecError as err:
        raise SpecError(err.problems) from None
    return ImportResult(draft, text, loaded, report.render(draft, output))


def import_file(path: Path, output: str = "opsbook.yaml") -> ImportResult | MonitorImport:
    """Import a Markdown runbook, or a Sloth, OpenSLO or Prometheus rules file (told apart by
    content); a missing or unreadable file is a UsageError."""
    try:
        if path.is_file() and path.stat().st_size > specfiles.MAX_BYTES:
            raise UsageError(
                f"{path}: larger than {specfiles.MAX_BYTES // 1_000_000} MB",
                hint="import a runbook or monitoring file, or split it",
            )
        source = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        raise UsageError(
            f"{path}: no such file", hint="pass the path of a Markdown runbook"
        ) from None
    except IsADirectoryError:
        raise UsageError(f"{path} is a directory", hint="pass a Markdown file") from None
    except OSError as err:
        raise UsageError(f"{path}: cannot read: {err.strerror}") from None
    kind = specfiles.detect(source, path.as_posix())
    if kind is not None:
        return specfiles.import_monitoring(source, path.as_posix(), output, kind)
    if path.suffix.lower() in (".yaml", ".yml"):
        raise UsageError(
            f"{path}: not a Sloth, OpenSLO or Prometheus rules file",
            hint="opsbook imports Markdown runbooks, Sloth prometheus/v1 specs, OpenSLO v1 "
            "and Prometheus rule files (groups: at the top)",
        )
    return import_text(source, path.as_posix(), output)


def write_outputs(
    files: list[tuple[Path, str]],
    *,
    force: bool,
    hint: str = "pass --force to overwrite it, or -o another file",
) -> None:
    """Write each (path, text); nothing is written if any path exists and not ``force``."""
    if not force:
        for path, _ in files:
            if path.exists():
                raise UsageError(
                    f"{path} already exists",
                    hint=hint,
                )
    for path, text in files:
        try:
            path.write_text(text, encoding="utf-8")
        except OSError as err:
            raise UsageError(f"{path}: cannot write: {err.strerror}") from None
