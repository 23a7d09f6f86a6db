"""Database constructs: an Aurora Serverless v2 cluster and an RDS Proxy in front of it."""
