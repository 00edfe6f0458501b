-- Stitching at ingest on PostgreSQL (store/postgres/identity.py) loads only the persons an
-- append touches: all members of a person (person_id), the refusals of a person
-- (person_id), and the next first_seen (max(first_seen)) must each be an index lookup, not a
-- scan of the whole graph per batch.
CREATE INDEX identity_identifiers_person ON identity_identifiers (person_id);
CREATE INDEX identity_identifiers_first_seen ON identity_identifiers (first_seen);
CREATE INDEX identity_refused_person ON identity_refused (person_id);
