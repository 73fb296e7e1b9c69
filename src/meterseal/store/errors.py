"""Errors of the store, under :class:`meterseal.errors.MeterSealError`.

Database driver errors (``sqlite3``, ``psycopg``) are translated once, in the backend that
caught them, with ``raise ... from exc``; nothing above the store sees a driver exception.
"""

from __future__ import annotations

from meterseal.errors import MeterSealError


class StoreError(MeterSealError):
    """The store could not do what was asked."""


class StoreUnavailable(StoreError):  # noqa: N818 - the name the head-end issue gives it
    """The database cannot be reached, or the connection broke.

    Whatever was committed before is safe. A call that raised this may or may not have
    committed (the connection can break during COMMIT); retrying is safe because
    ``store_batches`` is idempotent: a batch that did commit comes back ``DUPLICATE``.
    """


class StoreClosedError(StoreError):
    """The store was closed with ``close()`` and is used again."""


class SchemaVersionError(StoreError):
    """The database schema is not one this code can use (for example, newer)."""


class UnknownMeterError(StoreError):
    """A meter ID that is not in the registry."""


class DuplicateMeterError(StoreError):
    """``add_meter`` for a meter ID that is already registered."""


class InvalidRowError(StoreError):
    """A row the store will not write: it breaks a constraint of the schema.

    Raised for a whole ``store_batches`` call: nothing of that call was written.
    """
