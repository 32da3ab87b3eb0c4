-- fixloop summary by fix type: the seed's effectiveness (SPEC §4.1),
--   effectiveness = 0.4 * accept_rate + 0.4 * avg_improvement + 0.2 * (1 - undo_rate),
-- avg_improvement the mean of the non-null improvement ratios (0 when none).
-- successes / failures are the seed confidence rule's evidence (SPEC §4.2): pooled, the
-- confidence is their Beta view, not the order-dependent sequential rule.
SELECT
  fix_type,
  samples,
  accept_rate,
  avg_improvement,
  undo_rate,
  0.4 * accept_rate + 0.4 * avg_improvement + 0.2 * (1.0 - undo_rate) AS effectiveness,
  accepts,
  rejects,
  modifies,
  undos,
  improvement_samples,
  successes,
  failures
FROM (
  SELECT
    fix_type,
    COUNT(*) AS samples,
    CAST(SUM(CASE WHEN user_action = 'accept' THEN 1 ELSE 0 END) AS BIGINT) AS accepts,
    CAST(SUM(CASE WHEN user_action = 'reject' THEN 1 ELSE 0 END) AS BIGINT) AS rejects,
    CAST(SUM(CASE WHEN user_action = 'modify' THEN 1 ELSE 0 END) AS BIGINT) AS modifies,
    CAST(SUM(CASE WHEN was_undone THEN 1 ELSE 0 END) AS BIGINT) AS undos,
    COUNT(improvement_ratio) AS improvement_samples,
    CAST(SUM(CASE WHEN user_action = 'accept' THEN 1 ELSE 0 END) AS DOUBLE) / COUNT(*) AS accept_rate,
    CAST(SUM(CASE WHEN was_undone THEN 1 ELSE 0 END) AS DOUBLE) / COUNT(*) AS undo_rate,
    COALESCE(AVG(improvement_ratio), 0.0) AS avg_improvement,
    CAST(SUM(CASE WHEN user_action = 'accept' AND improvement_ratio > 0.5 THEN 1 ELSE 0 END) AS BIGINT) AS successes,
    CAST(SUM(CASE
      WHEN user_action = 'accept' AND improvement_ratio > 0.5 THEN 0
      WHEN was_undone OR user_action = 'reject' THEN 1
      ELSE 0 END) AS BIGINT) AS failures
  FROM events
  GROUP BY fix_type
) t
ORDER BY fix_type
