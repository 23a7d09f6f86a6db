"""Lambda functions: each a package holding its runtime (what ships in the zip) and the build
code that bundles it (what synth imports), side by side. Nothing here imports config, stacks,
modules or ops: a bundle must run on its own."""
