"""Which variables hold secrets, judged from their names (and values): one rule for the whole tool.

Used for env-file values at run time (only those that look secret are masked, so ``PORT=8080``
stays readable) and by the importer when it drafts an env contract.
"""

from __future__ import annotations

import re

_SECRET_WORDS = re.compile(r"(KEY|SECRET|TOKEN|PASSWORD|PASSWD|PASS|SERVICE_ROLE|DSN|CREDENTIALS?)")
_CREDENTIAL_URL = re.compile(
    r"(DATABASE|DB|POSTGRES|PG|REDIS|MONGO|MYSQL|AMQP|RABBITMQ|KAFKA)\w*_(URL|URI|DSN)$"
)
_PUBLIC = ("NEXT_PUBLIC_", "VITE_", "PUBLIC_", "REACT_APP_", "EXPO_PUBLIC_", "NUXT_PUBLIC_")
_URL_WITH_PASSWORD = re.compile(r"://[^/@\s:]+:[^/@\s]+@")


def is_secret(name: str, example: str | None = None) -> bool:
    """Whether a variable's value must be masked, judged from its name (and an example value).

    >>> is_secret("SUPABASE_SERVICE_ROLE_KEY"), is_secret("NEXT_PUBLIC_SUPABASE_ANON_KEY")
    (True, False)
    >>> is_secret("PORT", "8080")
    False
    >>> is_secret("CACHE_URL", "redis://u:pw@host")  # pragma: allowlist secret
    True
    """
    if name.upper().startswith(_PUBLIC):
        return False
    if _SECRET_WORDS.search(name.upper()) or _CREDENTIAL_URL.search(name.upper()):
        return True
    return bool(example and _URL_WITH_PASSWORD.search(example))
