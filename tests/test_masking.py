"""Secret masking: plain, URL-encoded and base64 forms at every alignment."""

from __future__ import annotations

import base64
from urllib.parse import quote, quote_plus

import pytest

from opsbook.masking import MASK, Masker

SECRET = "s3cr3t/with+special&chars"  # pragma: allowlist secret


@pytest.mark.parametrize(
    "text",
    [
        SECRET,
        f"url=https://x?token={quote(SECRET, safe='')}",
        f"q={quote_plus(SECRET)}",
        base64.b64encode(SECRET.encode()).decode(),
        base64.b64encode((SECRET + "\n").encode()).decode(),
        base64.b64encode(("user:" + SECRET).encode()).decode(),
        base64.b64encode(("ab" + SECRET + "zz").encode()).decode(),
        base64.urlsafe_b64encode(("a" + SECRET).encode()).decode(),
    ],
)
def test_forms_are_masked(text: str) -> None:
    masked = Masker([SECRET])(text)
    assert MASK in masked
    assert SECRET not in masked
    assert base64.b64encode(SECRET.encode()).decode()[:-4] not in masked


def test_short_values_are_not_masked_and_data_is_walked() -> None:
    masker = Masker(["abc", "longer-secret"])
    assert masker("abc longer-secret") == "abc ***"
    assert masker.mask_data({"a": ["x longer-secret"], "b": 1}) == {"a": ["x ***"], "b": 1}
