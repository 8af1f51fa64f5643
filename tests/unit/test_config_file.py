import pytest

from syncwright.domain.errors import ConfigError
from syncwright.domain.statuses import WriteMode
from syncwright.services.config_file import parse_config
from tests.support.examples import EXAMPLE_CONFIG

GOOD = EXAMPLE_CONFIG


def test_a_good_file_parses_with_defaults_and_variables():
    doc = parse_config(GOOD, env={"WAREHOUSE_URL": "sqlite:///w.db"})
    sync = doc.syncs["products_to_warehouse"]
    assert sync.mode is WriteMode.MIRROR and sync.batch_size == 1000
    assert doc.models["products"].primary_key == ["id"]
    assert doc.destinations["warehouse"].settings() == {
        "url": "sqlite:///w.db",
        "table": "products",
    }


@pytest.mark.parametrize(
    ("text", "field", "message"),
    [
        (GOOD.replace("mode: mirror", "mode: merge"), "syncs.products_to_warehouse.mode", "insert"),
        (
            GOOD.replace("primary_key: id", "primary_key: []"),
            "models.products.primary_key",
            "at least one",
        ),
        (
            GOOD.replace("source: shop,", "source: shop, colour: red,"),
            "models.products.colour",
            "unknown key",
        ),
        (GOOD + "\nextra: 1\n", "extra", "unknown key (known: alert_channels"),
        (
            GOOD.replace("mode: mirror", "mode: mirror, batch_size: 0"),
            "syncs.products_to_warehouse.batch_size",
            "greater",
        ),
    ],
)
def test_a_bad_file_names_the_wrong_field(text, field, message):
    with pytest.raises(ConfigError) as caught:
        parse_config(text, env={"WAREHOUSE_URL": "x"})
    assert caught.value.field == field
    assert message in str(caught.value)


def test_a_missing_variable_names_where_it_was_used():
    with pytest.raises(ConfigError) as caught:
        parse_config(GOOD, env={})
    assert caught.value.field == "destinations.warehouse.url"
    assert "WAREHOUSE_URL" in str(caught.value)


def test_broken_yaml_is_refused_clearly():
    with pytest.raises(ConfigError, match="not valid YAML"):
        parse_config("sources: {shop: [", env={})


@pytest.mark.parametrize(
    ("typo", "field", "suggested"),
    [
        ("mode: mirror", "syncs.products_to_warehouse.mdoe", "mode"),
        ("mode: mirror", "syncs.products_to_warehouse.retry.retires", "retries"),
        ("primary_key: id", "models.products.primary_kye", "primary_key"),
    ],
)
def test_an_unknown_key_is_named_with_the_closest_known_one(typo, field, suggested):
    *_, wrong = field.split(".")
    value = "{retires: 3}" if wrong == "retires" else typo.split(": ")[1]
    replacement = f"{typo}, retry: {value}" if wrong == "retires" else f"{wrong}: {value}"
    text = GOOD.replace(typo, replacement)
    with pytest.raises(ConfigError) as caught:
        parse_config(text, env={"WAREHOUSE_URL": "x"})
    assert caught.value.field == field
    assert caught.value.message == f"unknown key; did you mean {suggested!r}?"


def test_a_connectors_unknown_setting_is_named_with_the_closest_one():
    from syncwright.connectors.sql.destination import SqlDestinationConfig

    with pytest.raises(ConfigError) as caught:
        SqlDestinationConfig.parse({"url": "sqlite:///x.db", "tabel": "t"}, where="warehouse")
    assert caught.value.field == "warehouse.tabel"
    assert caught.value.message == "unknown key; did you mean 'table'?"


def test_a_key_given_twice_is_refused_naming_both_lines():
    text = GOOD.replace("syncs:\n", "syncs:\n  products_to_warehouse: {model: products}\n", 1)
    assert text != GOOD
    with pytest.raises(ConfigError) as caught:
        parse_config(text, env={"WAREHOUSE_URL": "x"})
    assert "the key 'products_to_warehouse' is given twice (first on line" in str(caught.value)
