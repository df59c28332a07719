"""The node kinds (one module each), their shared task-attempt machinery, and the dispatcher."""
