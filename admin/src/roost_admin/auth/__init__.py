"""Authentication and authorization: bearer tokens (from the built-in authorization server or an external
OpenID Connect issuer), per-project roles enforced on every RPC and HTTP route, and TLS.

Importing this package loads nothing but its settings; the rest is imported by the admin when auth is on.
"""
