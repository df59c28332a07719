-- The table examples/trino_trips.py queries, for a test coordinator:
--   python -m roost_presto.testing --setup examples/trino_trips.sql
CREATE TABLE memory.default.trips AS
SELECT * FROM (VALUES
    (1, 'ams', DATE '2024-01-01', 12.50),
    (2, 'ber', DATE '2024-01-01', 7.25),
    (3, 'ams', DATE '2024-01-01', 3.00),
    (4, 'cdg', DATE '2024-01-02', 20.00),
    (5, 'ams', DATE '2024-01-02', 9.75),
    (6, 'ber', DATE '2024-01-01', 4.75)
) AS t(id, city, ds, fare);
