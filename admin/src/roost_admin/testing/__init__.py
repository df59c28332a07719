"""Test helpers of the admin (not used at run time).

- :class:`~roost_admin.testing.oidc.TestIssuer`: a small OpenID Connect issuer on a loopback port, standing in
  for an external identity provider.
"""
