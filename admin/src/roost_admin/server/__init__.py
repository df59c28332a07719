"""The gRPC services: flyteidl's AdminService, DataProxyService and SignalService."""
