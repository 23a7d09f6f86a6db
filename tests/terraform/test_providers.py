"""Provider source selection (no Terraform run): mirrors, versions, the CLI configuration."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.terraform_check import CheckError, choose_providers, cli_config, mirror_versions, terraform_platform

AWS = "registry.terraform.io/hashicorp/aws"
DOCKER = "registry.terraform.io/kreuzwerker/docker"


@pytest.fixture
def mirror(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    platform = terraform_platform()
    (tmp_path / AWS / "5.100.0" / platform).mkdir(parents=True)  # unpacked layout
    (tmp_path / AWS / "6.25.0" / "windows_386").mkdir(parents=True)  # other platform only
    (tmp_path / DOCKER).mkdir(parents=True)
    (tmp_path / DOCKER / f"terraform-provider-docker_3.6.2_{platform}.zip").write_bytes(b"")  # packed layout
    monkeypatch.setenv("TF_CHECK_MIRRORS", str(tmp_path))
    return tmp_path


def test_mirror_versions_read_both_layouts_for_this_platform(mirror: Path) -> None:
    assert mirror_versions(mirror, AWS, terraform_platform()) == ["5.100.0"]
    assert mirror_versions(mirror, DOCKER, terraform_platform()) == ["3.6.2"]
    assert mirror_versions(mirror, "registry.terraform.io/hashicorp/random", terraform_platform()) == []


def test_mirror_supplies_the_pin_or_says_it_differs(mirror: Path) -> None:
    pins = {
        "aws": (AWS, "6.25.0"),
        "docker": (DOCKER, "3.6.2"),
        "random": ("registry.terraform.io/hashicorp/random", "3.0.0"),
    }
    choices = choose_providers(pins, mode="mirror")
    assert choices["random"] is None
    aws, docker = choices["aws"], choices["docker"]
    assert aws is not None and docker is not None
    assert (aws.version, aws.origin, aws.differs) == ("5.100.0", str(mirror), True)
    assert aws.describe() == f"hashicorp/aws 5.100.0 from filesystem mirror {mirror} (differs from the pin 6.25.0)"
    assert (docker.version, docker.differs) == ("3.6.2", False)
    config = cli_config([aws, docker], Path("/cache"))
    assert f'path    = "{mirror}"' in config
    assert f'include = ["{AWS}", "{DOCKER}"]' in config
    assert "direct" not in config  # nothing is downloaded in mirror mode


def test_registry_mode_downloads_the_pins_through_the_cache() -> None:
    choices = choose_providers({"aws": (AWS, "6.25.0")}, mode="registry")
    aws = choices["aws"]
    assert aws is not None and (aws.version, aws.origin, aws.differs) == ("6.25.0", "registry", False)
    config = cli_config([aws], Path("/cache"))
    assert 'plugin_cache_dir = "/cache"' in config and f'direct {{\n    include = ["{AWS}"]' in config


def test_unknown_mode_is_a_one_line_error() -> None:
    with pytest.raises(CheckError, match="invalid TF_CHECK_PROVIDERS 'mirrors': allowed are registry, mirror, auto"):
        choose_providers({}, mode="mirrors")
