"""The console and REST API's settings: cookies, sessions, throttling, password hashing.

Defaults are the production choices; tests and the loopback demo change them explicitly.
Time is a parameter (``clock``) so that session expiry and lockouts are testable exactly.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from meterseal.store.accounts import AuditRow


@dataclass(frozen=True, slots=True)
class ConsoleSettings:
    """How the console behaves; see docs/console.md, "Security settings".

    * ``insecure_http``: drop the ``Secure`` cookie attribute and the ``__Host-`` cookie
      prefix so a browser keeps the session over plain HTTP. Only for a console on the
      loopback interface (the demo); never where the network can see the traffic.
    * ``session_ttl`` / ``idle_timeout``: a session ends this many seconds after login,
      or after this many seconds without a request, whichever is first.
    * Login throttling (per user name and per client address, each on its own):
      ``throttle_free`` failures of a user name (``throttle_free_address`` from one
      address, which may be a NAT for many users) within ``throttle_window`` seconds
      cost nothing; the n-th failure after them (n = 1, 2, ...) locks the key for
      ``throttle_base * 2**(n - 1)`` seconds after it, at most ``throttle_cap``.
    * ``argon2_*``: argon2id cost (RFC 9106 section 4, the second recommended option is
      t=3, 64 MiB, p=4); tests lower them to keep fast.
    * ``reading_interval``: the meters' interval; a meter silent for more than two of
      them is an alarm.
    * ``alarm_days``: a tamper event the meters reported in the last this many days (by
      the meter's clock) is an alarm.
    * ``on_audit``: called with every audit row once it is stored (the ledger outbox hook).
    """

    insecure_http: bool = False
    session_ttl: int = 8 * 3600
    idle_timeout: int = 30 * 60
    throttle_free: int = 5
    throttle_free_address: int = 20
    throttle_window: int = 3600
    throttle_base: int = 2
    throttle_cap: int = 900
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65_536
    argon2_parallelism: int = 4
    min_password_length: int = 12
    reading_interval: int = 900
    alarm_days: int = 7
    clock: Callable[[], float] = time.time
    on_audit: Callable[[AuditRow], None] | None = None

    def now(self) -> int:
        """The current time, unix seconds."""
        return int(self.clock())
