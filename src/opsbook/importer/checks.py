"""``curl …/health`` commands and "ensure all providers report healthy" sentences → ``checks``."""

from __future__ import annotations

import re
import shlex
from urllib.parse import urlsplit

from opsbook.importer.draft import CheckDraft, Draft, slug
from opsbook.importer.markdown import Inline, simple_lead
from opsbook.importer.placeholders import PLACEHOLDER, param_name

_HEALTH_PATH = re.compile(
    r"/(health|healthz|healthcheck|status|status\.json|ready|readyz|livez|ping)/?$", re.I
)
_QUIET_FLAGS = {"-s", "-S", "-f", "-L", "-i", "-sS", "-fsS", "-sf", "-fs", "-sSf", "-fsSL", "-v"}
_LONG_QUIET = {"--silent", "--show-error", "--fail", "--location", "--include", "--verbose"}
BASE_URL = "BASE_URL"
_PLACEHOLDER_HOST = re.compile(
    r"^(https?://(?:[^/\s]*(?:YOUR[_-]|your[_-]|<[^>/]+>|\{\{)[^/\s]*))(?=/|$)"
)
_VOLATILE = re.compile(
    r"time|date|uptime|version|^id$|_id$|duration|latency|_at$|^now$|ms$|"
    r"^env(ironment)?$|region|host|instance|commit|build",
    re.I,
)


def expected_json(data: object) -> dict[str, object]:
    """The stable part of an example response: scalars and nested objects, without values that
    change from call to call or from one environment to the next (timestamps, versions, ids,
    durations, environment, region, host) or lists."""
    if not isinstance(data, dict):
        return {}
    kept: dict[str, object] = {}
    for key, value in data.items():
        if not isinstance(key, str) or _VOLATILE.search(key):
            continue
        if isinstance(value, dict):
            inner = expected_json(value)
            if inner:
                kept[key] = inner
        elif isinstance(value, str | int | bool) and not isinstance(value, float):
            kept[key] = value
    return kept


_ENV_REF = re.compile(r"\$\{?([A-Z][A-Z0-9_]*)\}?")


def _template(text: str, params: dict[str, int], line: int) -> str:
    """URL text with placeholders as params and ``$VAR`` as env references."""

    def placeholder(match: re.Match[str]) -> str:
        name = param_name(match.group(1))
        params.setdefault(name, line)
        return "${{ params." + name + " }}"

    text = PLACEHOLDER.sub(placeholder, text.replace("${{", "${{ '$' }}{{"))
    return _ENV_REF.sub(lambda m: "${{ env." + m.group(1) + " }}", text)


def curl_check(
    command: str, line: int, draft: Draft, params: dict[str, int], env_refs: list[str]
) -> str | None:
    """The name of a check made from a read-only ``curl`` of a health URL, or None.

    Only a plain GET/HEAD of a URL whose last path segment is health-like qualifies;
    anything that posts data or loops stays a ``run`` step.
    """
    bare = PLACEHOLDER.sub("x", command)
    if "\n" in bare.strip() or any(c in bare for c in (";", "|", "&", ">", "<", "$(", "`")):
        return None
    try:
        words = shlex.split(command, comments=True)
    except ValueError:
        return None
    if not words or words[0] != "curl":
        return None
    method, headers, url = "GET", {}, None
    index = 1
    while index < len(words):
        word = words[index]
        if word in ("-I", "--head"):
            method = "HEAD"
        elif word in ("-H", "--header") and index + 1 < len(words):
            key, sep, value = words[index + 1].partition(":")
            if not sep:
                return None
            headers[key.strip()] = value.strip()
            index += 1
        elif word in ("-X", "--request") and index + 1 < len(words):
            if words[index + 1].upper() not in ("GET", "HEAD"):
                return None
            method = words[index + 1].upper()
            index += 1
        elif word in _QUIET_FLAGS or word in _LONG_QUIET:
            pass
        elif word.startswith("-") or url is not None:
            return None
        else:
            url = word
        index += 1
    if url is None or not re.match(r"^https?://", url):
        return None
    path = urlsplit(PLACEHOLDER.sub("x", url)).path
    if not _HEALTH_PATH.search(path) and not (method == "HEAD" and path in ("", "/")):
        return None
    for value in [url, *headers.values()]:
        env_refs.extend(m.group(1) for m in _ENV_REF.finditer(value))
    http = _template(url, params, line)
    host = _PLACEHOLDER_HOST.match(url)
    if host:
        # "http://YOUR_SERVER_IP/api/health": the host is the reader's to fill in, per
        # environment, so it is a var that plan asks for, never a literal URL.
        draft.vars.setdefault(BASE_URL, (line, host.group(1)))
        http = "${{ vars." + BASE_URL + " }}" + _template(url[host.end() :], params, line)
    return add_check(
        draft,
        CheckDraft(
            name="",
            line=line,
            http=http,
            method=method,
            headers={k: _template(v, params, line) for k, v in headers.items()},
            expect={} if method == "HEAD" else {"status": 200},
        ),
        url,
    )


def add_check(draft: Draft, check: CheckDraft, label: str) -> str:
    """Register a check, reusing an identical one; returns its name."""
    for name, known in draft.checks.items():
        # The same probe twice is one check (the first mention may carry an expected body).
        if (known.http, known.method, known.headers) == (check.http, check.method, check.headers):
            return name
    base = slug(PLACEHOLDER.sub(lambda m: m.group(1), re.sub(r"^https?://", "", label)))
    base = base if base != "step" else "health"
    name, number = base, 2
    while name in draft.checks:
        name = f"{base}-{number}"
        number += 1
    check.name = name
    draft.checks[name] = check
    return name


def sentence_checks(inline: Inline, line: int, draft: Draft) -> list[str]:
    """Checks named by a sentence such as "Query `/api/health` and ensure all providers report
    `healthy` or `degraded` (no `unavailable`)"; relative paths go under ``vars.BASE_URL``."""
    prose = inline.prose.lower()
    if not re.search(r"\b(hit|query|ensure|verify|confirm|check|call|curl|ping)\b", prose):
        return []
    paths = [c for c in inline.codes if c.startswith("/") and _HEALTH_PATH.search(c)]
    if not paths:
        return []
    if not simple_lead(inline.text.split("`" + paths[0] + "`", 1)[0]):
        return []  # one action among several: a person does it
    expect: dict[str, object] = {"status": 200}
    bad = re.search(r"\bno\s+`([A-Za-z_]+)`", inline.text)
    if bad and "provider" in prose:
        query = f"length(values(providers)[?status == '{bad.group(1)}'])"
        expect["jmespath"] = {query: 0}
    names = []
    for path in paths:
        draft.vars.setdefault(BASE_URL, (line, "http://127.0.0.1:3000"))
        check = CheckDraft("", line, "${{ vars." + BASE_URL + " }}" + path, expect=dict(expect))
        check.description = inline.text.replace("`", "")[:200]
        names.append(add_check(draft, check, path))
    return names
