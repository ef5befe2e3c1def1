"""``python -m bproc_factory`` runs the command line."""
from bproc_factory.cli import main

main()
