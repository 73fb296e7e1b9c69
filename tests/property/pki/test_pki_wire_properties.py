"""Properties of the security server's wire structures: revocation lists round-trip, and
arbitrary input to the list and rotation-request parsers raises only their own errors."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from meterseal import cbor
from meterseal.errors import EncodingError
from meterseal.ledger.leaves import RevocationReason
from meterseal.pki.revocation import RevocationList, decode_revocation_list
from meterseal.pki.rotation import RotationRefusedError, parse_rotation_request
from meterseal.store.security import RevokedEntry

U64 = (1 << 64) - 1
entries = st.builds(
    RevokedEntry,
    st.integers(1, (1 << 63) - 1),
    st.integers(0, U64),
    st.sampled_from([int(reason) for reason in RevocationReason]),
)
lists = st.builds(
    RevocationList,
    st.text(max_size=30),
    st.integers(0, U64),
    st.integers(0, U64),
    st.integers(0, U64),
    st.lists(entries, max_size=20).map(tuple),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(1 << 64), U64),
    st.binary(max_size=16),
    st.text(max_size=8),
)
items: st.SearchStrategy[Any] = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5), st.dictionaries(st.integers(0, 6), inner, max_size=6)
    ),
    max_leaves=25,
)


@given(lists)
def test_a_list_round_trips_through_its_encoding(content: RevocationList) -> None:
    assert decode_revocation_list(content.encode()) == content


@settings(max_examples=300)
@given(items)
def test_any_cbor_item_is_a_list_or_an_encoding_error(item: Any) -> None:
    try:
        parsed = decode_revocation_list(cbor.encode(item))
    except EncodingError:
        return
    assert decode_revocation_list(parsed.encode()) == parsed


@settings(max_examples=300)
@given(st.one_of(st.binary(max_size=64), items.map(cbor.encode)))
def test_any_bytes_are_refused_as_a_rotation_request(data: bytes) -> None:
    try:
        parse_rotation_request(data)
    except RotationRefusedError:
        return
    raise AssertionError("a request without two COSE_Sign1 was accepted")
