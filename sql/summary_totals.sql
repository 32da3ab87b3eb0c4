-- fixloop summary, totals (SPEC §4.1), over the view `events` of fixloop.events/1 files.
-- Runs unchanged on Spark SQL and DuckDB (see sql/README.md).
SELECT
  COUNT(*) AS total,
  CAST(SUM(CASE WHEN user_action = 'accept' THEN 1 ELSE 0 END) AS DOUBLE) / COUNT(*) AS accept_rate,
  CAST(SUM(CASE WHEN was_undone THEN 1 ELSE 0 END) AS DOUBLE) / COUNT(*) AS undo_rate,
  COALESCE(AVG(improvement_ratio), 0.0) AS avg_improvement
FROM events
