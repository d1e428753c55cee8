-- Webhook signing secrets are sealed (AES-256-GCM) in `webhook_endpoints.secret` and
-- `previous_secret`. The key is `webhooks.encryption_key`; without it, the key Tariff
-- generates at first start is kept here (one row). Secrets stored in clear before are
-- still read and are sealed by the application when it starts.
CREATE TABLE webhook_sealing_key (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    key TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
