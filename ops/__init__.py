"""Small boto3 commands that make the platform deployable: `bin/ops --help`.

Pure boto3 plus the pure-Python catalogs in `config/` (secrets, settings, stage rules); nothing
here imports cdktf, so the commands start in well under a second.
"""
