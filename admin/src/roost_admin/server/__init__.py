"""The gRPC transport: flyteidl's AdminService, DataProxyService and SignalService as thin adapters over the
admin's services (:mod:`roost_admin.services`), the edge every call passes, and the one mapping of errors to
statuses (:mod:`roost_admin.server.errors`)."""
