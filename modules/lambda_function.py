"""A Python Lambda function in a VPC: zip asset, role, KMS-encrypted log group with retention."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from modules.cdk import AssetType, Construct, TerraformAsset, aws
from modules.iam import ServiceRole, ServiceRoleProps, Statement
from modules.logs import log_group

VPC_ACCESS_POLICY = "service-role/AWSLambdaVPCAccessExecutionRole"
"""ENI management (needs `*`: ENIs do not exist before the call) plus writing logs."""


@dataclass(frozen=True, kw_only=True)
class PythonFunctionProps:
    """One Python Lambda function in the VPC, with its role and log group; names come in finished."""

    function_name: str
    """Function name (≤ 64 characters: letters, digits, `-`, `_`)."""
    role_name: str
    """IAM name of the function's role."""
    description: str
    """Shown in the Lambda console (≤ 256 characters)."""
    zip_path: Path
    """A built zip; copied into the synth output as an asset, so cdk.tf.json holds a relative path."""
    source_code_hash: str
    """Base64 sha256 of the zip (`filebase64sha256`): a changed zip redeploys, an identical one does not."""
    handler: str
    """`module.function` in the zip, e.g. `migrator.handler.lambda_handler`."""
    subnet_ids: Sequence[str]
    """Private subnets of the function's network interfaces."""
    security_group_ids: Sequence[str]
    """Security groups of those interfaces."""
    log_group_name: str
    """Its log group, `/aws/lambda/<function_name>` (created here, so it has KMS and a retention)."""
    log_retention_days: int
    """Days CloudWatch keeps the function's logs."""
    kms_key_arn: str
    """Encrypts the log group and the environment variables."""
    statements: Sequence[Statement] = ()
    """Permissions beyond the VPC/logs basics; none by default."""
    environment: Mapping[str, str] = field(default_factory=dict)
    """Plain configuration only; secrets are read at run time from Secrets Manager."""
    runtime: str = "python3.13"
    """Lambda runtime identifier."""
    architecture: str = "arm64"
    """`arm64` (Graviton) or `x86_64`; the zip's native wheels must match."""
    memory_mb: int = 512
    """Memory in MB (128-10240); CPU is allocated in proportion."""
    timeout_seconds: int = 300
    """Longest run in seconds (1-900)."""
    reserved_concurrency: int | None = None
    """None (recommended): draws from the account's unreserved pool. Lambda refuses a reservation
    that leaves fewer than 100 unreserved executions, so on an account whose concurrency quota is
    10 or 50 (common for new accounts) any reservation fails the apply
    (https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html)."""


class PythonFunction(Construct):
    """A zip-packaged Python function in private subnets: its role (VPC access, logs, `statements`),
    KMS log group and the function itself."""

    def __init__(self, scope: Construct, construct_id: str, props: PythonFunctionProps, provider: Any = None) -> None:
        super().__init__(scope, construct_id)
        partition = aws.data_aws_partition.DataAwsPartition(self, "partition", provider=provider)
        self.role = ServiceRole(
            self,
            "role",
            ServiceRoleProps(
                name=props.role_name,
                service="lambda.amazonaws.com",
                description=f"Lambda {props.function_name}",
                statements=props.statements,
                managed_policy_arns=[f"arn:{partition.partition}:iam::aws:policy/{VPC_ACCESS_POLICY}"],
            ),
            provider=provider,
        )
        self.log_group = log_group(
            self,
            "logs",
            name=props.log_group_name,
            retention_days=props.log_retention_days,
            kms_key_arn=props.kms_key_arn,
            provider=provider,
        )
        asset = TerraformAsset(self, "code", path=str(props.zip_path), type=AssetType.FILE)
        self.function = aws.lambda_function.LambdaFunction(
            self,
            "function",
            function_name=props.function_name,
            description=props.description,
            role=self.role.arn,
            runtime=props.runtime,
            architectures=[props.architecture],
            handler=props.handler,
            filename=asset.path,
            source_code_hash=props.source_code_hash,
            memory_size=props.memory_mb,
            timeout=props.timeout_seconds,
            reserved_concurrent_executions=props.reserved_concurrency,
            kms_key_arn=props.kms_key_arn,
            environment=aws.lambda_function.LambdaFunctionEnvironment(variables=dict(props.environment))
            if props.environment
            else None,
            vpc_config=aws.lambda_function.LambdaFunctionVpcConfig(
                subnet_ids=list(props.subnet_ids), security_group_ids=list(props.security_group_ids)
            ),
            logging_config=aws.lambda_function.LambdaFunctionLoggingConfig(
                log_format="Text", log_group=self.log_group.name
            ),
            depends_on=[self.log_group],
            provider=provider,
        )

    @property
    def function_name(self) -> str:
        """The function's name (a reference to the created function)."""
        return self.function.function_name

    @property
    def arn(self) -> str:
        """The function's ARN."""
        return self.function.arn
