"""Many stages from one checkout, with the real cdktf CLI from a plain shell (README, "Several
stages from one checkout"): every stage stack is initialised in a Terraform data directory that
recorded its own backend (`modules/terraform_data.py`), so switching stage never stops at
"Backend configuration changed" and can never migrate one stage's state into another's key.

Two previews and dev, in one synth output directory:
* local backend: `cdktf deploy network` for each gets as far as the provider download;
* S3 backend against the moto server's S3: `cdktf output network` for each, then the first again,
  reads exactly the state seeded under that stage's key, and the bucket is unchanged afterwards
  (nothing copied, nothing written).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import boto3
import pytest

from modules.terraform_data import DATA_DIR, backend_label, pin_working_data
from tests.unit.test_cli import NPX, TERRAFORM, cdktf, plain_env

STAGES = ("pr-42", "pr-43", "dev")
MIRRORED_AWS = Path(
    "/opt/tf-plugins/registry.terraform.io/hashicorp/aws/5.100.0/linux_amd64/terraform-provider-aws_v5.100.0_x5"
)
BUCKET = "hebo-switch-test-state"
BACKEND_PROMPTS = ("Backend configuration changed", "migrate-state", "Do you want to copy existing state")


def test_backend_label_changes_with_any_backend_argument() -> None:
    s3 = {"s3": {"bucket": "b", "key": "pr-42/network.tfstate", "region": "us-east-1", "encrypt": True}}
    label = backend_label(s3)
    assert re.fullmatch(r"s3-pr-42_network-[0-9a-f]{12}", label), label
    assert backend_label({"s3": {**s3["s3"], "region": "eu-west-1"}}) != label
    assert backend_label({"s3": {**s3["s3"], "key": "pr-43/network.tfstate"}}).startswith("s3-pr-43_network-")
    assert backend_label({"local": {"path": "../../../terraform-state/dev/data.tfstate"}}).startswith(
        "local-terraform-state_dev_data-"
    )
    with pytest.raises(ValueError, match=r"expected one backend type, got \['local', 's3'\]"):
        backend_label({"s3": {}, "local": {}})


def test_pin_moves_an_unpinned_data_directory_aside_and_repins_on_a_backend_change(tmp_path: Path) -> None:
    stack_dir = tmp_path / "stacks" / "network"
    stack_dir.mkdir(parents=True)
    (stack_dir / ".terraform").mkdir()
    (stack_dir / ".terraform" / "terraform.tfstate").write_text("{}")  # what an old shared layout left
    for stage in ("pr-42", "dev", "pr-42"):
        backend = {"local": {"path": f"../../../terraform-state/{stage}/network.tfstate"}}
        (stack_dir / "cdk.tf.json").write_text(json.dumps({"terraform": {"backend": backend}}))
        pinned = pin_working_data(tmp_path, ["network"])
        expected = tmp_path / DATA_DIR / "network" / backend_label(backend)
        assert pinned == {"network": expected}
        assert (stack_dir / ".terraform").readlink() == Path("..", "..", DATA_DIR, "network", expected.name)
        assert (stack_dir / ".terraform").resolve() == expected.resolve()
    kept = sorted(p.name for p in (tmp_path / DATA_DIR / "network").iterdir())
    assert len(kept) == 3 and sum(name.startswith("unpinned-") for name in kept) == 1, kept
    (unpinned,) = [p for p in (tmp_path / DATA_DIR / "network").iterdir() if p.name.startswith("unpinned-")]
    assert (unpinned / "terraform.tfstate").read_text() == "{}"


def test_cloud_backend_keeps_a_real_directory_and_forgets_another_workspace(tmp_path: Path) -> None:
    stack_dir = tmp_path / "stacks" / "data"
    stack_dir.mkdir(parents=True)

    def synth(workspace: str) -> Path:
        backend = {"cloud": {"organization": "acme", "hostname": "app.terraform.io", "workspaces": {"name": workspace}}}
        (stack_dir / "cdk.tf.json").write_text(json.dumps({"terraform": {"backend": backend}}))
        return pin_working_data(tmp_path, ["data"])["data"]

    data_dir = synth("hebo-pr-42-data")
    assert data_dir == stack_dir / ".terraform" and not data_dir.is_symlink()
    (data_dir / "terraform.tfstate").write_text("pr-42's recorded backend")
    (data_dir / "providers").mkdir()
    assert synth("hebo-pr-42-data") == data_dir and (data_dir / "terraform.tfstate").exists()  # same workspace: kept
    synth("hebo-dev-data")
    assert not (data_dir / "terraform.tfstate").exists()  # another workspace: as after `init -reconfigure`
    assert (data_dir / "providers").is_dir()
    assert (data_dir / ".hebo-backend").read_text().startswith("cloud-hebo-dev-data-")


needs_cli = pytest.mark.skipif(NPX is None or TERRAFORM is None, reason="npx and terraform are needed")


@pytest.mark.slow
@needs_cli
def test_local_backend_deploys_of_three_stages_in_one_checkout(tmp_path: Path) -> None:
    out = tmp_path / "out"
    for run, stage in enumerate((*STAGES, STAGES[0])):
        env = plain_env(tmp_path / "home", HEBO_STAGE=stage, HEBO_BACKEND="local")
        code, output = cdktf(["deploy", "network", "--auto-approve", "--output", str(out)], env)
        assert code == 1, output  # stops at the provider download: no network here
        assert f"synthesized stage '{stage}'" in output
        # A stage's first init configures its backend; back on pr-42, its directory already has it.
        assert ('Successfully configured the backend "local"!' in output) == (run < len(STAGES)), output
        assert "Finding hashicorp/aws versions matching" in output, output
        assert not [p for p in BACKEND_PROMPTS if p in output], output
        assert "[WARN] default" not in output and "[ERROR]" not in output, output
        recorded = json.loads((out / "stacks" / "network" / ".terraform" / "terraform.tfstate").read_text())
        assert recorded["backend"]["config"]["path"] == f"../../../terraform-state/{stage}/network.tfstate"
    data_dirs = sorted(p.name for p in (out / DATA_DIR / "network").iterdir())
    assert [d.split("_")[1].split("-")[0] for d in data_dirs] == ["dev", "pr", "pr"], data_dirs
    assert len(data_dirs) == 3


def state(stage: str, serial: int) -> bytes:
    """A Terraform state (format 4) with one output naming its stage."""
    return json.dumps(
        {
            "version": 4,
            "terraform_version": "1.11.4",
            "serial": serial,
            "lineage": f"lineage-{stage}",
            "outputs": {"seeded_for": {"value": stage, "type": "string"}},
            "resources": [],
            "check_results": None,
        }
    ).encode()


@pytest.mark.slow
@needs_cli
@pytest.mark.skipif(not MIRRORED_AWS.exists(), reason="needs the AWS provider in the /opt/tf-plugins mirror")
def test_s3_backend_each_stage_reads_its_own_key_and_nothing_moves(tmp_path: Path) -> None:
    from tools.moto_emulator import MotoServer

    # The stacks pin hashicorp/aws 6.25.0; `cdktf output` only needs *a* provider to finish
    # `terraform init` (it reads state, it calls no AWS API), so the mirrored 5.100.0 binary is
    # offered under the pinned version in a private unpacked mirror.
    mirror = tmp_path / "mirror" / "registry.terraform.io" / "hashicorp" / "aws" / "6.25.0" / "linux_amd64"
    mirror.mkdir(parents=True)
    (mirror / "terraform-provider-aws_v6.25.0_x5").symlink_to(MIRRORED_AWS)
    cli_config = tmp_path / "terraformrc"
    cli_config.write_text(
        f'provider_installation {{\n  filesystem_mirror {{\n    path = "{tmp_path / "mirror"}"\n  }}\n}}\n'
    )
    # cdktf runs `terraform providers lock` (the registry) unless the stack directory has a lock
    # file naming the provider; write it from the mirror, as a checkout's lock file would be.
    scratch = tmp_path / "lock"
    scratch.mkdir()
    (scratch / "main.tf.json").write_text(
        json.dumps({"terraform": {"required_providers": {"aws": {"source": "aws", "version": "6.25.0"}}}})
    )
    lock = subprocess.run(
        [TERRAFORM, "providers", "lock", f"-fs-mirror={tmp_path / 'mirror'}", "-platform=linux_amd64"],
        cwd=scratch,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert lock.returncode == 0, lock.stderr
    out = tmp_path / "out"
    (out / "stacks" / "network").mkdir(parents=True)
    shutil.copy2(scratch / ".terraform.lock.hcl", out / "stacks" / "network" / ".terraform.lock.hcl")
    with MotoServer() as server:
        s3 = boto3.client(
            "s3",
            endpoint_url=server.url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        s3.create_bucket(Bucket=BUCKET)
        seeded = {f"{stage}/network.tfstate": state(stage, serial) for serial, stage in enumerate(STAGES, start=7)}
        for key, body in seeded.items():
            s3.put_object(Bucket=BUCKET, Key=key, Body=body)
        for stage in (*STAGES, STAGES[0]):
            env = plain_env(
                tmp_path / "home",
                HEBO_STAGE=stage,
                HEBO_STATE_BUCKET=BUCKET,
                TF_CLI_CONFIG_FILE=str(cli_config),
                **server.environment(),
            )
            code, output = cdktf(["output", "network", "--output", str(out)], env)
            assert code == 0, output
            assert (
                'Successfully configured the backend "s3"!' in output
                or "Terraform has been successfully initialized" in output
            ), output
            assert re.search(rf"seeded_for\s*=\s*{stage}\b", output), output
            assert not [p for p in BACKEND_PROMPTS if p in output], output
            assert "[WARN] default" not in output and "[ERROR]" not in output, output
        objects = {
            o["Key"]: s3.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read()
            for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]
        }
    assert objects == seeded  # no key copied, created or rewritten
    labels = sorted(p.name for p in (out / DATA_DIR / "network").iterdir())
    assert [label.rsplit("-", 1)[0] for label in labels] == ["s3-dev_network", "s3-pr-42_network", "s3-pr-43_network"]
