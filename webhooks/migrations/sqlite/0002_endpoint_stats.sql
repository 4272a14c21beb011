-- Endpoint statistics: attempts of one endpoint in a time window, and an
-- endpoint's deliveries newest first (the dashboard's message list).
CREATE INDEX attempts_by_endpoint ON attempts (endpoint_id, at);
CREATE INDEX deliveries_by_endpoint_newest ON deliveries (endpoint_id, id);
