"""The ``sources:`` section: where metrics read their data.

A source names exactly one kind (``logs``, ``sql``, ``prometheus``, or a plugin's) with the kind's
configuration, like a step names its kind::

    sources:
      app_logs: {logs: "logs/*.jsonl"}
      appdb:    {sql: "${{ env.DATABASE_URL }}"}
      prom:     {prometheus: "http://127.0.0.1:9090"}
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, PrivateAttr

from opsbook.spec.durations import Duration

COMMON_SOURCE_FIELDS = ("description", "timeout")


class Source(BaseModel):
    """One data source; the key that is not a common field names its kind."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    description: str | None = None
    timeout: Duration = 10.0

    _kind: str = PrivateAttr(default="")
    _config: Any = PrivateAttr(default=None)

    @property
    def kind(self) -> str:
        """The source kind's name, set when the spec is validated."""
        return self._kind

    @property
    def config(self) -> Any:
        """The kind's validated configuration."""
        return self._config

    def bind(self, kind: str, config: Any) -> None:
        self._kind = kind
        self._config = config
