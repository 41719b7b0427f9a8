"""The base of every opsbook.yaml model: unknown keys are errors.

Its own module so that sections defined in their packages (monitor/, notify/, sources/) can
build on it without importing spec/models.py, which imports them.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=False)
