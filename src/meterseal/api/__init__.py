"""The REST API (FastAPI) over the store, the ledger and the head-end; see docs/console.md.

``create_app`` is in :mod:`meterseal.api.app`, ``start_console`` in :mod:`meterseal.api.server`.
"""
