"""`python -m ivr`: the `ivr` command, for where its script is not on PATH."""

from ivr.cli import main

main(prog_name="ivr")
