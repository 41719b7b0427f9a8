"""Which files of a project a secret scan reads: what git would commit, nothing it ignores.

In a git work tree the list comes from ``git ls-files --cached --others --exclude-standard``
(tracked files plus new files not ignored), so it honours every .gitignore, .git/info/exclude
and the global excludes exactly as git does. Elsewhere the tree is walked and each directory's
.gitignore is applied with pathspec's gitignore semantics. ``.git/`` and ``.opsbook/`` (local
state: the store, the fingerprint key) are never read.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pathspec

ALWAYS_SKIPPED = frozenset({".git", ".opsbook"})


def project_files(root: Path) -> list[Path]:
    """Files under ``root`` (relative to it, sorted) that a commit could include."""
    listed = _git_files(root)
    files = listed if listed is not None else _walk(root)
    return sorted(p for p in files if not ALWAYS_SKIPPED.intersection(p.parts))


def in_git_work_tree(root: Path) -> bool:
    """Whether ``root`` is inside a git work tree (and git is installed)."""
    return _git_files(root, probe=True) is not None


def _git_files(root: Path, probe: bool = False) -> list[Path] | None:
    try:
        inside = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--is-inside-work-tree"],
            capture_output=True,
            text=True,
            check=False,
        )
    except FileNotFoundError:  # no git on this machine: walk instead
        return None
    if inside.returncode != 0 or inside.stdout.strip() != "true":
        return None
    if probe:
        return []
    listed = subprocess.run(
        ["git", "-C", str(root), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        check=True,
    )
    names = [n for n in listed.stdout.decode("utf-8", "surrogateescape").split("\0") if n]
    # Deleted but still tracked files are listed too; there is nothing to read in them.
    return [Path(n) for n in names if (root / n).is_file()]


def _walk(root: Path) -> list[Path]:
    specs: list[tuple[Path, pathspec.GitIgnoreSpec]] = []
    found: list[Path] = []
    for folder, dirs, files in os.walk(root):
        here = Path(folder).relative_to(root)
        ignore_file = Path(folder) / ".gitignore"
        if ignore_file.is_file():
            lines = ignore_file.read_text(errors="replace").splitlines()
            specs.append((here, pathspec.GitIgnoreSpec.from_lines(lines)))
        dirs[:] = sorted(
            d for d in dirs if d not in ALWAYS_SKIPPED and not _ignored(specs, here / d, True)
        )
        found.extend(here / f for f in files if not _ignored(specs, here / f, False))
    return found


def _ignored(specs: list[tuple[Path, pathspec.GitIgnoreSpec]], path: Path, is_dir: bool) -> bool:
    for base, spec in specs:
        if base != Path(".") and base not in path.parents:
            continue
        relative = path.relative_to(base).as_posix() + ("/" if is_dir else "")
        if spec.match_file(relative):
            return True
    return False
