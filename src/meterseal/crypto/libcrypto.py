"""A thin ctypes binding to OpenSSL 3 libcrypto, for SM2 (GB/T 32918) only.

``cryptography`` offers SM3 and SM4 but not SM2, so :mod:`meterseal.crypto.sm2` reaches
libcrypto directly through the EVP API. This module is its only door: it loads
``libcrypto.so.3`` once, declares the C signature of every function it calls, checks every
return value, turns failures into :mod:`meterseal.errors` (with OpenSSL's error queue in
the message) and frees every object it makes.

A key is turned into an ``EVP_PKEY`` once, by the ``SM2`` key manager from parameters
(``EVP_PKEY_fromdata``), and kept in a :class:`Pkey`, which frees it when it goes; a
signature then only makes its short-lived contexts. OpenSSL computes Z_A (GB/T 32918.2
section 5.5) from the distinguishing ID set with ``EVP_PKEY_CTX_set1_id``; OpenSSL 3.0's
default ID is empty, so callers always pass one.

Diffie-Hellman does not go through ``EVP_PKEY_derive``: OpenSSL 3.0 has no key exchange
for SM2-typed keys, and its ``EC`` key manager refuses to import any key on the SM2 curve
(only its key generator makes EC-typed SM2 keys, from OpenSSL's own randomness). So
:func:`derive` does what the ECDH provider does inside, with the same calls: it reads the
scalar from the ``EVP_PKEY`` into a secure-heap BIGNUM, multiplies the peer's point with
``EC_POINT_mul`` (OpenSSL's constant-time ladder) and clears the BIGNUM at once.

The module is private to ``meterseal.crypto``; nothing outside it should import it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from meterseal.errors import (
    CryptoError,
    InvalidKeyError,
    SignatureError,
    UnsupportedAlgorithmError,
)

SCALAR_LENGTH = 32
POINT_LENGTH = 65
"""An uncompressed SEC1 point on the SM2 curve: ``04 || x || y``."""

MAX_DER_SIGNATURE = 72
"""SEQUENCE { INTEGER r, INTEGER s } with 33-byte integers at most."""

_FALLBACK_NAMES = ("libcrypto.so.3", "libcrypto.so", "libcrypto.3.dylib", "libcrypto-3-x64.dll")
_OPENSSL_3 = 0x30000000

# EVP_PKEY_fromdata selections (openssl/core_dispatch.h, openssl/evp.h).
_SELECT_PUBLIC_KEY = 0x86
_SELECT_KEYPAIR = 0x87
_POINT_CONVERSION_UNCOMPRESSED = 4

_Ptr = ctypes.c_void_p
_Str = ctypes.c_char_p
_Size = ctypes.c_size_t
_Int = ctypes.c_int


def _load() -> ctypes.CDLL:
    """Find libcrypto 3: ``find_library('crypto')`` first, then the usual file names."""
    found = ctypes.util.find_library("crypto")
    names = ([found] if found else []) + list(_FALLBACK_NAMES)
    for name in names:
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            continue
        version = lib.OpenSSL_version_num
        version.restype, version.argtypes = ctypes.c_ulong, []
        if int(version()) >= _OPENSSL_3:
            return lib
    raise UnsupportedAlgorithmError(f"SM2 needs OpenSSL 3 libcrypto; tried {names}")


_lib = _load()


def _fn(name: str, restype: Any, *argtypes: Any) -> Callable[..., Any]:
    """Declare one libcrypto function's C signature and return it."""
    function = getattr(_lib, name)
    function.restype = restype
    function.argtypes = list(argtypes)
    return function  # type: ignore[no-any-return]  # ctypes function pointers are untyped


_ERR_get_error = _fn("ERR_get_error", ctypes.c_ulong)
_ERR_error_string_n = _fn("ERR_error_string_n", None, ctypes.c_ulong, _Str, _Size)
_OBJ_sn2nid = _fn("OBJ_sn2nid", _Int, _Str)

_BN_secure_new = _fn("BN_secure_new", _Ptr)
_BN_bin2bn = _fn("BN_bin2bn", _Ptr, _Str, _Int, _Ptr)
_BN_clear_free = _fn("BN_clear_free", None, _Ptr)

_OSSL_PARAM_BLD_new = _fn("OSSL_PARAM_BLD_new", _Ptr)
_OSSL_PARAM_BLD_push_utf8_string = _fn(
    "OSSL_PARAM_BLD_push_utf8_string", _Int, _Ptr, _Str, _Str, _Size
)
_OSSL_PARAM_BLD_push_octet_string = _fn(
    "OSSL_PARAM_BLD_push_octet_string", _Int, _Ptr, _Str, _Str, _Size
)
_OSSL_PARAM_BLD_push_BN = _fn("OSSL_PARAM_BLD_push_BN", _Int, _Ptr, _Str, _Ptr)
_OSSL_PARAM_BLD_to_param = _fn("OSSL_PARAM_BLD_to_param", _Ptr, _Ptr)
_OSSL_PARAM_BLD_free = _fn("OSSL_PARAM_BLD_free", None, _Ptr)
_OSSL_PARAM_free = _fn("OSSL_PARAM_free", None, _Ptr)

_EVP_PKEY_CTX_new_from_name = _fn("EVP_PKEY_CTX_new_from_name", _Ptr, _Ptr, _Str, _Str)
_EVP_PKEY_CTX_new_from_pkey = _fn("EVP_PKEY_CTX_new_from_pkey", _Ptr, _Ptr, _Ptr, _Str)
_EVP_PKEY_CTX_free = _fn("EVP_PKEY_CTX_free", None, _Ptr)
_EVP_PKEY_CTX_set1_id = _fn("EVP_PKEY_CTX_set1_id", _Int, _Ptr, _Str, _Int)
_EVP_PKEY_fromdata_init = _fn("EVP_PKEY_fromdata_init", _Int, _Ptr)
_EVP_PKEY_fromdata = _fn("EVP_PKEY_fromdata", _Int, _Ptr, ctypes.POINTER(_Ptr), _Int, _Ptr)
_EVP_PKEY_free = _fn("EVP_PKEY_free", None, _Ptr)

_EVP_MD_fetch = _fn("EVP_MD_fetch", _Ptr, _Ptr, _Str, _Str)
_EVP_MD_CTX_new = _fn("EVP_MD_CTX_new", _Ptr)
_EVP_MD_CTX_free = _fn("EVP_MD_CTX_free", None, _Ptr)
_EVP_MD_CTX_set_pkey_ctx = _fn("EVP_MD_CTX_set_pkey_ctx", None, _Ptr, _Ptr)
_EVP_DigestSignInit = _fn("EVP_DigestSignInit", _Int, _Ptr, _Ptr, _Ptr, _Ptr, _Ptr)
_EVP_DigestSign = _fn("EVP_DigestSign", _Int, _Ptr, _Str, ctypes.POINTER(_Size), _Str, _Size)
_EVP_DigestVerifyInit = _fn("EVP_DigestVerifyInit", _Int, _Ptr, _Ptr, _Ptr, _Ptr, _Ptr)
_EVP_DigestVerify = _fn("EVP_DigestVerify", _Int, _Ptr, _Str, _Size, _Str, _Size)

_EC_GROUP_new_by_curve_name = _fn("EC_GROUP_new_by_curve_name", _Ptr, _Int)
_EC_POINT_new = _fn("EC_POINT_new", _Ptr, _Ptr)
_EC_POINT_free = _fn("EC_POINT_free", None, _Ptr)
_EC_POINT_mul = _fn("EC_POINT_mul", _Int, _Ptr, _Ptr, _Ptr, _Ptr, _Ptr, _Ptr)
_EC_POINT_point2oct = _fn("EC_POINT_point2oct", _Size, _Ptr, _Ptr, _Int, _Str, _Size, _Ptr)
_EC_POINT_oct2point = _fn("EC_POINT_oct2point", _Int, _Ptr, _Ptr, _Str, _Size, _Ptr)
_EC_POINT_is_on_curve = _fn("EC_POINT_is_on_curve", _Int, _Ptr, _Ptr, _Ptr)
_EVP_PKEY_get_bn_param = _fn("EVP_PKEY_get_bn_param", _Int, _Ptr, _Str, ctypes.POINTER(_Ptr))


# --- errors ---------------------------------------------------------------------------


def openssl_errors() -> str:
    """Drain this thread's OpenSSL error queue into one line of text."""
    texts: list[str] = []
    while code := int(_ERR_get_error()):
        buffer = ctypes.create_string_buffer(256)
        _ERR_error_string_n(code, buffer, len(buffer))
        texts.append(buffer.value.decode("ascii", "replace"))
    return "; ".join(texts) or "no OpenSSL error queued"


def _check(ok: int, what: str, error: type[CryptoError] = CryptoError) -> None:
    """Raise ``error`` (with OpenSSL's reason) unless a libcrypto call returned 1."""
    if ok != 1:
        raise error(f"{what} failed: {openssl_errors()}")


def _pointer(pointer: int | None, what: str, error: type[CryptoError] = CryptoError) -> int:
    """Raise ``error`` if a libcrypto constructor returned NULL."""
    if not pointer:
        raise error(f"{what} returned NULL: {openssl_errors()}")
    return pointer


# --- module-lifetime objects ----------------------------------------------------------

_SM2_NID = _OBJ_sn2nid(b"SM2")
_SM2_GROUP = _pointer(
    _EC_GROUP_new_by_curve_name(_SM2_NID), "EC_GROUP_new(SM2)", UnsupportedAlgorithmError
)
_SM3 = _pointer(_EVP_MD_fetch(None, b"SM3", None), "EVP_MD_fetch(SM3)", UnsupportedAlgorithmError)


# --- owned objects --------------------------------------------------------------------


class Pkey:
    """Owns one ``EVP_PKEY``; frees it when the object is collected.

    It holds the pointer and nothing else: no Python attribute ever holds key bytes.
    """

    __slots__ = ("_pointer",)

    def __init__(self, pointer: int) -> None:
        self._pointer = pointer

    @property
    def pointer(self) -> int:
        return self._pointer

    def __del__(self, _free: Callable[[int], None] = _EVP_PKEY_free) -> None:
        # ``_free`` is bound at definition time so that it survives interpreter shutdown.
        if self._pointer:
            _free(self._pointer)
            self._pointer = 0


@contextmanager
def _secret_bignum(scalar: bytes) -> Iterator[int]:
    """A BIGNUM in the secure heap, cleared and freed on exit."""
    bignum = _pointer(_BN_secure_new(), "BN_secure_new")
    try:
        _pointer(_BN_bin2bn(scalar, len(scalar), bignum), "BN_bin2bn")
        yield bignum
    finally:
        _BN_clear_free(bignum)


@contextmanager
def _params(public: bytes, private: int | None) -> Iterator[int]:
    """An ``OSSL_PARAM`` array: ``group`` SM2, ``pub`` and, if given, ``priv``."""
    builder = _pointer(_OSSL_PARAM_BLD_new(), "OSSL_PARAM_BLD_new")
    params = None
    try:
        _check(_OSSL_PARAM_BLD_push_utf8_string(builder, b"group", b"SM2", 0), "push group")
        _check(_OSSL_PARAM_BLD_push_octet_string(builder, b"pub", public, len(public)), "pub")
        if private is not None:
            _check(_OSSL_PARAM_BLD_push_BN(builder, b"priv", private), "push priv")
        params = _pointer(_OSSL_PARAM_BLD_to_param(builder), "OSSL_PARAM_BLD_to_param")
        yield params
    finally:
        _OSSL_PARAM_free(params)
        _OSSL_PARAM_BLD_free(builder)


def _fromdata(selection: int, params: int) -> Pkey:
    """``EVP_PKEY_fromdata`` through the SM2 key manager; InvalidKeyError if refused."""
    context = _pointer(
        _EVP_PKEY_CTX_new_from_name(None, b"SM2", None), "EVP_PKEY_CTX_new_from_name(SM2)"
    )
    try:
        _check(_EVP_PKEY_fromdata_init(context), "EVP_PKEY_fromdata_init")
        out = _Ptr()
        _check(
            _EVP_PKEY_fromdata(context, ctypes.byref(out), selection, params),
            "EVP_PKEY_fromdata",
            InvalidKeyError,
        )
        return Pkey(_pointer(out.value, "EVP_PKEY_fromdata", InvalidKeyError))
    finally:
        _EVP_PKEY_CTX_free(context)


# --- points and keys ------------------------------------------------------------------


@contextmanager
def _ec_point() -> Iterator[int]:
    point = _pointer(_EC_POINT_new(_SM2_GROUP), "EC_POINT_new")
    try:
        yield point
    finally:
        _EC_POINT_free(point)


def _encode_point(point: int) -> bytes:
    """``04 || x || y``; CryptoError for the point at infinity (which encodes as ``00``)."""
    out = ctypes.create_string_buffer(POINT_LENGTH)
    written = _EC_POINT_point2oct(
        _SM2_GROUP, point, _POINT_CONVERSION_UNCOMPRESSED, out, POINT_LENGTH, None
    )
    if written != POINT_LENGTH:
        raise CryptoError(f"EC_POINT_point2oct wrote {written} bytes: {openssl_errors()}")
    return out.raw


def _decode_point(encoded: bytes, point: int) -> None:
    """Decode a SEC1 point into ``point``: InvalidKeyError unless it lies on the curve.

    ``EC_POINT_oct2point`` rejects coordinates outside the field, decompresses
    ``02 || x`` (failing when x^3 + ax + b has no square root) and checks an
    uncompressed point against the curve equation; the explicit check below makes the
    rule of GB/T 32918.1 section 6.2 visible here. Infinity has no 33- or 65-byte form.
    """
    if len(encoded) not in (33, POINT_LENGTH):
        raise InvalidKeyError(f"SM2 points are 33 or 65 bytes, got {len(encoded)}")
    _check(
        _EC_POINT_oct2point(_SM2_GROUP, point, encoded, len(encoded), None),
        "EC_POINT_oct2point",
        InvalidKeyError,
    )
    _check(_EC_POINT_is_on_curve(_SM2_GROUP, point, None), "on-curve check", InvalidKeyError)


def check_point(encoded: bytes) -> None:
    """Raise InvalidKeyError unless ``encoded`` (``02 || x`` or ``04 || x || y``) is a
    point on the SM2 curve (GB/T 32918.1 section 6.2; the cofactor is 1, so every such
    point lies in the group of order n).
    """
    with _ec_point() as point:
        _decode_point(encoded, point)


def scalar_base_mult(scalar: bytes) -> bytes:
    """[scalar]G on the SM2 curve (GB/T 32918.1 section 6.1), as ``04 || x || y``.

    ``EC_POINT_mul`` with the generator alone runs OpenSSL's constant-time ladder. The
    caller checks that ``scalar`` lies in [1, n-1].
    """
    with _ec_point() as point, _secret_bignum(scalar) as bignum:
        _check(_EC_POINT_mul(_SM2_GROUP, point, bignum, None, None, None), "EC_POINT_mul")
        return _encode_point(point)


def load_private_key(scalar: bytes, public_point: bytes) -> Pkey:
    """An SM2 key pair from its scalar and its point ``04 || x || y`` (the caller derives
    the point with :func:`scalar_base_mult`).
    """
    with _secret_bignum(scalar) as private, _params(public_point, private) as params:
        return _fromdata(_SELECT_KEYPAIR, params)


def load_public_key(point: bytes) -> Pkey:
    """An SM2 public key from ``04 || x || y``; InvalidKeyError if it is not on the curve
    (OpenSSL decodes it with ``EC_POINT_oct2point``, as in :func:`check_point`).
    """
    with _params(point, None) as params:
        return _fromdata(_SELECT_PUBLIC_KEY, params)


# --- operations -----------------------------------------------------------------------


@contextmanager
def _digest_context(key: Pkey, distid: bytes) -> Iterator[int]:
    """An ``EVP_MD_CTX`` whose ``EVP_PKEY_CTX`` carries the distinguishing ID.

    ``EVP_MD_CTX_set_pkey_ctx`` does not hand over ownership: both are freed here,
    the digest context first.
    """
    pkey_context = _pointer(
        _EVP_PKEY_CTX_new_from_pkey(None, key.pointer, None), "EVP_PKEY_CTX_new_from_pkey"
    )
    md_context = None
    try:
        _check(_EVP_PKEY_CTX_set1_id(pkey_context, distid, len(distid)), "EVP_PKEY_CTX_set1_id")
        md_context = _pointer(_EVP_MD_CTX_new(), "EVP_MD_CTX_new")
        _EVP_MD_CTX_set_pkey_ctx(md_context, pkey_context)
        yield md_context
    finally:
        _EVP_MD_CTX_free(md_context)
        _EVP_PKEY_CTX_free(pkey_context)


def sign(key: Pkey, distid: bytes, message: bytes) -> bytes:
    """SM2 signature with SM3 (GB/T 32918.2 section 6), DER-encoded.

    OpenSSL computes Z_A from ``distid`` and the key's point, hashes Z_A || M with SM3
    and draws the nonce k from its own DRBG.
    """
    with _digest_context(key, distid) as context:
        _check(_EVP_DigestSignInit(context, None, _SM3, None, key.pointer), "DigestSignInit")
        out = ctypes.create_string_buffer(MAX_DER_SIGNATURE)
        length = _Size(MAX_DER_SIGNATURE)
        _check(
            _EVP_DigestSign(context, out, ctypes.byref(length), message, len(message)),
            "EVP_DigestSign",
        )
        return out.raw[: length.value]


def verify(key: Pkey, distid: bytes, message: bytes, der_signature: bytes) -> None:
    """Verify a DER SM2 signature (GB/T 32918.2 section 7); raise SignatureError if bad."""
    with _digest_context(key, distid) as context:
        _check(_EVP_DigestVerifyInit(context, None, _SM3, None, key.pointer), "VerifyInit")
        result = _EVP_DigestVerify(
            context, der_signature, len(der_signature), message, len(message)
        )
        if result != 1:
            raise SignatureError(f"SM2 signature did not verify ({openssl_errors()})")


@contextmanager
def _private_scalar(key: Pkey) -> Iterator[int]:
    """The key's scalar, copied into a secure-heap BIGNUM that is cleared on exit."""
    bignum = _Ptr(_pointer(_BN_secure_new(), "BN_secure_new"))
    try:
        _check(_EVP_PKEY_get_bn_param(key.pointer, b"priv", ctypes.byref(bignum)), "priv")
        yield _pointer(bignum.value, "EVP_PKEY_get_bn_param")
    finally:
        _BN_clear_free(bignum)


def derive(key: Pkey, peer_point: bytes) -> bytes:
    """ECDH on the SM2 curve: the x-coordinate of [d]Q, 32 bytes (cofactor 1).

    Q (``02 || x`` or ``04 || x || y``) must lie on the curve, else InvalidKeyError.
    The same steps as OpenSSL's ECDH provider: ``EC_POINT_mul`` with the one variable
    point runs the constant-time ladder, and infinity is refused.
    """
    with _ec_point() as peer, _ec_point() as shared:
        _decode_point(peer_point, peer)
        with _private_scalar(key) as scalar:
            _check(_EC_POINT_mul(_SM2_GROUP, shared, None, peer, scalar, None), "EC_POINT_mul")
        return _encode_point(shared)[1 : 1 + SCALAR_LENGTH]
