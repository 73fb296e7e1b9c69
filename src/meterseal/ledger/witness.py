"""A sans-IO C2SP tlog-witness: cosign a checkpoint only if it extends the last one cosigned.

The witness keeps, per log origin, the size and root hash of the latest checkpoint it
cosigned. :meth:`Witness.add_checkpoint` takes that state *in* and hands the new state
*out*; it reads no clock (``now`` is a parameter) and persists nothing, so the HTTP service
must store the returned state atomically before it answers (c2sp.org/tlog-witness,
"add-checkpoint"). The checks, in the spec's order, and the HTTP status each refusal maps
to (the error's ``wire_code``):

=====================================================================  ======
malformed request, note or checkpoint body; old size > checkpoint size  400
no signature verifies against a key trusted for the origin              403
the origin is not a configured log                                      404
old size is not the witness's size; or same size with another root      409
the consistency proof from the old size does not verify                 422
=====================================================================  ======

A 409 carries the witness's size (:attr:`WitnessConflictError.witness_size`), so a log that
does not know it can ask with ``old 0`` and retry. Old size 0 with an empty proof is
accepted as witness policy (the spec's first contact), not as a Merkle proof: RFC 9162
defines no consistency proof from the empty tree.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from meterseal.errors import VerificationError
from meterseal.ledger.checkpoint import Checkpoint, Cosigner, parse_checkpoint
from meterseal.ledger.errors import (
    LedgerError,
    MalformedCheckpointError,
    MalformedNoteError,
    NoteError,
    ProofError,
    UnknownLogError,
    WitnessBadProofError,
    WitnessBadRequestError,
    WitnessConflictError,
    WitnessForbiddenError,
)
from meterseal.ledger.merkle import SHA256_HASHER, TreeHasher, verify_consistency
from meterseal.ledger.note import (
    NoteSignature,
    NoteVerifier,
    VerifierSet,
    open_note,
    parse_note,
    strict_b64decode,
)

MAX_PROOF_LINES = 63
"""Consistency proof lines a request may carry (c2sp.org/tlog-witness)."""

_OLD_LINE = re.compile(r"old (0|[1-9][0-9]*)")


# --- state ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LogState:
    """The latest checkpoint the witness cosigned for one log."""

    size: int
    root_hash: bytes


@dataclass(frozen=True, slots=True)
class WitnessState:
    """The witness's whole state: origin -> latest cosigned (size, root). Immutable."""

    logs: Mapping[str, LogState] = field(default_factory=lambda: MappingProxyType({}))

    def latest(self, origin: str) -> LogState | None:
        return self.logs.get(origin)

    def with_latest(self, origin: str, latest: LogState) -> WitnessState:
        """A new state with ``origin``'s latest checkpoint replaced."""
        return WitnessState(MappingProxyType({**self.logs, origin: latest}))


@dataclass(frozen=True, slots=True)
class LogConfig:
    """A log the witness serves: its origin, the keys it signs with, and its tree hash."""

    origin: str
    verifiers: tuple[NoteVerifier, ...]
    hasher: TreeHasher = SHA256_HASHER


@dataclass(frozen=True, slots=True)
class WitnessResult:
    """The outcome of an accepted checkpoint: the state to persist and the cosignatures."""

    state: WitnessState
    checkpoint: Checkpoint
    cosignatures: tuple[NoteSignature, ...]

    @property
    def response_body(self) -> bytes:
        """The 200 response body: one note signature line per witness key."""
        return "".join(c.line for c in self.cosignatures).encode()


# --- the add-checkpoint request body --------------------------------------------------


@dataclass(frozen=True, slots=True)
class AddCheckpointRequest:
    """``old <size>``, consistency proof lines, a blank line, then the signed checkpoint."""

    old_size: int
    proof: tuple[bytes, ...]
    checkpoint: bytes

    def encode(self) -> bytes:
        lines = [f"old {self.old_size}\n", *(_b64line(h) for h in self.proof), "\n"]
        return "".join(lines).encode() + self.checkpoint


def _b64line(node: bytes) -> str:
    return base64.b64encode(node).decode("ascii") + "\n"


def parse_add_checkpoint_request(body: bytes) -> AddCheckpointRequest:
    """Parse an add-checkpoint body; :class:`WitnessBadRequestError` (400) if malformed."""
    head, sep, checkpoint = body.partition(b"\n\n")
    lines = head.split(b"\n")
    match = _OLD_LINE.fullmatch(lines[0].decode("ascii", "replace"))
    if not sep or match is None:
        raise WitnessBadRequestError("request must start with an old size line and a blank line")
    if len(lines) - 1 > MAX_PROOF_LINES:
        raise WitnessBadRequestError(f"more than {MAX_PROOF_LINES} consistency proof lines")
    proof = []
    for line in lines[1:]:
        node = strict_b64decode(line.decode("ascii", "replace"))
        if node is None:
            raise WitnessBadRequestError("a consistency proof line is not base64")
        proof.append(node)
    return AddCheckpointRequest(int(match.group(1)), tuple(proof), checkpoint)


# --- the witness ----------------------------------------------------------------------


class Witness:
    """The witness's configuration (its keys and logs) and its rules. Holds no state."""

    __slots__ = ("_cosigners", "_logs")

    def __init__(self, cosigners: Sequence[Cosigner], logs: Iterable[LogConfig]) -> None:
        if not cosigners:
            raise LedgerError("a witness needs at least one cosigning key")
        self._cosigners = tuple(cosigners)
        self._logs = {log.origin: (log, VerifierSet(log.verifiers)) for log in logs}

    def handle_request(self, state: WitnessState, body: bytes, *, now: int) -> WitnessResult:
        """The add-checkpoint endpoint, sans-IO: request body in, result (or error) out."""
        request = parse_add_checkpoint_request(body)
        return self.add_checkpoint(
            state, request.checkpoint, request.proof, request.old_size, now=now
        )

    def add_checkpoint(
        self,
        state: WitnessState,
        checkpoint_note: bytes,
        consistency_proof: Sequence[bytes],
        old_size: int,
        *,
        now: int,
    ) -> WitnessResult:
        """Verify and cosign a checkpoint; raises a :class:`WitnessError` to refuse it."""
        log, checkpoint = self._verified_checkpoint(checkpoint_note)
        latest = state.latest(checkpoint.origin)
        self._check_extends(log, latest, checkpoint, consistency_proof, old_size)
        new_state = state.with_latest(
            checkpoint.origin, LogState(checkpoint.size, checkpoint.root_hash)
        )
        text = checkpoint.text().encode()
        cosignatures = tuple(c.cosign(text, now) for c in self._cosigners)
        return WitnessResult(new_state, checkpoint, cosignatures)

    def _verified_checkpoint(self, checkpoint_note: bytes) -> tuple[LogConfig, Checkpoint]:
        """The log and checkpoint of a note signed by a key trusted for its origin."""
        try:
            text = parse_note(checkpoint_note).text
        except MalformedNoteError as exc:
            raise WitnessBadRequestError(f"malformed checkpoint note: {exc}") from exc
        origin = text.partition("\n")[0]
        if origin not in self._logs:
            raise UnknownLogError(f"unknown log {origin!r}")
        log, verifiers = self._logs[origin]
        try:
            checkpoint = parse_checkpoint(text, log.hasher.digest_size)
        except MalformedCheckpointError as exc:
            raise WitnessBadRequestError(f"malformed checkpoint: {exc}") from exc
        try:
            open_note(checkpoint_note, verifiers)
        except (NoteError, VerificationError) as exc:
            raise WitnessForbiddenError(f"checkpoint not signed by {origin!r}: {exc}") from exc
        return log, checkpoint

    @staticmethod
    def _check_extends(
        log: LogConfig,
        latest: LogState | None,
        checkpoint: Checkpoint,
        proof: Sequence[bytes],
        old_size: int,
    ) -> None:
        """The tlog-witness size, history and consistency checks (400, 409, 422)."""
        if old_size > checkpoint.size:
            raise WitnessBadRequestError(f"old size {old_size} exceeds {checkpoint.size}")
        witness_size = latest.size if latest else 0
        if old_size != witness_size:
            raise WitnessConflictError(
                f"old size {old_size} is not the witness's size {witness_size}",
                witness_size=witness_size,
            )
        if old_size == checkpoint.size:
            _check_same_tree(log, latest, checkpoint, proof)
        elif old_size == 0 or latest is None:  # first contact, or the log was empty
            if proof:
                raise WitnessBadProofError("a proof from size 0 must be empty")
        else:
            _check_consistency(log, latest, checkpoint, proof)


def _check_same_tree(
    log: LogConfig, latest: LogState | None, checkpoint: Checkpoint, proof: Sequence[bytes]
) -> None:
    """Same size again: the same root (else 409, a rewritten history) and no proof."""
    if latest is not None and latest.root_hash != checkpoint.root_hash:
        raise WitnessConflictError(
            f"size {checkpoint.size} already cosigned with another root",
            witness_size=latest.size,
        )
    if proof:
        raise WitnessBadProofError("equal sizes need an empty consistency proof")
    if checkpoint.size == 0 and checkpoint.root_hash != log.hasher.empty_root():
        raise WitnessBadProofError("the empty tree's root is the hash of the empty string")


def _check_consistency(
    log: LogConfig, latest: LogState, checkpoint: Checkpoint, proof: Sequence[bytes]
) -> None:
    """RFC 9162 section 2.1.4.2 from the witness's own (size, root): else 422."""
    try:
        verify_consistency(
            latest.size,
            checkpoint.size,
            proof,
            latest.root_hash,
            checkpoint.root_hash,
            hasher=log.hasher,
        )
    except ProofError as exc:
        raise WitnessBadProofError(f"consistency proof does not verify: {exc}") from exc
