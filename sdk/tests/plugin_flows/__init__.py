"""Modules of plugin-style tasks and workflows (task classes, the sample plugin), outside flows/ whose workflows the CLI tests count."""
