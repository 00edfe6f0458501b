-- One row per current person (a view over identity_identifiers, never out of step).
CREATE VIEW identity_persons AS
SELECT
    person_id,
    count(*)                                        AS identifiers,
    count(*) FILTER (WHERE kind = 'anonymous_id')   AS anonymous_ids,
    count(*) FILTER (WHERE kind = 'user_id')        AS user_ids,
    min(first_seen)                                 AS first_seen
FROM identity_identifiers
GROUP BY person_id;
