pub mod fake_outbox;
