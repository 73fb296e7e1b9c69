"""The meter: its secure element (keys, counters, tamper response) and, later, metering.

See :mod:`meterseal.meter.secure_element`.
"""

from meterseal.meter.se_handles import SessionHandle
from meterseal.meter.se_state import ScryptParams
from meterseal.meter.secure_element import KeyKind, SecureElement
from meterseal.meter.tamper import TamperEvent

__all__ = ["KeyKind", "ScryptParams", "SecureElement", "SessionHandle", "TamperEvent"]
