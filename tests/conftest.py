"""Shared by the repository-level tests: this folder is on ``sys.path`` (so ``example_cases`` imports)."""
