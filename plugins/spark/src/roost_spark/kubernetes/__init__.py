"""Spark tasks as spark-operator SparkApplications (``roost-spark[kubernetes]``): the ``spark-kubernetes``
handler and its settings."""
