"""DNS-validated ACM certificates and A/AAAA alias records in a Route 53 zone."""

from __future__ import annotations

from typing import Any, Literal, Sequence

from modules.cdk import Construct, TerraformIterator, TerraformResourceLifecycle, Token, aws


class DnsValidatedCertificate(Construct):
    """An ACM certificate for one domain (and optional alternative names), validated by one
    record per name in `zone_id`.

    `certificate_arn` comes from the validation resource, so consumers wait until it is issued.
    Pass the us-east-1 provider for CloudFront certificates.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        domain_name: str,
        zone_id: str,
        subject_alternative_names: Sequence[str] = (),
        provider: Any = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.certificate = aws.acm_certificate.AcmCertificate(
            self,
            "certificate",
            domain_name=domain_name,
            subject_alternative_names=list(subject_alternative_names) or None,
            validation_method="DNS",
            key_algorithm="EC_prime256v1",
            options=aws.acm_certificate.AcmCertificateOptions(certificate_transparency_logging_preference="ENABLED"),
            lifecycle=TerraformResourceLifecycle(create_before_destroy=True),
            provider=provider,
        )
        # One record per name, keyed by the names themselves: they are known when synthesizing,
        # whereas keys taken from `domain_validation_options` are unknown at plan for a new
        # certificate with alternative names ("Invalid for_each argument", seen with provider
        # 5.100.0; the provider's docs key by `dvo.domain_name` and hit the same limit). The
        # record values are looked up by name from the options at apply time.
        names = [domain_name, *subject_alternative_names]
        each = TerraformIterator.from_map({name: name for name in names})
        options = f"{{ for o in {self.certificate.fqn}.domain_validation_options : o.domain_name => o }}"

        def option(attribute: str) -> str:
            return f"${{{options}[each.key].{attribute}}}"

        record = aws.route53_record.Route53Record(
            self,
            "validation",
            for_each=each,
            zone_id=zone_id,
            name=option("resource_record_name"),
            type=option("resource_record_type"),
            records=[option("resource_record_value")],
            ttl=60,
            allow_overwrite=True,
        )
        self.validation = aws.acm_certificate_validation.AcmCertificateValidation(
            self,
            "validated",
            certificate_arn=self.certificate.arn,
            validation_record_fqdns=Token.as_list(TerraformIterator.from_resources(record).pluck_property("fqdn")),
            provider=provider,
        )

    @property
    def certificate_arn(self) -> str:
        """ARN of the certificate once DNS validation completed (what listeners and distributions use)."""
        return self.validation.certificate_arn


def alias_records(
    scope: Construct,
    construct_id: str,
    *,
    zone_id: str,
    name: str,
    target_dns_name: str,
    target_zone_id: str,
    target_kind: Literal["load_balancer", "cloudfront"] = "load_balancer",
) -> list[Any]:
    """A and AAAA alias records (IPv4 and IPv6 clients) pointing `name` at an ALB or CloudFront.

    `target_dns_name` is the target's own DNS name (`aws_lb.dns_name`, the distribution's
    `domain_name`). Load balancer aliases target `dualstack.<dns_name>`: Route 53 only answers
    AAAA queries for an Elastic Load Balancing target with the `dualstack.` prefix
    (Route 53 API, AliasTarget.DNSName; the console adds the prefix itself). They evaluate the
    target's health; CloudFront aliases must not (Route 53 rejects `evaluate_target_health`
    there) and need no prefix (an IPv6-enabled distribution answers AAAA).
    """
    load_balancer = target_kind == "load_balancer"
    alias_name = f"dualstack.{target_dns_name}" if load_balancer else target_dns_name
    return [
        aws.route53_record.Route53Record(
            scope,
            f"{construct_id}_{record_type.lower()}",
            zone_id=zone_id,
            name=name,
            type=record_type,
            alias=aws.route53_record.Route53RecordAlias(
                name=alias_name, zone_id=target_zone_id, evaluate_target_health=load_balancer
            ),
        )
        for record_type in ("A", "AAAA")
    ]
