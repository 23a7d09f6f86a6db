"""The console's bucket: the generic `modules.private_bucket.PrivateBucket` (kept importable here)."""

from modules.private_bucket import PrivateBucket, PrivateBucketProps

__all__ = ["PrivateBucket", "PrivateBucketProps"]
