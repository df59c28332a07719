"""The engine side of the sample plugin: the ``sqlblob://`` store (engines load ``roost.engine`` only)."""

from roost_sample_plugin.sqlblob import roost_blob_stores

__all__ = ["roost_blob_stores"]
