"""The tamper-evident ledger's protocol core: pure functions and in-memory state, no I/O.

* :mod:`~meterseal.ledger.merkle`: RFC 9162 section 2.1 hashing (SHA-256, or SM3 for GM
  deployments), inclusion and consistency proofs, generation and verification;
* :mod:`~meterseal.ledger.tiles`: the C2SP tlog-tiles layout and :class:`MemoryTiles`;
* :mod:`~meterseal.ledger.note`: C2SP signed notes; :mod:`~meterseal.ledger.keys`: the
  Ed25519, ECDSA (verify only) and SM2 note signature types and verifier key strings;
* :mod:`~meterseal.ledger.checkpoint`: C2SP tlog-checkpoint bodies and tlog-cosignature
  v1 cosignatures;
* :mod:`~meterseal.ledger.witness`: a sans-IO C2SP tlog-witness;
* :mod:`~meterseal.ledger.leaves`: MeterSeal's typed leaf entries.

The ledger *service* around that core (its own store and key) is in modules this package
does not import, so the core stays free of I/O dependencies:
:mod:`~meterseal.ledger.interface` (the ``Ledger`` protocol, exported here),
:mod:`~meterseal.ledger.sequencer`, :mod:`~meterseal.ledger.storage` and its SQLite and
PostgreSQL backends, :mod:`~meterseal.ledger.local` (``LocalLedger``),
:mod:`~meterseal.ledger.http_app` (the FastAPI service) and
:mod:`~meterseal.ledger.client` (``LedgerClient``); likewise verification
(:mod:`~meterseal.ledger.verify`, whose findings, :mod:`~meterseal.ledger.verify_findings`,
are exported here) and the witness service (:mod:`~meterseal.ledger.witness_store`,
:mod:`~meterseal.ledger.witness_service`, :mod:`~meterseal.ledger.witness_client`).

The design is in docs/ledger.md.
"""

from meterseal.ledger.checkpoint import (
    Checkpoint,
    CosignatureVerifier,
    Cosigner,
    SignedCheckpoint,
    open_checkpoint,
    parse_checkpoint,
    sign_checkpoint,
)
from meterseal.ledger.errors import (
    InvalidNoteSignatureError,
    LedgerError,
    LedgerStorageError,
    LedgerUnavailableError,
    MalformedCheckpointError,
    MalformedLeafError,
    MalformedNoteError,
    MalformedProofError,
    MissingTileError,
    NoteError,
    NoteKeyError,
    ProofError,
    RootMismatchError,
    TileError,
    TreeRangeError,
    UnknownLogError,
    UnverifiedNoteError,
    WitnessBadProofError,
    WitnessBadRequestError,
    WitnessConflictError,
    WitnessError,
    WitnessForbiddenError,
)
from meterseal.ledger.interface import Ledger, Submitted, WitnessPort
from meterseal.ledger.keys import (
    EcdsaNoteVerifier,
    Ed25519NoteSigner,
    Ed25519NoteVerifier,
    Sm2NoteSigner,
    Sm2NoteVerifier,
    parse_signer_key,
    parse_verifier_key,
)
from meterseal.ledger.leaves import LeafEntry, LeafKind, leaf_data, leaf_hash, parse_leaf
from meterseal.ledger.merkle import (
    SHA256_HASHER,
    SM3_HASHER,
    Node,
    NodeReader,
    TreeHasher,
    consistency_proof,
    inclusion_proof,
    tree_hash,
    verify_consistency,
    verify_inclusion,
)
from meterseal.ledger.note import (
    Note,
    NoteSignature,
    NoteSigner,
    NoteVerifier,
    OpenedNote,
    VerifierSet,
    open_note,
    parse_note,
    sign_note,
)
from meterseal.ledger.tiles import MemoryTiles, Tile, TileNodeReader, TileSource
from meterseal.ledger.verify_findings import Finding, FindingKind, VerifyReport
from meterseal.ledger.witness import LogConfig, LogState, Witness, WitnessResult, WitnessState

__all__ = [
    "SHA256_HASHER",
    "SM3_HASHER",
    "Checkpoint",
    "CosignatureVerifier",
    "Cosigner",
    "EcdsaNoteVerifier",
    "Ed25519NoteSigner",
    "Ed25519NoteVerifier",
    "Finding",
    "FindingKind",
    "InvalidNoteSignatureError",
    "LeafEntry",
    "LeafKind",
    "Ledger",
    "LedgerError",
    "LedgerStorageError",
    "LedgerUnavailableError",
    "LogConfig",
    "LogState",
    "MalformedCheckpointError",
    "MalformedLeafError",
    "MalformedNoteError",
    "MalformedProofError",
    "MemoryTiles",
    "MissingTileError",
    "Node",
    "NodeReader",
    "Note",
    "NoteError",
    "NoteKeyError",
    "NoteSignature",
    "NoteSigner",
    "NoteVerifier",
    "OpenedNote",
    "ProofError",
    "RootMismatchError",
    "SignedCheckpoint",
    "Sm2NoteSigner",
    "Sm2NoteVerifier",
    "Submitted",
    "Tile",
    "TileError",
    "TileNodeReader",
    "TileSource",
    "TreeHasher",
    "TreeRangeError",
    "UnknownLogError",
    "UnverifiedNoteError",
    "VerifierSet",
    "VerifyReport",
    "Witness",
    "WitnessBadProofError",
    "WitnessBadRequestError",
    "WitnessConflictError",
    "WitnessError",
    "WitnessForbiddenError",
    "WitnessPort",
    "WitnessResult",
    "WitnessState",
    "consistency_proof",
    "inclusion_proof",
    "leaf_data",
    "leaf_hash",
    "open_checkpoint",
    "open_note",
    "parse_checkpoint",
    "parse_leaf",
    "parse_note",
    "parse_signer_key",
    "parse_verifier_key",
    "sign_checkpoint",
    "sign_note",
    "tree_hash",
    "verify_consistency",
    "verify_inclusion",
]
