"""What a meter trusts: the head-end's EDHOC credentials and its command key.

A meter is provisioned with the head-end's credentials for its cipher suite, looked up by
kid when message_2 names one (docs/protocol.md section 5, step 3), and with the public key of
the head-end's command key, which signs every command (docs/protocol.md, 8.2).
Nothing a peer sends is trusted unless it is one of these.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from meterseal.edhoc.credentials import Credential
from meterseal.edhoc.id_cred import IdCred


@dataclass(frozen=True, slots=True)
class HeadendTrust:
    """The head-end credentials a meter accepts (by kid) and the command public key.

    ``command_key`` is in the signature algorithm's public-key encoding for the meter's
    suite (``04 || x || y`` for EC2 curves, the raw key for Ed25519).
    """

    credentials: Mapping[bytes, Credential]
    command_key: bytes

    @classmethod
    def of(cls, credentials: Iterable[Credential], command_key: bytes) -> HeadendTrust:
        """A trust store from credentials that each carry a kid."""
        by_kid: dict[bytes, Credential] = {}
        for credential in credentials:
            if credential.kid is None:
                raise ValueError("a trusted head-end credential must carry a kid")
            by_kid[credential.kid] = credential
        return cls(MappingProxyType(by_kid), command_key)

    def lookup(self, id_cred: IdCred) -> Credential | None:
        """The trusted credential that ``id_cred`` names (by kid) or carries, if any.

        A credential sent by value is accepted only if it is byte for byte a trusted one
        (docs/protocol.md section 4: carrying a credential proves nothing).
        """
        if id_cred.kid is not None:
            return self.credentials.get(id_cred.kid)
        return next((c for c in self.credentials.values() if id_cred.matches(c)), None)
