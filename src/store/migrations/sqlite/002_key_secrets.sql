-- SigV4 secrets for API keys (Lambda Invoke API). The access key id is the key's id; the secret
-- is stored encrypted with the server's master key (AES-256-GCM, `v1.<base64url>`), never in
-- clear. NULL: the key authenticates with its bearer token only.
ALTER TABLE api_keys ADD COLUMN sigv4_secret TEXT;
