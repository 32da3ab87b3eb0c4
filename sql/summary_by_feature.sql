-- fixloop summary by feature (SPEC §4.1): each event scores 1.0 accepted, 0.0 rejected,
-- -0.5 undone, else 0.5 (in that order); with an improvement ratio the score becomes
-- (score + ratio) / 2. The feature's score is the mean, its factor 0.5 + (score - 0.5) * 0.5.
SELECT
  feature_name,
  samples,
  score,
  0.5 + (score - 0.5) * 0.5 AS factor,
  accepts,
  rejects,
  modifies,
  undos,
  improvement_samples
FROM (
  SELECT
    feature_name,
    COUNT(*) AS samples,
    AVG(CASE WHEN improvement_ratio IS NULL THEN base ELSE (base + improvement_ratio) / 2.0 END) AS score,
    CAST(SUM(CASE WHEN user_action = 'accept' THEN 1 ELSE 0 END) AS BIGINT) AS accepts,
    CAST(SUM(CASE WHEN user_action = 'reject' THEN 1 ELSE 0 END) AS BIGINT) AS rejects,
    CAST(SUM(CASE WHEN user_action = 'modify' THEN 1 ELSE 0 END) AS BIGINT) AS modifies,
    CAST(SUM(CASE WHEN was_undone THEN 1 ELSE 0 END) AS BIGINT) AS undos,
    COUNT(improvement_ratio) AS improvement_samples
  FROM (
    SELECT
      feature_name, user_action, was_undone, improvement_ratio,
      CASE
        WHEN user_action = 'accept' THEN 1.0
        WHEN user_action = 'reject' THEN 0.0
        WHEN was_undone THEN -0.5
        ELSE 0.5
      END AS base
    FROM events
  ) scored
  GROUP BY feature_name
) t
ORDER BY feature_name
