"""Roost's built-in task handlers, which need no outside system: echo, sleep and local process."""
