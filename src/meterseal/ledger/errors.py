"""The ledger's branch of the error tree (see :mod:`meterseal.errors`).

Every error here derives from :class:`LedgerError`. Verification failures (a proof that does
not lead to the root, a note signature that does not verify) also derive from
:class:`~meterseal.errors.VerificationError`, so a caller that treats "did not verify" as
one case catches them with the rest. Witness errors are protocol errors whose
``wire_code`` is the HTTP status that C2SP tlog-witness assigns to them.
"""

from __future__ import annotations

from meterseal.errors import (
    EncodingError,
    InvalidKeyError,
    MeterSealError,
    ProtocolError,
    SignatureError,
    VerificationError,
)


class LedgerError(MeterSealError):
    """Root of every error the ledger raises."""


# --- Merkle tree and proofs (RFC 9162 section 2.1) ------------------------------------


class TreeRangeError(LedgerError):
    """A request names leaves or sizes the tree does not have (generation, not checking)."""


class ProofError(LedgerError, VerificationError):
    """An inclusion or consistency proof did not verify."""


class MalformedProofError(ProofError):
    """The proof's shape is wrong: sizes, index, hash lengths or number of hashes."""


class RootMismatchError(ProofError):
    """The proof is well formed but leads to a root other than the one claimed."""


# --- tiles (C2SP tlog-tiles) ----------------------------------------------------------


class TileError(LedgerError):
    """A tile coordinate, path or read is invalid or unavailable."""


class MissingTileError(TileError):
    """A tile the tree needs is not (yet) stored."""


# --- notes and checkpoints (C2SP signed-note, tlog-checkpoint) ------------------------


class NoteError(LedgerError):
    """A signed note could not be parsed, signed or opened."""


class MalformedNoteError(NoteError, EncodingError):
    """The note breaks the signed-note format (text, blank line, signature lines)."""


class NoteKeyError(NoteError, InvalidKeyError):
    """A verifier or signer key string is malformed, unknown or inconsistent."""


class InvalidNoteSignatureError(NoteError, SignatureError):
    """A signature from a known key did not verify; the whole note is rejected."""


class UnverifiedNoteError(NoteError, VerificationError):
    """No signature on the note is from a known key."""


class MalformedCheckpointError(NoteError, EncodingError):
    """The note text is not a C2SP tlog-checkpoint body."""


# --- leaves ---------------------------------------------------------------------------


class MalformedLeafError(LedgerError, EncodingError):
    """Leaf data is not one of MeterSeal's leaf formats in its canonical encoding."""


# --- witness (C2SP tlog-witness) ------------------------------------------------------


class WitnessError(LedgerError, ProtocolError):
    """The witness refused a checkpoint; ``wire_code`` is the tlog-witness HTTP status."""


class WitnessBadRequestError(WitnessError):
    """400: the request is malformed, or the old size exceeds the checkpoint size."""

    wire_code = 400


class WitnessForbiddenError(WitnessError):
    """403: no signature on the checkpoint verifies against a key trusted for its origin."""

    wire_code = 403


class UnknownLogError(WitnessError):
    """404: the checkpoint's origin is not a log this witness is configured for."""

    wire_code = 404


class WitnessConflictError(WitnessError):
    """409: the old size is not the witness's size, or the same size has another root.

    ``witness_size`` is the size of the latest checkpoint the witness cosigned for the
    origin; the HTTP response body is :attr:`body` (``text/x.tlog.size``).
    """

    wire_code = 409

    def __init__(self, message: str, *, witness_size: int) -> None:
        super().__init__(message)
        self.witness_size = witness_size

    @property
    def body(self) -> bytes:
        """The 409 response body: the witness's size in decimal and a newline."""
        return f"{self.witness_size}\n".encode("ascii")


class WitnessBadProofError(WitnessError):
    """422: the consistency proof does not verify (possible log misbehaviour)."""

    wire_code = 422


# --- The ledger service and its storage ---------------------------------------------


class LedgerUnavailableError(LedgerError):
    """The ledger service or its database cannot be reached now; retry later."""


class LedgerStorageError(LedgerError):
    """The ledger's own store refused an operation (integrity or corruption)."""
