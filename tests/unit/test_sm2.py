"""SM2 signatures, key agreement and encodings (meterseal.crypto.sm2)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from meterseal.crypto import libcrypto
from meterseal.crypto.sm2 import (
    COSE_ALG_SM2_SM3,
    COSE_CRV_SM2,
    SM2_CURVE,
    SM2_DEFAULT_DISTID,
    SM2_N,
    SM2_P,
    SM2_SIGNATURE,
    Sm2Signature,
    public_key_from_spki_der,
    public_key_to_spki_der,
    signature_from_der,
    signature_to_der,
)
from meterseal.errors import CryptoError, InvalidKeyError, SignatureError

PRIVATE = bytes.fromhex("3945208f7b2144b13f36e38ac6d39f95889393692860b51a42fb81ef4df7c5b8")
OTHER_PRIVATE = bytes.fromhex("1f" * 32)
MESSAGE = b"meter 0042: 17.3 kWh at 2024-05-01T00:15:00Z"
SM2_B = 0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93


def _counter_rng(seed: int) -> Callable[[int], bytes]:
    """A deterministic stand-in for os.urandom."""
    counter = itertools.count(seed)
    return lambda n: bytes((next(counter) * 37 + i) % 256 for i in range(n))


def _scripted_rng(chunks: list[bytes]) -> Callable[[int], bytes]:
    """Returns the given chunks in order, whatever length is asked for."""
    it: Iterator[bytes] = iter(chunks)
    return lambda _n: next(it)


def _x(scalar: int) -> bytes:
    return libcrypto.scalar_base_mult(scalar.to_bytes(32, "big"))[1:33]


def _not_on_curve_x() -> bytes:
    """An x for which x^3 + ax + b is not a square mod p: no point has it."""
    for x in itertools.count(1):
        rhs = (pow(x, 3, SM2_P) - 3 * x + SM2_B) % SM2_P
        if pow(rhs, (SM2_P - 1) // 2, SM2_P) == SM2_P - 1:
            return x.to_bytes(32, "big")
    raise AssertionError("unreachable")


# --- constants ------------------------------------------------------------------------


def test_cose_values_and_lengths() -> None:
    assert (SM2_CURVE.name, SM2_CURVE.cose_crv, SM2_CURVE.public_key_length) == (
        "SM2",
        COSE_CRV_SM2,
        32,
    )
    assert (SM2_SIGNATURE.name, SM2_SIGNATURE.cose_alg, SM2_SIGNATURE.signature_length) == (
        "SM2-SM3",
        COSE_ALG_SM2_SM3,
        64,
    )
    assert COSE_CRV_SM2 == -65537
    assert COSE_ALG_SM2_SM3 == -65537
    assert SM2_SIGNATURE.distid == SM2_DEFAULT_DISTID == b"1234567812345678"


# --- signatures -----------------------------------------------------------------------


def test_sign_verify_round_trip() -> None:
    key = SM2_SIGNATURE.from_private_bytes(PRIVATE)
    signature = key.sign(MESSAGE)
    assert len(signature) == 64
    SM2_SIGNATURE.verify(key.public_key, MESSAGE, signature)


def test_signatures_are_randomized() -> None:
    key = SM2_SIGNATURE.from_private_bytes(PRIVATE)
    assert key.sign(MESSAGE) != key.sign(MESSAGE)


def test_verify_rejects_wrong_message() -> None:
    key = SM2_SIGNATURE.from_private_bytes(PRIVATE)
    with pytest.raises(SignatureError):
        SM2_SIGNATURE.verify(key.public_key, MESSAGE + b"!", key.sign(MESSAGE))


def test_verify_rejects_wrong_key() -> None:
    key = SM2_SIGNATURE.from_private_bytes(PRIVATE)
    other = SM2_SIGNATURE.from_private_bytes(OTHER_PRIVATE)
    with pytest.raises(SignatureError):
        SM2_SIGNATURE.verify(other.public_key, MESSAGE, key.sign(MESSAGE))


def test_verify_rejects_wrong_distid() -> None:
    signer = Sm2Signature(distid=b"meter-0042")
    key = signer.from_private_bytes(PRIVATE)
    signature = key.sign(MESSAGE)
    signer.verify(key.public_key, MESSAGE, signature)
    with pytest.raises(SignatureError):
        SM2_SIGNATURE.verify(key.public_key, MESSAGE, signature)


def test_empty_distid_differs_from_default() -> None:
    key = Sm2Signature(distid=b"").from_private_bytes(PRIVATE)
    signature = key.sign(MESSAGE)
    Sm2Signature(distid=b"").verify(key.public_key, MESSAGE, signature)
    with pytest.raises(SignatureError):
        SM2_SIGNATURE.verify(key.public_key, MESSAGE, signature)


def test_verify_rejects_flipped_signature_bit() -> None:
    key = SM2_SIGNATURE.from_private_bytes(PRIVATE)
    signature = bytearray(key.sign(MESSAGE))
    signature[40] ^= 0x01
    with pytest.raises(SignatureError):
        SM2_SIGNATURE.verify(key.public_key, MESSAGE, bytes(signature))


@pytest.mark.parametrize(
    "signature",
    [
        b"",
        bytes(63),
        bytes(65),
        bytes(64),
        bytes(32) + (1).to_bytes(32, "big"),
        (1).to_bytes(32, "big") + SM2_N.to_bytes(32, "big"),
        SM2_N.to_bytes(32, "big") + (1).to_bytes(32, "big"),
        b"\xff" * 64,
    ],
    ids=["empty", "63 bytes", "65 bytes", "zeros", "r=0", "s=n", "r=n", "all ff"],
)
def test_verify_rejects_malformed_signature(signature: bytes) -> None:
    key = SM2_SIGNATURE.from_private_bytes(PRIVATE)
    with pytest.raises(SignatureError):
        SM2_SIGNATURE.verify(key.public_key, MESSAGE, signature)


def _off_curve_point() -> bytes:
    public = SM2_SIGNATURE.from_private_bytes(PRIVATE).public_key
    return public[:-1] + bytes([public[-1] ^ 1])


@pytest.mark.parametrize(
    "public_key",
    [
        b"",
        b"\x04" + bytes(63),
        b"\x02" + bytes(32),
        b"\x00" * 65,
        b"\x04" + SM2_P.to_bytes(32, "big") + bytes(32),
    ],
    ids=["empty", "64 bytes", "compressed", "no 04 prefix", "x = p"],
)
def test_verify_rejects_malformed_public_key(public_key: bytes) -> None:
    signature = SM2_SIGNATURE.from_private_bytes(PRIVATE).sign(MESSAGE)
    with pytest.raises(InvalidKeyError):
        SM2_SIGNATURE.verify(public_key, MESSAGE, signature)


def test_verify_rejects_public_key_off_the_curve() -> None:
    signature = SM2_SIGNATURE.from_private_bytes(PRIVATE).sign(MESSAGE)
    with pytest.raises(InvalidKeyError):
        SM2_SIGNATURE.verify(_off_curve_point(), MESSAGE, signature)


@pytest.mark.parametrize(
    "private",
    [bytes(32), SM2_N.to_bytes(32, "big"), (SM2_N - 1).to_bytes(32, "big"), bytes(30) + b"\x01"],
    ids=["zero", "n", "n-1", "31 bytes"],
)
def test_signing_key_outside_1_to_n_minus_2_is_refused(private: bytes) -> None:
    with pytest.raises(InvalidKeyError):
        SM2_SIGNATURE.from_private_bytes(private)


def test_distid_longer_than_entl_allows_is_refused() -> None:
    with pytest.raises(CryptoError):
        Sm2Signature(distid=bytes(8192))


def test_signing_is_thread_safe() -> None:
    key = SM2_SIGNATURE.from_private_bytes(PRIVATE)

    def round_trip(i: int) -> None:
        message = MESSAGE + i.to_bytes(2, "big")
        SM2_SIGNATURE.verify(key.public_key, message, key.sign(message))

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(round_trip, range(64)))


# --- key generation -------------------------------------------------------------------


def test_signature_generate_is_deterministic_for_a_fixed_rng() -> None:
    first = SM2_SIGNATURE.generate(_counter_rng(5))
    second = SM2_SIGNATURE.generate(_counter_rng(5))
    third = SM2_SIGNATURE.generate(_counter_rng(6))
    assert first.public_key == second.public_key != third.public_key


def test_curve_generate_is_deterministic_for_a_fixed_rng() -> None:
    first = SM2_CURVE.generate(_counter_rng(5))
    second = SM2_CURVE.generate(_counter_rng(5))
    third = SM2_CURVE.generate(_counter_rng(6))
    assert first.public_key == second.public_key != third.public_key


def test_curve_generate_rejects_out_of_range_draws() -> None:
    rng = _scripted_rng([bytes(32), SM2_N.to_bytes(32, "big"), b"\xff" * 32, PRIVATE])
    assert SM2_CURVE.generate(rng).public_key == _x(int.from_bytes(PRIVATE, "big"))


def test_signature_generate_rejects_n_minus_1() -> None:
    rng = _scripted_rng([(SM2_N - 1).to_bytes(32, "big"), PRIVATE])
    expected = SM2_SIGNATURE.from_private_bytes(PRIVATE).public_key
    assert SM2_SIGNATURE.generate(rng).public_key == expected


# --- key handles hide the scalar ------------------------------------------------------


def _attribute_values(obj: object, depth: int = 2) -> Iterator[object]:
    """Every attribute value reachable through dir(), __slots__ and vars(), two levels."""
    names = set(dir(obj))
    if hasattr(obj, "__dict__"):
        names |= set(vars(obj))
    for name in sorted(names):
        if name.startswith("__"):
            continue
        value = getattr(obj, name)
        if callable(value):
            continue
        yield value
        if depth > 1 and not isinstance(value, (bytes, str, int)):
            yield from _attribute_values(value, depth - 1)


def _contains_scalar(value: object, scalar: bytes) -> bool:
    as_int = int.from_bytes(scalar, "big")
    if isinstance(value, (bytes, bytearray)):
        return scalar in value
    if isinstance(value, str):
        return scalar.hex() in value.lower()
    if isinstance(value, int):
        return value == as_int
    return False


@pytest.mark.parametrize("make", [SM2_SIGNATURE.from_private_bytes, SM2_CURVE.from_private_bytes])
def test_key_handle_exposes_no_private_scalar(make: Callable[[bytes], object]) -> None:
    handle = make(PRIVATE)
    values = list(_attribute_values(handle))
    assert values, "the walk saw no attributes, so it proves nothing"
    assert not any(_contains_scalar(value, PRIVATE) for value in values)
    assert PRIVATE.hex() not in repr(handle).lower()
    assert not hasattr(handle, "__dict__")
    assert not any("priv" in name.lower() for name in dir(handle))


# --- key agreement --------------------------------------------------------------------


def test_ecdh_both_sides_agree_on_the_x_of_abg() -> None:
    a, b = 0x1234567890ABCDEF, SM2_N - 12345
    alice = SM2_CURVE.from_private_bytes(a.to_bytes(32, "big"))
    bob = SM2_CURVE.from_private_bytes(b.to_bytes(32, "big"))
    shared = alice.exchange(bob.public_key)
    assert shared == bob.exchange(alice.public_key)
    assert shared == _x(a * b % SM2_N)


def test_ecdh_public_key_is_the_x_coordinate() -> None:
    key = SM2_CURVE.from_private_bytes(PRIVATE)
    signing = SM2_SIGNATURE.from_private_bytes(PRIVATE)
    assert key.public_key == signing.public_key[1:33]


def test_ecdh_with_a_peer_of_odd_y() -> None:
    scalar = next(
        d for d in itertools.count(2) if libcrypto.scalar_base_mult(d.to_bytes(32, "big"))[-1] & 1
    )
    odd = SM2_CURVE.from_private_bytes(scalar.to_bytes(32, "big"))
    mine = SM2_CURVE.from_private_bytes(PRIVATE)
    assert mine.exchange(odd.public_key) == odd.exchange(mine.public_key)


@pytest.mark.parametrize(
    "peer",
    [_not_on_curve_x(), SM2_P.to_bytes(32, "big"), b"\xff" * 32, bytes(31), bytes(33)],
    ids=["no point has this x", "x = p", "x > p", "31 bytes", "33 bytes"],
)
def test_ecdh_with_an_invalid_point_raises(peer: bytes) -> None:
    key = SM2_CURVE.from_private_bytes(PRIVATE)
    with pytest.raises(InvalidKeyError):
        key.exchange(peer)
    with pytest.raises(InvalidKeyError):
        SM2_CURVE.validate_public_key(peer)


def test_validate_public_key_accepts_a_real_key() -> None:
    SM2_CURVE.validate_public_key(SM2_CURVE.from_private_bytes(PRIVATE).public_key)


@pytest.mark.parametrize(
    "private", [bytes(32), SM2_N.to_bytes(32, "big"), b"\x01"], ids=["zero", "n", "1 byte"]
)
def test_dh_key_outside_1_to_n_minus_1_is_refused(private: bytes) -> None:
    with pytest.raises(InvalidKeyError):
        SM2_CURVE.from_private_bytes(private)


# --- encodings ------------------------------------------------------------------------


def test_signature_der_of_known_values() -> None:
    raw = (1).to_bytes(32, "big") + (SM2_N - 1).to_bytes(32, "big")
    expected = bytes.fromhex("3026020101022100") + (SM2_N - 1).to_bytes(32, "big")
    assert signature_to_der(raw) == expected
    assert signature_from_der(expected) == raw


def test_signature_der_round_trip() -> None:
    signature = SM2_SIGNATURE.from_private_bytes(PRIVATE).sign(MESSAGE)
    assert signature_from_der(signature_to_der(signature)) == signature


@pytest.mark.parametrize(
    "der",
    [
        b"",
        bytes.fromhex("3006020101020101") + b"\x00",
        bytes.fromhex("30060201010201"),
        bytes.fromhex("300702020001020101"),
        bytes.fromhex("3006020100020101"),
        bytes.fromhex("3006020101020100"),
        bytes.fromhex("3026020101022100") + SM2_N.to_bytes(32, "big"),
    ],
    ids=["empty", "trailing byte", "truncated", "non-minimal", "r=0", "s=0", "s=n"],
)
def test_signature_from_der_rejects_malformed(der: bytes) -> None:
    with pytest.raises(SignatureError):
        signature_from_der(der)


def test_spki_der_is_the_fixed_prefix_and_the_point() -> None:
    public = SM2_SIGNATURE.from_private_bytes(PRIVATE).public_key
    der = public_key_to_spki_der(public)
    assert der[:2] == bytes.fromhex("3059")
    assert bytes.fromhex("06072a8648ce3d0201") in der  # id-ecPublicKey
    assert bytes.fromhex("06082a811ccf5501822d") in der  # 1.2.156.10197.1.301
    assert der.endswith(b"\x03\x42\x00" + public)
    assert len(der) == 91
    assert public_key_from_spki_der(der) == public


@pytest.mark.parametrize(
    "mutate",
    [
        lambda der: der[:-1],
        lambda der: der + b"\x00",
        lambda der: der.replace(bytes.fromhex("822d"), bytes.fromhex("822e")),
        lambda der: der[:-1] + bytes([der[-1] ^ 1]),
    ],
    ids=["truncated", "trailing byte", "other curve OID", "point off the curve"],
)
def test_spki_from_der_rejects_malformed(mutate: Callable[[bytes], bytes]) -> None:
    der = public_key_to_spki_der(SM2_SIGNATURE.from_private_bytes(PRIVATE).public_key)
    with pytest.raises(InvalidKeyError):
        public_key_from_spki_der(mutate(der))


def test_spki_to_der_refuses_a_compressed_point() -> None:
    with pytest.raises(InvalidKeyError):
        public_key_to_spki_der(b"\x02" + bytes(32))
