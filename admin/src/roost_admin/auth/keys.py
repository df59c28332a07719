"""The built-in authorization server's keys, kept in the keys folder (``{data_dir}/auth`` by default):

- ``token_rsa_key.pem``: the RSA key signing access tokens (RS256); its public half is served as a JWKS.
  ``token_rsa_key_old.pem``, if present, is still accepted for verification (rotate by renaming the current
  key to it and restarting).
- ``execution.key``: the HMAC key execution credentials are derived from.

Files are created with mode 0600 on first use, exclusively, so concurrent starts agree on one key.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

SIGNING_KEY = "token_rsa_key.pem"
OLD_SIGNING_KEY = "token_rsa_key_old.pem"
EXECUTION_KEY = "execution.key"
ALGORITHM = "RS256"


def _create_exclusively(path: Path, make: Any) -> bytes:
    """The file's content, writing ``make()`` into it (mode 0600) first if it does not exist yet."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes()
    content: bytes = make()
    with os.fdopen(fd, "wb") as stream:
        stream.write(content)
    return content


def _new_rsa_pem() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _thumbprint(public_key: rsa.RSAPublicKey) -> str:
    """The RFC 7638 JWK thumbprint, used as the key id."""
    jwk = RSAAlgorithm.to_jwk(public_key, as_dict=True)
    canonical = json.dumps({k: jwk[k] for k in ("e", "kty", "n")}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).decode().rstrip("=")


def execution_key(folder: Path) -> bytes:
    """The key execution credentials are derived from (created on first use)."""
    return _create_exclusively(folder / EXECUTION_KEY, lambda: secrets.token_hex(32).encode()).strip()


class SigningKeys:
    """The signing key (and an old one still accepted), by key id."""

    def __init__(self, folder: Path) -> None:
        pem = _create_exclusively(folder / SIGNING_KEY, _new_rsa_pem)
        private = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(private, rsa.RSAPrivateKey):
            raise ValueError(f"{folder / SIGNING_KEY} does not hold an RSA private key")
        self._private = private
        self.kid = _thumbprint(private.public_key())
        self._public: dict[str, rsa.RSAPublicKey] = {self.kid: private.public_key()}
        old = folder / OLD_SIGNING_KEY
        if old.exists():
            old_key = serialization.load_pem_private_key(old.read_bytes(), password=None)
            if isinstance(old_key, rsa.RSAPrivateKey):
                self._public[_thumbprint(old_key.public_key())] = old_key.public_key()

    def sign(self, claims: dict[str, Any]) -> str:
        """A signed JWT of ``claims``."""
        return jwt.encode(claims, self._private, algorithm=ALGORITHM, headers={"kid": self.kid})

    def public_key(self, kid: str) -> rsa.RSAPublicKey | None:
        """The public key of ``kid`` (None if it is not one of ours)."""
        return self._public.get(kid)

    def jwks(self) -> dict[str, Any]:
        """The public keys as a JSON Web Key Set."""
        keys = []
        for kid, key in self._public.items():
            jwk = RSAAlgorithm.to_jwk(key, as_dict=True)
            keys.append({**jwk, "kid": kid, "use": "sig", "alg": ALGORITHM})
        return {"keys": keys}
