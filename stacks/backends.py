"""State backends, chosen by HEBO_BACKEND: `s3` (default), `cloud` (Terraform Cloud), `local`.

State keys are `{stage}/{stack}.tfstate`; the account-wide dns stack uses `global/dns.tfstate`
(`Names.state_key`, `Names.tfc_workspace`: names come from config/naming.py like every other).
"""

from __future__ import annotations

from typing import Any

from modules.cdk import (
    CloudBackend,
    DataTerraformRemoteStateS3,
    LocalBackend,
    NamedCloudWorkspace,
    S3Backend,
    TerraformStack,
)
from config.settings import Settings

_REMOTE_STATE_KEYS = ("bucket", "key", "region", "encrypt", "kms_key_id", "use_path_style", "endpoints")


class S3BackendWithoutDeprecatedLocking(S3Backend):
    """S3 backend whose consumers' `terraform_remote_state` carries no `dynamodb_table`.

    cdktf 0.21 copies every backend argument into each consuming stack's remote-state data
    source. Terraform >= 1.11 deprecates `dynamodb_table` and prints a warning there, which
    breaks cdktf's parsing of outputs between stacks (terraform-cdk #3889, #3933). Reading
    state needs no lock, so consumers get only what locates the state.
    """

    def __init__(self, scope: TerraformStack, **config: Any) -> None:
        super().__init__(scope, **config)
        self._read_config = {k: v for k, v in config.items() if k in _REMOTE_STATE_KEYS}

    def get_remote_state_data_source(self, scope: Any, name: str, _from_stack: str) -> DataTerraformRemoteStateS3:
        """What cdktf calls for a cross-stack reference: the reader's remote-state data source, with only the keys a reader needs."""
        return DataTerraformRemoteStateS3(scope, name, workspace="${terraform.workspace}", **self._read_config)


def configure_backend(stack: TerraformStack, settings: Settings, stack_name: str, account_wide: bool) -> None:
    """Attach the configured backend to `stack`."""
    names = settings.names
    if settings.backend == "s3":
        # S3 native locking (Terraform >= 1.10) always; cdktf 0.21's S3Backend lacks the field.
        # The DynamoDB lock is deprecated (Terraform 1.11) and only added when HEBO_STATE_LOCK_TABLE
        # names one: both locks during the migration window Terraform documents.
        lock_table = {"dynamodb_table": settings.state_lock_table} if settings.state_lock_table else {}
        backend = S3BackendWithoutDeprecatedLocking(
            stack,
            bucket=settings.state_bucket,
            key=names.state_key(stack_name, account_wide),
            region=settings.state_region or settings.region,
            encrypt=True,
            **lock_table,
        )
        backend.add_override("use_lockfile", True)
    elif settings.backend == "cloud":
        CloudBackend(
            stack,
            organization=settings.tfc_organization,
            hostname=settings.tfc_hostname,
            workspaces=NamedCloudWorkspace(name=names.tfc_workspace(stack_name, account_wide)),
        )
    else:
        LocalBackend(stack, path=local_state_path(names.state_key(stack_name, account_wide)))


LOCAL_STATE_DIR = "terraform-state"
"""With HEBO_BACKEND=local, state lives in this directory beside the synth output directory
(the checkout root for the default `cdktf.out`)."""


def local_state_path(state_key: str) -> str:
    """`../../../terraform-state/<state key>` (`<scope>/<stack>.tfstate`): relative to the stack
    directory `<outdir>/stacks/<stack>` Terraform runs in, so the backend and every consumer's
    `terraform_remote_state` (which cdktf copies the path into) move with the checkout instead
    of naming the machine that ran synth."""
    return f"../../../{LOCAL_STATE_DIR}/{state_key}"
