-- Identity stitched at ingest (issue 6): one row per current person, for `convtrack query`
-- and reports: how big each person is, by kind, and when its first identifier arrived.
-- A view over identity_identifiers, so it is never out of step with the graph.
CREATE VIEW identity_persons AS
SELECT
    person_id,
    count(*)                                        AS identifiers,
    count(*) FILTER (WHERE kind = 'anonymous_id')   AS anonymous_ids,
    count(*) FILTER (WHERE kind = 'user_id')        AS user_ids,
    min(first_seen)                                 AS first_seen
FROM identity_identifiers
GROUP BY person_id;
