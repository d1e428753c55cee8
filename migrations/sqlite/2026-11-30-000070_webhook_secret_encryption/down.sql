-- Sealed secrets cannot be turned back into clear ones by SQL: reverting needs the
-- application (or new secrets via rotate-secret).
DROP TABLE webhook_sealing_key;
