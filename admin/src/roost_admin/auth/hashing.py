"""Hashes of what the admin must recognise but never keep: passwords and client secrets (scrypt, salted), and
tokens and codes (SHA-256, since they are long random strings)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

_N, _R, _P = 2**14, 8, 1
_LENGTH = 32


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_secret(secret: str) -> str:
    """A salted scrypt hash of a password or client secret, as ``scrypt$N$r$p$salt$hash``."""
    salt = secrets.token_bytes(16)
    derived = hashlib.scrypt(secret.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=_LENGTH)
    return f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(derived)}"


def verify_secret(secret: str, stored: str) -> bool:
    """Whether ``secret`` is the one ``stored`` was made from (constant time in the secret)."""
    try:
        scheme, n, r, p, salt, expected = stored.split("$")
        if scheme != "scrypt":
            return False
        derived = hashlib.scrypt(
            secret.encode(), salt=_unb64(salt), n=int(n), r=int(r), p=int(p), dklen=len(_unb64(expected))
        )
    except ValueError:
        return False
    return hmac.compare_digest(derived, _unb64(expected))


def digest(token: str) -> str:
    """The SHA-256 hex digest a token or code is stored and looked up by."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_secret() -> str:
    """A fresh random secret or token (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)
