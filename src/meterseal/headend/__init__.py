"""The head-end: TCP server, EDHOC responder per connection, protected records, ingest.

Meters connect over TCP (docs/protocol.md section 5); each connection is a sans-IO
:class:`HeadendSession` (EDHOC, then records) wrapped by an asyncio protocol. Verified
batches are stored byte for byte with their readings, many per transaction, and acked
only once durable; commands are signed, queued in the store and delivered on connect.

Modules: ``config`` (settings and keys), ``events`` and ``session`` (the sans-IO
core), ``registry`` (which meters may connect), ``ingest`` (verification, rows,
micro-batching), ``commands`` (queue, delivery, acks), ``runner`` (store threads),
``connection`` and ``core`` (one process's I/O), ``server`` (entry points),
``workers`` (the multi-process mode), ``stats`` (counters).

Example (a test, on the running loop)::

    config = HeadendConfig(store_url="sqlite:///tmp/store.db", port=0)
    handle = await start_headend(config, HeadendKeys(identities={(2, Method(3)): identity}))
    ...  # meters connect to 127.0.0.1:handle.port
    print(handle.stats().batches_accepted)
    await handle.close()
"""

from meterseal.headend.commands import CommandDispatcher, CommandKeyMissingError, queue_command
from meterseal.headend.config import (
    HeadendConfig,
    HeadendKeys,
    IdentityLookup,
    IdentityProvider,
    KeySource,
    StoreFactory,
)
from meterseal.headend.events import (
    BatchReceived,
    CloseReason,
    CommandAckReceived,
    CredentialRequested,
    PongReceived,
    RecordRejected,
    Reply,
    SessionClosed,
    SessionEstablished,
    SessionEvent,
)
from meterseal.headend.ingest import BatchRejectedError, IngestPipeline, batch_item, verify_batch
from meterseal.headend.registry import MeterRegistry, Refusal, RegisteredMeter
from meterseal.headend.server import (
    HeadendHandle,
    LocalHeadend,
    run_headend,
    start_headend,
)
from meterseal.headend.session import HeadendSession, SessionLimits, SessionState
from meterseal.headend.stats import HeadendStats

__all__ = [
    "BatchReceived",
    "BatchRejectedError",
    "CloseReason",
    "CommandAckReceived",
    "CommandDispatcher",
    "CommandKeyMissingError",
    "CredentialRequested",
    "HeadendConfig",
    "HeadendHandle",
    "HeadendKeys",
    "HeadendSession",
    "HeadendStats",
    "IdentityLookup",
    "IdentityProvider",
    "IngestPipeline",
    "KeySource",
    "LocalHeadend",
    "MeterRegistry",
    "PongReceived",
    "RecordRejected",
    "Refusal",
    "RegisteredMeter",
    "Reply",
    "SessionClosed",
    "SessionEstablished",
    "SessionEvent",
    "SessionLimits",
    "SessionState",
    "StoreFactory",
    "batch_item",
    "queue_command",
    "run_headend",
    "start_headend",
    "verify_batch",
]
