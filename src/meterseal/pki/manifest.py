"""The factory manifest: which meters a factory built, and the public keys each one holds.

The manufacturer ships one JSON document per delivery::

    {"version": 1, "meters": [{"meter_id": "...", "model": "...",
      "meter_type": "electricity", "suite": 2,
      "identity_public_key": "<hex>", "data_public_key": "<hex>"}]}

It is parsed strictly at the edge (STYLE.md 8) into immutable records: unknown or missing
fields, wrong types, bad hex, unknown suites or meter types and repeated IDs are refused.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from meterseal.crypto.suites import get_suite
from meterseal.errors import EncodingError, UnsupportedAlgorithmError
from meterseal.store.rows import METER_TYPES

MANIFEST_VERSION = 1
_HEX = re.compile(r"(?:[0-9a-fA-F]{2})+")
_ENTRY_FIELDS = frozenset(
    {"meter_id", "model", "meter_type", "suite", "identity_public_key", "data_public_key"}
)


class ManifestError(EncodingError):
    """The manifest is not a well-formed factory manifest."""


@dataclass(frozen=True, slots=True)
class ManifestEntry:
    """One meter as the factory declared it."""

    meter_id: str
    model: str
    meter_type: str
    suite: int
    identity_public_key: bytes
    data_public_key: bytes


@dataclass(frozen=True, slots=True)
class Manifest:
    """Every meter of one manifest, by meter ID (read-only)."""

    meters: Mapping[str, ManifestEntry]

    def get(self, meter_id: str) -> ManifestEntry | None:
        """The meter's entry, or None if the factory never declared it."""
        return self.meters.get(meter_id)


def parse_manifest(text: str | bytes) -> Manifest:
    """Parse a manifest document; ManifestError on anything unexpected."""
    try:
        document = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ManifestError(f"manifest is not JSON: {exc}") from exc
    if type(document) is not dict or set(document) != {"version", "meters"}:
        raise ManifestError("manifest must be an object with 'version' and 'meters'")
    if document["version"] != MANIFEST_VERSION or type(document["version"]) is not int:
        raise ManifestError(f"manifest version must be {MANIFEST_VERSION}")
    if type(document["meters"]) is not list:
        raise ManifestError("manifest 'meters' must be a list")
    meters: dict[str, ManifestEntry] = {}
    for item in document["meters"]:
        entry = _entry(item)
        if entry.meter_id in meters:
            raise ManifestError(f"meter {entry.meter_id!r} appears twice")
        meters[entry.meter_id] = entry
    return Manifest(MappingProxyType(meters))


def _entry(item: object) -> ManifestEntry:
    if type(item) is not dict or set(item) != _ENTRY_FIELDS:
        raise ManifestError(f"each meter needs exactly the fields {sorted(_ENTRY_FIELDS)}")
    meter_id, model = _text(item, "meter_id"), _text(item, "model")
    meter_type = _text(item, "meter_type")
    if meter_type not in METER_TYPES:
        raise ManifestError(f"meter type {meter_type!r} is not one of {METER_TYPES}")
    return ManifestEntry(
        meter_id,
        model,
        meter_type,
        _suite(item["suite"]),
        _hex(item, "identity_public_key"),
        _hex(item, "data_public_key"),
    )


def _text(item: dict[str, Any], name: str) -> str:
    value = item[name]
    if type(value) is not str or not value:
        raise ManifestError(f"{name} must be a non-empty string")
    return value


def _suite(value: object) -> int:
    if type(value) is not int:
        raise ManifestError("suite must be an integer")
    try:
        return get_suite(value).value
    except UnsupportedAlgorithmError as exc:
        raise ManifestError(str(exc)) from exc


def _hex(item: dict[str, Any], name: str) -> bytes:
    text = _text(item, name)
    if not _HEX.fullmatch(text):
        raise ManifestError(f"{name} must be hexadecimal, two digits a byte")
    return bytes.fromhex(text)
