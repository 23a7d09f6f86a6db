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


SECRETS: tuple[StageSecret, ...] = (
    StageSecret("StackProjectId", "Stack Auth project id", frozenset({"api", "gateway", "console"}), "VITE_STACK_PROJECT_ID", publishable=True),
    StageSecret("StackSecretServerKey", "Stack Auth server key", frozenset({"api", "gateway"}), "STACK_SECRET_SERVER_KEY"),
    StageSecret("StackPublishableClientKey", "Stack Auth publishable client key", frozenset({"console"}), None, publishable=True),
    StageSecret("DbUsername", "Aurora master user name", frozenset()),
    StageSecret("DbPassword", "Aurora master password (write-only into RDS)", frozenset({"api", "gateway"}), "PG_PASSWORD"),
    # RDS Proxy and the migrator need one secret holding JSON {"username", "password"}; the
    # plain DbUsername/DbPassword pair cannot serve them (docs/data.md, "Credentials").
    StageSecret("DbCredentials", 'Aurora master user as JSON {"username","password"} (RDS Proxy, migrator)', frozenset({"migrator", "db-proxy"})),
    StageSecret("GroqApiKey", "Groq API key", frozenset({"gateway"}), "GROQ_API_KEY"),
    StageSecret("VoyageApiKey", "Voyage AI API key", frozenset({"gateway"}), "VOYAGE_API_KEY"),
)

SECRET_NAMES: tuple[str, ...] = tuple(s.name for s in SECRETS)


def secrets_for(consumer: str) -> tuple[StageSecret, ...]:
    """The secrets one role may read — the basis of its IAM policy and ECS `secrets` list."""
    return tuple(s for s in SECRETS if consumer in s.consumers)


def secret_path(app: str, stage: str, name: str) -> str:
    """`hebo/{stage}/{Name}`; the same rule as `Names.secret` (tests keep them in step)."""
    return f"{app}/{stage}/{name}"
