"""The outbox's direct BatchAccepted encoding is byte for byte the ledger's leaf data."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from meterseal.ledger.leaves import BatchAccepted, leaf_data, parse_leaf
from meterseal.messages.fields import METER_ID_PATTERN
from meterseal.store.outbox import batch_leaf, pack_ids, unpack_ids

METER_IDS = st.from_regex(METER_ID_PATTERN, fullmatch=True)
SEQS = st.integers(min_value=0, max_value=2**63 - 1)  # the store and the leaf format: int8
HASHES = st.binary(min_size=32, max_size=32)


@given(METER_IDS, SEQS, HASHES)
def test_batch_leaf_equals_leaf_data_of_batch_accepted(
    meter_id: str, seq: int, digest: bytes
) -> None:
    entry = BatchAccepted(meter_id, seq, digest)
    assert batch_leaf(meter_id, seq, digest) == leaf_data(entry)
    assert parse_leaf(batch_leaf(meter_id, seq, digest)) == entry


@given(st.lists(st.integers(min_value=1, max_value=2**63 - 1), max_size=50))
def test_inflight_ids_pack_and_unpack(ids: list[int]) -> None:
    assert unpack_ids(pack_ids(ids)) == tuple(ids)
