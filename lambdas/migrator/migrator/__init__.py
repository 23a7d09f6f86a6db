"""Hebo's database migrator: applies drizzle-kit migration folders to PostgreSQL.

The runner keeps drizzle's bookkeeping table (``drizzle.__drizzle_migrations``) byte-for-byte
compatible, so the app team's ``drizzle-kit migrate`` and this Lambda agree about what has been
applied, and adds what drizzle lacks: an advisory lock, drift detection, verified TLS and retries
for an auto-paused Aurora cluster that is resuming.
"""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "1.0.0"
