-- The per-session A/B table fixloop's analysis reads (`fixloop ab status --sessions`):
-- one row per (test, arm, session) with the sums the session-level analysis needs.
-- `explode` is Spark's; DuckDB runs it after `CREATE MACRO explode(l) AS unnest(l)`.
SELECT
  a.test_id AS test_id,
  a.arm AS arm,
  session_id,
  COUNT(*) AS events,
  CAST(SUM(CASE WHEN user_action = 'accept' THEN 1 ELSE 0 END) AS BIGINT) AS accepts,
  CAST(SUM(CASE WHEN was_undone THEN 1 ELSE 0 END) AS BIGINT) AS undos,
  COUNT(improvement_ratio) AS improvements,
  COALESCE(SUM(improvement_ratio), 0.0) AS improvement_sum,
  COALESCE(SUM(improvement_ratio * improvement_ratio), 0.0) AS improvement_sum_sq,
  MIN(session_start_mean_abs_z) AS covariate,
  MIN(timestamp) AS first_event
FROM (
  SELECT session_id, user_action, was_undone, improvement_ratio, session_start_mean_abs_z,
         timestamp, explode(ab) AS a
  FROM events
) assigned
GROUP BY a.test_id, a.arm, session_id
ORDER BY test_id, arm, session_id
