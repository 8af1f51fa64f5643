"""The HTTP API (``/api/v1``): a thin shell over the services, served by ``syncwright serve``."""
