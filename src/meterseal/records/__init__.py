"""Protected records after EDHOC: keys from the exporter, nonces, replay window, key update.

The public surface is :class:`RecordLayer` and its result types; see
docs/protocol.md for the wire format and key schedule.
"""

from meterseal.records.keys import LABEL_MASTER_SALT, LABEL_MASTER_SECRET, Exporter
from meterseal.records.layer import LayerStatus, RecordConfig, RecordLayer
from meterseal.records.wire import Record, RecordType

__all__ = [
    "LABEL_MASTER_SALT",
    "LABEL_MASTER_SECRET",
    "Exporter",
    "LayerStatus",
    "Record",
    "RecordConfig",
    "RecordLayer",
    "RecordType",
]
