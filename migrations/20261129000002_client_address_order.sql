-- Address allocation asks for the highest address taken in a node's half of its pool: one index
-- probe instead of reading every address of the node (which made a creation O(clients on node)).
CREATE INDEX clients_node_address_inet ON clients (node_id, (address::inet)) WHERE address IS NOT NULL;
