"""Stack wiring: five stacks, declared dependencies (main.py), cross-stack references via remote state."""

from synth_support import Synth

EXPECTED_DEPENDENCIES = {
    "dns": [],
    "network": [],
    "data": ["network"],
    "compute": ["data", "network"],
    "edge": ["data"],
}


def test_five_stacks_with_declared_dependencies(any_stage: Synth) -> None:
    deps = {name: sorted(s["dependencies"]) for name, s in any_stage.manifest["stacks"].items()}
    assert deps == EXPECTED_DEPENDENCIES


def test_data_reads_network_through_remote_state(preview: Synth) -> None:
    remote = preview.stack("data")["data"]["terraform_remote_state"]
    assert remote == {
        "cross-stack-reference-input-network": {
            "backend": "s3",
            "config": {
                "bucket": "hebo-terraform-state",
                "encrypt": True,
                "key": "pr-42/network.tfstate",
                "region": "us-east-1",
            },
            "workspace": "${terraform.workspace}",
        }
    }
