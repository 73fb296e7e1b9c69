"""Interoperability with the real ``openssl`` command line (OpenSSL 3).

SM2 signatures (GB/T 32918.2) made by MeterSeal verify with ``openssl dgst``, and the
other way round, with an explicit distinguishing ID on both sides; SM4 (GB/T 32907) in
CBC and CTR mode gives the same bytes as ``openssl enc``, both directions.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from meterseal.crypto.sm2 import (
    SM2_DEFAULT_DISTID,
    SM2_SIGNATURE,
    Sm2Signature,
    public_key_from_spki_der,
    public_key_to_spki_der,
    signature_from_der,
    signature_to_der,
)
from meterseal.errors import SignatureError

OPENSSL = shutil.which("openssl")
pytestmark = pytest.mark.skipif(OPENSSL is None, reason="the openssl command line is not on PATH")

MESSAGE = b"meter 0042: 17.3 kWh at 2024-05-01T00:15:00Z\n"
PRIVATE = bytes.fromhex("3945208f7b2144b13f36e38ac6d39f95889393692860b51a42fb81ef4df7c5b8")


def _openssl(*args: str | Path, data: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    assert OPENSSL is not None
    command = [OPENSSL, *(str(arg) for arg in args)]
    return subprocess.run(command, input=data, capture_output=True, check=False, timeout=60)


def _ok(*args: str | Path, data: bytes | None = None) -> bytes:
    result = _openssl(*args, data=data)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    return result.stdout


def _pem_public_key(public_key: bytes) -> bytes:
    body = base64.encodebytes(public_key_to_spki_der(public_key)).replace(b"\n", b"")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return b"-----BEGIN PUBLIC KEY-----\n" + b"\n".join(lines) + b"\n-----END PUBLIC KEY-----\n"


def _meterseal_signed(tmp_path: Path, distid: bytes) -> tuple[Path, Path, Path]:
    key = Sm2Signature(distid=distid).from_private_bytes(PRIVATE)
    (tmp_path / "pub.pem").write_bytes(_pem_public_key(key.public_key))
    (tmp_path / "sig.der").write_bytes(signature_to_der(key.sign(MESSAGE)))
    (tmp_path / "msg").write_bytes(MESSAGE)
    return tmp_path / "pub.pem", tmp_path / "sig.der", tmp_path / "msg"


def _dgst_verify(
    pub: Path, sig: Path, msg: Path, distid: str
) -> subprocess.CompletedProcess[bytes]:
    return _openssl(
        "dgst", "-sm3", "-verify", pub, "-sigopt", f"distid:{distid}", "-signature", sig, msg
    )


# --- SM2: MeterSeal -> openssl --------------------------------------------------------


def test_meterseal_signature_verifies_with_openssl_dgst(tmp_path: Path) -> None:
    pub, sig, msg = _meterseal_signed(tmp_path, SM2_DEFAULT_DISTID)
    result = _dgst_verify(pub, sig, msg, "1234567812345678")
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    assert b"Verified OK" in result.stdout


def test_openssl_dgst_rejects_meterseal_signature_under_another_distid(tmp_path: Path) -> None:
    pub, sig, msg = _meterseal_signed(tmp_path, SM2_DEFAULT_DISTID)
    result = _dgst_verify(pub, sig, msg, "1234567812345679")
    assert result.returncode != 0
    assert b"Verified OK" not in result.stdout


def test_meterseal_signature_with_custom_distid_verifies_with_openssl(tmp_path: Path) -> None:
    pub, sig, msg = _meterseal_signed(tmp_path, b"meter-0042@example.net")
    result = _dgst_verify(pub, sig, msg, "meter-0042@example.net")
    assert result.returncode == 0, result.stderr.decode(errors="replace")


def test_openssl_reencodes_our_spki_byte_for_byte(tmp_path: Path) -> None:
    public_key = SM2_SIGNATURE.from_private_bytes(PRIVATE).public_key
    (tmp_path / "pub.pem").write_bytes(_pem_public_key(public_key))
    der = _ok("pkey", "-pubin", "-in", tmp_path / "pub.pem", "-outform", "DER")
    assert der == public_key_to_spki_der(public_key)


# --- SM2: openssl -> MeterSeal --------------------------------------------------------


def _openssl_key(tmp_path: Path) -> tuple[Path, bytes]:
    key = tmp_path / "key.pem"
    _ok("genpkey", "-algorithm", "SM2", "-out", key)
    spki = _ok("pkey", "-in", key, "-pubout", "-outform", "DER")
    return key, public_key_from_spki_der(spki)


def _openssl_sign(tmp_path: Path, key: Path, distid: str) -> bytes:
    (tmp_path / "msg").write_bytes(MESSAGE)
    _ok(
        "dgst", "-sm3", "-sign", key, "-sigopt", f"distid:{distid}",
        "-out", tmp_path / "sig.der", tmp_path / "msg",
    )  # fmt: skip
    return signature_from_der((tmp_path / "sig.der").read_bytes())


def test_openssl_signature_verifies_in_meterseal(tmp_path: Path) -> None:
    key, public_key = _openssl_key(tmp_path)
    signature = _openssl_sign(tmp_path, key, "1234567812345678")
    SM2_SIGNATURE.verify(public_key, MESSAGE, signature)


def test_openssl_signature_with_custom_distid_verifies_in_meterseal(tmp_path: Path) -> None:
    key, public_key = _openssl_key(tmp_path)
    signature = _openssl_sign(tmp_path, key, "head-end@example.net")
    Sm2Signature(distid=b"head-end@example.net").verify(public_key, MESSAGE, signature)
    with pytest.raises(SignatureError):
        SM2_SIGNATURE.verify(public_key, MESSAGE, signature)


# --- SM4 ------------------------------------------------------------------------------


def _sm4(mode: modes.CBC | modes.CTR, key: bytes, data: bytes, *, encrypt: bool) -> bytes:
    cipher = Cipher(algorithms.SM4(key), mode)
    context = cipher.encryptor() if encrypt else cipher.decryptor()
    return context.update(data) + context.finalize()


@pytest.mark.parametrize("name", ["cbc", "ctr"])
def test_sm4_matches_openssl_enc_both_directions(name: str) -> None:
    key, iv, plaintext = os.urandom(16), os.urandom(16), os.urandom(16 * 7)
    mode: modes.CBC | modes.CTR = modes.CBC(iv) if name == "cbc" else modes.CTR(iv)
    args = (f"-sm4-{name}", "-K", key.hex(), "-iv", iv.hex(), "-nopad")
    ours = _sm4(mode, key, plaintext, encrypt=True)
    assert _ok("enc", "-e", *args, data=plaintext) == ours
    assert _ok("enc", "-d", *args, data=ours) == plaintext
    theirs = _ok("enc", "-e", *args, data=plaintext)
    assert _sm4(mode, key, theirs, encrypt=False) == plaintext
