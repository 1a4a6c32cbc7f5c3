-- 0004 brings SQLite's password credentials to Nile's JSON payload
-- {"crypt", "hash"}, which PostgreSQL has had since 0001. Nothing to change
-- here; the version exists so both backends keep the same numbering.
SELECT 1;
