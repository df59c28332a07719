"""Local execution: the same compiler and engine as the server, with tasks run in this process."""
