"""Reading opsbook.yaml: find it, parse YAML keeping line numbers, validate, report every problem.

This is the only module that reads YAML. Problems are collected (not raised one by one) so
``opsbook validate`` can print them all, each as ``FILE:LINE: path.to.field: what; the fix``.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from opsbook.errors import Problem, SpecError, SpecNotFound
from opsbook.spec import fastyaml, limits
from opsbook.spec.models import COMMON_STEP_FIELDS, Spec, Step, full_spec_model, validate_spec
from opsbook.utf8 import decode_file

FILENAME = "opsbook.yaml"
PARTIAL_SECTIONS = ["sources", "metrics", "alerts", "slos"]
"""Sections of named items; an item that fails validation is left out of the partial spec."""
Loc = tuple[str | int, ...]


@dataclass
class Document:
    """Parsed YAML with a way back from a location to its line.

    ``data`` is ruamel's round-trip tree, or plain data read fast (spec/fastyaml.py) together
    with the ``text``, which is then parsed with ruamel only when a line is asked for.
    """

    file: str
    data: Any
    text: str | None = field(default=None, repr=False)

    def _tree(self) -> Any:
        from ruamel.yaml import YAML
        from ruamel.yaml.comments import CommentedMap, CommentedSeq

        if self.text is not None and not isinstance(self.data, CommentedMap | CommentedSeq):
            try:
                self.data = YAML(typ="rt").load(self.text)
            except Exception:  # the fast reader took it, so this is not expected; no lines then
                self.text = None
        return self.data

    def line(self, loc: Loc) -> int:
        """1-based line of the deepest node of loc that exists in the file."""
        from ruamel.yaml.comments import CommentedMap, CommentedSeq

        node = self._tree()
        line = 1
        for part in loc:
            if isinstance(node, CommentedMap) and part in node:
                line = node.lc.key(part)[0] + 1
                node = node[part]
            elif isinstance(node, CommentedSeq) and isinstance(part, int) and part < len(node):
                line = node.lc.item(part)[0] + 1
                node = node[part]
            elif isinstance(node, CommentedMap | CommentedSeq):
                if node.lc.line is not None and line == 1:
                    line = node.lc.line + 1
                break
            else:
                break
        return line


@dataclass
class LoadedSpec:
    """A validated spec together with where it came from."""

    spec: Spec
    path: Path
    document: Document = field(repr=False)
    text: str = field(default="", repr=False)
    """The file's text as read and validated (a run stores exactly this)."""

    @property
    def root(self) -> Path:
        """The directory holding opsbook.yaml; relative paths in it are resolved from here."""
        return self.path.parent

    @property
    def display(self) -> str:
        return self.document.file


def find_spec(start: Path | None = None) -> Path:
    """opsbook.yaml in start or the nearest parent holding one (like git finds .git)."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / FILENAME
        if candidate.is_file():
            return candidate
    raise SpecNotFound(str(here))


def display_name(path: Path) -> str:
    """How a spec file is named in messages: its file name, ``opsbook.yaml:14: ...``.

    One invocation reads one spec, so the name is unambiguous, and messages read the same
    whatever directory opsbook runs from (``validate --json`` gives the full path too).
    """
    return path.name


def parse_yaml(text: str, file: str) -> Document:
    """Parse YAML text; a syntax error becomes a SpecError at its line."""
    try:
        return Document(file, fastyaml.load(text), text)
    except fastyaml.Unsure:
        pass  # ruamel reads it (and words any syntax error with its line)
    return Document(file, _ruamel_load(text, file, stream=False))


def parse_yaml_stream(text: str, file: str) -> list[Document]:
    """Every document of a multi-document YAML stream (``---`` separated), each able to name
    the line of any of its nodes; a syntax error is a SpecError at its line."""
    return [Document(file, d) for d in _ruamel_load(text, file, stream=True) if d is not None]


def _ruamel_load(text: str, file: str, *, stream: bool) -> Any:
    # Imported here: most files never need ruamel (8 ms of every command's start-up).
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError

    yaml = YAML(typ="rt")
    try:
        data = list(yaml.load_all(text)) if stream else yaml.load(text)
    except MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = mark.line + 1 if mark is not None else 1
        what = err.problem or err.context or "invalid YAML"
        raise SpecError(
            [Problem(file, line, "", f"YAML syntax error: {what}; fix the indentation or quoting")]
        ) from None
    except Exception as err:  # ruamel raises a few non-marked errors (e.g. duplicate keys)
        raise SpecError([Problem(file, 1, "", f"YAML error: {err}")]) from None
    try:
        limits.expanded_size(data)  # before anything expands the aliases
    except limits.LimitExceeded as err:
        raise SpecError([Problem(file, 1, "", f"YAML too large: {err}")]) from None
    return data


def load_spec(path: Path | str | None = None) -> LoadedSpec:
    """Find, parse and fully validate opsbook.yaml. Raises SpecError with every problem."""
    spec_path = Path(path) if path is not None else find_spec()
    file = display_name(spec_path)
    try:
        text = decode_file(spec_path.read_bytes(), file)
    except FileNotFoundError:
        if path is not None and spec_path.name != FILENAME and spec_path.is_dir():
            return load_spec(spec_path / FILENAME)
        raise SpecError(
            [Problem(file, 1, "", "file not found; check the -f path or run `opsbook init`")]
        ) from None
    except IsADirectoryError:
        return load_spec(spec_path / FILENAME)
    except OSError as err:
        raise SpecError([Problem(file, 1, "", f"cannot read: {err}")]) from None
    return validate_text(text, file, spec_path)


def validate_text(text: str, file: str, path: Path | None = None) -> LoadedSpec:
    """Validate YAML text as a spec. Raises SpecError with every problem found."""
    doc = parse_yaml(text, file)
    if not isinstance(doc.data, dict):
        raise SpecError(
            [Problem(file, 1, "", "the file must be a mapping with version, project and runbooks")]
        )
    from opsbook.spec.validate import semantic_problems  # semantic rules need the step registry

    plain = _plain(doc.data)
    resolved = (path or Path(file)).resolve()
    try:
        spec = validate_spec(plain)
    except ValidationError as err:
        problems = list(_pydantic_problems(err, doc))
        # Report the semantic problems of the parts that did validate too, so one run of
        # `opsbook validate` lists everything (a bad duration and a cycle, say).
        partial = _partial_spec(plain)
        if partial is not None:
            problems += semantic_problems(LoadedSpec(partial, resolved, doc))
        raise SpecError(_unique(problems)) from None
    loaded = LoadedSpec(spec, resolved, doc, text)
    problems = semantic_problems(loaded)
    if problems:
        raise SpecError(problems)
    return loaded


def _partial_spec(plain: Any) -> Spec | None:
    """The spec with every section that fails validation left out (None if nothing is left)."""
    if not isinstance(plain, dict):
        return None
    kept: dict[str, Any] = {"version": 1, "project": str(plain.get("project", "?"))}
    for section in ("environments", "env", "checks", "runbooks", *PARTIAL_SECTIONS):
        value = plain.get(section)
        if not isinstance(value, dict):
            continue
        good = {}
        for name, item in value.items():
            if section == "runbooks":
                item = _salvage_runbook(item)
            try:
                validate_spec({"version": 1, "project": "?", section: {name: item}})
            except ValidationError:
                continue
            good[name] = item
        kept[section] = good
    try:
        return validate_spec(kept)
    except ValidationError:
        return None


def _salvage_runbook(raw: Any) -> Any:
    """A runbook reduced to what validates; a broken step keeps its id and needs."""
    if not isinstance(raw, dict):
        return raw
    out = {k: v for k, v in raw.items() if k in ("params", "lock", "description")}
    steps = []
    for item in raw.get("steps") or []:
        try:
            Step.model_validate(item)
            steps.append(item)
        except ValidationError:
            if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                continue
            placeholder: dict[str, Any] = {"id": item["id"], "run": ":"}
            needs = item.get("needs")
            if isinstance(needs, list) and all(isinstance(n, str) for n in needs):
                placeholder["needs"] = needs
            steps.append(placeholder)
    out["steps"] = steps
    try:
        from opsbook.spec.models import Runbook

        Runbook.model_validate(out)
    except ValidationError:
        out.pop("params", None)
    return out


def _unique(problems: list[Problem]) -> list[Problem]:
    seen: set[Problem] = set()
    out = []
    for problem in problems:
        if problem not in seen:
            seen.add(problem)
            out.append(problem)
    return out


def _plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(k) if not isinstance(k, str) else k: _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


def _loc_text(loc: Loc) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _pydantic_problems(err: ValidationError, doc: Document) -> Iterator[Problem]:
    seen: set[tuple[int, str]] = set()
    for error in err.errors():
        loc = _clean_loc(error["loc"], doc)
        kind = error["type"]
        if kind == "extra_forbidden":
            key = str(loc[-1])
            fields = _fields_at(full_spec_model(), loc[:-1])
            close = difflib.get_close_matches(key, fields, n=1, cutoff=0.6)
            fix = f"did you mean '{close[0]}'?" if close else f"allowed keys: {', '.join(fields)}"
            message = f"unknown key '{key}'; {fix}"
        elif kind == "missing":
            message = f"required key '{loc[-1]}' is missing; add it"
        elif kind == "literal_error" and loc == ("version",):
            message = "unsupported version; write `version: 1`"
        else:
            text = error["msg"].removeprefix("Value error, ")
            got = error.get("input")
            if kind.endswith("_type") or kind.endswith("_parsing"):
                text = f"{text} (got {_short(got)})"
            message = text
        path = _loc_text(loc)
        problem = Problem(doc.file, doc.line(loc), path, message)
        if (problem.line, path) in seen:
            continue  # a union reports one error per member; the first says enough
        seen.add((problem.line, path))
        yield problem


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _clean_loc(loc: tuple[Any, ...], doc: Document) -> Loc:
    """Drop the type tags pydantic adds for unions (e.g. 'list[str]') that are not in the file."""
    out: list[str | int] = []
    node = doc.data
    for part in loc:
        if (isinstance(node, dict) and part in node) or (
            isinstance(node, list) and isinstance(part, int) and part < len(node)
        ):
            out.append(part)
            node = node[part]
        elif isinstance(node, dict | list):
            if isinstance(part, str) and (
                "[" in part
                or part in ("str", "int", "float", "bool", "function-after")
                or isinstance(node, list)  # a key the model wraps a short list form in (levels)
            ):
                continue
            out.append(part)  # a missing key: name it
            node = None
        else:
            break
    return tuple(out)


def _fields_at(model: type[BaseModel], loc: Loc) -> list[str]:
    """Names allowed at loc, walking models, dicts and lists by their annotations."""
    current: Any = model
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            info = next(
                (f for n, f in current.model_fields.items() if (f.alias or n) == part), None
            )
            if info is None:
                return []
            current = info.annotation
        else:
            origin = typing.get_origin(current)
            args = typing.get_args(current)
            if origin is dict and len(args) == 2:
                current = args[1]
            elif origin is list and args:
                current = args[0]
            else:
                return []
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        if current is Step:
            return list(COMMON_STEP_FIELDS)
        return [f.alias or n for n, f in current.model_fields.items()]
    return []


def _unwrap(annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        models = [a for a in typing.get_args(annotation) if a is not type(None)]
        return models[0] if len(models) == 1 else annotation
    return annotation
