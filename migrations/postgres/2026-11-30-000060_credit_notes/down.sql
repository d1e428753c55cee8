DROP TABLE credit_notes;
DROP TABLE credit_note_counters;
