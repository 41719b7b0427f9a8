"""The docs are executable: every opsbook.yaml example validates (or fails as it says), every
field of the format and every command is documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from opsbook.errors import SpecError
from opsbook.spec import models
from opsbook.spec.loader import validate_text

REPO = Path(__file__).resolve().parent.parent
DOCS = [*sorted((REPO / "docs").glob("*.md")), REPO / "README.md"]
FENCE = re.compile(r"^```yaml\n(.*?)^```", re.DOTALL | re.MULTILINE)


def yaml_examples() -> list[tuple[str, str]]:
    found = []
    for doc in DOCS:
        if not doc.is_file():
            continue
        text = doc.read_text()
        for match in FENCE.finditer(text):
            block = match.group(1)
            first = block.splitlines()[0] if block.strip() else ""
            if first.startswith("version: 1") or first.startswith("# invalid:"):
                line = text[: match.start()].count("\n") + 1
                found.append((f"{doc.name}:{line}", block))
    return found


EXAMPLES = yaml_examples()


def test_there_are_examples() -> None:
    assert len(EXAMPLES) >= 15


@pytest.mark.parametrize(("where", "block"), EXAMPLES, ids=[w for w, _ in EXAMPLES])
def test_example(where: str, block: str) -> None:
    first = block.splitlines()[0]
    if first.startswith("# invalid:"):
        expected = first.removeprefix("# invalid:").strip()
        with pytest.raises(SpecError) as info:
            validate_text(block, "opsbook.yaml")
        messages = [str(p) for p in info.value.problems] or [str(info.value)]
        assert any(expected in m for m in messages), messages
    else:
        try:
            validate_text(block, "opsbook.yaml")
        except SpecError as err:
            pytest.fail(f"{where}: documented example is invalid:\n{err}")


def _fields(model: type[models.BaseModel]) -> list[str]:
    return [f.alias or name for name, f in model.model_fields.items()]


@pytest.mark.parametrize(
    "model",
    [
        models.Environment,
        models.EnvVar,
        models.Check,
        models.Param,
        models.Runbook,
        models.Database,
        models.Spec,
    ],
)
def test_every_field_is_documented(model: type[models.BaseModel]) -> None:
    text = (REPO / "docs" / "format.md").read_text()
    missing = [f for f in _fields(model) if f"`{f}`" not in text]
    assert not missing, f"{model.__name__} fields missing from docs/format.md: {missing}"


def test_every_step_field_and_expect_key_is_documented() -> None:
    text = (REPO / "docs" / "format.md").read_text()
    missing = [f for f in models.COMMON_STEP_FIELDS if f"`{f}`" not in text]
    missing += [f for f in _fields(models.Retry) if f"`retry.{f}`" not in text]
    assert not missing


def _commands() -> list[str]:
    from typer.main import get_command

    from opsbook.cli import full_app

    app = full_app()

    root = get_command(app)
    names = []
    for name, command in root.commands.items():  # type: ignore[attr-defined]
        sub = getattr(command, "commands", None)
        if sub:
            names += [f"{name} {child}" for child in sub]
        else:
            names.append(name)
    return sorted(names)


def test_every_command_is_documented() -> None:
    text = "\n".join(d.read_text() for d in DOCS if d.is_file())
    missing = [c for c in _commands() if f"opsbook {c}" not in text]
    assert not missing, f"commands missing from docs/ and README: {missing}"


def test_every_step_kind_is_documented() -> None:
    from opsbook.steps.registry import kind_names

    text = (REPO / "docs" / "format.md").read_text()
    assert all(f"### `{kind}`" in text for kind in kind_names())


def test_every_check_type_and_its_keys_are_documented() -> None:
    from opsbook.checks.registry import check_type_names, get_check_type

    text = (REPO / "docs" / "format.md").read_text()
    missing = []
    for name in check_type_names():
        section = text.split(f"### check type `{name}`", 1)
        if len(section) == 1:
            missing.append(name)
            continue
        body = section[1].split("\n### ", 1)[0]
        model = get_check_type(name).config_type
        for field, info in model.model_fields.items():
            key = info.alias or field
            nested = info.annotation
            if isinstance(nested, type) and issubclass(nested, models.BaseModel):
                missing += [
                    f"{name}.{key}.{k}" for k in _fields(nested) if f"`{key}.{k}`" not in body
                ]
            elif f"`{key}`" not in body:
                missing.append(f"{name}.{key}")
    assert not missing, f"check types or keys missing from docs/format.md: {missing}"


def test_user_docs_never_cite_the_seed_runbooks() -> None:
    """The seed runbooks live outside the repository: a clone cannot follow such a reference."""
    cited = re.compile(r"\bseeds? 00\d\b|\.\./shared|\bthe seeds\b", re.IGNORECASE)
    files = [*DOCS, *sorted((REPO / "examples").rglob("*.*"))]
    found = [
        f"{path.relative_to(REPO)}:{number}"
        for path in files
        if path.is_file() and path.suffix in (".md", ".yaml", ".sql", ".py", ".sh")
        for number, text in enumerate(path.read_text(errors="replace").splitlines(), 1)
        if cited.search(text)
    ]
    assert not found, f"user docs cite the seed runbooks: {found}"
