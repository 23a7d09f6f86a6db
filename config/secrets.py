"""The catalog of stage secrets: names, who consumes them, and how they reach containers.

Pure data (no cdktf import) so `ops` can use it without paying for the provider import.
Terraform creates the secret containers; values are set out of band with `ops secrets set`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StageSecret:
    name: str
    description: str
    consumers: frozenset[str]
    """Who may read it: services (`api`, `gateway`), `migrator`, `console` (publishable only)."""
    env: str | None = None
    """Container environment variable name the value is injected as (ECS `secrets`)."""
    publishable: bool = False
    """Public by nature (ships to every browser); only these may reach the edge stack."""
    json_key: str | None = None
    """JSON secrets: the member injected as `env` (ECS `valueFrom = "<arn>:<json_key>::"`); None: the whole value."""
    derived_from: tuple[tuple[str, str], ...] = ()
    """Derived secrets: `(JSON member, input secret)` pairs. `ops` rewrites the JSON object whenever an
    input is set, so the copies cannot drift; nobody sets a derived secret by hand. Empty: set by users."""

    @property
    def inputs(self) -> tuple[str, ...]:
        """The secrets a derived secret is computed from (empty for user-set secrets)."""
        return tuple(source for _, source in self.derived_from)

    def value_from(self, arn: str) -> str:
        """The ECS `secrets[].valueFrom` for this secret's ARN (one JSON member when `json_key` is set)."""
        return f"{arn}:{self.json_key}::" if self.json_key else arn


SECRETS: tuple[StageSecret, ...] = (
    StageSecret("StackProjectId", "Stack Auth project id", frozenset({"api", "gateway", "console"}), "VITE_STACK_PROJECT_ID", publishable=True),
    StageSecret("StackSecretServerKey", "Stack Auth server key", frozenset({"api", "gateway"}), "STACK_SECRET_SERVER_KEY"),
    StageSecret("StackPublishableClientKey", "Stack Auth publishable client key", frozenset({"console"}), None, publishable=True),
    StageSecret("DbUsername", "Aurora master user name", frozenset()),
    # Read at deploy time only (TF_VAR_db_password, written into RDS); no runtime role reads it.
    StageSecret("DbPassword", "Aurora master password (write-only into RDS)", frozenset()),
    # RDS Proxy, the migrator and the services all read this one JSON secret; `ops` derives it from
    # DbUsername + DbPassword, so the password has one source of truth (docs/data.md, "Credentials").
    StageSecret(
        "DbCredentials",
        'Aurora master user as JSON {"username","password"}, derived from DbUsername and DbPassword by ops',
        frozenset({"api", "gateway", "migrator", "db-proxy"}),
        "PG_PASSWORD",
        json_key="password",
        derived_from=(("username", "DbUsername"), ("password", "DbPassword")),
    ),
    StageSecret("GroqApiKey", "Groq API key", frozenset({"gateway"}), "GROQ_API_KEY"),
    StageSecret("VoyageApiKey", "Voyage AI API key", frozenset({"gateway"}), "VOYAGE_API_KEY"),
)

SECRET_NAMES: tuple[str, ...] = tuple(s.name for s in SECRETS)
"""Every secret container the data stack creates."""
USER_SECRET_NAMES: tuple[str, ...] = tuple(s.name for s in SECRETS if not s.derived_from)
"""The secrets people set (`ops secrets set`); the others are derived from them by `ops`."""
DERIVED_SECRETS: tuple[StageSecret, ...] = tuple(s for s in SECRETS if s.derived_from)


def secrets_for(consumer: str) -> tuple[StageSecret, ...]:
    """The secrets one role may read — the basis of its IAM policy and ECS `secrets` list."""
    return tuple(s for s in SECRETS if consumer in s.consumers)


def secret_path(app: str, stage: str, name: str) -> str:
    """`hebo/{stage}/{Name}`; the same rule as `Names.secret` (tests keep them in step)."""
    return f"{app}/{stage}/{name}"


DB_PASSWORD_MIN, DB_PASSWORD_MAX = 8, 41
DB_PASSWORD_FORBIDDEN = '/"@'
DB_PASSWORD_RULE = f"{DB_PASSWORD_MIN}-{DB_PASSWORD_MAX} printable ASCII characters except / \" and @"
"""Aurora's MasterUserPassword rule (RDS API, CreateDBCluster). Checked when the value is set
(`ops`) and again at plan time (the data stack's variable validation), never at apply."""


def db_password_problem(value: str) -> str | None:
    """Why `value` cannot be an Aurora master password, or None."""
    if not DB_PASSWORD_MIN <= len(value) <= DB_PASSWORD_MAX:
        return f"must be {DB_PASSWORD_RULE} (it has {len(value)} characters)"
    if any(not " " <= ch <= "~" for ch in value) or any(ch in DB_PASSWORD_FORBIDDEN for ch in value):
        return f"must be {DB_PASSWORD_RULE}"
    return None
