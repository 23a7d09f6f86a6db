"""The moto side of the Terraform checks: an emulator process with the test images and the
fixes of moto bugs that otherwise show as perpetual diffs, the per-stack override file, and the
dependency-ordered plan/apply of one stage (`run_stage`). See docs/terraform-checks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from tools.emulator_idempotency import ANSWERED_500, LOSE_FIRST_ANSWERS_ENV, LOST_ANSWER_MARK, REPLAYED_MARK
from tools.terraform_check import (
    REPO_ROOT,
    CheckError,
    Terraform,
    Workspace,
    print_provider_choices,
    required_providers,
    synthesize,
    variant_env,
)

MOTO_IMAGES = (
    {
        "ami_id": "ami-0a1b2c3d4e5f60001",
        "owner_id": "137112412989",
        "name": "al2023-ami-2023.6.20250107.0-kernel-6.1-arm64",
        "description": "Amazon Linux 2023 (arm64), emulator copy",
        "architecture": "arm64",
        "creation_date": "2025-01-07T00:00:00.000Z",
    },
    {
        "ami_id": "ami-0a1b2c3d4e5f60002",
        "owner_id": "568608671756",
        "name": "fck-nat-al2023-hvm-1.3.0-20240125-arm64-ebs",
        "description": "fck-nat (arm64), emulator copy",
        "architecture": "arm64",
        "creation_date": "2024-01-25T00:00:00.000Z",
    },
)
"""Images the emulator serves (`MOTO_AMIS_PATH`), named and owned like the real ones, so the
stacks' own `aws_ami` lookups (owners + name filters) find them unchanged."""

EMULATOR_SETTINGS = {"MOTO_ACM_VALIDATION_WAIT": "0"}
"""moto's own settings for the emulator process. moto holds a new ACM certificate in
PENDING_VALIDATION for `MOTO_ACM_VALIDATION_WAIT` seconds (default 60; moto 5.2.5
`moto/settings.py`, `moto/acm/models.py` `CertBundle.check`), so every
`aws_acm_certificate_validation` slept about 50 s in its waiter for a delay moto makes up;
0 issues it at the first DescribeCertificate, as DNS validation on the emulator's zone would.
The waiter itself still runs (tools/lifecycle.py applies it in every deploy)."""


EMULATOR_FIXES = """
import moto.ec2.models.elastic_network_interfaces as _eni
import moto.ec2.models.subnets as _subnets

def _subnet_ipv6_set(self):
    return [
        {"ipv6CidrBlock": a["ipv6CidrBlock"], "associationId": a["associationId"],
         "ipv6CidrBlockState": {"state": a["ipv6CidrBlockState"]["State"]}}
        for a in self.ipv6_cidr_block_associations.values()
        if a["ipv6CidrBlockState"]["State"] == "associated"
    ]

_association = _eni.NetworkInterface.association.fget
_subnets.Subnet.ipv6_cidr_block_association_set = property(_subnet_ipv6_set)
_eni.NetworkInterface.association = property(lambda self: _association(self) or None)

import moto.ec2.models.instances as _instances
import moto.ec2.models.security_groups as _sg

_instance_init = _instances.Instance.__init__

def _instance_with_nic_groups(self, *args, **kwargs):
    _instance_init(self, *args, **kwargs)
    if not self.security_groups and 0 in self.nics:
        self.security_groups = list(self.nics[0]._group_set)

_instances.Instance.__init__ = _instance_with_nic_groups
_sg.SecurityGroupRule.description = property(
    lambda self: self.ip_range.get("Description") or (self.source_group or {}).get("Description")
)

import json as _json
import moto.applicationautoscaling.responses as _aas
from moto.core.exceptions import JsonRESTError as _JsonRESTError

def _aas_target(self, arn):
    for targets in self.applicationautoscaling_backend.targets.values():
        for target in targets.values():
            if target.arn == arn:
                return target
    raise _JsonRESTError("ResourceNotFoundException", f"No scalable target found for {arn}")

_aas_register = _aas.ApplicationAutoScalingResponse.register_scalable_target

def _aas_register_with_tags(self):
    body = _aas_register(self)
    target = _aas_target(self, _json.loads(body)["ScalableTargetARN"])
    target.tags = {**getattr(target, "tags", {}), **(self._get_param("Tags") or {})}
    return body

def _aas_list_tags(self):
    return _json.dumps({"Tags": getattr(_aas_target(self, self._get_param("ResourceARN")), "tags", {})})

def _aas_tag(self):
    target = _aas_target(self, self._get_param("ResourceARN"))
    target.tags = {**getattr(target, "tags", {}), **(self._get_param("Tags") or {})}
    return "{}"

def _aas_untag(self):
    target = _aas_target(self, self._get_param("ResourceARN"))
    target.tags = {k: v for k, v in getattr(target, "tags", {}).items() if k not in (self._get_param("TagKeys") or [])}
    return "{}"

_aas.ApplicationAutoScalingResponse.register_scalable_target = _aas_register_with_tags
_aas.ApplicationAutoScalingResponse.list_tags_for_resource = _aas_list_tags
_aas.ApplicationAutoScalingResponse.tag_resource = _aas_tag
_aas.ApplicationAutoScalingResponse.untag_resource = _aas_untag

import uuid as _uuid
import moto.cloudfront.responses as _cf
import moto.cloudfront.urls as _cf_urls
from moto.cloudfront.exceptions import CloudFrontException as _CloudFrontException
from moto.core.responses import ActionResult as _ActionResult, EmptyResult as _EmptyResult
from moto.core.utils import utcnow as _utcnow
from moto.moto_api._internal import mock_random as _random

_cf_urls.url_paths.update({
    "{0}/2020-05-31/function/(?P<function_name>[^/]+)/publish$": _cf.CloudFrontResponse.dispatch,
    "{0}/2020-05-31/response-headers-policy$": _cf.CloudFrontResponse.dispatch,
    "{0}/2020-05-31/response-headers-policy/(?P<policy_id>[^/]+)$": _cf.CloudFrontResponse.dispatch,
    "{0}/2020-05-31/response-headers-policy/(?P<policy_id>[^/]+)/config$": _cf.CloudFrontResponse.dispatch,
})

def _cf_publish(self):
    function = self.backend.describe_function(name=self._get_param("Name"))
    function.stage, function.status = "LIVE", "UNASSOCIATED"
    return _ActionResult({"FunctionSummary": function.function_summary})

def _cf_update_function(self):
    function = self.backend.describe_function(name=self._get_param("Name"))
    function.config, function.code = self._get_param("FunctionConfig", {}), self._get_param("FunctionCode")
    function.stage, function.status, function.etag, function.last_modified_time = "DEVELOPMENT", "UNPUBLISHED", _random.get_random_hex(13).upper(), _utcnow()
    return _ActionResult({"FunctionSummary": function.function_summary, "ETag": function.etag})

def _cf_policies(self):
    if not hasattr(self.backend, "response_headers_policies"):
        self.backend.response_headers_policies = {}
    return self.backend.response_headers_policies

def _cf_policy(self):
    found = _cf_policies(self).get(self._get_param("Id"))
    if found is None:
        raise _CloudFrontException("NoSuchResponseHeadersPolicy", "The response headers policy does not exist.")
    return found

def _cf_create_policy(self):
    config = self._get_param("ResponseHeadersPolicyConfig", {})
    if any(p["ResponseHeadersPolicyConfig"]["Name"] == config.get("Name") for p in _cf_policies(self).values()):
        raise _CloudFrontException("ResponseHeadersPolicyAlreadyExists", f"A response headers policy named {config.get('Name')} already exists.")
    policy = {"Id": str(_uuid.uuid4()), "LastModifiedTime": _utcnow(), "ResponseHeadersPolicyConfig": config, "ETag": _random.get_random_hex(13).upper()}
    _cf_policies(self)[policy["Id"]] = policy
    return _ActionResult({"ResponseHeadersPolicy": {k: v for k, v in policy.items() if k != "ETag"}, "ETag": policy["ETag"],
                          "Location": f"https://cloudfront.amazonaws.com/2020-05-31/response-headers-policy/{policy['Id']}"})

def _cf_get_policy(self):
    policy = _cf_policy(self)
    return _ActionResult({"ResponseHeadersPolicy": {k: v for k, v in policy.items() if k != "ETag"}, "ETag": policy["ETag"]})

def _cf_get_policy_config(self):
    policy = _cf_policy(self)
    return _ActionResult({"ResponseHeadersPolicyConfig": policy["ResponseHeadersPolicyConfig"], "ETag": policy["ETag"]})

def _cf_update_policy(self):
    policy = _cf_policy(self)
    policy.update(ResponseHeadersPolicyConfig=self._get_param("ResponseHeadersPolicyConfig", {}), LastModifiedTime=_utcnow(), ETag=_random.get_random_hex(13).upper())
    return _cf_get_policy(self)

def _cf_delete_policy(self):
    _cf_policy(self)
    del _cf_policies(self)[self._get_param("Id")]
    return _EmptyResult()

def _cf_list_policies(self):
    items = [{"Type": "custom", "ResponseHeadersPolicy": {k: v for k, v in p.items() if k != "ETag"}} for p in _cf_policies(self).values()]
    if self._get_param("Type") == "managed":
        items = []
    return _ActionResult({"ResponseHeadersPolicyList": {"MaxItems": 100, "Quantity": len(items), "Items": items}})

for _name, _method in {
    "publish_function": _cf_publish, "update_function": _cf_update_function,
    "create_response_headers_policy": _cf_create_policy, "get_response_headers_policy": _cf_get_policy,
    "get_response_headers_policy_config": _cf_get_policy_config, "update_response_headers_policy": _cf_update_policy,
    "delete_response_headers_policy": _cf_delete_policy, "list_response_headers_policies": _cf_list_policies,
}.items():
    setattr(_cf.CloudFrontResponse, _name, _method)

import moto.iam.access_control as _access
import moto.iam.policy_conditions as _conditions
import moto.s3.models as _s3_models

def _bool_condition(expected, actual):
    allowed = expected if isinstance(expected, list) else [expected]
    return str(actual).lower() in [str(e).lower() for e in allowed]

_conditions.CONDITION_OPERATIONS.setdefault("Bool", _bool_condition)
_S3_REQUEST_CONTEXT = {"aws:SecureTransport": "true"}  # the provider and boto3 reach real S3 over HTTPS only

def _bucket_permission(self, action, resource):
    if self.policy is None:
        return _access.PermissionResult.NEUTRAL
    statements = _json.loads(self.policy.decode() if isinstance(self.policy, bytes) else self.policy)["Statement"]
    result = _access.PermissionResult.NEUTRAL
    for raw in statements if isinstance(statements, list) else [statements]:
        statement = _access.IAMPolicyStatement(raw)
        if not statement._check_conditions(_S3_REQUEST_CONTEXT):
            continue  # a statement whose condition does not hold does not apply
        answer = statement.is_action_permitted(action, resource, incoming_condition_values=_S3_REQUEST_CONTEXT)
        if answer == _access.PermissionResult.DENIED:
            return answer
        if answer == _access.PermissionResult.PERMITTED:
            result = answer
    return result

_s3_models.FakeBucket.get_permission = _bucket_permission


import moto.awslambda.models as _lambda_models

_lambda_init = _lambda_models.LambdaFunction.__init__
_lambda_configuration = _lambda_models.LambdaFunction.get_configuration
_lambda_update = _lambda_models.LambdaFunction.update_configuration

def _lambda_with_logging(self, account_id, spec, region, *args, **kwargs):
    _lambda_init(self, account_id, spec, region, *args, **kwargs)
    # Lambda's default: plain text into /aws/lambda/<function name> (API_LoggingConfig)
    self.logging_config = {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{self.function_name}", **(spec.get("LoggingConfig") or {})}

def _lambda_configuration_with_logging(self, *args, **kwargs):
    return {**_lambda_configuration(self, *args, **kwargs), "LoggingConfig": self.logging_config}

def _lambda_update_with_logging(self, config_updates):
    if config_updates.get("LoggingConfig"):
        self.logging_config = {**self.logging_config, **config_updates["LoggingConfig"]}
    return _lambda_update(self, config_updates)

_lambda_models.LambdaFunction.__init__ = _lambda_with_logging
_lambda_models.LambdaFunction.get_configuration = _lambda_configuration_with_logging
_lambda_models.LambdaFunction.update_configuration = _lambda_update_with_logging

import moto.rds.models as _rds_models

_rds_scaling_info = _rds_models.DBCluster.scaling_configuration_info.fget

def _rds_scaling_info_of_serverless_v1(self):
    return _rds_scaling_info(self) if self.scaling_configuration else None  # AWS: Serverless v1 clusters only

_rds_models.DBCluster.scaling_configuration_info = property(_rds_scaling_info_of_serverless_v1)

_rds_instance_init = _rds_models.DBInstance.__init__
_rds_instance_update = _rds_models.DBInstance.update

def _rds_performance_insights(instance, enabled, kms_key_id, retention):
    if enabled is not None:
        instance.performance_insights_enabled = bool(enabled)
    if not getattr(instance, "performance_insights_enabled", False):
        instance.performance_insights_kms_key_id = instance.performance_insights_retention_period = None
        return
    # AWS: the account's aws/rds key and 7 days unless given (API_CreateDBInstance)
    instance.performance_insights_kms_key_id = kms_key_id or getattr(instance, "performance_insights_kms_key_id", None) or (
        f"arn:aws:kms:{instance.region}:{instance.account_id}:key/aws-rds-default")
    instance.performance_insights_retention_period = retention or getattr(instance, "performance_insights_retention_period", None) or 7

def _rds_instance_with_insights(self, *args, **kwargs):
    _rds_instance_init(self, *args, **kwargs)
    self.performance_insights_enabled = False
    _rds_performance_insights(self, kwargs.get("enable_performance_insights"), kwargs.get("performance_insights_kms_key_id"),
                              kwargs.get("performance_insights_retention_period"))

def _rds_instance_update_with_insights(self, **kwargs):
    enabled = kwargs.pop("enable_performance_insights", None)
    kms_key_id = kwargs.pop("performance_insights_kms_key_id", None)
    retention = kwargs.pop("performance_insights_retention_period", None)
    _rds_instance_update(self, **kwargs)
    _rds_performance_insights(self, enabled, kms_key_id, retention)

_rds_models.DBInstance.__init__ = _rds_instance_with_insights
_rds_models.DBInstance.update = _rds_instance_update_with_insights

import moto.acm.models as _acm_models
import moto.acm.responses as _acm_responses

_acm_request = _acm_responses.AWSCertificateManagerResponse.request_certificate
_acm_describe = _acm_models.CertBundle.describe

def _acm_request_with_key_algorithm(self):
    result = _acm_request(self)
    certificate = self.acm_backend.get_certificate(result.result["CertificateArn"])
    certificate.requested_key_algorithm = self._get_param("KeyAlgorithm") or "RSA_2048"  # RequestCertificate's default
    return result

def _acm_describe_with_key_algorithm(self):
    described = _acm_describe(self)
    if getattr(self, "requested_key_algorithm", None):
        described["Certificate"]["KeyAlgorithm"] = self.requested_key_algorithm
    return described

_acm_responses.AWSCertificateManagerResponse.request_certificate = _acm_request_with_key_algorithm
_acm_models.CertBundle.describe = _acm_describe_with_key_algorithm

import moto.ecs.responses as _ecs_responses
from botocore import xform_name as _xform_name

_ecs_create_service = _ecs_responses.EC2ContainerServiceResponse.create_service

def _ecs_create_service_keeping_settings(self):
    result = _ecs_create_service(self)
    service = result.result["service"]
    for key, value in self._get_params().items():
        name = _xform_name(key)
        if value is not None and not hasattr(service, name):
            setattr(service, name, value)  # what moto's own UpdateService does with every parameter
    return result

_ecs_responses.EC2ContainerServiceResponse.create_service = _ecs_create_service_keeping_settings

import moto.cloudfront.models as _cf_models

_cf_behaviour_init = _cf_models.DefaultCacheBehaviour.__init__
_cf_certificate_init = _cf_models.ViewerCertificate.__init__
_cf_origin_init = _cf_models.Origin.__init__

def _cf_behaviour_with_functions(self, config):
    _cf_behaviour_init(self, config)
    self.function_associations = config.get("FunctionAssociations") or {"Quantity": 0}
    self.lambda_function_associations = config.get("LambdaFunctionAssociations") or {"Quantity": 0}
    if not config.get("ForwardedValues"):
        self.forwarded_values = None  # legacy settings: only a behaviour without a cache policy has them

def _cf_origin_with_access_control(self, origin):
    _cf_origin_init(self, origin)
    self.origin_access_control_id = origin.get("OriginAccessControlId") or ""

def _cf_certificate_as_given(self, config):
    _cf_certificate_init(self, config)
    if self.acm_certificate_arn or self.iam_certificate_id:
        self.cloud_front_default_certificate = bool(config.get("CloudFrontDefaultCertificate", False))
        self.certificate_source = "acm" if self.acm_certificate_arn else "iam"

_cf_models.DefaultCacheBehaviour.__init__ = _cf_behaviour_with_functions
_cf_models.ViewerCertificate.__init__ = _cf_certificate_as_given
_cf_models.Origin.__init__ = _cf_origin_with_access_control

import moto.route53.models as _r53_models
from moto.route53.exceptions import ResourceRecordAlreadyExists as _RecordExists

_r53_change = _r53_models.Route53Backend.change_resource_record_sets

def _r53_same_record(rrset, name, type_, set_identifier):
    return (rrset.name.rstrip(".").lower() == name.rstrip(".").lower() and rrset.type == type_
            and rrset.set_identifier == set_identifier)

def _r53_change_checking_exact_records(self, zoneid, change_list):
    zone = self.get_hosted_zone(zoneid)
    for change in change_list:
        record = change["ResourceRecordSet"]
        if change["Action"] == "CREATE" and any(
            _r53_same_record(r, record["Name"], record["Type"], record.get("SetIdentifier")) for r in zone.rrsets
        ):
            raise _RecordExists(name=record["Name"].rstrip(".") + ".", _type=record["Type"])
    # moto's own check (a CREATE repeated from the change journal) lists every record from that
    # name on: answer it with exactly the records of that name and type (none, after the check above)
    zone.get_record_sets = lambda start_type, start_name: [
        r for r in zone.rrsets if _r53_same_record(r, start_name, start_type, r.set_identifier)]
    try:
        return _r53_change(self, zoneid, change_list)
    finally:
        del zone.get_record_sets

_r53_models.Route53Backend.change_resource_record_sets = _r53_change_checking_exact_records

import moto.iam.policy_validation as _iam_validation
_iam_resource_formats = _iam_validation.IAMPolicyDocumentValidator._validate_resource_like_for_formats

def _iam_resource_formats_with_empty(self, key):
    for statement in self._statements:
        values = statement.get(key)
        if values == "" or (isinstance(values, list) and "" in values):
            self._resource_error = 'Resource  must be in ARN format or "*".'
            return
    return _iam_resource_formats(self, key)

_iam_validation.IAMPolicyDocumentValidator._validate_resource_like_for_formats = _iam_resource_formats_with_empty
"""
"""moto 5.2.5 response bugs, fixed in the emulator process only (never in the stacks):

* subnet IPv6 association state is a nested dict (`{'State': 'associated'}` as the state), so the
  provider waits 3 min for "associated" and fails; same fix as localstack/moto#140;
* an instance without a public IP gets an empty `<association/>` element; the provider infers
  `associate_public_ip_address = true` from its mere presence (hashicorp/terraform#9453), so the
  second plan would replace every instance;
* security groups given through RunInstances' `NetworkInterfaces` (how the provider sends them
  with `associate_public_ip_address`) are missing from the instance's own group set;
* the description of a rule that references a security group is dropped on read.
Each showed up as a perpetual diff in the second network plan that real AWS does not produce.

Found by the lifecycle (tools/lifecycle.py):
* Application Auto Scaling has no tagging in moto 5.2.5 (`moto/applicationautoscaling/responses.py`
  defines no `ListTagsForResource`/`TagResource`/`UntagResource`, and `RegisterScalableTarget`
  drops `Tags`): the provider reads a target's tags after creating it
  (https://docs.aws.amazon.com/autoscaling/application/APIReference/API_ListTagsForResource.html),
  got HTTP 500 and retried 25 times per call; tags are kept per target here, keyed by its ARN.
* CloudFront: moto 5.2.5 routes no `PublishFunction`/`UpdateFunction` and no response headers
  policy API (`moto/cloudfront/urls.py`), so the edge apply failed with HTTP 404 on
  `aws_cloudfront_function` (publish = true) and `aws_cloudfront_response_headers_policy`; both are
  added here with the shapes of the CloudFront API reference (PublishFunction,
  CreateResponseHeadersPolicy, Get/GetConfig/Update/Delete/ListResponseHeadersPolicies).
* S3 bucket policies: moto evaluates them on object requests (`FakeBucket.get_permission`) but
  ignores the `Bool` operator and turns any statement whose condition fails into a *deny*
  (`moto/iam/access_control.py`, `IAMPolicyStatement.is_action_permitted`), so the standard
  "deny unless aws:SecureTransport" statement denied every HeadObject (403) and the edge stack
  could not be re-planned. Here a statement whose condition does not hold does not apply (IAM
  user guide, "IAM JSON policy elements: Condition"), `Bool` is evaluated, and requests carry
  `aws:SecureTransport = true`, as every request of the provider and boto3 to real S3 does.

Found by the lifecycle's second plans (each a field moto drops or answers with a value AWS does
not use; every one made the provider plan a change on each plan; the shapes are the API
reference's, tested one by one in tests/terraform/test_emulator_fixes.py):
* Lambda `LoggingConfig` (API_LoggingConfig; default `Text` into `/aws/lambda/<name>`);
* RDS: `ScalingConfigurationInfo` only for a cluster with a Serverless v1 scaling configuration
  (moto answers every cluster with empty values, which the provider turns into a block), and an
  instance's Performance Insights settings (API_CreateDBInstance: 7 days and the account's RDS
  key when enabled without them);
* ACM `KeyAlgorithm` as requested (API_RequestCertificate; moto reports RSA_2048 for every
  certificate, and `key_algorithm` replaces the certificate);
* ECS `CreateService` parameters moto does not model are kept on the service, as moto's own
  `UpdateService` keeps every parameter (capacity provider strategy, deployment configuration,
  managed tags, execute command, health-check grace period);
* CloudFront: a behaviour's function associations, no legacy `ForwardedValues` invented beside a
  cache policy, an origin's `OriginAccessControlId`, and an ACM viewer certificate is not the
  CloudFront default certificate (API_DefaultCacheBehavior, API_Origin, API_ViewerCertificate).

Found by the lifecycle's re-create:
* Route 53 refuses a CREATE exactly when a record set of that name, type and set identifier
  exists (API_ChangeResourceRecordSets). moto refused a CREATE repeated from the zone's change
  journal whenever `get_record_sets(start_type, start_name)` returned anything — a listing from
  that position on, so any later record — and accepted duplicates that were not in the journal.

Found by a loaded CI run: moto's backends are not thread-safe (two `AuthorizeSecurityGroupIngress`
calls on one group at once answered `InvalidPermission.Duplicate` for a rule that did not exist).
That fix is `_ONE_REQUEST_AT_A_TIME`, installed after the call recorder.

Found by a review of the synthesized JSON: IAM refuses a policy document with an empty `Resource`
(`MalformedPolicyDocument: Resource  must be in ARN format or "*"`, the answer IAM gives; e.g.
terraform-aws-modules/terraform-aws-notify-slack#20), while moto's validator skips empty entries
(`moto/iam/policy_validation.py`, "Skip validation of None elements"). A preview's execution
roles were granted `kms:Decrypt` on the `kms_key_id` of the template secrets, which the emulator
had seeded without a key: the policy held "" and applied here, where IAM would refuse it. Empty
resources are refused here as IAM does.
"""

_ONE_REQUEST_AT_A_TIME = """
import threading as _threading
import moto.moto_server.werkzeug_app as _werkzeug_app
_one_request_at_a_time = _threading.RLock()
_dispatch = _werkzeug_app.DomainDispatcherApplication.__call__

def _serialized_dispatch(self, environ, start_response):
    with _one_request_at_a_time:
        return _dispatch(self, environ, start_response)

_werkzeug_app.DomainDispatcherApplication.__call__ = _serialized_dispatch
"""
"""moto's backends are not thread-safe while `ThreadedMotoServer` serves Terraform's parallel
requests on several threads (see EMULATOR_FIXES' docstring): every request runs under one lock,
the call recorder's reads of moto's state included. Installed last, so it is the outermost wrapper
of the server's WSGI application. AWS serializes nothing, but the emulator answers in
milliseconds: Terraform's time is its own waiters, not moto's answers."""

_ONE_SEND_PER_ANSWER = """
import werkzeug.serving as _serving
_serving.WSGIRequestHandler.wbufsize = 1 << 20
_make_environ = _serving.WSGIRequestHandler.make_environ
def _environ_after_interim_answers(self):
    self.wfile.flush()  # a `100 Continue` (http.server's and werkzeug's) leaves now: the client waits for it
    return _make_environ(self)
_serving.WSGIRequestHandler.make_environ = _environ_after_interim_answers
"""
"""werkzeug's development server sends an answer's status line and headers in one `send` and its
body in the next. The Terraform AWS provider's Go SDK then loses answers to a race of its own and
retries requests moto has carried out (tools/emulator_idempotency.py says how). With a 1 MiB write
buffer each answer leaves in one `send` (werkzeug flushes once per body chunk; moto answers in one
chunk), as a production server sends a small answer, and arrives whole in the client's first
read. Measured on the loaded 2-core machine (`dns` and `network` of pr-42 applied 12 times each
way, beside a busy loop): 18 requests retried with werkzeug's two sends, none with one.
`SdkRetries` keeps a retry that still happens (an answer larger than the client's 4 KiB read
buffer) harmless. The buffer is flushed before the request is read, so a client that sent
`Expect: 100-continue` gets the interim answer at once, not after its continue timeout (1 s in
botocore and the Go SDK)."""

_MOTO_MAIN = """
import os, sys, time
os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"
from moto.core.config import default_user_config
from moto.server import ThreadedMotoServer
default_user_config["lambda"]["use_docker"] = False  # moto's simple Lambda: invocations answer without running code
{fixes}
if os.environ.get("HEBO_EMULATOR_CALL_LOG"): __import__("tools.emulator_calls").emulator_calls.install()  # tools/emulator_calls
__import__("tools.emulator_idempotency").emulator_idempotency.install()  # client tokens and SDK retries: outside the recorder
{one_send}{serialize}server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
host, port = server.get_host_and_port()
url_pipe = os.dup(sys.stdout.fileno())
os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # later prints go to moto's log: nothing reads the pipe after the URL
os.write(url_pipe, f"http://{{host}}:{{port}}\\n".encode())  # the one line the parent reads, written once fd 1 is the log
os.close(url_pipe)
sys.stdin.read()  # until the parent closes it (or dies)
server.stop()
"""


_COLOUR = re.compile(r"\x1b\[[0-9;]*m")
"""The terminal colour codes werkzeug puts around a request line it logs."""
_SERVER_ERROR = re.compile(r'HTTP/1\.[01]" 5\d\d ')
"""A request line of moto's (werkzeug's) log answered with HTTP 5xx."""
_INJECTED_ANSWER = re.compile(r'HTTP/1\.[01]" 500 ')
"""A request line answered with HTTP 500, the status of an injected lost answer."""


class MotoServer:
    """A moto server in a child process, with the images of MOTO_IMAGES and EMULATOR_FIXES.

    `MOTO_IAM_LOAD_MANAGED_POLICIES=true` makes AWS-managed IAM policies (AmazonSSMManaged…)
    attachable. Use as a context manager; `url` is the endpoint. With `call_log`, every request
    the server receives is appended to that file as decoded IAM calls (tools/emulator_calls).
    A request repeating an earlier request's client token gets that request's answer, as on AWS,
    and so does an SDK's retry of a request answered with 2xx (tools/emulator_idempotency.py);
    with `lose_first_answers`, the first answer of every request with a client token is an HTTP
    500 after moto has carried it out, and that of every other changing SDK request is never
    delivered (fault injection: the client must retry, and the retry must get the original
    result).
    """

    def __init__(
        self, start_timeout: float = 60.0, call_log: Path | None = None, lose_first_answers: bool = False
    ) -> None:
        self._dir = Path(tempfile.mkdtemp(prefix="hebo-moto-"))
        amis = self._dir / "amis.json"
        defaults = {
            "state": "available",
            "public": True,
            "image_type": "machine",
            "virtualization_type": "hvm",
            "hypervisor": "xen",
            "root_device_type": "ebs",
            "root_device_name": "/dev/xvda",
            "sriov": "simple",
        }
        amis.write_text(
            json.dumps([{**defaults, "image_location": f"{i['owner_id']}/{i['name']}", **i} for i in MOTO_IMAGES])
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MOTO_"))}
        env["MOTO_AMIS_PATH"] = str(amis)
        env.update(EMULATOR_SETTINGS)
        # moto's log goes to a file, never to a pipe nobody reads: a full pipe (64 KiB of request
        # log lines and tracebacks) blocks the server thread that writes it, and every later
        # request hangs until Terraform's bound (what looked like "compute hangs" in issue 26).
        self.log_path = self._dir / "moto.log"
        env["PYTHONPATH"] = str(REPO_ROOT)  # the child imports tools.emulator_idempotency (and the recorder)
        self._call_log = Path(call_log).resolve() if call_log is not None else None
        if self._call_log is not None:
            env["HEBO_EMULATOR_CALL_LOG"] = str(self._call_log)
        self._losing = self._dir / "lose-first-answers"
        env[LOSE_FIRST_ANSWERS_ENV] = str(self._losing)
        self.lose_first_answers(lose_first_answers)
        with self.log_path.open("w") as log:
            self._process = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    _MOTO_MAIN.format(
                        fixes=EMULATOR_FIXES, one_send=_ONE_SEND_PER_ANSWER, serialize=_ONE_REQUEST_AT_A_TIME
                    ),
                ],
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
                start_new_session=True,
            )
        ready, _, _ = select.select([self._process.stdout], [], [], start_timeout)
        line = self._process.stdout.readline().strip() if ready else ""  # type: ignore[union-attr]
        if not line.startswith("http://"):
            tail = self.log_tail()
            self.stop()
            raise CheckError(f"moto did not start within {start_timeout} s: {tail}")
        self.url = line

    def lose_first_answers(self, on: bool = True) -> None:
        """Switch fault injection on or off while the server runs: when on, the first answer of
        every request with a client token is HTTP 500 after moto carried the request out, so the
        client retries it with the same token, and the first answer of every other SDK request
        that changes something is lost (the connection closes), so the SDK retries it
        (tools/emulator_idempotency.py)."""
        if on:
            self._losing.touch()
        else:
            self._losing.unlink(missing_ok=True)

    def lost_answers(self) -> list[str]:
        """The injected lost answers so far, one `<service> <operation>` each, in order (both
        kinds: an HTTP 500 for a client token, a closed connection for the rest)."""
        return [line.split(" answered")[0] for line in self._marked(LOST_ANSWER_MARK)]

    def replayed_retries(self) -> list[str]:
        """The SDK retries the emulator answered with an answer it had delivered so far (the
        client lost it: on purpose, or to the provider's own race), one `<service> <operation>`
        each, in order (tools/emulator_idempotency.py `SdkRetries`)."""
        return self._marked(REPLAYED_MARK)

    def _marked(self, mark: str) -> list[str]:
        """What follows `<mark>: ` on each of the log's lines that start with it, in order."""
        return [line.removeprefix(mark + ": ") for line in self._log_lines() if line.startswith(mark)]

    def _log_lines(self) -> list[str]:
        """moto's log so far, line by line ([] once `stop` has deleted it)."""
        try:
            return self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return []

    @property
    def pid(self) -> int:
        """The moto process's id."""
        return self._process.pid

    def log_tail(self, chars: int = 2000) -> str:
        """The end of moto's own log (request lines, tracebacks of HTTP 500 answers)."""
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def server_errors(self) -> list[str]:
        """moto's own failures so far, from its log: each HTTP 5xx answer (its request line) and
        the exception line of each traceback, in log order. Empty when moto answered every request.
        The HTTP 500 answers of `lose_first_answers` are not moto's failures: as many 500 request
        lines as the log has lost-answer lines of that kind are left out (werkzeug writes a request
        line after the answer, so the count is exact, not which line is which)."""
        lines = self._log_lines()
        found, in_traceback = [], False
        injected = sum(1 for line in lines if line.startswith(LOST_ANSWER_MARK) and ANSWERED_500 in line)
        for line in lines:
            line = _COLOUR.sub("", line)
            if injected and _INJECTED_ANSWER.search(line):
                injected -= 1
            elif line.startswith("Traceback (most recent call last)"):
                in_traceback = True
            elif in_traceback and line and not line.startswith((" ", "\t")):
                found.append(line.strip()[:300])
                in_traceback = False
            elif _SERVER_ERROR.search(line):
                found.append(line.strip()[:300])
        return found

    def environment(self, region: str = "us-east-1") -> dict[str, str]:
        """What Terraform and boto3 need to talk to this server (fake credentials)."""
        return {
            "AWS_ENDPOINT_URL": self.url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
        }

    def client(self, service: str, region: str = "us-east-1", config: Any = None) -> Any:
        """A boto3 client of this server with its fake credentials (`config`: a botocore Config,
        e.g. retries)."""
        import boto3

        env = self.environment(region)
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=region,
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            config=config,
        )

    def stop(self) -> None:
        if self._process.poll() is None:
            try:
                self._process.stdin.close()  # type: ignore[union-attr]
                self._process.wait(timeout=10)
            except (subprocess.TimeoutExpired, OSError):
                os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait(timeout=10)
        shutil.rmtree(self._dir, ignore_errors=True)

    def keep_log(self) -> Path | None:
        """Copy moto's log (every request line; tracebacks; lost-answer marks) to
        `build/moto-logs/<time>-<pid>.log`, and the call log if the server records one beside it
        (`.calls.jsonl`), before `stop` deletes the server's directory, and say where on stderr. Called when a run fails: two request lines for one create show a client's retry."""
        target = REPO_ROOT / "build" / "moto-logs" / f"{time.strftime('%Y%m%d-%H%M%S')}-{self.pid}.log"
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(self.log_path, target)
            if self._call_log is not None and self._call_log.exists():  # which operation each line was, and its status
                shutil.copyfile(self._call_log, target.with_suffix(".calls.jsonl"))
        except OSError:
            return None
        errors = self.server_errors()
        print(f"moto's log kept: {target} ({len(errors)} server error(s))", file=sys.stderr)
        return target

    def __enter__(self) -> "MotoServer":
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is not None:  # the run failed: keep what moto saw for the diagnosis
            self.keep_log()
        self.stop()


def moto_override(stack: Mapping[str, Any]) -> dict[str, Any]:
    """`moto_override.tf.json` for one stack: test-only flags on every AWS provider block.

    Terraform merges override provider blocks by name and alias. The account id is *requested*
    (moto answers STS), so cross-account formats never appear where AWS would not use them.
    Credentials are validated as in the workflow (no `skip_credentials_validation`): the provider
    then learns the account from `sts:GetCallerIdentity` alone, which needs no permission; with the
    flag it asks `iam:GetUser` first (hashicorp/aws-sdk-go-base, `GetAwsAccountIDAndPartition`),
    a call the workflow never makes and the deploy role is not granted.
    """
    flags = {"skip_metadata_api_check": True, "s3_use_path_style": True}
    blocks = []
    for config in stack.get("provider", {}).get("aws", []):
        blocks.append({**({"alias": config["alias"]} if config.get("alias") else {}), **flags})
    return {"provider": {"aws": blocks}} if blocks else {}


# --------------------------------------------------------------------------- plans


@dataclass(frozen=True)
class PlanSummary:
    """What a saved plan would do: `actions[(action, type)] = count`; `unknown` addresses of
    attributes that are unknown at plan time (`after_unknown`)."""

    stack: str
    plan: dict[str, Any]

    @property
    def changes(self) -> list[dict[str, Any]]:
        return [rc for rc in self.plan.get("resource_changes", []) if rc.get("mode") == "managed"]

    def count(self, action: str = "create") -> Counter[str]:
        return Counter(rc["type"] for rc in self.changes if action in rc["change"]["actions"])

    @property
    def pending(self) -> list[str]:
        """Addresses with any action other than no-op (what an empty plan has none of)."""
        return [rc["address"] for rc in self.changes if rc["change"]["actions"] != ["no-op"]]

    def after(self, address: str) -> dict[str, Any]:
        for rc in self.changes:
            if rc["address"] == address:
                return rc["change"]["after"] or {}
        raise KeyError(address)

    def unknown(self, address: str) -> dict[str, Any]:
        for rc in self.changes:
            if rc["address"] == address:
                return rc["change"].get("after_unknown") or {}
        raise KeyError(address)

    def line(self) -> str:
        actions = Counter(a for rc in self.changes for a in rc["change"]["actions"] if a != "no-op")
        described = ", ".join(f"{n} to {a}" for a, n in sorted(actions.items())) or "no changes"
        return f"{self.stack}: {described}"


def emulator_stack(terraform: Terraform, workspace: Workspace, stack: str) -> Path:
    """Scan copy + moto override + `terraform init` (local backend, stack-relative state path)."""
    cwd = terraform.prepare_stack(workspace, stack)
    override = moto_override(workspace.stack_json(stack))
    if override:
        (cwd / "moto_override.tf.json").write_text(json.dumps(override, indent=2))
    terraform.run("init", "-input=false", cwd=cwd)
    return cwd


def plan(terraform: Terraform, cwd: Path, stack: str, *flags: str) -> PlanSummary:
    """`plan -out <flags>` then `show -json` of the saved plan."""
    terraform.run("plan", "-input=false", "-lock-timeout=30s", "-out=tfplan", *flags, cwd=cwd)
    shown = terraform.run("show", "-json", "tfplan", cwd=cwd)
    return PlanSummary(stack, json.loads(shown.stdout))


def apply(terraform: Terraform, cwd: Path) -> None:
    """Apply the saved plan `tfplan` (from `plan`)."""
    terraform.run("apply", "-input=false", "-lock-timeout=30s", "tfplan", cwd=cwd)


APPLIED_STACKS = ("dns", "network", "data")
"""Applied to the emulator (their outputs feed the next stacks' remote state); the rest is planned."""

EMULATOR_SECRETS = {"StackProjectId": "emulator-project-id", "StackPublishableClientKey": "emulator-publishable-key"}
"""Values of the two publishable secrets edge reads as data sources: stored with `ops secrets set`
for a stage that owns its secrets, or seeded into the template stage for a preview."""

EMULATOR_DB_PASSWORD = "emulator-only-password-1"
"""`TF_VAR_db_password`, as an operator exports it for a deploy (the variable is ephemeral)."""


@dataclass
class StageRun:
    plans: dict[str, PlanSummary] = field(default_factory=dict)
    """The first plan of every stack, in dependency order."""
    second_network: PlanSummary | None = None
    applied: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    """`terraform output -json` of each applied stack (values only)."""
    template_secrets: bool = False
    """The stage reads its shared secrets from a template stage seeded in the emulator."""


def set_secrets(workspace: Workspace, server: MotoServer, values: Mapping[str, str]) -> None:
    """Store secret values with the project's own `ops secrets set`, as an operator would."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "HEBO_"))}
    env.update(
        server.environment(),
        AWS_EC2_METADATA_DISABLED="true",
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
    )
    stage = workspace.env["HEBO_STAGE"]
    for name, value in values.items():
        done = subprocess.run(
            [sys.executable, "-m", "ops", "secrets", "set", "--stage", stage, name],
            input=value,
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if done.returncode != 0:
            raise CheckError(f"ops secrets set {name} failed: {done.stderr.strip()}")


def seed_template_secrets(workspace: Workspace, server: MotoServer) -> bool:
    """A preview reads the shared secrets of its template stage (HEBO_PREVIEW_SECRETS_FROM,
    default dev) by name at plan time: create them in the emulator, as that stage's own deploy and
    `ops secrets set` would have — encrypted with the template stage's own KMS key, by its ARN, as
    its data stack creates them (the preview's execution roles are granted `kms:Decrypt` on the key
    each secret reports). The key is found by its alias or created once. Returns False (and does
    nothing) for a stage that owns them."""

    from config.naming import build_names
    from config.secrets import SHARED_BY_PREVIEWS
    from config.settings import Settings
    from config.stage import policy_for

    settings = Settings.load(workspace.env, {})
    if settings.policy.owns_app_secrets:
        return False

    def client(service: str) -> Any:
        return server.client(service, settings.region)

    template = policy_for(settings.preview_secrets_from)
    alias = build_names(settings.app, template, settings.zone).kms_alias(
        "stage" if template.shared_stage_key else "data"
    )
    kms = client("kms")
    try:
        key_arn = kms.describe_key(KeyId=alias)["KeyMetadata"]["Arn"]
    except kms.exceptions.NotFoundException:
        key_arn = kms.create_key(Tags=[{"TagKey": "stage", "TagValue": template.name}])["KeyMetadata"]["Arn"]
        kms.create_alias(AliasName=alias, TargetKeyId=key_arn)
    secrets = client("secretsmanager")
    for secret in SHARED_BY_PREVIEWS:
        secrets.create_secret(
            Name=settings.names.secret(secret),
            KmsKeyId=key_arn,
            SecretString=EMULATOR_SECRETS.get(secret, f"emulator-{secret}"),
        )
    return True


def run_stage(terraform: Terraform, workspace: Workspace, server: MotoServer, log: Any = lambda *_: None) -> StageRun:
    """Every stack in dependency order against `server`: plan, apply APPLIED_STACKS (network
    twice: its second plan must be empty), plan the rest with the real remote state.
    Raises CheckError on the first failing or timed-out command."""
    terraform.extra_env = {**server.environment(), "TF_VAR_db_password": EMULATOR_DB_PASSWORD}
    shutil.rmtree(workspace.root / "terraform-state", ignore_errors=True)  # the emulator starts empty too
    run = StageRun()
    try:
        for stack in workspace.stacks():
            started = time.monotonic()
            _run_stack(terraform, workspace, server, stack, run)
            run.seconds[stack] = time.monotonic() - started
            log(
                f"{run.plans[stack].line()}{' (applied)' if stack in run.applied else ''} in {run.seconds[stack]:.0f} s"
            )
    finally:
        terraform.extra_env = {}
    if run.second_network is None:
        raise CheckError("the stage has no network stack")
    return run


def _run_stack(terraform: Terraform, workspace: Workspace, server: MotoServer, stack: str, run: StageRun) -> None:
    if stack == "compute":
        run.template_secrets = seed_template_secrets(workspace, server)
    if stack == "edge" and not run.template_secrets:
        set_secrets(workspace, server, EMULATOR_SECRETS)
    cwd = emulator_stack(terraform, workspace, stack)
    run.plans[stack] = plan(terraform, cwd, stack)
    if stack in APPLIED_STACKS:
        apply(terraform, cwd)
        run.applied.append(stack)
        shown = json.loads(terraform.run("output", "-json", cwd=cwd).stdout)
        run.outputs[stack] = {name: item["value"] for name, item in shown.items()}
    if stack == "network":
        run.second_network = plan(terraform, cwd, stack)


def cmd_plan_local(args: argparse.Namespace) -> int:
    started = time.monotonic()
    workspace = synthesize(Path(args.work) / args.stage, variant_env(args.stage))
    pins = {k: v for s in workspace.stacks() for k, v in required_providers(workspace.stack_json(s)).items()}
    terraform, all_choices = Terraform.prepare(Path(args.work), pins)
    print_provider_choices(all_choices, pins)
    with MotoServer() as server:
        print(f"moto: {server.url}")
        run = run_stage(terraform, workspace, server, log=print)
        replayed = server.replayed_retries()
    for stack, summary in run.plans.items():
        counts = ", ".join(f"{n} {t}" for t, n in sorted(summary.count("create").items()))
        print(f"  {stack}: {'applied' if stack in run.applied else 'planned'}; creates {counts or 'nothing'}")
    pending = run.second_network.pending if run.second_network else []
    print(f"  network second plan: {'empty' if not pending else pending}")
    print(
        f"  SDK retries answered with the answer the client lost: {len(replayed)}"
        f"{' (' + ', '.join(replayed[:5]) + ')' if replayed else ''} (tools/emulator_idempotency.py)"
    )
    print(
        f"plan-local {args.stage}: done in {time.monotonic() - started:.0f} s (emulator gaps: docs/terraform-checks.md)"
    )
    return 1 if pending else 0


def main(argv: Sequence[str] | None = None) -> int:
    """`make plan-local`: apply/plan one stage's stacks against a local moto server, then a summary."""
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # progress lines reach a pipe or log as they happen
    parser = argparse.ArgumentParser(prog="moto_emulator", description=main.__doc__)
    parser.add_argument(
        "--work",
        default=str(REPO_ROOT / "build" / "terraform-check"),
        help="scratch directory (default build/terraform-check)",
    )
    parser.add_argument("--stage", default=os.environ.get("HEBO_STAGE", "pr-42"))
    args = parser.parse_args(argv)
    try:
        return cmd_plan_local(args)
    except CheckError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
