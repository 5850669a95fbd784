"""`python -m governance` = `daisee-governance` (before the package is reinstalled with its entry point)."""
from governance.cli import main

main()
