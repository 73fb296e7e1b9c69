"""The REST API's request and response bodies (pydantic models, published in OpenAPI).

No model here has a field for a private key, a password hash, a session id or a token
hash: they cannot be serialised by mistake. The one secret a response ever carries is a
new API token, in :class:`TokenCreated`, once.
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field

_NAME = r"^[A-Za-z0-9._@:-]{1,64}$"


class Model(BaseModel):
    """Immutable, and unknown fields in a request are an error."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class ErrorOut(Model):
    """Every 4xx/5xx answer: a stable code and a sentence."""

    error: str
    detail: str


class Alarm(Model):
    """A meter that needs attention, and why (``kind``: revoked, silent, never_reported,
    tamper)."""

    meter_id: str
    kind: str
    detail: str
    since: int | None = None


class MeterEventOut(Model):
    """One event a meter reported in a signed batch (``kind``: the EventKind name in lower
    case; ``detail``'s meaning depends on the kind, see docs/console.md)."""

    meter_id: str
    batch_seq: int
    index: int
    at: int
    kind: str
    kind_code: int
    detail: int
    tamper: bool


class FleetOverview(Model):
    """Counts by meter type, suite and state; how many alarms, and the first of them."""

    meters: int
    by_type: dict[str, int]
    by_suite: dict[str, int]
    by_state: dict[str, int]
    alarm_total: int
    alarms: list[Alarm]
    alarm_rule: str


class MeterSummary(Model):
    """One meter in the fleet list."""

    meter_id: str
    meter_type: str
    suite: int
    state: str
    owner: str
    registered_at: int
    last_seen: int | None
    last_batch_seq: int | None


class RegisterValue(Model):
    """A register's latest value, in the unit its name carries."""

    register_code: int
    name: str
    value: int


class MeterDetail(MeterSummary):
    """A meter with its latest register values; ``firmware`` is None until meters report it."""

    firmware: str | None
    latest: list[RegisterValue]


class IssuedCredential(Model):
    """A credential the CA issued to the meter (a CWT), by serial: its state and validity."""

    serial: int
    suite: int
    state: str
    not_before: int
    not_after: int
    issued_at: int
    grace_until: int | None
    revoked_at: int | None
    revocation_reason: int | None
    credential_sha256: str


class CredentialStatus(Model):
    """A meter's credential state: hashes, sizes and validity, never key material.

    ``credential_sha256`` is the registered identity credential's hash; ``issued`` the
    credentials the CA issued to the meter, oldest first (empty for meters registered
    without the CA, as the simulator does).
    """

    meter_id: str
    state: str
    suite: int
    credential_sha256: str
    credential_bytes: int
    registered_at: int
    issued: list[IssuedCredential]


class PublicKeys(Model):
    """A meter's public keys (hex); there is no way to get a private key."""

    meter_id: str
    data_public_key: str
    identity_credential: str


class ReadingOut(Model):
    """One register value at the end of one interval."""

    at: int
    register_code: int
    name: str
    value: int
    batch_seq: int


class DayOut(Model):
    """Consumption of one UTC day in the unit of the cumulative register."""

    day: date
    consumption: int


class CommandOut(Model):
    """A queued command and what became of it (the signed bytes stay in the store)."""

    command_id: int
    meter_id: str
    kind: int
    state: str
    created_at: int
    expires_at: int
    sent_at: int | None
    acked_at: int | None
    ack_status: int | None


class SignatureOut(Model):
    """One signature line of the checkpoint note (``role``: log or witness)."""

    name: str
    key_id: str
    role: str


class FindingOut(Model):
    """One discrepancy a verification run found (a tampered, missing or extra record)."""

    kind: str
    meter_id: str | None
    batch_seq: int | None
    detail: str


class VerificationOut(Model):
    """One ``meterseal ledger verify`` run: counts by kind and the findings it kept."""

    run_id: int
    at: int
    origin: str
    tree_size: int
    batches: int
    findings: int
    clean: bool
    by_kind: dict[str, int]
    sample: list[FindingOut]


class LedgerStatus(Model):
    """The latest checkpoint and who signed it (``configured`` False without a ledger),
    and the last verification run recorded in the store, if any."""

    configured: bool
    origin: str | None = None
    tree_size: int | None = None
    root_hash: str | None = None
    signatures: list[SignatureOut] = Field(default_factory=list)
    witness_cosignatures: int = 0
    last_verification: VerificationOut | None = None


class ProofOut(Model):
    """An RFC 9162 section 2.1.3 inclusion proof, node hashes in hex."""

    index: int
    tree_size: int
    hashes: list[str]


class AuditOut(Model):
    """One audit log entry."""

    audit_id: int
    at: int
    actor: str
    action: str
    target: str
    detail: dict[str, object]
    outcome: str


class UserOut(Model):
    """An account (never its password hash)."""

    name: str
    role: str
    created_at: int
    disabled: bool


class UserCreate(Model):
    """A new account."""

    name: str = Field(pattern=_NAME)
    password: str = Field(min_length=1, max_length=1024)
    role: str


class UserUpdate(Model):
    """Change an account's role or disable/enable it."""

    role: str | None = None
    disabled: bool | None = None


class TokenOut(Model):
    """An API token's record (its prefix only)."""

    token_id: int
    prefix: str
    user_name: str
    role_cap: str
    label: str
    created_at: int
    last_used: int | None
    revoked_at: int | None


class TokenCreate(Model):
    """A new API token for an integration, capped at ``role_cap``."""

    role_cap: str
    label: str = Field(default="", max_length=100)


class TokenCreated(Model):
    """The new token, shown this once, and its record."""

    token: str
    record: TokenOut


class LoginIn(Model):
    """Log in with a name and password."""

    name: str = Field(max_length=200)
    password: str = Field(max_length=1024)


class SessionOut(Model):
    """The caller; ``csrf_token`` must accompany every state change made with the cookie."""

    name: str
    role: str
    permissions: list[str]
    csrf_token: str | None
    expires_at: int | None


ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    400: {"model": ErrorOut, "description": "the request asks for something invalid"},
    401: {"model": ErrorOut, "description": "no valid session or API token"},
    403: {"model": ErrorOut, "description": "the role may not do this, or a wrong CSRF token"},
    404: {"model": ErrorOut, "description": "no such meter, user, token or command"},
    409: {"model": ErrorOut, "description": "already exists"},
    429: {"model": ErrorOut, "description": "too many failed logins (see Retry-After)"},
    503: {"model": ErrorOut, "description": "the store, ledger or head-end is unavailable"},
}
"""The error answers every route may give, published in the OpenAPI schema."""
