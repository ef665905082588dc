"""`python -m maillog_diag` runs the command line."""

from maillog_diag.cli.app import main

main()
