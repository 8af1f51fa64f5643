"""Shared expectations: the seeds' synchronisation record and the configuration file example."""

#: Every field of the synchronisation record in the product documents.
SEED_RUN_FIELDS = frozenset(
    {
        "id",
        "workspace_id",
        "type",
        "status",
        "infos",
        "created_at",
        "started_at",
        "ended_at",
        "updated_at",
        "deleted_at",
        "runner",
        "created_by_user_id",
    }
)

#: The configuration example of the first issue; ``${WAREHOUSE_URL}`` names the warehouse.
EXAMPLE_CONFIG = """
sources:   {shop: {type: sql, url: "sqlite:///shop.db"}}
models:    {products: {source: shop, query: "SELECT * FROM products", primary_key: id}}
destinations: {warehouse: {type: sql, url: "${WAREHOUSE_URL}", table: products}}
syncs:
  products_to_warehouse: {model: products, destination: warehouse, mode: mirror, type: resources_update}
"""
