-- Unique visitors (issue 17): click_visitors keeps one 16-byte key per (link, visitor) instead of the
-- link id text and the visitor hash. The key is the visitor hash XOR the first 16 bytes of md5(link
-- id): one-to-one for a given link, and two different (link, visitor) pairs meet only if two
-- hashes under the nodes' secret daily salt differ by exactly the XOR of two link digests (2^-128 a
-- pair). A uuid compares as 16 bytes where the text link id went through the collation, and the
-- index entry is half as wide: the visitor set is the largest per-click cost of ingest after the
-- raw row. Ingest computes the same key (click-writer.ts visitorKeys); this function is the SQL
-- spelling, for this migration and for tools.
CREATE FUNCTION linkplane_visitor_key(link_id text, visitor_hash bytea) RETURNS uuid
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT (lpad(to_hex(('x' || substr(encode(visitor_hash, 'hex'), 1, 16))::bit(64)::bigint
                      # ('x' || substr(md5(link_id), 1, 16))::bit(64)::bigint), 16, '0')
       || lpad(to_hex(('x' || substr(encode(visitor_hash, 'hex'), 17, 16))::bit(64)::bigint
                      # ('x' || substr(md5(link_id), 17, 16))::bit(64)::bigint), 16, '0'))::uuid
$$;

ALTER TABLE click_visitors ADD COLUMN visitor_key uuid;
UPDATE click_visitors SET visitor_key = linkplane_visitor_key(link_id, visitor_hash);
ALTER TABLE click_visitors DROP CONSTRAINT click_visitors_pkey;
ALTER TABLE click_visitors DROP COLUMN link_id, DROP COLUMN visitor_hash;
ALTER TABLE click_visitors ALTER COLUMN visitor_key SET NOT NULL;
ALTER TABLE click_visitors ADD PRIMARY KEY (visitor_key, day);
