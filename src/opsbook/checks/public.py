"""Browser-exposed variable names: frameworks inline these into the JavaScript bundle.

Anything in a variable with one of these prefixes ships to every visitor's browser, so it must
never hold a secret. ``NEXT_PUBLIC_`` (Next.js), ``VITE_`` (Vite), ``EXPO_PUBLIC_`` (Expo),
``REACT_APP_`` (Create React App) and ``PUBLIC_`` (SvelteKit, Astro).
"""

from __future__ import annotations

BROWSER_PREFIXES = ("NEXT_PUBLIC_", "VITE_", "EXPO_PUBLIC_", "REACT_APP_", "PUBLIC_")


def is_browser_exposed(name: str) -> bool:
    """Whether a variable of this name ends up in client-side code.

    >>> is_browser_exposed("NEXT_PUBLIC_SUPABASE_URL"), is_browser_exposed("SUPABASE_URL")
    (True, False)
    """
    return name.startswith(BROWSER_PREFIXES)
