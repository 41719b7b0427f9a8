"""A :class:`Draft` → opsbook.yaml text, every item with a ``# from FILE:LINE`` comment.

The text is built as ruamel round-trip maps (so comments sit at the end of each item's line) and
then checked by opsbook's own validator: the importer never writes a file opsbook would reject.
"""

from __future__ import annotations

import io
import re
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import LiteralScalarString

from opsbook.importer import incident_ops, monitor_ops
from opsbook.importer.draft import Draft, StepDraft
from opsbook.spec.loader import LoadedSpec, validate_text

ENVIRONMENTS = ("staging", "production")
MONITORING = ("metrics", "alerts", "slos")
_PRINTABLE = re.compile(r"^[^\x00-\x08\x0b-\x1f\x7f-\x9f\ufeff\u2028\u2029]*$")


def _origin(draft: Draft, line: int, file: str | None = None) -> str:
    if line == 0:
        return "added by opsbook: confirm or remove"
    if file and file.endswith("/"):
        return f"from {file} (a directory)"
    return f"from {file or draft.file}:{line}"


def _text(value: str) -> Any:
    """Multi-line strings as literal blocks (readable commands) when YAML allows it."""
    if "\n" in value and _PRINTABLE.match(value) and value == value.strip("\n"):
        lines = [x.rstrip() for x in value.split("\n")]
        if lines[0] and not lines[0][0].isspace():
            return LiteralScalarString("\n".join(lines))
    return value


def to_map(draft: Draft) -> CommentedMap:
    """The document as ordered, commented maps."""
    doc = CommentedMap()
    doc["version"] = 1
    doc["project"] = draft.project
    environments = CommentedMap()
    for name in ENVIRONMENTS:
        env = CommentedMap()
        env["env_file"] = f".env.{name}"
        if draft.vars:
            env["vars"] = CommentedMap((k, v) for k, (_, v) in draft.vars.items())
        if name == "production":
            env["protected"] = True
        environments[name] = env
    doc["environments"] = environments
    if draft.env:
        contract = CommentedMap()
        for name, entry in draft.env.items():
            item = CommentedMap()
            item["required"] = entry.required
            if entry.default is not None:
                item["default"] = entry.default
            item["secret"] = entry.secret
            if entry.description:
                item["description"] = entry.description
            if entry.service:
                item["service"] = entry.service
            if entry.example:
                item["example"] = entry.example
            contract[name] = item
            contract.yaml_add_eol_comment(_origin(draft, entry.line, entry.file), name)
        doc["env"] = contract
    if draft.checks:
        checks = CommentedMap()
        for name, check in draft.checks.items():
            item = CommentedMap()
            if check.description:
                item["description"] = check.description
            item["http"] = check.http
            if check.method != "GET":
                item["method"] = check.method
            if check.headers:
                item["headers"] = CommentedMap(check.headers)
            if check.expect:
                item["expect"] = CommentedMap(check.expect)
            checks[name] = item
            checks.yaml_add_eol_comment(_origin(draft, check.line), name)
        doc["checks"] = checks
    runbooks = CommentedMap()
    for name, runbook in draft.runbooks.items():
        item = CommentedMap()
        if runbook.description:
            item["description"] = runbook.description
        if runbook.params:
            params = CommentedMap()
            for param, line in runbook.params.items():
                choices = runbook.choices.get(param)
                params[param] = CommentedMap(
                    [
                        ("required", True),
                        (
                            "description",
                            f"which of the source's alternatives runs; -p {param}=CHOICE"
                            if choices
                            else f"a placeholder in the source; -p {param}=VALUE",
                        ),
                    ]
                )
                if choices:
                    params[param]["choices"] = CommentedSeq(choices)
                params.yaml_add_eol_comment(_origin(draft, line), param)
            item["params"] = params
        steps = CommentedSeq()
        for step in runbook.steps:
            mapped = _step(step)
            mapped.yaml_add_eol_comment(_origin(draft, step.line, step.file), "id")
            steps.append(mapped)
        item["steps"] = steps
        runbooks[name] = item
        runbooks.yaml_add_eol_comment(_origin(draft, runbook.line), name)
    doc["runbooks"] = runbooks
    doc.update(incident_ops.sections(draft))  # severities, escalation, contacts from x-operations
    _monitoring(draft, doc)  # metrics, alerts, slos from x-operations alert rules and SLO tables
    if draft.operations:
        ops = CommentedMap()
        for category, entries in draft.operations.items():
            seq = CommentedSeq()
            for index, (line, entry) in enumerate(entries):
                if (
                    isinstance(entry, dict)
                    and entry
                    and not isinstance(next(iter(entry.values())), dict | list)
                ):
                    # On the first key's line: "- name: x  # from FILE:LINE".
                    mapped = CommentedMap(entry)
                    mapped.yaml_add_eol_comment(_origin(draft, line), next(iter(entry)))
                    seq.append(mapped)
                else:
                    seq.append(entry)
                    seq.yaml_add_eol_comment(_origin(draft, line), index)
            ops[category] = seq
        doc["x-operations"] = ops
    return doc


def _monitoring(draft: Draft, doc: CommentedMap) -> None:
    monitoring = monitor_ops.sections(draft, doc.get("calendars"))
    if "calendars" in monitoring and "calendars" in doc:
        doc["calendars"].update(monitoring.pop("calendars"))
    doc.update(monitoring)
    draft.monitoring = {k: len(v) for k, v in monitoring.items() if k in MONITORING}


def _step(step: StepDraft) -> CommentedMap:
    item = CommentedMap()
    item["id"] = step.id
    if step.name and step.name != step.id:
        item["name"] = step.name
    if step.description:
        item["description"] = step.description
    if step.condition:
        item["if"] = step.condition
    if step.dir:
        item["dir"] = step.dir
    if step.env:
        item["env"] = CommentedMap(step.env)
    if isinstance(step.value, str):
        item[step.kind] = _text(step.value)
    else:
        item[step.kind] = CommentedSeq(step.value)
    if step.timeout:
        item["timeout"] = step.timeout
    if step.confirm:
        item["confirm"] = True
    if step.irreversible:
        item["irreversible"] = True
    if step.read_only:
        item["read_only"] = True
    return item


def dump(doc: CommentedMap) -> str:
    yaml = YAML(typ="rt")
    yaml.width = 4096  # long commands stay on one line
    yaml.indent(mapping=2, sequence=4, offset=2)
    buffer = io.StringIO()
    yaml.dump(doc, buffer)
    return buffer.getvalue()


def emit(
    draft: Draft, output_name: str = "opsbook.yaml", header: str | None = None
) -> tuple[str, LoadedSpec]:
    """YAML text for the draft, validated; raises SpecError if opsbook would reject it."""
    if header is None:
        header = f"# Imported from {draft.file} by `opsbook import`; review before use.\n"
    text = header + dump(to_map(draft))
    return text, validate_text(text, output_name)
