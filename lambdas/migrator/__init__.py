"""The migrator Lambda: `migrator/` is its runtime (the zip's top-level `migrator` package, handler
`migrator.handler.lambda_handler`), `bundle.py` builds that zip at synth (`stacks/data.py` imports
`lambdas.migrator.bundle`), `ca/` and `requirements.txt` ship with it. See README.md here."""
