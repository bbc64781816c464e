"""User accounts, logins with throttling, and server-side sessions.

Every function takes an open SQLAlchemy session and leaves the commit to the caller, so a
route, the CLI and a test share them. Login throttling follows ASVS 2.2.1: after
``max_failures`` failed logins within the window, for one account or from one address,
every attempt (with the right password too) is refused until the lockout has passed.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from sqlalchemy import Connection, Executable, Row, bindparam, delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from spinestab.core.validation import check_choice
from spinestab.errors import InputError
from spinestab.service.models import ROLES, LoginAttempt, User, WebSession
from spinestab.service.security import (
    Passwords,
    check_password_policy,
    keyed_hash,
    new_token,
)
from spinestab.store import audit, get_patient, session_scope

__all__ = [
    "LoginRefused",
    "Principal",
    "SessionCheck",
    "SessionPolicy",
    "ThrottlePolicy",
    "add_user",
    "check_session",
    "demo_users",
    "end_session",
    "login",
    "resolve_session",
    "utcnow",
    "write_session_change",
]

USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{1,63}$")


def utcnow() -> dt.datetime:
    """Return the current time in UTC (aware)."""
    return dt.datetime.now(dt.UTC)


def _aware(value: dt.datetime) -> dt.datetime:
    """SQLite returns naive datetimes; every stored time is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class Principal:
    """Who is making a request: the logged-in user and their session."""

    user_id: int
    username: str
    role: str
    patient_pseudonym: str | None
    session_id: str
    csrf_token: str
    language: str | None


@dataclass(frozen=True)
class SessionPolicy:
    """Idle and absolute session timeouts."""

    idle: dt.timedelta = dt.timedelta(minutes=30)
    absolute: dt.timedelta = dt.timedelta(hours=12)
    touch_every: dt.timedelta = dt.timedelta(seconds=30)


@dataclass(frozen=True)
class ThrottlePolicy:
    """Login throttling: failures counted in a window, then a lockout."""

    max_failures: int = 5
    window: dt.timedelta = dt.timedelta(minutes=15)
    lockout: dt.timedelta = dt.timedelta(minutes=15)


class LoginRefused(Exception):  # noqa: N818 - a refusal, not a programming error
    """A login was refused: wrong credentials (401) or throttled (429)."""

    def __init__(self, *, throttled: bool, retry_after_s: int = 0) -> None:
        super().__init__("too many failed logins" if throttled else "wrong user name or password")
        self.throttled = throttled
        self.retry_after_s = retry_after_s


def add_user(
    session: Session,
    username: str,
    *,
    role: str,
    password: str,
    passwords: Passwords,
    patient: str | None = None,
    is_demo: bool = False,
    actor: str = "cli",
) -> User:
    """Add a user account.

    Raises
    ------
    InputError
        For an invalid or taken user name, an unknown role, a patient account without an
        existing pseudonym (or another role with one), or a password outside the policy.

    """
    if not USERNAME.match(username):
        raise InputError(
            "invalid user name",
            item="username",
            value=username,
            expected="2-64 letters, digits or . _ @ - (starting with a letter or digit)",
        )
    check_choice("role", role, ROLES, message="unknown role", expected=", ".join(ROLES))
    if role == "patient":
        if not patient:
            raise InputError(
                "a patient account needs the patient's pseudonym",
                item="--patient",
                expected="the pseudonym of a stored patient",
            )
        if get_patient(session, patient) is None:
            raise InputError(
                "unknown patient",
                item="--patient",
                value=patient,
                expected="a patient added with 'spinestab patient add'",
            )
    elif patient:
        raise InputError(
            "only a patient account is tied to a pseudonym",
            item="--patient",
            value=patient,
            expected="--role patient, or no --patient",
        )
    if session.scalars(select(User).where(User.username == username)).first() is not None:
        raise InputError("user already exists", item="username", value=username)
    check_password_policy(password, username=username)
    user = User(
        username=username,
        role=role,
        patient_pseudonym=patient if role == "patient" else None,
        password_hash=passwords.hash(password),
        is_demo=is_demo,
        active=True,
    )
    session.add(user)
    session.flush()
    audit(
        session,
        actor=actor,
        action="create",
        entity="user",
        entity_id=user.id,
        detail={"username": username, "role": role, "demo": is_demo},
    )
    return user


def demo_users(session: Session) -> list[str]:
    """Return the names of demo accounts (``serve --production`` refuses while any exist)."""
    return list(session.scalars(select(User.username).where(User.is_demo.is_(True))))


def _throttled(
    session: Session, username: str, address: str, policy: ThrottlePolicy, now: dt.datetime
) -> int:
    """Return the seconds until a locked account or address may try again (0: not locked)."""
    waits = []
    for column, value in ((LoginAttempt.username, username), (LoginAttempt.address, address)):
        since = now - policy.window - policy.lockout
        rows = session.scalars(
            select(LoginAttempt.at)
            .where(column == value, LoginAttempt.at >= since, LoginAttempt.success.is_(False))
            .order_by(LoginAttempt.at)
        ).all()
        times = [_aware(t) for t in rows]
        # Locked when max_failures fell within one window and the last is recent.
        for i in range(len(times) - policy.max_failures + 1):
            first, last = times[i], times[i + policy.max_failures - 1]
            if last - first <= policy.window:
                until = times[-1] + policy.lockout
                if until > now:
                    waits.append(int((until - now).total_seconds()) + 1)
                break
    return max(waits, default=0)


def login(
    sessions: sessionmaker[Session],
    username: str,
    password: str,
    *,
    address: str,
    passwords: Passwords,
    secret: bytes,
    policy: SessionPolicy,
    throttle: ThrottlePolicy,
) -> tuple[str, Principal]:
    """Check credentials and open a new session; return the cookie token and the principal.

    A new session id is made at every login (no fixation, ASVS 3.2.1). Attempts are recorded
    for throttling, refused ones too. Three steps, so that logins at the same moment never
    queue behind a password hash: the account and its recent failures are read (no lock),
    the password is checked (argon2id, outside any transaction), and the attempt and the
    new session are written in a short transaction that begins ``IMMEDIATE`` on SQLite.

    Raises
    ------
    LoginRefused
        Wrong credentials, inactive account, or throttled (after the attempt is stored).

    """
    now = utcnow()
    name = username.strip()[:64]
    address = address[:64]
    with session_scope(sessions) as session:
        wait = _throttled(session, name, address, throttle, now)
        user = session.scalars(select(User).where(User.username == name)).first()
        account = (
            None
            if user is None
            else (user.id, user.username, user.role, user.patient_pseudonym, user.language)
        )
        stored_hash, active = (user.password_hash, user.active) if user else (None, False)
    ok = not wait and passwords.verify(stored_hash, password) and active and account is not None
    with session_scope(sessions, immediate=True) as session:
        if wait:
            # Not counted as a failure: a locked account is not locked longer by each try.
            audit(
                session,
                actor=name or "?",
                action="refused",
                entity="login",
                entity_id=None,
                detail={"reason": "throttled"},
            )
        elif not ok or account is None:
            session.add(LoginAttempt(username=name, address=address, at=now, success=False))
            audit(
                session,
                actor=name or "?",
                action="refused",
                entity="login",
                entity_id=account[0] if account else None,
                detail={"reason": "credentials"},
            )
        else:
            user_id, user_name, role, patient, language = account
            session.add(LoginAttempt(username=name, address=address, at=now, success=True))
            token, csrf = new_token(), new_token()
            row = WebSession(
                id=keyed_hash(secret, token),
                user_id=user_id,
                csrf_token=csrf,
                created_at=now,
                last_seen_at=now,
                expires_at=now + policy.absolute,
            )
            session.add(row)
            audit(session, actor=user_name, action="login", entity="user", entity_id=user_id)
    if wait:
        raise LoginRefused(throttled=True, retry_after_s=wait)
    if not ok or account is None:
        raise LoginRefused(throttled=False)
    return token, Principal(
        user_id=user_id,
        username=user_name,
        role=role,
        patient_pseudonym=patient,
        session_id=row.id,
        csrf_token=csrf,
        language=language,
    )


#: The session and its user in one statement of plain columns (every request asks): built
#: once, no ORM objects, no identity map.
_SESSION_QUERY = (
    select(
        WebSession.csrf_token,
        WebSession.last_seen_at,
        WebSession.expires_at,
        User.id,
        User.username,
        User.role,
        User.patient_pseudonym,
        User.language,
        User.active,
    )
    .outerjoin(User, User.id == WebSession.user_id)
    .where(WebSession.id == bindparam("session_id"))
)


#: A session's row as read: CSRF token, last seen, expiry, then its user's id, name, role,
#: patient, language and whether active (the user's columns are None without a user: an
#: outer join, which the column types do not say).
_SessionRow = Row[str, dt.datetime, dt.datetime, int, str, str, str | None, str | None, bool]


def _read_session(connection: Connection, session_id: str) -> _SessionRow | None:
    """Read a session and its user in a transaction of its own, ended before returning."""
    try:
        row = connection.execute(_SESSION_QUERY, {"session_id": session_id}).first()
        return row
    finally:
        connection.rollback()  # the read's snapshot ends here (nothing was written)


@dataclass(frozen=True)
class SessionCheck:
    """What a session read found: the principal (None: no live session) and the write due.

    ``write`` is the statement to commit next (delete an expired session, refresh
    ``last_seen_at``), or None: most requests write nothing.
    """

    principal: Principal | None
    write: Executable | None = None


def check_session(
    connection: Connection, token: str | None, *, secret: bytes, policy: SessionPolicy
) -> SessionCheck:
    """Read a session (one Core statement, a read transaction ended at once) and judge it.

    Unknown: no principal. Expired, idle, or its user gone or disabled: no principal, and
    the session's delete to write. Live: the principal, and a refreshed ``last_seen_at`` to
    write when the last refresh is older than ``policy.touch_every``. Writes nothing.
    """
    if not token or len(token) > 128:
        return SessionCheck(None)
    session_id = keyed_hash(secret, token)
    found = _read_session(connection, session_id)
    if found is None:
        return SessionCheck(None)
    csrf, last_seen, expires, user_id, username, role, patient, language, active = found
    now = utcnow()
    last_seen = _aware(last_seen)
    live = _aware(expires) > now and now - last_seen <= policy.idle and bool(active)
    if not live or user_id is None or username is None or role is None:
        return SessionCheck(None, delete(WebSession).where(WebSession.id == session_id))
    touch = None
    if now - last_seen > policy.touch_every:
        touch = update(WebSession).where(WebSession.id == session_id).values(last_seen_at=now)
    principal = Principal(
        user_id=user_id,
        username=username,
        role=role,
        patient_pseudonym=patient,
        session_id=session_id,
        csrf_token=csrf,
        language=language,
    )
    return SessionCheck(principal, touch)


def write_session_change(connection: Connection, statement: Executable) -> None:
    """Commit a :class:`SessionCheck`'s write in a short transaction that starts with it.

    SQLite (WAL): a transaction that read and then writes fails at once when another writer
    committed in between (its snapshot is stale; the busy timeout does not help); one that
    starts with the write waits for the lock instead.
    """
    with connection.begin():
        connection.execute(statement)


def resolve_session(
    connection: Connection, token: str | None, *, secret: bytes, policy: SessionPolicy
) -> Principal | None:
    """Return the principal of a live session, or None (unknown, idle or expired).

    :func:`check_session`, then its write (if any) committed on the same connection
    (:func:`write_session_change`). Nothing is kept between requests, so a logout or a
    timeout holds at once in every worker process.
    """
    check = check_session(connection, token, secret=secret, policy=policy)
    if check.write is not None:
        write_session_change(connection, check.write)
    return check.principal


def end_session(session: Session, session_id: str) -> None:
    """Delete a session (logout)."""
    session.execute(delete(WebSession).where(WebSession.id == session_id))
