"""Users, their API tokens, and the access tokens that ``loginWithToken`` issues.

Only the SHA-256 of a token is stored; the token itself is returned once, when it is made.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from qruntime.errors import InputError
from qruntime.store._base import StoreBase, rowcount, token_hash
from qruntime.store.errors import Conflict, NotFound
from qruntime.store.models import AccessTokenRow, ApiTokenRow, UserRow
from qruntime.store.records import ApiTokenInfo, User

API_TOKEN_BYTES = 64  # 128 hex characters, like IBM's API tokens
ACCESS_TOKEN_BYTES = 32  # 64 hex characters, like the ids IBM's loginWithToken returns
TOKEN_PREFIX_LENGTH = 8


def _user(row: UserRow) -> User:
    return User(row.id, row.name, row.is_admin, row.disabled, row.created)


def _api_token(row: ApiTokenRow) -> ApiTokenInfo:
    return ApiTokenInfo(row.id, row.user_id, row.prefix, row.created, row.revoked)


def _user_holding(
    session: Session,
    tokens: type[ApiTokenRow] | type[AccessTokenRow],
    token: str,
    *conditions: ColumnElement[bool],
) -> User | None:
    """The enabled user holding an unrevoked token of that kind (and meeting ``conditions``)."""
    row = session.scalars(
        select(UserRow)
        .join(tokens, tokens.user_id == UserRow.id)
        .where(
            tokens.token_hash == token_hash(token),
            tokens.revoked.is_(None),
            UserRow.disabled.is_(False),
            *conditions,
        )
    ).one_or_none()
    return None if row is None else _user(row)


class Users(StoreBase):
    """Accounts and tokens."""

    def create_user(self, name: str, *, is_admin: bool = False) -> tuple[User, str]:
        """Create a user with a first API token; return both (the token is not kept).

        Raise :class:`Conflict` if the name is taken.
        """
        name = name.strip()
        if not name:
            raise InputError("a user needs a non-empty name", field="name")
        token = secrets.token_hex(API_TOKEN_BYTES)
        now = self._now()
        try:
            with self._db.write() as session:
                row = UserRow(name=name, is_admin=is_admin, disabled=False, created=now)
                session.add(row)
                session.flush()
                session.add(self._api_token_row(row.id, token))
                user = _user(row)
        except IntegrityError:
            raise Conflict(f"a user named {name!r} exists already; pick another name") from None
        return user, token

    def get_user(self, user_id: int) -> User:
        """The user of that id; :class:`NotFound` if there is none."""
        with self._db.read() as session:
            row = session.get(UserRow, user_id)
            if row is None:
                raise NotFound(f"no user with id {user_id}")
            return _user(row)

    def user_by_name(self, name: str) -> User | None:
        with self._db.read() as session:
            row = session.scalars(select(UserRow).where(UserRow.name == name)).one_or_none()
            return None if row is None else _user(row)

    def list_users(self) -> list[User]:
        """Every user, by id."""
        with self._db.read() as session:
            return [_user(row) for row in session.scalars(select(UserRow).order_by(UserRow.id))]

    def disable_user(self, user_id: int, disabled: bool = True) -> User:
        """Disable (or with ``disabled=False`` enable again) a user: their tokens stop working."""
        with self._db.write() as session:
            row = session.get(UserRow, user_id)
            if row is None:
                raise NotFound(f"no user with id {user_id}")
            row.disabled = disabled
            return _user(row)

    # API tokens -------------------------------------------------------------------------------

    def issue_api_token(self, user_id: int) -> str:
        """A new API token for the user; returned once, only its hash is kept."""
        token = secrets.token_hex(API_TOKEN_BYTES)
        with self._db.write() as session:
            if session.get(UserRow, user_id) is None:
                raise NotFound(f"no user with id {user_id}")
            session.add(self._api_token_row(user_id, token))
        return token

    def api_tokens_of(self, user_id: int) -> list[ApiTokenInfo]:
        """A user's API tokens (their prefixes), oldest first, revoked ones included."""
        with self._db.read() as session:
            rows = session.scalars(
                select(ApiTokenRow).where(ApiTokenRow.user_id == user_id).order_by(ApiTokenRow.id)
            )
            return [_api_token(row) for row in rows]

    def revoke_api_token(self, token: int | str) -> None:
        """Revoke an API token, given its id (see :meth:`api_tokens_of`) or the token itself.

        Revoking twice is fine; :class:`NotFound` if there is no such token.
        """
        with self._db.write() as session:
            if isinstance(token, str):
                query = select(ApiTokenRow).where(ApiTokenRow.token_hash == token_hash(token))
                row = session.scalars(query).one_or_none()
            else:
                row = session.get(ApiTokenRow, token)
            if row is None:
                raise NotFound("no such API token")
            if row.revoked is None:
                row.revoked = self._now()

    def user_by_api_token(self, token: str) -> User | None:
        """The user an API token belongs to; None if it is unknown or revoked, or the user
        is disabled."""
        with self._db.read() as session:
            return _user_holding(session, ApiTokenRow, token)

    def api_token_holder(self, token: str) -> tuple[User, bool] | None:
        """Whose API token this is, revoked or not, and whether it is revoked; None if it was
        never issued. For saying why a login failed: :meth:`user_by_api_token` decides."""
        with self._db.read() as session:
            found = session.execute(
                select(UserRow, ApiTokenRow.revoked)
                .join(ApiTokenRow, ApiTokenRow.user_id == UserRow.id)
                .where(ApiTokenRow.token_hash == token_hash(token))
            ).one_or_none()
            return None if found is None else (_user(found[0]), found[1] is not None)

    def _api_token_row(self, user_id: int, token: str) -> ApiTokenRow:
        return ApiTokenRow(
            user_id=user_id,
            token_hash=token_hash(token),
            prefix=token[:TOKEN_PREFIX_LENGTH],
            created=self._now(),
            revoked=None,
        )

    # Access tokens ----------------------------------------------------------------------------

    def create_access_token(self, user_id: int, ttl_seconds: float) -> str:
        """A new access token for the user, valid for ``ttl_seconds`` (0 or less: already
        expired)."""
        token = secrets.token_hex(ACCESS_TOKEN_BYTES)
        now = self._now()
        with self._db.write() as session:
            if session.get(UserRow, user_id) is None:
                raise NotFound(f"no user with id {user_id}")
            session.add(
                AccessTokenRow(
                    user_id=user_id,
                    token_hash=token_hash(token),
                    created=now,
                    expires_at=now + timedelta(seconds=ttl_seconds),
                    revoked=None,
                )
            )
        return token

    def user_by_access_token(self, token: str) -> User | None:
        """The user of a live access token; None if it is unknown, expired or revoked, or the
        user is disabled."""
        with self._db.read() as session:
            return self._user_by_access_token(session, token)

    def _user_by_access_token(self, session: Session, token: str) -> User | None:
        found = self._access_token_holder(session, token)
        return None if found is None else found[0]

    def _access_token_holder(self, session: Session, token: str) -> tuple[User, datetime] | None:
        """The enabled user of a live access token, and when the token expires."""
        found = session.execute(
            select(UserRow, AccessTokenRow.expires_at)
            .join(AccessTokenRow, AccessTokenRow.user_id == UserRow.id)
            .where(
                AccessTokenRow.token_hash == token_hash(token),
                AccessTokenRow.revoked.is_(None),
                AccessTokenRow.expires_at > self._now(),
                UserRow.disabled.is_(False),
            )
        ).one_or_none()
        return None if found is None else (_user(found[0]), found[1])

    def revoke_access_token(self, token: str) -> bool:
        """Revoke an access token (logout); return whether a live one was revoked."""
        with self._db.write() as session:
            result = session.execute(
                update(AccessTokenRow)
                .where(
                    AccessTokenRow.token_hash == token_hash(token),
                    AccessTokenRow.revoked.is_(None),
                )
                .values(revoked=self._now())
                .execution_options(synchronize_session=False)
            )
            return rowcount(result) > 0

    def purge_expired_access_tokens(self) -> int:
        """Delete access tokens that expired or were revoked; return how many."""
        now = self._now()
        with self._db.write() as session:
            result = session.execute(
                delete(AccessTokenRow)
                .where((AccessTokenRow.expires_at <= now) | AccessTokenRow.revoked.is_not(None))
                .execution_options(synchronize_session=False)
            )
            return rowcount(result)
