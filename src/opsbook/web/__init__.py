"""The ASGI adapter of opsbook (``opsbook serve``, ``opsbook flags serve``): the API under
/api/v1, the dashboard, OFREP and Alertmanager routes, and the process that runs them with the
worker. An adapter like ``cli/``: the library never imports it."""
