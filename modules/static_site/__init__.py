"""The console static site: private bucket, CloudFront distribution, content upload, invalidation.

Nothing here knows about Hebo or stages; `stacks/edge.py` composes these with the stage policy.
"""
