"""Identity-key rotation inside the secure element: a pending key, persisted, committed."""

from __future__ import annotations

import pytest
from se_support import DEVICE_SECRET, LoggingRng, make_element

from meterseal.crypto.suites import SUITE_0, SUITE_2
from meterseal.errors import SecureElementError, TamperedError
from meterseal.meter import SecureElement


def test_rotation_makes_a_new_key_that_replaces_the_old_on_commit() -> None:
    element = make_element((SUITE_2,))
    old = element.identity_signing_key(SUITE_2).public_key
    pending = element.begin_rotation(SUITE_2)
    new = pending.public_key
    assert new != old
    assert element.identity_signing_key(SUITE_2).public_key == old  # still the old one
    signature = pending.sign(b"proof")
    SUITE_2.signature.verify(pending.public_key, b"proof", signature)
    committed = element.commit_rotation(SUITE_2)
    assert committed.public_key == new
    assert element.identity_signing_key(SUITE_2).public_key == new
    with pytest.raises(SecureElementError):
        element.pending_signing_key(SUITE_2)
    with pytest.raises(SecureElementError):  # a handle on the pending slot is dead now
        pending.sign(b"more")


def test_a_pending_rotation_survives_a_reload_and_old_blobs_keep_the_old_key() -> None:
    element = make_element((SUITE_2,))
    before = element.save()
    old = element.identity_signing_key(SUITE_2).public_key
    new = element.begin_rotation(SUITE_2).public_key
    assert new != old
    reloaded = SecureElement.load(element.save(), DEVICE_SECRET, rng=LoggingRng(b"reload"))
    assert reloaded.pending_signing_key(SUITE_2).public_key == new
    reloaded.commit_rotation(SUITE_2)
    again = SecureElement.load(reloaded.save(), DEVICE_SECRET, rng=LoggingRng(b"again"))
    assert again.identity_signing_key(SUITE_2).public_key == new
    assert again.generation > element.generation
    with pytest.raises(SecureElementError, match="older"):
        SecureElement.load(before, DEVICE_SECRET, rng=LoggingRng(), min_generation=again.generation)


def test_rotation_is_per_suite_and_needs_a_signature_key() -> None:
    element = make_element((SUITE_2, SUITE_0))
    other = element.identity_signing_key(SUITE_0).public_key
    element.begin_rotation(SUITE_2)
    element.commit_rotation(SUITE_2)
    assert element.identity_signing_key(SUITE_0).public_key == other
    with pytest.raises(SecureElementError):
        element.commit_rotation(SUITE_0)  # nothing pending for suite 0
    zeroized = make_element((SUITE_2,))
    zeroized.record_tamper("cover-open", 1)
    with pytest.raises(TamperedError):
        zeroized.begin_rotation(SUITE_2)
    with pytest.raises(TamperedError):
        zeroized.commit_rotation(SUITE_2)
