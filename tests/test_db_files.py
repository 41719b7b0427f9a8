"""Discovering migration files: naming schemes, order, gaps, duplicates (no database needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from db_support import DB_FIXTURES
from opsbook.db.files import detect_naming, discover
from opsbook.errors import UsageError


def test_seed_004_list_reports_the_missing_009() -> None:
    found = discover(DB_FIXTURES / "seed004")
    assert found.naming == "numbered"
    assert [f.version for f in found.files][-5:] == ["008", "010", "011", "012", "013"]
    gaps = [p for p in found.problems if p.code == "gap"]
    assert len(gaps) == 1
    assert "migration 009 is missing between 008 and 010" in gaps[0].message
    assert gaps[0].severity == "warning"
    assert set(gaps[0].files) == {
        "008_add_premium_features.sql",
        "010_create_user_template_customizations.sql",
    }


def _touch(folder: Path, *names: str) -> Path:
    folder.mkdir(exist_ok=True)
    for name in names:
        (folder / name).write_text("SELECT 1;\n")
    return folder


def test_numeric_order_not_text_order(tmp_path: Path) -> None:
    folder = _touch(tmp_path / "m", "9_a.sql", "10_b.sql", "2_c.sql")
    assert [f.filename for f in discover(folder).files] == ["2_c.sql", "9_a.sql", "10_b.sql"]


def test_duplicates_and_unrecognized(tmp_path: Path) -> None:
    folder = _touch(tmp_path / "m", "001_a.sql", "002_b.sql", "002_c.sql", "notes.sql")
    (folder / "README.md").write_text("not a migration")
    found = discover(folder)
    codes = sorted(p.code for p in found.problems)
    assert codes == ["duplicate", "unrecognized"]
    dup = next(p for p in found.problems if p.code == "duplicate")
    assert "002_b.sql, 002_c.sql" in dup.message and dup.severity == "error"
    assert [f.filename for f in found.files] == ["001_a.sql", "002_b.sql", "002_c.sql"]


def test_supabase_timestamps_have_no_gaps(tmp_path: Path) -> None:
    folder = _touch(
        tmp_path / "m", "20240101120000_init.sql", "20240301090000_users.sql", "001_odd.sql"
    )
    found = discover(folder)
    assert found.naming == "supabase"
    assert [p.code for p in found.problems] == ["unrecognized"]
    assert found.files[0].version == "20240101120000"


def test_flyway_versions(tmp_path: Path) -> None:
    folder = _touch(tmp_path / "m", "V1__init.sql", "V1.1__fix.sql", "V2__users.sql", "V4__x.sql")
    found = discover(folder)
    assert found.naming == "flyway"
    assert [f.version for f in found.files] == ["1", "1.1", "2", "4"]
    assert [p.message.split(" is missing")[0] for p in found.problems] == ["migration 3"]


def test_naming_forced_by_config(tmp_path: Path) -> None:
    folder = _touch(tmp_path / "m", "001_a.sql", "V2__b.sql", "V3__c.sql")
    assert detect_naming(["001_a.sql", "V2__b.sql", "V3__c.sql"]) == "flyway"
    found = discover(folder, "numbered")
    assert [f.filename for f in found.files] == ["001_a.sql"]
    assert {p.files[0] for p in found.problems} == {"V2__b.sql", "V3__c.sql"}


def test_missing_folder_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="folder db/missing does not exist"):
        discover(tmp_path / "nope", display="db/missing")


def test_checksum_is_sha256_of_bytes(tmp_path: Path) -> None:
    import hashlib

    folder = _touch(tmp_path / "m", "001_a.sql")
    (folder / "001_a.sql").write_bytes(b"SELECT 2;\r\n")
    assert discover(folder).files[0].checksum == hashlib.sha256(b"SELECT 2;\r\n").hexdigest()
