"""API tokens: bearer secrets for agents, trigger callers and operators, stored only as hashes."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from orqo.extensions import db
from orqo.models.base import NEVER_REUSED
from orqo.models.base import utcnow


class ApiToken(db.Model):
    """A bearer token: its SHA-256 hash (looked up by index, never scanned), name and scopes."""

    __tablename__ = "api_tokens"
    __table_args__ = (NEVER_REUSED,)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The first characters of the token, so an operator can tell tokens apart.
    prefix: Mapped[str] = mapped_column(String(16))
    # Space-separated scope names.
    scopes: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    @property
    def scope_list(self) -> list[str]:
        """The token's scopes."""
        return self.scopes.split()
