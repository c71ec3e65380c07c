"""`python -m briefmail`: the same command as the `briefmail` script."""

from briefmail.cli import main

main()
