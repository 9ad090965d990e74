"""Sealing provider API keys at rest with AES-256-GCM.

A sealed value reads ``v1.<kid>.<base64url(nonce || ciphertext+tag)>``: ``kid`` names the
master key that sealed it (the first 8 hex digits of the key's SHA-256), so several master
keys can be readable at once while secrets are re-encrypted under a new one. Each secret is
bound to its row through the AEAD associated data, so a sealed value copied onto another row
does not open. Master keys come from ``MODELYARD_MASTER_KEY`` or the key file (one base64
key per line, newest first); there is no built-in default.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from modelyard.errors import Misconfigured, SecretUnreadable
from modelyard.settings import Settings

KEY_BYTES = 32
NONCE_BYTES = 12
MISSING_KEY_HELP = "set MODELYARD_MASTER_KEY or run `modelyard init` to create the key file"


def generate_key() -> str:
    return base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()


def key_id(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()[:8]


def _decode_key(text: str, source: str) -> bytes:
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise Misconfigured(f"{source}: a master key is not valid base64") from None
    if len(raw) != KEY_BYTES:
        raise Misconfigured(f"{source}: a master key must be {KEY_BYTES} bytes, base64-encoded")
    return raw


def mask(secret: str) -> str:
    """A hint that identifies a key without revealing it: ``sk-...abcd``."""
    if len(secret) < 12:
        return "..."
    return f"{secret[:3]}...{secret[-4:]}"


@dataclass(frozen=True)
class Keyring:
    """Master keys, newest (the one that seals) first."""

    keys: tuple[tuple[str, bytes], ...]

    @classmethod
    def from_texts(cls, texts: list[str], source: str) -> Keyring:
        keys = tuple((key_id(raw), raw) for raw in (_decode_key(t, source) for t in texts if t))
        if not keys:
            raise Misconfigured(f"no master key in {source}; {MISSING_KEY_HELP}")
        return cls(keys)

    @classmethod
    def from_settings(cls, settings: Settings) -> Keyring:
        if settings.master_key is not None:
            texts = settings.master_key.get_secret_value().split(",")
            return cls.from_texts(texts, "MODELYARD_MASTER_KEY")
        path = settings.master_key_file
        if not path.exists():
            raise Misconfigured(f"master key file {path} does not exist; {MISSING_KEY_HELP}")
        return cls.from_texts(read_key_file(path), str(path))

    @property
    def primary_id(self) -> str:
        return self.keys[0][0]

    def ids(self) -> list[str]:
        return [kid for kid, _ in self.keys]

    def seal(self, plaintext: str, *, context: str) -> str:
        kid, raw = self.keys[0]
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(raw).encrypt(nonce, plaintext.encode(), context.encode())
        return f"v1.{kid}.{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def open(self, sealed: str, *, context: str) -> str:
        version, kid, body = sealed_parts(sealed)
        raw = dict(self.keys).get(kid)
        if version != "v1" or raw is None:
            raise SecretUnreadable(
                f"a secret is sealed with master key {kid}, which is not configured"
            )
        blob = base64.urlsafe_b64decode(body)
        try:
            plain = AESGCM(raw).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], context.encode())
        except InvalidTag:
            raise SecretUnreadable("a sealed secret failed authentication") from None
        return plain.decode()


def sealed_parts(sealed: str) -> tuple[str, str, str]:
    parts = sealed.split(".", 2)
    if len(parts) != 3:
        raise SecretUnreadable("a sealed secret is malformed")
    return parts[0], parts[1], parts[2]


def read_key_file(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def write_key_file(path: Path, keys: list[str]) -> None:
    """Write the key file atomically with mode 0600."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write("\n".join(keys) + "\n")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
