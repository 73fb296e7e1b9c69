"""MeterSeal: secure collection of smart-meter data.

The protocol core (``crypto``, ``edhoc``, ``records``, ``messages``) does no I/O and reads
no clock or randomness except through parameters; see docs/protocol.md.
"""

__version__ = "0.1.0"
