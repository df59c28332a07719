"""Working with a Roost (or Flyte) admin: register code, launch executions, follow and fetch them.

``import roost`` does not import this package (it pulls in gRPC); the CLI's remote commands do.
"""

from roost.remote.client import RemoteClient
from roost.remote.config import ClientConfig
from roost.remote.register import Registration, register

__all__ = ["ClientConfig", "Registration", "RemoteClient", "register"]
