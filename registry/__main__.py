"""`python -m registry` is the `modelyard` command."""
from registry.cli import main

main()
