"""`python -m maillog_diag` runs the command line."""

from .cli import main

main()
