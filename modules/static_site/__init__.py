"""The console static site: CloudFront distribution, content upload, invalidation (its bucket is
`modules/private_bucket.py`, shared with the ALB access logs).

Nothing here knows about Hebo or stages; `stacks/edge.py` composes these with the stage policy.
"""
