-- Stats group by every stored click field (issue 15): the rollups gain the dimensions language,
-- rule, node and utm_source … utm_content. Ingest writes them from now on; this fills them in for
-- the raw clicks still kept (older hours keep only the first seven dimensions). Visitors count as
-- ingest counts them: at a visitor's first stored click of the UTC day on the link.
INSERT INTO click_rollups (link_id, dim, hour, value, bot, workspace_id, clicks, visitors)
WITH c AS (
  SELECT link_id, workspace_id, occurred_at, bot, language, rule_id, node_id, utm,
         row_number() OVER (PARTITION BY link_id, (occurred_at AT TIME ZONE 'UTC')::date, visitor_hash
                            ORDER BY received_at, id) = 1 AS first
    FROM clicks)
SELECT c.link_id, d.dim, date_trunc('hour', c.occurred_at, 'UTC'), d.value, c.bot, c.workspace_id,
       count(*), count(*) FILTER (WHERE c.first)
  FROM c CROSS JOIN LATERAL (VALUES
    ('language', coalesce(c.language, '')),
    ('rule', coalesce(c.rule_id, '')),
    ('node', c.node_id),
    ('utm_source', coalesce(c.utm->>'source', '')),
    ('utm_medium', coalesce(c.utm->>'medium', '')),
    ('utm_campaign', coalesce(c.utm->>'campaign', '')),
    ('utm_term', coalesce(c.utm->>'term', '')),
    ('utm_content', coalesce(c.utm->>'content', ''))) AS d(dim, value)
 GROUP BY 1, 2, 3, 4, 5, 6
ON CONFLICT (link_id, dim, hour, value, bot) DO NOTHING;
