"""Built-in sources and destinations, written against the SDK only, and plugin discovery."""
