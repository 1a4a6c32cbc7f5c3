-- What a personal API token may do: `read` tokens only read (GET, HEAD);
-- `write` tokens have the account's rights. Tokens made before scopes
-- existed keep what they had.
ALTER TABLE api_tokens
    ADD COLUMN scope TEXT NOT NULL DEFAULT 'write' CHECK (scope IN ('read', 'write'));
