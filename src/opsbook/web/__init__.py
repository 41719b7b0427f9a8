"""The ASGI adapter of opsbook (``opsbook serve``, ``opsbook flags serve``); the library never
imports it."""
