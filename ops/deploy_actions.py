"""The actions the preview deploy role grants on preview-tagged and preview-named resources: exactly
those the recorded life of a preview uses (least privilege by use, issue 25).

`make lifecycle-local` runs pr-42's deploy, second plan, redeploy, template-stage change, destroy
and re-creation on the emulator as the deploy role and records every call
(tools/emulator_calls); `python -m tools.iam_eval.unused <call log>` lists each granted action no
call used, and the lifecycle test fails on any call the role denies. So an action is here because
a recorded call needs it under that statement's scope:

- CREATE_TAGGED (`CreateTaggedAsPreview`, `aws:RequestTag/stage` = `pr-*`): calls that create a
  resource and tag it in the same request (and their tag-on-create actions); the certificate
  request is its own statement (`PreviewCertificatesOnly`), also scoped by its domain names, and
  so is the new flow log of `CreateFlowLogs` (`PreviewFlowLogs`: its request tag must not allow
  the interfaces or subnets it would watch);
- MANAGE_TAGGED (`ManageTaggedAsPreview`, `aws:ResourceTag/stage` = `pr-*`): calls on resources
  that carry the tag, or that name one that does (a VPC a subnet is created in);
- PREVIEW_NAMED (`PreviewNamedResources`, ARNs named `hebo-pr-*`): calls on resources with no
  `stage` tag to scope by: CloudFront functions (they take no tags), KMS aliases (no tags) and the
  edge stack's S3 bucket (S3 authorizes bucket calls by name).

Reads that support no resource-level permissions stay in `ops.deploy_role.READ_ONLY`, and alarm
writes are allowed by `ScalingPermissionValidation` (Application Auto Scaling's validation needs
them on `*`). A stack change that makes a new call fails the lifecycle test by name
(`tests/terraform/test_preview_lifecycle.py`) until the action is added here.
"""

from __future__ import annotations

CREATE_TAGGED: dict[str, list[str]] = {
    "application-autoscaling": ["RegisterScalableTarget", "TagResource"],
    "cloudfront": ["CreateDistribution", "TagResource"],
    "ec2": [
        "AllocateAddress",
        "CreateInternetGateway",
        "CreateRouteTable",
        "CreateSecurityGroup",
        "CreateSubnet",
        "CreateTags",
        "CreateVpc",
        "RunInstances",
    ],
    "ecr": ["CreateRepository", "TagResource"],
    "ecs": ["CreateCluster", "CreateService", "RegisterTaskDefinition", "TagResource"],
    "elasticloadbalancing": ["AddTags", "CreateLoadBalancer", "CreateTargetGroup"],
    "kms": ["CreateKey", "TagResource"],
    "lambda": ["CreateFunction"],
    "logs": ["CreateLogGroup"],
    "rds": [
        "AddTagsToResource",
        "CreateDBCluster",
        "CreateDBClusterParameterGroup",
        "CreateDBInstance",
        "CreateDBParameterGroup",
        "CreateDBSubnetGroup",
    ],
    "sns": ["CreateTopic"],
}

MANAGE_TAGGED: dict[str, list[str]] = {
    "acm": ["DeleteCertificate"],
    "application-autoscaling": [
        "DeleteScalingPolicy",
        "DeregisterScalableTarget",
        "ListTagsForResource",
        "PutScalingPolicy",
    ],
    "cloudfront": ["DeleteDistribution", "UpdateDistribution"],
    "ec2": [
        "AssociateAddress",
        "AssociateRouteTable",
        "AttachInternetGateway",
        "AuthorizeSecurityGroupEgress",
        "AuthorizeSecurityGroupIngress",
        "CreateFlowLogs",
        "CreateRoute",
        "CreateRouteTable",
        "CreateSecurityGroup",
        "CreateSubnet",
        "DeleteFlowLogs",
        "DeleteInternetGateway",
        "DeleteRoute",
        "DeleteRouteTable",
        "DeleteSecurityGroup",
        "DeleteSubnet",
        "DeleteVpc",
        "DetachInternetGateway",
        "DisassociateAddress",
        "DisassociateRouteTable",
        "ModifyInstanceAttribute",
        "ModifyVpcAttribute",
        "ReleaseAddress",
        "RevokeSecurityGroupEgress",
        "RevokeSecurityGroupIngress",
        "RunInstances",
        "StopInstances",
        "TerminateInstances",
    ],
    "ecr": [
        "BatchCheckLayerAvailability",
        "BatchGetImage",
        "CompleteLayerUpload",
        "DeleteLifecyclePolicy",
        "DeleteRepository",
        "GetLifecyclePolicy",
        "InitiateLayerUpload",
        "ListTagsForResource",
        "PutImage",
        "PutLifecyclePolicy",
        "UploadLayerPart",
    ],
    "ecs": [
        "CreateService",
        "DeleteCluster",
        "DeleteService",
        "PutClusterCapacityProviders",
        "TagResource",
        "UpdateService",
    ],
    "elasticloadbalancing": [
        "CreateListener",
        "CreateRule",
        "DeleteListener",
        "DeleteLoadBalancer",
        "DeleteRule",
        "DeleteTargetGroup",
        "ModifyListener",
        "ModifyLoadBalancerAttributes",
        "ModifyTargetGroup",
        "ModifyTargetGroupAttributes",
    ],
    "kms": [
        "CreateAlias",
        "DeleteAlias",
        "EnableKeyRotation",
        "GetKeyPolicy",
        "GetKeyRotationStatus",
        "ListResourceTags",
        "ScheduleKeyDeletion",
    ],
    "lambda": [
        "DeleteFunction",
        "GetFunction",
        "GetFunctionCodeSigningConfig",
        "InvokeFunction",
        "ListVersionsByFunction",
        "UpdateFunctionConfiguration",
    ],
    "logs": ["CreateLogGroup", "DeleteLogGroup", "PutRetentionPolicy"],
    "rds": [
        "AddTagsToResource",
        "CreateDBCluster",
        "CreateDBInstance",
        "DeleteDBCluster",
        "DeleteDBClusterParameterGroup",
        "DeleteDBInstance",
        "DeleteDBParameterGroup",
        "DeleteDBSubnetGroup",
        "ModifyDBCluster",
        "ModifyDBClusterParameterGroup",
        "ModifyDBInstance",
    ],
    "sns": ["DeleteTopic", "SetTopicAttributes"],
}

PREVIEW_NAMED: dict[str, list[str]] = {
    "cloudfront": ["CreateFunction", "DeleteFunction", "DescribeFunction", "PublishFunction"],
    "kms": ["CreateAlias", "DeleteAlias"],
    "s3": [
        "CreateBucket",
        "DeleteBucket",
        "DeleteBucketPolicy",
        "DeleteObject",
        "GetAccelerateConfiguration",
        "GetBucketAcl",
        "GetBucketCORS",
        "GetBucketLogging",
        "GetBucketObjectLockConfiguration",
        "GetBucketOwnershipControls",
        "GetBucketPolicy",
        "GetBucketPublicAccessBlock",
        "GetBucketRequestPayment",
        "GetBucketTagging",
        "GetBucketVersioning",
        "GetBucketWebsite",
        "GetEncryptionConfiguration",
        "GetLifecycleConfiguration",
        "GetObject",
        "GetObjectTagging",
        "GetReplicationConfiguration",
        "ListBucket",
        "ListBucketVersions",
        "PutBucketOwnershipControls",
        "PutBucketPolicy",
        "PutBucketPublicAccessBlock",
        "PutBucketTagging",
        "PutBucketVersioning",
        "PutEncryptionConfiguration",
        "PutLifecycleConfiguration",
        "PutObject",
    ],
}


def listed(table: dict[str, list[str]]) -> list[str]:
    """`service:Action` of every action of `table`, in its order."""
    return [f"{service}:{name}" for service, names in table.items() for name in names]
