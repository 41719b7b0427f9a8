"""The importer never crashes: any Markdown gives a valid opsbook.yaml or a clear OpsbookError."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import REPO, SEEDS
from opsbook.errors import OpsbookError
from opsbook.importer import import_text
from opsbook.plan import make_plan

WORDS = st.sampled_from(
    [
        "deploy", "Run", "`npm run lint`", "`API_KEY`", "$TOKEN", "<prod-ref>", "${{", "}}",
        "curl https://x.test/health", "or", "manually", "**Fix:**", "Issue:", "cd app", "|",
        "- [ ]", "```", "'", '"', "\\", "#", "<<EOF", "EOF", "✅", "–", ":", "rollback", "日本",
        "\t", "export A=1", "for x in a; do", "done", "(", ")", "{", "}", "-", "1.",
    ]
)  # fmt: skip
TEXT = st.lists(st.one_of(WORDS, st.text(max_size=8)), max_size=8).map(" ".join)


def _fence(info: str, lines: list[str]) -> str:
    return f"```{info}\n" + "\n".join(lines) + "\n```"


BLOCK = st.one_of(
    TEXT,
    st.builds(lambda level, title: "#" * level + " " + title, st.integers(1, 4), TEXT),
    st.lists(TEXT, min_size=1, max_size=4).map(lambda xs: "\n".join(f"- [ ] {x}" for x in xs)),
    st.lists(TEXT, min_size=1, max_size=4).map(
        lambda xs: "\n".join(f"{n}. {x}" for n, x in enumerate(xs, 1))
    ),
    st.lists(TEXT, min_size=1, max_size=4).map(lambda xs: "\n".join(f"- `{x}`" for x in xs)),
    st.builds(_fence, st.sampled_from(["bash", "sh", "", "sql", "yaml", "json", "text"]),
              st.lists(TEXT, max_size=5)),
    st.lists(TEXT, min_size=2, max_size=4).map(
        lambda xs: "| Variable | Required | Default |\n| --- | --- | --- |\n"
        + "\n".join(f"| `{x.split(' ')[0]}` | {x} | {x} |" for x in xs)
    ),
)  # fmt: skip
DOCUMENT = st.lists(BLOCK, max_size=12).map("\n\n".join)


def _check(source: str, name: str) -> None:
    try:
        result = import_text(source, name)
    except OpsbookError as err:
        assert str(err).strip()
        return
    for runbook_name, runbook in result.loaded.spec.runbooks.items():
        # a choice param (an alternative of the source) takes one of its choices
        params = {p: (d.choices[0] if d.choices else "x") for p, d in runbook.params.items()}
        make_plan(result.loaded, runbook_name, "staging", params, process_env={})


@pytest.mark.timeout(90)  # 300 documents imported and planned: ~4 s alone, 18 s in the suite
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(DOCUMENT)
def test_generated_markdown_imports_or_fails_cleanly(source: str) -> None:
    _check(source, "RUNBOOK.md")


@settings(max_examples=100, deadline=None)
@given(st.text())
def test_arbitrary_text_imports_or_fails_cleanly(source: str) -> None:
    _check(source, "RUNBOOK.md")


def _markdown_files() -> list[Path]:
    roots = [REPO, SEEDS] if SEEDS.is_dir() else [REPO]
    found: list[Path] = []
    for root in roots:
        for path in sorted(root.rglob("*")):
            if path.suffix not in (".md", ".txt") or not path.is_file():
                continue
            if any(
                part.startswith(".") or part in ("node_modules", "build")
                for part in path.parts[len(root.parts) :]
            ):
                continue
            if path.suffix == ".txt" and root is REPO:
                continue
            found.append(path)
    return found


@pytest.mark.parametrize("path", _markdown_files(), ids=lambda p: p.name)
def test_every_markdown_file_in_the_repository(path: Path) -> None:
    _check(path.read_text(encoding="utf-8", errors="replace"), path.name)
