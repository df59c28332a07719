"""A sample Roost plugin, installed into the SDK's test environment as a user installs a plugin.

- ``Grid``: a data frame kind (a small column-oriented table), stored as JSON lines on any blob store, or as
  rows of a SQLite table at ``gridtable://<table>`` (a protocol whose data is not files at all);
- ``sqlblob://<database>/<key>``: a blob store keeping blobs in SQLite databases;
- ``Audited``: a task config whose task class opens an audit ledger before the function runs, hands it to
  the task as ``current_context().ledger`` (typed: ``LEDGER.get()``) and closes it afterwards.
"""

from roost_sample_plugin.grid import Grid
from roost_sample_plugin.ledger import LEDGER, Audited, AuditedTask, AuditLedger

__all__ = ["LEDGER", "AuditLedger", "Audited", "AuditedTask", "Grid"]
