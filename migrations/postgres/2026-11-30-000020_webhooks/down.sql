DROP TABLE webhook_deliveries;
DROP TABLE webhook_sequences;
DROP TABLE webhook_events;
DROP TABLE webhook_endpoints;
