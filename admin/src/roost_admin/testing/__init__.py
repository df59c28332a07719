"""Test helpers of the admin (not used at run time).

- :class:`~roost_admin.testing.oidc.TestIssuer`: a small OpenID Connect issuer on a loopback port, standing in
  for an external identity provider.
- :mod:`~roost_admin.testing.server`: `roost start` in a subprocess on ports the system picks
  (:func:`~roost_admin.testing.server.start_roost`), and the environment of client commands that reach it.
"""
