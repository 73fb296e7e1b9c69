"""Where the software keystore's key-encryption key (KEK) comes from.

Three sources, chosen by the operator:

* :func:`kek_from_passphrase`: KEK = scrypt(passphrase, salt, N, r, p, 32) (RFC 7914).
  The salt and the cost parameters travel in the keystore's header, bounded on load so a
  forged header cannot ask for unbounded memory before anything is authenticated.
* :func:`kek_from_file`: 32 random bytes in a file readable by its owner only (raw, or
  as 64 hex digits, or base64), e.g. ``openssl rand -hex 32``.
* :func:`kek_from_env`: the same 32 bytes, hex or base64, in an environment variable
  (a systemd credential or a container secret).

A :class:`KekSource` keeps what it read privately, prints as its description only, and
cannot be pickled.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from meterseal.hsm.errors import HsmError, HsmUnavailableError

KEK_LENGTH = 32
"""Bytes of the KEK: an AES-256-GCM key."""

_MAX_SCRYPT_MEMORY = 512 * 1024 * 1024


class KekKind(enum.IntEnum):
    """How the KEK is made; recorded in the keystore header."""

    SCRYPT = 1
    RAW = 2


@dataclass(frozen=True, slots=True)
class ScryptParams:
    """scrypt cost parameters (RFC 7914 section 2). The default costs 128 MiB.

    N = 2^17, r = 8, p = 1 is the OWASP password-storage recommendation for scrypt; tests
    pass a cheap :data:`TEST_SCRYPT` so that they stay fast.
    """

    log2_n: int = 17
    r: int = 8
    p: int = 1

    def check(self) -> None:
        """Raise :class:`HsmError` for costs outside the accepted bounds."""
        in_range = 1 <= self.log2_n <= 22 and 1 <= self.r <= 32 and 1 <= self.p <= 16
        if not in_range or self.memory() > _MAX_SCRYPT_MEMORY:
            raise HsmError(f"scrypt parameters out of bounds: {self}")

    def memory(self) -> int:
        """Bytes of memory scrypt needs (128 * r * (N + p + 2), as hashlib counts it)."""
        return 128 * self.r * ((1 << self.log2_n) + self.p + 2)


DEFAULT_SCRYPT = ScryptParams()
TEST_SCRYPT = ScryptParams(log2_n=10, r=8, p=1)
"""Cheap parameters for tests only: about 1 MiB and a millisecond."""


def scrypt_kek(passphrase: bytes, salt: bytes, params: ScryptParams) -> bytes:
    """KEK = scrypt(passphrase, salt, N, r, p, dkLen = 32) (RFC 7914 section 2)."""
    params.check()
    return hashlib.scrypt(
        passphrase,
        salt=salt,
        n=1 << params.log2_n,
        r=params.r,
        p=params.p,
        dklen=KEK_LENGTH,
        maxmem=params.memory() + 1024 * 1024,
    )


class KekSource:
    """A passphrase or a raw KEK, and where it came from. Its material stays private."""

    __slots__ = ("_material", "description", "kind", "params")

    def __init__(
        self, kind: KekKind, material: bytes, description: str, params: ScryptParams
    ) -> None:
        self.kind = kind
        self.description = description
        self.params = params
        self._material = material

    def __repr__(self) -> str:
        return f"<KEK from {self.description}>"

    def __reduce__(self) -> NoReturn:
        raise TypeError("a KEK source cannot be pickled")

    def derive(self, salt: bytes, params: ScryptParams) -> bytes:
        """The KEK: scrypt of the passphrase with the header's salt and costs, or the key."""
        if self.kind is KekKind.SCRYPT:
            return scrypt_kek(self._material, salt, params)
        return self._material


def kek_from_passphrase(
    passphrase: str | bytes, params: ScryptParams = DEFAULT_SCRYPT
) -> KekSource:
    """A KEK from a passphrase through scrypt; ``params`` apply to new keystores only."""
    material = passphrase.encode("utf-8") if isinstance(passphrase, str) else passphrase
    if not material:
        raise HsmError("the keystore passphrase is empty")
    params.check()
    return KekSource(KekKind.SCRYPT, material, "passphrase", params)


def decode_raw_kek(text: bytes, where: str) -> bytes:
    """32 bytes given raw, as 64 hex digits, or in base64; HsmError otherwise."""
    if len(text) == KEK_LENGTH:
        return text
    stripped = text.strip()
    for altchars in (None, b"+/", b"-_"):
        try:
            key = (
                binascii.unhexlify(stripped)
                if altchars is None
                else base64.b64decode(stripped, altchars=altchars, validate=True)
            )
        except (binascii.Error, ValueError):
            continue
        if len(key) == KEK_LENGTH:
            return key
    raise HsmError(f"{where} does not hold a {KEK_LENGTH}-byte key (raw, hex or base64)")


def kek_from_file(path: str | os.PathLike[str]) -> KekSource:
    """A raw KEK read from a file that no group or other user may read or write."""
    key_path = Path(path)
    try:
        mode = key_path.stat().st_mode
        text = key_path.read_bytes()
    except OSError as exc:
        raise HsmUnavailableError(f"cannot read the KEK file {key_path}: {exc.strerror}") from exc
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise HsmError(f"the KEK file {key_path} is open to group or others (chmod 600 it)")
    key = decode_raw_kek(text, f"the KEK file {key_path}")
    return KekSource(KekKind.RAW, key, f"file {key_path}", DEFAULT_SCRYPT)


def kek_from_env(name: str) -> KekSource:
    """A raw KEK (hex or base64) read now from the environment variable ``name``."""
    value = os.environ.get(name)
    if not value:
        raise HsmUnavailableError(f"the environment variable {name} holding the KEK is not set")
    key = decode_raw_kek(value.encode("ascii", "replace"), f"the variable {name}")
    return KekSource(KekKind.RAW, key, f"environment variable {name}", DEFAULT_SCRYPT)
