"""Values never change where a request goes: ``${{ }}`` in a URL, percent-encoded for its part.

A value from the file's own configuration (``vars``, ``env``, ``environment``) is written into
the URL as it is: it is how a file says ``${{ vars.BASE_URL }}/health``. A value from outside
(``params``, ``steps`` outputs, ``run``) is percent-encoded for the part of the URL it lands in
(authority, path, query, fragment), and the rendered URL must keep the scheme, host and port it
has without that value. So ``http://127.0.0.1:18081${{ params.path }}`` with
``path=@127.0.0.1:18082/steal`` cannot send the check's ``X-Api-Key`` to port 18082.

>>> render_url("http://h:1/a/${{ params.p }}?q=${{ params.p }}", lambda t: "x/y&z=1#f")
'http://h:1/a/x/y&z=1%23f?q=x/y%26z%3D1%23f'
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote, urlsplit

from opsbook.spec import expressions as ex

TRUSTED_ROOTS = ("vars", "env", "environment")
_SAFE = {
    "authority": "-._~",
    "path": "/:@-._~!$&'()*+,;=",
    "query": "/:@-._~!$'()*,;?",
    "fragment": "/:@-._~!$&'()*+,;=?",
}


class UrlValueError(ValueError):
    """An outside value would change the URL's scheme, host or port."""


def _trusted(expr: str) -> bool:
    refs = ex.references(expr)
    return bool(refs) and all(ref.parts[0] in TRUSTED_ROOTS for ref in refs)


def _part(prefix: str) -> str:
    """The part of a URL that text appended to ``prefix`` lands in."""
    if "#" in prefix:
        return "fragment"
    if "?" in prefix:
        return "query"
    _scheme, sep, rest = prefix.partition("://")
    if not sep:
        return "path"
    return "path" if "/" in rest else "authority"


def _encode(value: str, part: str) -> str:
    """``value`` percent-encoded for ``part``; right after the host, a value starting with ``/``
    is a path (and query), as in ``http://host:8080${{ params.path }}``."""
    if part == "authority" and value.startswith("/"):
        path, sep, query = value.partition("?")
        return quote(path, safe=_SAFE["path"]) + sep + quote(query, safe=_SAFE["query"] + "&=+")
    return quote(value, safe=_SAFE[part])


def render_url(template: str, render: Callable[[str], str]) -> str:
    """The URL with every template rendered, outside values encoded for their part."""
    if "${{" not in template:
        return template
    out = ""
    bare = ""  # the URL without the outside values: its origin must not change
    pos = 0
    for match in ex.TEMPLATE.finditer(template):
        literal = template[pos : match.start()]
        out, bare = out + literal, bare + literal
        pos = match.end()
        value = render(match.group(0))
        if _trusted(match.group(1)):
            out, bare = out + value, bare + value
        else:
            out += _encode(value, _part(out))
    out += template[pos:]
    bare += template[pos:]
    if _origin(out) != _origin(bare):
        raise UrlValueError(
            "a value from params or step outputs would change the URL's scheme, host or port;"
            " write the host in the file or in the environment's vars"
        )
    return out


def _origin(url: str) -> tuple[str, str | None, int | None]:
    try:
        parts = urlsplit(url)
        return parts.scheme.lower(), parts.hostname, parts.port
    except ValueError:
        return ("", "invalid", None)


def same_origin(a: str, b: str) -> bool:
    return _origin(a) == _origin(b)
