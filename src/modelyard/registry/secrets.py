"""Sealing provider API keys at rest with AES-256-GCM.

A sealed value reads ``v1.<kid>.<base64url(nonce || ciphertext+tag)>``: ``kid`` names the
master key that sealed it (the first 8 hex digits of the key's SHA-256), so several master
keys can be readable at once while secrets are re-encrypted under a new one. Each secret is
bound to its row through the AEAD associated data, so a sealed value copied onto another row
does not open. Master keys come from ``MODELYARD_MASTER_KEY`` or the key file (one base64
key per line, newest first); there is no built-in default. A keyring read from the key file
re-reads it when it changes, so running servers follow a rotation made by another process.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from modelyard.errors import Misconfigured, SecretUnreadable
from modelyard.settings import Settings

KEY_BYTES = 32
NONCE_BYTES = 12
log = logging.getLogger("modelyard.secrets")
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


class Keyring:
    """Master keys, newest (the one that seals) first.

    A keyring read from a key file follows the file, so that a running server keeps working
    while another process (``modelyard master-key rotate``/``retire``, another replica's
    CLI) changes it: meeting a key id it does not know, and before sealing, it re-reads the
    file if the file changed (one ``stat``). Keys from the environment cannot change under a
    running process; they are fixed for its lifetime.
    """

    def __init__(self, keys: tuple[tuple[str, bytes], ...], path: Path | None = None) -> None:
        self.keys = keys
        self.path = path
        self._seen = _signature(path) if path is not None else None

    def __repr__(self) -> str:
        return f"Keyring(ids={self.ids()}, path={self.path})"

    @classmethod
    def from_texts(cls, texts: list[str], source: str, path: Path | None = None) -> Keyring:
        return cls(_parse(texts, source), path)

    @classmethod
    def from_settings(cls, settings: Settings) -> Keyring:
        if settings.master_key is not None:
            texts = settings.master_key.get_secret_value().split(",")
            return cls.from_texts(texts, "MODELYARD_MASTER_KEY")
        path = settings.master_key_file
        if not path.exists():
            raise Misconfigured(f"master key file {path} does not exist; {MISSING_KEY_HELP}")
        seen = _signature(path)  # before reading: a change made meanwhile is read again
        keyring = cls.from_texts(read_key_file(path), str(path))
        keyring.path, keyring._seen = path, seen
        return keyring

    def replace(self, texts: list[str]) -> None:
        """Use ``texts`` from now on (just written to the key file by this process)."""
        keys = _parse(texts, str(self.path or "keyring"))
        if self.path is not None:
            self._seen = _signature(self.path)
        self.keys = keys

    def reload(self) -> bool:
        """Re-read the key file if it changed since last read; True if the keys changed.
        An unreadable or broken file is logged and the keys in hand are kept."""
        if self.path is None:
            return False
        seen = _signature(self.path)
        if seen == self._seen:
            return False
        self._seen = seen
        try:
            keys = _parse(read_key_file(self.path), str(self.path))
        except (OSError, Misconfigured) as exc:
            log.warning("master key file %s not re-read: %s", self.path, type(exc).__name__)
            return False
        if keys == self.keys:
            return False
        log.info("master key file %s re-read: primary %s", self.path, keys[0][0])
        self.keys = keys
        return True

    @property
    def primary_id(self) -> str:
        return self.keys[0][0]

    def ids(self) -> list[str]:
        return [kid for kid, _ in self.keys]

    def seal(self, plaintext: str, *, context: str) -> str:
        self.reload()  # seal under the newest primary, even one another process just added
        kid, raw = self.keys[0]
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(raw).encrypt(nonce, plaintext.encode(), context.encode())
        return f"v1.{kid}.{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def open(self, sealed: str, *, context: str) -> str:
        version, kid, body = sealed_parts(sealed)
        raw = dict(self.keys).get(kid)
        if raw is None and self.reload():  # sealed under a key another process added
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


def _parse(texts: list[str], source: str) -> tuple[tuple[str, bytes], ...]:
    keys = tuple((key_id(raw), raw) for raw in (_decode_key(t, source) for t in texts if t))
    if not keys:
        raise Misconfigured(f"no master key in {source}; {MISSING_KEY_HELP}")
    return keys


def _signature(path: Path) -> tuple[int, int, int] | None:
    """What changes when the key file is rewritten (write_key_file replaces it)."""
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


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
