"""The platform's shape that is not a name: which services exist, their ports, the database.

Each constant has this one home; security groups, load balancers, task definitions, the
migrator and the docs all read it here.
"""

from __future__ import annotations

SERVICES = ("api", "gateway")
"""The container services; `console` is the static site."""
SERVICE_PORTS = {"api": 3001, "gateway": 3002}
"""Container (and target group) port of each service; security groups and ALBs read it here."""
LISTENER_RULE_PRIORITIES = {"api": 10, "gateway": 20}
"""Host-header rule priority of each service on a shared load balancer (1-50000, unique)."""
APPS = ("api", "gateway", "console")
"""Everything that gets a public domain (`{app}.hebo.ai`)."""
POSTGRES_PORT = 5432
"""The port Aurora, RDS Proxy and the security group rules use."""
DATABASE_NAME = "hebo"
"""The application database Aurora creates and the migrator and services connect to."""
DB_APP_USER = "hebo_app"
"""The PostgreSQL role the services log in as (`PG_USER`): DML only, created by the migrator
(lambdas/migrator/migrator/app_role.py); its password is the `DbAppCredentials` secret."""
HTTPS_PORT = 443
SECURITY_GROUP_ROLES = ("alb", "service", "database", "migrator", "bastion", "db-proxy")
"""Every exportable security group role (the NAT group is internal to the network stack)."""
NAT_SECURITY_GROUP = "nat"
"""The NAT instances' security group role, internal to the network stack."""
