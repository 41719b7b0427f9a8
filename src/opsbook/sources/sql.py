"""``sql``: a query on the app's database (PostgreSQL or SQLite), by URL.

The query may use ``:now`` and ``:start`` (``now - over``) so a replay at a past instant asks
the database about that instant. Each row is one sample: the last column is the value, the
others are its labels (``by:`` names them; without ``by`` the query returns one row).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from opsbook.sources.base import Sample, SourceContext, SourceError, SourceKind

if TYPE_CHECKING:
    from opsbook.monitor.config import Metric


class SqlSource(SourceKind):
    name = "sql"
    config_type = str
    metric_fields = ("query", "over", "by")
    required_fields = ("query",)

    def read(self, ctx: SourceContext, config: Any, metric: Metric, now: datetime) -> list[Sample]:
        from sqlalchemy import create_engine, text
        from sqlalchemy.exc import ArgumentError, SQLAlchemyError

        from opsbook.db.target import url_secrets
        from opsbook.masking import Masker

        url = ctx.render(str(config))
        masker = Masker(url_secrets(url))
        if url.startswith(("postgres://", "postgresql://")):
            url = "postgresql+psycopg://" + url.split("://", 1)[1]
        query = str(metric.query)
        start = now - timedelta(seconds=float(metric.over or 0))
        params = {k: v for k, v in (("now", now), ("start", start)) if f":{k}" in query}
        try:
            engine = create_engine(url)
        except (ArgumentError, ValueError) as err:
            raise SourceError(masker(f"not a database URL: {err}")) from None
        try:
            with engine.connect() as conn:
                result = conn.execute(text(query), params)
                rows = [tuple(r) for r in result.fetchall()]
        except SQLAlchemyError as err:
            reason = " ".join(str(getattr(err, "orig", err)).split())
            raise SourceError(masker(f"query failed: {reason}")) from None
        finally:
            engine.dispose()
        return [_sample(metric, row) for row in rows]


def _sample(metric: Metric, row: tuple[Any, ...]) -> Sample:
    *labels, value = row
    names = metric.by or [f"label{i}" for i in range(len(labels))]
    return Sample(
        {n: "" if v is None else str(v) for n, v in zip(names, labels, strict=False)},
        None if value is None else float(value),
    )
