"""A small hardened EC2 instance (IMDSv2 only, encrypted root volume, optional SSM-managed role)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from modules.cdk import Construct, TerraformResourceLifecycle, aws
from modules.iam import ServiceRole, ServiceRoleProps

SSM_MANAGED_POLICY = "AmazonSSMManagedInstanceCore"
"""Lets the SSM agent register the instance for Session Manager (no SSH, no key pair)."""


@dataclass(frozen=True, kw_only=True)
class InstanceRoleProps:
    """An EC2 role with the SSM core policy and its instance profile."""

    name: str
    """Role and instance profile name (separate IAM namespaces, so they may match)."""
    description: str
    """The role's description (≤ 1000 characters)."""
    partition: str
    """`data.aws_partition.partition` of the stack, for the managed policy ARN."""


class SsmInstanceRole(Construct):
    """An EC2 role with only `AmazonSSMManagedInstanceCore`, and its instance profile."""

    def __init__(self, scope: Construct, construct_id: str, props: InstanceRoleProps) -> None:
        super().__init__(scope, construct_id)
        self.role = ServiceRole(
            self,
            "role",
            ServiceRoleProps(
                name=props.name,
                service="ec2.amazonaws.com",
                description=props.description,
                managed_policy_arns=[f"arn:{props.partition}:iam::aws:policy/{SSM_MANAGED_POLICY}"],
            ),
        )
        self.profile = aws.iam_instance_profile.IamInstanceProfile(
            self, "profile", name=props.name, role=self.role.name
        )

    @property
    def profile_name(self) -> str:
        """Name of the instance profile (what an instance is launched with)."""
        return self.profile.name


@dataclass(frozen=True, kw_only=True)
class HardenedInstanceProps:
    """One EC2 instance with IMDSv2 only, an encrypted root volume and no key pair."""

    name: str
    """`Name` tag."""
    ami_id: str
    """The image to boot."""
    instance_type: str
    """EC2 instance type; must match the AMI's architecture."""
    subnet_id: str
    """The subnet of the primary network interface."""
    security_group_ids: Sequence[str]
    """Security groups of that interface."""
    instance_profile: str | None
    """None: no role, so nothing on the instance can obtain AWS credentials."""
    kms_key_arn: str
    """Encrypts the root volume with the stack's customer-managed key."""
    root_volume_gib: int = 8
    """Root volume size in GiB (gp3; at least the AMI's snapshot size)."""
    source_dest_check: bool = True
    """False for instances that forward other hosts' traffic (NAT)."""
    associate_public_ip: bool | None = False
    """False: no public IPv4 of its own. None leaves it to the subnet, for an instance that gets
    an Elastic IP: the provider reads any public address (an EIP too) back as `true`, so `false`
    would replace the instance on every plan (hashicorp/terraform-provider-aws#47100, #37318)."""
    tags: Mapping[str, str] | None = None
    """Tags besides `Name`; None: none."""


def hardened_instance(scope: Construct, construct_id: str, props: HardenedInstanceProps) -> Any:
    """An instance with IMDSv2 required (hop limit 1: containers cannot reach the metadata
    service), no key pair, no public IP of its own, and an encrypted gp3 root volume.

    `ami` changes are ignored: the AMI comes from a `most_recent` lookup, and a new image must
    not silently replace a NAT or bastion on an unrelated deploy; roll it with `-replace`.
    """
    return aws.instance.Instance(
        scope,
        construct_id,
        ami=props.ami_id,
        instance_type=props.instance_type,
        subnet_id=props.subnet_id,
        vpc_security_group_ids=list(props.security_group_ids),
        iam_instance_profile=props.instance_profile,
        associate_public_ip_address=props.associate_public_ip,
        source_dest_check=props.source_dest_check,
        ebs_optimized=True,
        metadata_options=aws.instance.InstanceMetadataOptions(
            http_endpoint="enabled",
            http_tokens="required",
            http_put_response_hop_limit=1,
            instance_metadata_tags="disabled",
        ),
        root_block_device=aws.instance.InstanceRootBlockDevice(
            encrypted=True,
            kms_key_id=props.kms_key_arn,
            volume_type="gp3",
            volume_size=props.root_volume_gib,
            delete_on_termination=True,
        ),
        tags={"Name": props.name, **(props.tags or {})},
        lifecycle=TerraformResourceLifecycle(ignore_changes=["ami"]),
    )
