"""HTTP connectors: a JSON API source and an HTTP / webhook destination."""
