"""Previews read the platform's shared secrets from the template stage (issue #19).

Whole-app: in a preview no stack creates a container for a secret previews share (Stack Auth,
Groq, Voyage), and every mention of one, in any stack, names the template stage's secret
(`hebo/dev/...`, the default HEBO_PREVIEW_SECRETS_FROM); production and dev own all nine.
"""

from __future__ import annotations

import json
import re

from expectations import DATABASE_SECRETS, SHARED_BY_PREVIEWS, expect
from synth_support import Synth

SECRET_NAME = re.compile(r"hebo/([a-z0-9-]+)/([A-Za-z]+)")


def test_stage_owns_exactly_its_secret_containers(any_stage: Synth) -> None:
    owned = sorted(
        c["name"]
        for stack in any_stage.stacks
        for c in any_stage.resources(stack, "aws_secretsmanager_secret").values()
    )
    names = (*SHARED_BY_PREVIEWS, *DATABASE_SECRETS) if expect(any_stage)["owns_app_secrets"] else DATABASE_SECRETS
    assert owned == sorted(f"hebo/{any_stage.stage}/{n}" for n in names)


def test_every_shared_secret_mention_names_its_owner(any_stage: Synth) -> None:
    """Any string in any stack that names a shared secret names the template's (previews) or
    the stage's own (production, dev): a new reference that forgets the template fails here."""
    owner = any_stage.stage if expect(any_stage)["owns_app_secrets"] else "dev"
    checked = 0
    for stack, config in any_stage.stacks.items():
        for stage, name in SECRET_NAME.findall(json.dumps({k: v for k, v in config.items() if k != "//"})):
            if name in SHARED_BY_PREVIEWS:
                assert stage == owner, f"{stack}: hebo/{stage}/{name}"
                checked += 1
            elif name in DATABASE_SECRETS:
                assert stage == any_stage.stage, f"{stack}: hebo/{stage}/{name}"
    assert checked >= 2, "no shared secret mentioned: the walk checks nothing"


def test_preview_looks_up_each_shared_secret_its_services_read_by_name(preview: Synth) -> None:
    """compute finds the template's secrets with data sources (metadata only, never a value)."""
    lookups = {n: d["name"] for n, d in preview.data_sources("compute", "aws_secretsmanager_secret").items()}
    assert lookups == {
        "template_StackProjectId": "hebo/dev/StackProjectId",
        "template_StackSecretServerKey": "hebo/dev/StackSecretServerKey",
        "template_GroqApiKey": "hebo/dev/GroqApiKey",
        "template_VoyageApiKey": "hebo/dev/VoyageApiKey",
    }
    assert preview.data_sources("compute", "aws_secretsmanager_secret_version") == {}


def test_production_and_dev_look_nothing_up_in_another_stage(production: Synth, dev: Synth) -> None:
    for synth in (production, dev):
        assert synth.data_sources("compute", "aws_secretsmanager_secret") == {}
