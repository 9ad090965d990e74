"""Provider keys inside an exported document: never plaintext.

An export without secrets has ``"api_key": null`` on every provider. With secrets, each key is
sealed one of two ways, named in the value itself:

* ``{"sealed_by": "passphrase", "value": "s1.<salt>.<nonce+ciphertext>"}``: AES-256-GCM under
  a key derived from a passphrase with scrypt (n=2**15, r=8, p=1; a fresh 16-byte salt per
  export, a fresh 12-byte nonce per key); the provider's name is the associated data, so a
  sealed key moved to another provider fails to open. Portable to any installation that is
  told the passphrase.
* ``{"sealed_by": "master_key", "value": "v1.<key id>.<...>"}``: sealed with this
  installation's master key (the same AES-256-GCM sealing as keys at rest, context
  ``export:<provider name>``). Opens wherever that master key is configured; backups use it.
"""

from __future__ import annotations

import base64
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from modelyard.errors import SecretUnreadable, ValidationFailed
from modelyard.registry.secrets import Keyring

SALT_BYTES, NONCE_BYTES = 16, 12
MIN_PASSPHRASE = 12


class Sealer:
    """Seals and opens exported keys, by passphrase when one is given, else by master key."""

    def __init__(self, keyring: Keyring | None, passphrase: str | None = None) -> None:
        if passphrase is not None and len(passphrase) < MIN_PASSPHRASE:
            raise ValidationFailed.at(
                "passphrase", f"must have at least {MIN_PASSPHRASE} characters"
            )
        self._keyring = keyring
        self._passphrase = passphrase
        # scrypt costs ~0.1 s a run: one salt for all the keys this sealer seals, and each
        # salt derived once, so a document's keys cost one derivation, not one each
        self._salt = os.urandom(SALT_BYTES)
        self._derived: dict[bytes, bytes] = {}

    def seal(self, provider: str, plaintext: str) -> dict[str, str]:
        if self._passphrase is not None:
            salt, nonce = self._salt, os.urandom(NONCE_BYTES)
            key = self._key(salt)
            body = AESGCM(key).encrypt(nonce, plaintext.encode(), provider.encode())
            value = f"s1.{_b64(salt)}.{_b64(nonce + body)}"
            return {"sealed_by": "passphrase", "value": value}
        value = self._ring().seal(plaintext, context=f"export:{provider}")
        return {"sealed_by": "master_key", "value": value}

    def open(self, provider: str, sealed: Any, where: str) -> str:
        if not isinstance(sealed, dict) or not isinstance(sealed.get("value"), str):
            raise ValidationFailed.at(where, "must be {sealed_by, value} as modelyard exports it")
        how, value = sealed.get("sealed_by"), sealed["value"]
        if how == "master_key":
            try:
                return self._ring().open(value, context=f"export:{provider}")
            except (SecretUnreadable, ValueError):
                raise ValidationFailed.at(
                    where, "does not open with this installation's master key"
                ) from None
        if how != "passphrase":
            raise ValidationFailed.at(f"{where}.sealed_by", "must be passphrase or master_key")
        if self._passphrase is None:
            raise ValidationFailed.at(
                where, "is sealed with a passphrase; give it (--passphrase-env NAME)"
            )
        try:
            version, salt, blob = value.split(".")
            if version != "s1":
                raise ValueError(version)
            raw = base64.urlsafe_b64decode(blob)
            key = self._key(base64.urlsafe_b64decode(salt))
            plain = AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], provider.encode())
        except (ValueError, InvalidTag):
            raise ValidationFailed.at(
                where, "does not open: a wrong passphrase, or not sealed for this provider"
            ) from None
        return plain.decode()

    def _key(self, salt: bytes) -> bytes:
        assert self._passphrase is not None
        if salt not in self._derived:
            self._derived[salt] = _derive(self._passphrase, salt)
        return self._derived[salt]

    def _ring(self) -> Keyring:
        if self._keyring is None:
            raise ValidationFailed.at(
                "passphrase",
                "no master key is configured to seal with; give a passphrase or set "
                "MODELYARD_MASTER_KEY",
            )
        return self._keyring


def _derive(passphrase: str, salt: bytes) -> bytes:
    return Scrypt(salt=salt, length=32, n=2**15, r=8, p=1).derive(passphrase.encode())


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode()
