"""Headings → runbooks: walks the section tree and routes every block to a stage.

Each top-level section (the headings under the document title) that yields a step becomes a
runbook named after its heading. A "Issue: …" heading (or one under "Common issues") becomes its
own runbook, diagnosis first and the fix behind a gate; a rollback heading inside another
section becomes its own runbook too. Sections about monitoring, alerts, SLOs, severities,
escalation, contacts or incidents feed ``x-operations`` instead of steps (their code blocks and
checklists still become steps). Prose that maps to nothing goes to the import report.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from opsbook.importer import alternatives, envcontract, gates, operations, safety
from opsbook.importer.checks import expected_json
from opsbook.importer.draft import Draft, RunbookDraft, StepDraft, slug, unique
from opsbook.importer.fences import SQL_INFO, Context, fence_steps, looks_like_shell
from opsbook.importer.markdown import (
    Block,
    Fence,
    Inline,
    Item,
    ListBlock,
    Paragraph,
    Section,
    Table,
)
from opsbook.importer.placeholders import escape

_ISSUE = re.compile(r"^(issue|problem|symptom)\s*[:—–-]\s*", re.I)
_ISSUES_PARENT = re.compile(r"common issues|troubleshoot|known issues|faq", re.I)
_ROLLBACK = re.compile(r"roll\s?-?back", re.I)
_DATA = re.compile(
    r"monitor|alert|observab|objective|\bslos?\b|\bsli\b|severit|escalat|contact|dashboard|"
    r"logging|incident|on-?call responsib|responsibilit|cross-link|resources|table of contents|"
    r"\bhooks\b|baseline|decision matrix|service objectives|key metrics|staging environment|"
    r"production environment|follow-up",
    re.I,
)
_PROCEDURE = re.compile(
    r"roll\s?-?back|^issue\b|checklist|pre-?flight|prerequisite|verification|handoff", re.I
)
_READ_ONLY = re.compile(
    r"^(check|verify|list|inspect|review|view|look|monitor|describe|get|show|confirm|query)\b",
    re.I,
)
_EXPECTED = re.compile(
    r"\b(expected|should (return|show|print|output|see|look|respond|display|contain)|you should"
    r" see|sample output|example output|output:|response:|returns:|it prints)",
    re.I,
)
_INFO_LABEL = re.compile(r"option|automatic|events|example|note", re.I)
_HUMAN_ITEM = re.compile(r"\bmanual(ly)?\b|\bconfirm the following\b", re.I)


@dataclass
class _Walk:
    """State while walking one runbook's sections."""

    runbook: RunbookDraft
    titles: list[str]
    context: Context = field(default_factory=Context)
    label: str | None = None
    fix_at: int | None = None
    """For an issue runbook: index of the first fix step."""


def build(root: Section, draft: Draft) -> None:
    """Fill draft from the document tree."""
    top = root
    while (
        len(top.sections) == 1
        and top.sections[0].sections
        and not _has_steps(top.blocks)
        and not alternatives.is_alternative([s.title for s in top.sections[0].sections])
    ):
        for block in top.blocks:
            if isinstance(block, Paragraph):
                draft.skip(block.line, block.inline.text, "introduction prose")
        if top.level == 1 or (top is root and top.sections[0].level == 1):
            draft.project = slug(top.sections[0].title, fallback="project")
        top = top.sections[0]
    for block in top.blocks:
        _blocks_outside(block, draft, top.title)
    for section in top.sections:
        _runbook(section, draft, [section.title])


def _has_steps(blocks: list[Block]) -> bool:
    return any(isinstance(b, Fence | ListBlock) for b in blocks)


def _blocks_outside(block: Block, draft: Draft, title: str) -> None:
    if isinstance(block, Paragraph):
        draft.skip(block.line, block.inline.text, "prose outside any section")
    elif isinstance(block, Table):
        _table(block, draft, [title])
    elif isinstance(block, Fence):
        draft.skip(block.line, block.content[:80], "code block outside any section")
    elif isinstance(block, ListBlock):
        operations.list_entries(block, draft, operations.category(title))


def _runbook(section: Section, draft: Draft, titles: list[str], kind: str = "") -> None:
    name = unique(slug(section.title, fallback="runbook"), set(draft.runbooks))
    runbook = RunbookDraft(name, section.line)
    walk = _Walk(runbook, titles)
    _section(section, draft, walk, top=True, issue=kind == "issue")
    if kind == "issue":
        _fix_gate(walk, section.title)
    if runbook.steps:
        safety.apply(runbook)
        _ids(runbook)
        draft.runbooks[name] = runbook


def _section(section: Section, draft: Draft, walk: _Walk, *, top: bool, issue: bool) -> None:
    saved_dir = walk.context.dir
    walk.label = None
    steps = walk.runbook.steps
    texts = [b.inline.text for b in section.blocks if isinstance(b, Paragraph)]
    branches = alternatives.Branches(
        walk.runbook, steps, allow_if=alternatives.count_ifs(texts) > 1
    )
    for index, block in enumerate(section.blocks):
        following = section.blocks[index + 1] if index + 1 < len(section.blocks) else None
        if isinstance(block, Paragraph):
            branches.see(block.inline.text, block.line)
        start = len(steps)
        _block(block, following, draft, walk, issue=issue)
        branches.after(start)
    branches.close()
    headings = None
    if alternatives.is_alternative([child.title for child in section.sections]):
        headings = alternatives.Branches(walk.runbook, steps)
    for child in section.sections:
        if headings is not None:
            if alternatives.marker(child.title, heading=True) in (None, "end"):
                headings.close()
            else:
                headings.see(child.title, child.line, heading=True)
        start = len(steps)
        is_issue = bool(_ISSUE.match(child.title)) or bool(_ISSUES_PARENT.search(section.title))
        if is_issue and not issue:
            _runbook(child, draft, [child.title, *walk.titles], kind="issue")
        elif _ROLLBACK.search(child.title) and not any(_ROLLBACK.search(t) for t in walk.titles):
            _runbook(child, draft, [child.title, *walk.titles])
        else:
            walk.titles.insert(0, child.title)
            walk.context.dir = saved_dir
            walk.context.env = {}
            _section(child, draft, walk, top=False, issue=issue)
            walk.titles.pop(0)
        if headings is not None:
            headings.after(start)
    if headings is not None:
        headings.close()
    if top and walk.runbook.description is None:
        intro = next((b for b in section.blocks if isinstance(b, Paragraph)), None)
        if intro is not None and intro.inline.bold != intro.inline.text:
            walk.runbook.description = escape(intro.inline.text.replace("`", ""))[:300]


def _is_data(titles: list[str]) -> bool:
    if _PROCEDURE.search(titles[0]):
        return False
    return any(_DATA.search(t) for t in titles[:2])


def _block(
    block: Block, following: Block | None, draft: Draft, walk: _Walk, *, issue: bool
) -> None:
    runbook = walk.runbook
    data = _is_data(walk.titles)
    where = operations.category(*walk.titles)
    if isinstance(block, Paragraph):
        inline = block.inline
        if inline.bold and inline.text.rstrip(":").strip() == inline.bold.rstrip(":").strip():
            label = inline.bold.rstrip(":").strip()
            if operations.severity(
                block, following if isinstance(following, ListBlock) else None, draft
            ):
                walk.label = "severity"
                return
            walk.label = label
            if issue and re.match(r"fix|remed|mitigat|workaround", label, re.I):
                walk.fix_at = len(runbook.steps) if walk.fix_at is None else walk.fix_at
            return
        if _EXPECTED.search(inline.text) and _expected_inline(inline, runbook, draft):
            return
        steps = [] if data else gates.item_steps([Item(block.line, inline)], runbook, draft)
        if steps and steps[0].kind != "gate":
            runbook.steps += steps
            return
        walk.label = inline.text if inline.text.endswith(":") else None
        if walk.label is None:
            draft.skip(block.line, inline.text, "prose")
        return
    if isinstance(block, Table):
        _table(block, draft, walk.titles)
        return
    if isinstance(block, Fence):
        _fence(block, draft, walk, where)
        return
    if isinstance(block, ListBlock):
        _list(block, draft, walk, data=data, where=where, issue=issue)


def _table(block: Table, draft: Draft, titles: list[str]) -> None:
    if envcontract.is_env_table(block):
        envcontract.table_env(block, draft)
    else:
        operations.table(block, draft, operations.category(*titles))


def _fence(block: Fence, draft: Draft, walk: _Walk, where: str) -> None:
    label = walk.label
    if label and _EXPECTED.search(label) and walk.runbook.steps:
        _expected_block(block, walk.runbook, draft)
        return
    if block.info in ("env", "dotenv", ".env"):
        envcontract.dotenv_block(block.content, block.first_line, draft, walk.runbook.name)
        return
    if block.info in ("json", "yaml", "yml"):
        expected = bool(label and "expected" in label.lower()) and any(
            s.kind == "check" for s in walk.runbook.steps
        )
        data = operations.data_fence(block, draft, where, draft.file, keep=not expected)
        if expected and isinstance(data, dict):
            _expect(walk.runbook, draft, data)
        return
    if looks_like_shell(block) or block.info in SQL_INFO:
        lead = label.rstrip(":") if label else None
        walk.runbook.steps += fence_steps(block, walk.runbook, draft, walk.context, lead)
        return
    draft.skip(
        block.line,
        block.content.splitlines()[0] if block.content else "",
        f"code block in language {block.info or 'unknown'!r} is not shell or SQL",
    )


def _expect(runbook: RunbookDraft, draft: Draft, data: dict[str, object]) -> None:
    """ "Expected Response" JSON after a health check: expect its stable fields."""
    last = next((s for s in reversed(runbook.steps) if s.kind == "check"), None)
    wanted = expected_json(data)
    if last is None or not wanted:
        return
    names = [last.value] if isinstance(last.value, str) else list(last.value)
    for name in names:
        if draft.checks[name].method != "HEAD":
            draft.checks[name].expect["json"] = wanted


def _expected_block(block: Fence, runbook: RunbookDraft, draft: Draft) -> None:
    """A block after "Expected output" / "should return": what the step before it shows,
    never a command. JSON becomes the check's ``expect``; text the step's description."""
    last = runbook.steps[-1]
    try:
        data = json.loads(block.content)
    except ValueError:
        data = None
    if last.kind == "check" and isinstance(data, dict):
        _expect(runbook, draft, data)
        return
    text = block.content.strip()
    shown = text if len(text) <= 300 else text[:300] + " …"
    last.description = escape(f"Expected output: {shown}")


def _expected_inline(inline: Inline, runbook: RunbookDraft, draft: Draft) -> bool:
    """ "Should return `{"status":"ok"}`." after a check: its expected JSON body."""
    if not runbook.steps or runbook.steps[-1].kind != "check":
        return False
    for code in inline.codes:
        try:
            data = json.loads(code)
        except ValueError:
            continue
        if isinstance(data, dict):
            _expect(runbook, draft, data)
            return True
    return False


def _list(
    block: ListBlock, draft: Draft, walk: _Walk, *, data: bool, where: str, issue: bool
) -> None:
    label = (walk.label or "").lower()
    if envcontract.is_env_list(block):
        envcontract.list_env(block, draft, description=walk.label)
        return
    if operations.is_migration_list(block):
        operations.migrations(block, draft)
        return
    if walk.label == "severity":
        walk.label = None
        return
    tasks = any(item.task is not None for item in block.items)
    if tasks:
        steps = gates.item_steps(block.items, walk.runbook, draft)
        for step in steps:
            if step.kind == "gate" and step.name is None:
                step.name = escape(walk.titles[0])
        walk.runbook.steps += steps
        return
    if "alert" in label:
        operations.list_entries(block, draft, "alerts")
        return
    if data or (label and _INFO_LABEL.search(label)):
        operations.list_entries(block, draft, where)
        return
    if label.startswith("symptom"):
        text = "; ".join(i.inline.text.replace("`", "") for i in block.items)
        walk.runbook.description = escape(f"Symptoms: {text}")[:300]
        return
    _procedure(block.items, draft, walk, issue=issue)


def _procedure(items: list[Item], draft: Draft, walk: _Walk, *, issue: bool) -> None:
    """Numbered/bulleted procedure items: runs, checks and gates, recursing into sub-lists."""
    runbook = walk.runbook
    plain: list[Item] = []

    def flush() -> None:
        runbook.steps.extend(gates.item_steps(plain, runbook, draft))
        plain.clear()

    texts = [gates.item_text(item) for item in items if item.children]
    branches = alternatives.Branches(
        runbook, runbook.steps, allow_if=alternatives.count_ifs(texts) > 1
    )
    for item in items:
        sublists = [b for b in item.children if isinstance(b, ListBlock)]
        fences = [b for b in item.children if isinstance(b, Fence)]
        if not item.children:
            plain.append(item)
            continue
        flush()
        text = gates.item_text(item)
        branches.see(text, item.line)
        start = len(runbook.steps)
        _item(item, text, sublists, fences, draft, walk, plain, flush, issue=issue)
        branches.after(start)
    branches.close()
    flush()


def _item(
    item: Item,
    text: str,
    sublists: list[ListBlock],
    fences: list[Fence],
    draft: Draft,
    walk: _Walk,
    plain: list[Item],
    flush: Callable[[], None],
    *,
    issue: bool,
) -> None:
    """One procedure item that holds more than its text (sub-lists, code, paragraphs)."""
    runbook = walk.runbook
    bold_title = item.inline.bold is not None and text.rstrip(":") == item.inline.bold.rstrip(":")
    if sublists and re.search(r"contact|escalation", text, re.I):
        for sub in sublists:
            operations.list_entries(sub, draft, "contacts")
        return
    if sublists and _HUMAN_ITEM.search(text):
        for sub in sublists:
            if envcontract.is_env_list(sub):
                envcontract.list_env(sub, draft, description=text)
        entries = [gates.item_text(i) for s in sublists for i in s.items]
        value = [escape(e) for e in entries if e] or escape(text)
        runbook.steps.append(
            StepDraft("gate", value, item.line, name=escape(text.rstrip(":"))[:120])
        )
        return
    if text and not bold_title and not text.endswith(":") and not fences:
        plain.append(item)
        flush()
    lead = text.rstrip(":") if text else None
    for child in item.children:
        if isinstance(child, Fence):
            _fence_with_lead(child, draft, walk, lead)
            lead = None
        elif isinstance(child, ListBlock):
            if envcontract.is_env_list(child):
                envcontract.list_env(child, draft, description=text)
            else:
                _procedure(child.items, draft, walk, issue=issue)
        elif isinstance(child, Paragraph):
            draft.skip(child.line, child.inline.text, "prose inside a list item")


def _fence_with_lead(block: Fence, draft: Draft, walk: _Walk, lead: str | None) -> None:
    saved = walk.label
    walk.label = lead
    _fence(block, draft, walk, operations.category(*walk.titles))
    walk.label = saved


def _fix_gate(walk: _Walk, title: str) -> None:
    """Put the fix of an issue runbook behind a gate: diagnosis runs, a person decides."""
    steps = walk.runbook.steps
    at = walk.fix_at
    if at is None:
        at = next(
            (
                n
                for n, s in enumerate(steps)
                if s.kind == "run" and not _READ_ONLY.match(s.name or "")
            ),
            None,
        )
    if at is None or at >= len(steps) or steps[at].kind == "gate":
        return
    issue = _ISSUE.sub("", title)
    gate = StepDraft(
        "gate",
        escape(f"Diagnosis confirms the issue: {issue}; apply the fix"),
        steps[at].line,
        name="Apply the fix",
    )
    steps.insert(at, gate)


def _ids(runbook: RunbookDraft) -> None:
    taken: set[str] = set()
    for step in runbook.steps:
        if step.name:
            base = slug(step.name, limit=40)
        elif isinstance(step.value, str):
            base = slug(step.value.splitlines()[0] if step.value else step.kind, limit=40)
        else:
            base = slug(step.value[0], limit=40) if step.value else step.kind
        if step.kind == "check" and not step.name:
            base = "check-" + base
        step.id = unique(base if base != "step" else step.kind, taken)
