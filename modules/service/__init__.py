"""Constructs for a containerised HTTP service on ECS Fargate: cluster, image, load balancer,
service, autoscaling and alarms, and `pattern.LoadBalancedFargateService`, which wires them for
one service. They know nothing about Hebo or stages; stacks/compute.py composes them and passes
the stage policy's values in."""
