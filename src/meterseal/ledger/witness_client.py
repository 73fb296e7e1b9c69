"""Reaching a witness: over HTTP (:class:`WitnessClient`) or in process (:class:`LocalWitness`).

Both implement :class:`~meterseal.ledger.interface.WitnessPort`: the ledger service hands
them ``(old_size, proof, checkpoint)`` and gets back the cosignature lines, or the
witness's refusal as the :class:`~meterseal.ledger.errors.WitnessError` of its status
(c2sp.org/tlog-witness): 400 :class:`WitnessBadRequestError`, 403
:class:`WitnessForbiddenError`, 404 :class:`UnknownLogError`, 409
:class:`WitnessConflictError` with the witness's size from the ``text/x.tlog.size`` body,
422 :class:`WitnessBadProofError`. A witness that cannot be reached, or answers anything
else, is :class:`LedgerUnavailableError`.
"""

from __future__ import annotations

from collections.abc import Sequence

import httpx

from meterseal.ledger.errors import (
    LedgerUnavailableError,
    UnknownLogError,
    WitnessBadProofError,
    WitnessBadRequestError,
    WitnessConflictError,
    WitnessError,
    WitnessForbiddenError,
)
from meterseal.ledger.witness import AddCheckpointRequest
from meterseal.ledger.witness_store import PersistentWitness

_REFUSALS: dict[int, type[WitnessError]] = {
    400: WitnessBadRequestError,
    403: WitnessForbiddenError,
    404: UnknownLogError,
    422: WitnessBadProofError,
}


def request_body(old_size: int, proof: Sequence[bytes], checkpoint: bytes) -> bytes:
    """The add-checkpoint request body (c2sp.org/tlog-witness)."""
    return AddCheckpointRequest(old_size, tuple(proof), checkpoint).encode()


def _conflict(response: httpx.Response) -> WitnessConflictError:
    text = response.text.strip()
    if not text.isdigit():
        raise LedgerUnavailableError(f"the witness sent 409 with a malformed size {text[:40]!r}")
    return WitnessConflictError(f"the witness has size {text}", witness_size=int(text))


class WitnessClient:
    """A witness at ``url`` (``http://host:port``), over one HTTP connection pool."""

    def __init__(
        self, url: str, *, timeout: float = 10.0, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, timeout=timeout, transport=transport)

    def add_checkpoint(self, old_size: int, proof: Sequence[bytes], checkpoint: bytes) -> bytes:
        """POST /add-checkpoint; the cosignature lines, or the refusal as an error."""
        body = request_body(old_size, proof, checkpoint)
        try:
            response = self._http.post("/add-checkpoint", content=body)
        except httpx.HTTPError as exc:
            raise LedgerUnavailableError(f"witness {self.url} unreachable: {exc}") from exc
        if response.status_code == 200:
            return response.content
        if response.status_code == 409:
            raise _conflict(response)
        refusal = _REFUSALS.get(response.status_code)
        if refusal is None:
            raise LedgerUnavailableError(
                f"witness {self.url} answered {response.status_code}: {response.text[:200]}"
            )
        raise refusal(f"witness {self.url} refused: {response.text.strip()[:200]}")

    def close(self) -> None:
        self._http.close()


class LocalWitness:
    """The witness in process (the embedded demo): its own state file and key still."""

    def __init__(self, witness: PersistentWitness) -> None:
        self.witness = witness

    def add_checkpoint(self, old_size: int, proof: Sequence[bytes], checkpoint: bytes) -> bytes:
        """The same checks and persistence as the HTTP service, without HTTP."""
        return self.witness.handle(request_body(old_size, proof, checkpoint))

    def close(self) -> None:
        self.witness.store.close()
