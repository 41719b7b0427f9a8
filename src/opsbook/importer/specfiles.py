"""Monitoring files → opsbook.yaml: Sloth ``prometheus/v1`` specs, OpenSLO v1 and Prometheus
alerting rules (``opsbook import FILE``), told apart by their content, not their extension.

    result = import_monitoring(Path("slos.yaml").read_text(), "slos.yaml")
    result.text      # opsbook.yaml: a prometheus source, metrics, alerts, slos; validated
    result.report    # Markdown: counts, and every part that was changed, assumed or skipped

Each format has its module (:mod:`sloth`, :mod:`openslo`, :mod:`promrules`); they read the YAML
through :class:`~opsbook.importer.monitordraft.Node` (every problem names ``FILE:LINE``) and fill
one :class:`~opsbook.importer.monitordraft.SpecDraft`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ruamel.yaml.comments import CommentedMap

from opsbook.errors import Problem, SpecError
from opsbook.importer.monitordraft import Format, Node, SpecDraft
from opsbook.spec.loader import LoadedSpec, parse_yaml_stream, validate_text

MAX_BYTES = 5_000_000
"""Largest monitoring file read (a big real rules file is a few hundred kilobytes)."""
SOURCE = "prometheus"
URL_VAR = "PROMETHEUS_URL"
ENVIRONMENT = "production"


_SIGNS = (
    (re.compile(r"^apiVersion:\s*[\"']?openslo/", re.M), Format.OPENSLO),
    (re.compile(r"^apiVersion:\s*[\"']?sloth\.slok\.dev/", re.M), Format.SLOTH),
    (re.compile(r"^version:\s*[\"']?prometheus/", re.M), Format.SLOTH),
    (re.compile(r"^groups:\s*(\[|#|$)", re.M), Format.RULES),
)


def detect(text: str, file: str) -> Format | None:
    """The format of a file by what it says at its top level; None for anything else.

    >>> detect("groups:\\n  - name: api\\n", "rules.txt")
    <Format.RULES: 'Prometheus rules file'>
    """
    if file.lower().endswith((".md", ".markdown")):
        return None
    for pattern, kind in _SIGNS:
        if pattern.search(text):
            return kind
    return None


@dataclass
class MonitorImport:
    draft: SpecDraft
    text: str
    loaded: LoadedSpec
    report: str

    def counts(self) -> dict[str, int]:
        d = self.draft
        return {"metrics": len(d.metrics), "alerts": len(d.alerts), "slos": len(d.slos)}


def import_monitoring(
    text: str, file: str, output: str = "opsbook.yaml", kind: Format | None = None
) -> MonitorImport:
    """Import a Sloth, OpenSLO or Prometheus rules file (``kind`` or detected from ``text``)."""
    from opsbook.importer import openslo, promrules, sloth  # only when one is imported

    kind = kind or detect(text, file)
    if kind is None:
        raise SpecError(
            [Problem(file, 1, "", "not a Sloth, OpenSLO or Prometheus rules file; " + _KINDS)]
        )
    if len(text) > MAX_BYTES:
        raise SpecError(
            [Problem(file, 1, "", f"file larger than {MAX_BYTES // 1_000_000} MB; split it")]
        )
    docs = [Node(d, (), d.data) for d in parse_yaml_stream(text, file)]
    if not docs:
        raise SpecError([Problem(file, 1, "", "the file is empty; " + _KINDS)])
    draft = SpecDraft(file=file, format=kind)
    builder = {Format.SLOTH: sloth.build, Format.OPENSLO: openslo.build}.get(kind, promrules.build)
    builder(docs, draft)
    if not (draft.metrics or draft.alerts or draft.slos):
        raise SpecError([Problem(file, 1, "", f"nothing to import from this {kind.value}")])
    out = emit(draft, output)
    return MonitorImport(draft, out[0], out[1], render_report(draft, output))


_KINDS = (
    "expected 'version: prometheus/v1' (Sloth), 'apiVersion: openslo/v1' (OpenSLO) or "
    "'groups:' (Prometheus rules) at the top level"
)


def emit(draft: SpecDraft, output: str) -> tuple[str, LoadedSpec]:
    """The draft as opsbook.yaml text, validated by opsbook itself."""
    from opsbook.importer.emit import dump

    doc = CommentedMap()
    doc["version"] = 1
    doc["project"] = draft.project
    env = CommentedMap(vars=CommentedMap({URL_VAR: draft.url}))
    env["vars"].yaml_add_eol_comment("your Prometheus (or Thanos, Mimir) base URL", URL_VAR)
    doc["environments"] = CommentedMap({ENVIRONMENT: env})
    doc["sources"] = CommentedMap({SOURCE: CommentedMap(prometheus=f"${{{{ vars.{URL_VAR} }}}}")})
    for section in ("metrics", "alerts", "slos"):
        if getattr(draft, section):
            doc[section] = getattr(draft, section)
    header = f"# Imported from {draft.file} ({draft.format.value}) by `opsbook import`; review.\n"
    text = header + dump(doc)
    try:
        return text, validate_text(text, output)
    except SpecError as err:
        raise SpecError(err.problems) from None


def render_report(draft: SpecDraft, output: str) -> str:
    """The import report: what was made, and every change, assumption or skipped part."""
    lines = [
        f"# Import report: {draft.file} ({draft.format.value}) → {output}",
        "",
        f"- metrics: {len(draft.metrics)} (source `{SOURCE}`, Prometheus at "
        f"`vars.{URL_VAR}` of environment `{ENVIRONMENT}`: {draft.url})",
        f"- alerts: {len(draft.alerts)}",
        f"- slos: {len(draft.slos)}",
        "",
        f"## Notes ({len(draft.notes)})",
        "",
    ]
    lines += [f"- {draft.file}:{n.line}: {n.why}: {n.what}" for n in draft.notes] or [
        "Nothing: every part mapped as it is."
    ]
    return "\n".join(lines) + "\n"


def summary(result: MonitorImport, output: str) -> dict[str, Any]:
    """What ``opsbook import --json`` prints for a monitoring file."""
    draft = result.draft
    return {
        "source": draft.file,
        "format": draft.format.name.lower(),
        "output": output,
        **result.counts(),
        "notes": [{"line": n.line, "why": n.why, "text": n.what} for n in draft.notes],
    }
