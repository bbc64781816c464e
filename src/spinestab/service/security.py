"""Passwords (argon2id), session tokens, CSRF tokens and the server secret.

Only a keyed hash (HMAC-SHA-256 with the server secret) of a session token is stored, so a
copy of the database does not hand out live sessions (ASVS 3.2). The secret is created in
the data folder (mode 0600) on first start when none is configured.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import time
from functools import cached_property
from pathlib import Path

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from spinestab.errors import InputError

__all__ = [
    "MIN_PASSWORD_LENGTH",
    "MIN_SECRET_LENGTH",
    "Passwords",
    "check_password_policy",
    "keyed_hash",
    "load_or_create_secret",
    "new_token",
    "tokens_equal",
]

log = logging.getLogger(__name__)

MIN_PASSWORD_LENGTH = 12  # ASVS 2.1.1: at least 12 characters
MAX_PASSWORD_LENGTH = 128  # ASVS 2.1.2: at least 64 allowed, at most 128
MIN_SECRET_LENGTH = 32
SECRET_FILE = "secret_key"


class Passwords:
    """argon2id hashing with the configured cost (RFC 9106 defaults).

    Parameters
    ----------
    time_cost : int
        Passes over memory.
    memory_kib : int
        Memory per hash in KiB.

    """

    def __init__(self, *, time_cost: int = 3, memory_kib: int = 65536) -> None:
        self._hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=4, type=Type.ID
        )

    def hash(self, password: str) -> str:
        """Return the argon2id hash (PHC string) of ``password``."""
        return self._hasher.hash(password)

    @cached_property
    def _dummy_hash(self) -> str:
        return self._hasher.hash(secrets.token_urlsafe(16))

    def verify(self, stored_hash: str | None, password: str) -> bool:
        """Return whether ``password`` matches; an unknown user costs the same time."""
        try:
            return self._hasher.verify(stored_hash or self._dummy_hash, password) and bool(
                stored_hash
            )
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False


def check_password_policy(password: str, *, username: str) -> str:
    """Return the password if it meets the length policy (ASVS 2.1.1, 2.1.2).

    Raises
    ------
    InputError
        For a password that is too short, too long or equal to the user name.

    """
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise InputError(
            "password length not allowed",
            item="password",
            expected=f"{MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters",
        )
    if password.strip().lower() == username.strip().lower():
        raise InputError(
            "password equals the user name", item="password", expected="another password"
        )
    return password


def new_token() -> str:
    """Return a new random token (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def keyed_hash(secret: bytes, token: str) -> str:
    """Return HMAC-SHA-256 of ``token`` under ``secret`` as hex (what the store keeps)."""
    return hmac.new(secret, token.encode("utf-8"), hashlib.sha256).hexdigest()


def tokens_equal(a: str | None, b: str | None) -> bool:
    """Compare two tokens in constant time; a missing token never matches."""
    if not a or not b:
        return False
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def load_or_create_secret(data_dir: Path, configured: str | None) -> tuple[bytes, bool]:
    """Return the server secret and whether it was configured (not read from the data folder).

    A configured secret must have at least 32 characters. Without one, the file
    ``DATA_DIR/secret_key`` is read, or created with mode 0600 (its folder 0700).

    Raises
    ------
    InputError
        For a configured secret that is too short, or a secret file readable by others.

    """
    if configured is not None:
        if len(configured) < MIN_SECRET_LENGTH:
            raise InputError(
                "secret key too short",
                item="SPINESTAB_SECRET_KEY",
                expected=f"at least {MIN_SECRET_LENGTH} random characters",
            )
        return configured.encode("utf-8"), True
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = data_dir / SECRET_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_secret_file(path), False
    secret = secrets.token_urlsafe(48)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(secret + "\n")
    log.info("created a new server secret in %s", path)
    return secret.encode("ascii"), False


def _read_secret_file(path: Path) -> bytes:
    """Read the secret file (waiting briefly for a process that is writing it now)."""
    if path.stat().st_mode & 0o077:
        raise InputError(
            "the secret key file is readable by other users",
            source=str(path),
            expected="file mode 0600 (chmod 600)",
        )
    for _ in range(50):  # another worker may have created it a moment ago
        secret = path.read_text(encoding="ascii").strip()
        if len(secret) >= MIN_SECRET_LENGTH:
            return secret.encode("ascii")
        time.sleep(0.02)
    raise InputError(
        "secret key file too short or empty",
        source=str(path),
        expected=f"at least {MIN_SECRET_LENGTH} characters (delete it to make a new one)",
    )
