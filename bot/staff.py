"""Staff accounts and console sessions.

Passwords are hashed with scrypt (a memory-hard KDF) and a per-password salt. A session is a
random token in an HttpOnly cookie; the database keeps only its SHA-256, so a leaked database
does not log anyone in. Each session has its own CSRF token for the console's forms.

A hash takes tens of milliseconds of CPU and 16 MB: the gateway checks passwords in a small
thread pool of its own (`check_login`), never on its event loop, so sign-ins, wrong or right,
do not hold up shoppers, and a flood of them cannot take more than half the machine.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os
import secrets
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import Engine, delete, select

from bot.clock import utcnow
from bot.store.db import get_engine, session_scope
from bot.store.models import StaffSession, StaffUser

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
MIN_PASSWORD_LENGTH = 10
SESSION_LIFETIME = timedelta(hours=12)
# hashlib.scrypt releases the GIL, so these threads run beside the event loop.
_HASHING = ThreadPoolExecutor(
    max_workers=max(1, (os.cpu_count() or 2) // 2), thread_name_prefix="password-check"
)


class AccountError(ValueError):
    pass


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return "$".join(
        ["scrypt", str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P), _b64(salt), _b64(digest)]
    )


def password_matches(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    candidate = _scrypt(password, _unb64(salt), int(n), int(r), int(p))
    return hmac.compare_digest(candidate, _unb64(digest))


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=64 * 1024 * 1024)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: str) -> bytes:
    return base64.b64decode(text)


# Checked against when the username is unknown, so a wrong name takes as long as a wrong password.
_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


def create_user(username: str, password: str, engine: Engine | None = None) -> StaffUser:
    username = username.strip()
    if not username or len(username) > 80:
        raise AccountError("the username must be 1-80 characters")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password must be at least {MIN_PASSWORD_LENGTH} characters")
    with session_scope(engine or get_engine()) as session:
        if session.scalars(select(StaffUser).where(StaffUser.username == username)).first():
            raise AccountError(f"there is already an account called {username!r}")
        user = StaffUser(
            username=username, password_hash=hash_password(password), created_at=utcnow()
        )
        session.add(user)
        session.flush()
        return user


def set_password(username: str, password: str, engine: Engine | None = None) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password must be at least {MIN_PASSWORD_LENGTH} characters")
    with session_scope(engine or get_engine()) as session:
        user = session.scalars(select(StaffUser).where(StaffUser.username == username)).first()
        if user is None:
            raise AccountError(f"there is no account called {username!r}")
        user.password_hash = hash_password(password)
        # A new password ends every session of the old one.
        session.execute(delete(StaffSession).where(StaffSession.user_id == user.id))


def usernames(engine: Engine | None = None) -> list[str]:
    with session_scope(engine or get_engine()) as session:
        return list(session.scalars(select(StaffUser.username).order_by(StaffUser.username)))


def authenticate(username: str, password: str, engine: Engine | None = None) -> StaffUser | None:
    user = _user_named(username, engine)
    stored = user.password_hash if user else _DUMMY_HASH
    return user if password_matches(password, stored) and user else None


async def check_login(
    username: str, password: str, engine: Engine | None = None
) -> StaffUser | None:
    """`authenticate` for the gateway: the hash is computed in the password pool, off the
    event loop, for an unknown username too (against a dummy hash, so a wrong name takes as
    long as a wrong password)."""
    user = _user_named(username, engine)
    stored = user.password_hash if user else _DUMMY_HASH
    loop = asyncio.get_running_loop()
    matches = await loop.run_in_executor(_HASHING, password_matches, password, stored)
    return user if matches and user else None


def _user_named(username: str, engine: Engine | None) -> StaffUser | None:
    with session_scope(engine or get_engine()) as session:
        return session.scalars(select(StaffUser).where(StaffUser.username == username)).first()


def start_session(user: StaffUser, engine: Engine | None = None) -> tuple[str, str]:
    """Returns (cookie token, CSRF token)."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    now = utcnow()
    with session_scope(engine or get_engine()) as session:
        session.execute(delete(StaffSession).where(StaffSession.expires_at < now))
        session.add(
            StaffSession(
                token_hash=_token_hash(token),
                user_id=user.id,
                csrf_token=csrf,
                created_at=now,
                expires_at=now + SESSION_LIFETIME,
            )
        )
    return token, csrf


def find_session(token: str | None, engine: Engine | None = None) -> StaffSession | None:
    """The live session of a cookie token, with its user loaded; None if absent or expired."""
    if not token:
        return None
    with session_scope(engine or get_engine()) as session:
        found = session.get(StaffSession, _token_hash(token))
        if found is None or found.expires_at < utcnow():
            return None
        _ = found.user.username
        return found


def end_session(token: str | None, engine: Engine | None = None) -> None:
    if not token:
        return
    with session_scope(engine or get_engine()) as session:
        session.execute(delete(StaffSession).where(StaffSession.token_hash == _token_hash(token)))


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
