-- Password credentials in Nile's shape, as on PostgreSQL: the payload is a
-- JSON object {"crypt": "argon2id", "hash": "<PHC string>"}, so one query
-- reads the hash on both backends (payload ->> 'hash').
UPDATE credentials
SET payload = json_object('crypt', 'argon2id', 'hash', payload)
WHERE NOT json_valid(payload);
