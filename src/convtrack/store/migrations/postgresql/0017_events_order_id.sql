-- Order ids are looked up by value: an adjustment's claim finds its original conversion by
-- order_id (forward/original.py), and counting rules group by it. Without an index every
-- claim holding an adjustment scanned the whole events table inside its transaction.
CREATE INDEX events_order_id ON events (order_id) WHERE order_id IS NOT NULL;
