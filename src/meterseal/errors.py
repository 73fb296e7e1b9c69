"""One error tree for MeterSeal.

Every error MeterSeal raises derives from :class:`MeterSealError`. Errors from libraries
are translated once, where they enter, with ``raise ... from exc``. Verification failures
(signature, MAC, AEAD) raise; they never return a boolean. What reaches a peer is the
opaque wire code of a :class:`ProtocolError`; the precise cause stays in the message,
which goes to the log and the audit trail.
"""

from __future__ import annotations


class MeterSealError(Exception):
    """Root of every error MeterSeal raises."""


# --- encoding -------------------------------------------------------------------------


class EncodingError(MeterSealError):
    """Input bytes are not the structure they claim to be (bad CBOR, wrong types, lengths)."""


# --- cryptography ---------------------------------------------------------------------


class CryptoError(MeterSealError):
    """A cryptographic operation could not be performed."""


class UnsupportedAlgorithmError(CryptoError):
    """An algorithm, curve or cipher suite that this build does not offer."""


class InvalidKeyError(CryptoError):
    """Key material is malformed: wrong length, not on the curve, or of the wrong type."""


class VerificationError(CryptoError):
    """A signature, MAC or AEAD tag did not verify. Deliberately carries no detail."""


class SignatureError(VerificationError):
    """A signature did not verify."""


class DecryptionError(VerificationError):
    """An AEAD ciphertext did not authenticate under the given key, nonce and AAD."""


# --- protocols ------------------------------------------------------------------------


class ProtocolError(MeterSealError):
    """A peer broke the protocol. ``wire_code`` is what is sent back, if anything is."""

    wire_code: int = 1

    def __init__(self, message: str, *, wire_code: int | None = None) -> None:
        super().__init__(message)
        if wire_code is not None:
            self.wire_code = wire_code


class EdhocError(ProtocolError):
    """An EDHOC handshake failed (RFC 9528 section 6 error codes in ``wire_code``)."""


class PeerReportedError(EdhocError):
    """The peer sent an EDHOC error message; ``wire_code`` is its ERR_CODE."""

    def __init__(self, message: str, *, wire_code: int, err_info: object = None) -> None:
        super().__init__(message, wire_code=wire_code)
        self.err_info = err_info


class RecordError(ProtocolError):
    """A protected record was rejected. The session state is left unchanged."""


class ReplayError(RecordError):
    """A record's sequence number was seen before, or lies left of the replay window."""


class KeyLimitError(RecordError):
    """A key reached its AEAD usage limit and must be updated before further use."""


class FramingError(ProtocolError):
    """A transport frame is malformed or exceeds the size limit."""


# --- devices --------------------------------------------------------------------------


class SecureElementError(MeterSealError):
    """The meter's secure element refused an operation."""


class TamperedError(SecureElementError):
    """The secure element was zeroized after a tamper signal; it holds no keys."""
