"""Messages and the clients that carry them: HTTP to the cloud, websockets to the aggregator."""
