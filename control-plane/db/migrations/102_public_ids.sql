-- Ids as clients see them (issue 15, docs/ids.md): events and clicks are stored as UUIDv7 and shown
-- as `<prefix>_` + the same 16 bytes in Crockford base32 (26 characters: two zero bits, then the
-- 128), like every ULID-based id. control-plane/ids.ts does the same in TypeScript; this one serves
-- the click exports, which Postgres writes itself (COPY … TO STDOUT).
CREATE FUNCTION linkplane_public_id(prefix text, u uuid) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT prefix || '_' || string_agg(substr('0123456789ABCDEFGHJKMNPQRSTVWXYZ', substring(s.b FROM i * 5 + 1 FOR 5)::int + 1, 1), '' ORDER BY i)
    FROM (SELECT B'00' || ('x' || replace(u::text, '-', ''))::bit(128) AS b) s, generate_series(0, 25) AS i
$$;
