"""Configuration: the stage policy, settings, physical names, the secret catalog and the platform's
topology constants. Plain Python with no cdktf import, so `ops` and `stacks` both build on it and
neither depends on the other. Nothing here imports `stacks`, `modules` or `ops`."""
