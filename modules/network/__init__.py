"""Network constructs: VPC layout, EC2 NAT instances, SSM bastion, security groups, flow logs."""
