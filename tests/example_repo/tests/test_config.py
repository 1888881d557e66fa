import pytest

from tallyho.config import Config, Field, Schema, parse_bool, parse_config_text
from tallyho.errors import ConfigError, ParseError, TallyError

CONFIG_TEXT = """
# tallyho settings
name = "household"

[report]
currency = eur
width = 72
show_zero = yes
accounts = assets, expenses , ,income

; retry policy
[Fetch]
attempts = 5
"""


def schema():
    return Schema(
        {
            "name": Field(),
            "report.currency": Field(default="USD", choices=["USD", "EUR", "eur"]),
            "report.width": Field(int, default=80, minimum=40, maximum=200),
            "report.show_zero": Field(bool, default=False),
            "report.accounts": Field(list, default=[]),
            "fetch.attempts": Field(int, default=3, minimum=1),
            "fetch.timeout": Field(float, default=2.5),
        }
    )


def test_parse_bool():
    for text in ["1", "true", "YES", " on "]:
        assert parse_bool(text) is True
    for text in ["0", "False", "no", "OFF"]:
        assert parse_bool(text) is False
    with pytest.raises(ValueError, match="not a boolean"):
        parse_bool("maybe")


def test_parse_config_text():
    assert parse_config_text(CONFIG_TEXT) == {
        "name": "household",
        "report.currency": "eur",
        "report.width": "72",
        "report.show_zero": "yes",
        "report.accounts": "assets, expenses , ,income",
        "fetch.attempts": "5",
    }
    assert parse_config_text("a = 'x'\nb = \"\nc = 'y\"\nd=") == {"a": "x", "b": '"', "c": "'y\"", "d": ""}
    assert parse_config_text("k = a = b") == {"k": "a = b"}
    assert parse_config_text("e = ''\n[ Sec ]  \nk =  v  \n") == {"e": "", "sec.k": "v"}


def test_parse_config_text_errors():
    cases = [
        ("[report\nx = 1", 1, "unterminated"),
        ("\n[ ]", 2, "empty section"),
        ("a = 1\njust text", 2, "expected 'key = value'"),
        (" = 3", 1, "missing key"),
        ("[s]\na = 1\nA = 2", 3, "duplicate setting 's.a'"),
    ]
    for text, line, message in cases:
        with pytest.raises(ParseError) as info:
            parse_config_text(text)
        assert info.value.line == line
        assert message in str(info.value)


def test_load_applies_types_and_defaults():
    config = schema().load_text(CONFIG_TEXT)
    assert config["name"] == "household"
    assert config["report.width"] == 72
    assert config["report.show_zero"] is True
    assert config["report.accounts"] == ["assets", "expenses", "income"]
    assert config["fetch.attempts"] == 5
    assert config["fetch.timeout"] == 2.5
    assert config.get("missing") is None
    assert config.get("missing", 7) == 7
    assert "report.width" in config and "nope" not in config
    assert config.section("report") == {
        "currency": "eur",
        "width": 72,
        "show_zero": True,
        "accounts": ["assets", "expenses", "income"],
    }
    assert config.section("fetch") == {"attempts": 5, "timeout": 2.5}
    assert config.section("name") == {}


def test_missing_and_unknown_settings():
    with pytest.raises(ConfigError) as info:
        schema().load({})
    assert info.value.key == "name"
    assert info.value.problem == "missing required setting"
    assert str(info.value) == "name: missing required setting"
    assert isinstance(info.value, TallyError)
    with pytest.raises(ConfigError, match="unknown setting"):
        schema().load({"name": "x", "colour": "red"})
    with pytest.raises(ConfigError, match="colour: unknown setting"):
        schema().load_text("name = x\ncolour = red")
    assert schema().load_text("name = x\ncolour = red", allow_unknown=True)["name"] == "x"
    config = schema().load({"name": "x", "colour": "red"}, allow_unknown=True)
    assert "colour" not in config
    assert config["report.width"] == 80 and config["report.show_zero"] is False


def test_validation_errors():
    cases = [
        ({"report.width": "39"}, "report.width: must be >= 40"),
        ({"report.width": "201"}, "report.width: must be <= 200"),
        ({"report.width": "wide"}, "report.width: invalid literal"),
        ({"report.currency": "GBP"}, "report.currency: must be one of USD, EUR, eur"),
        ({"report.show_zero": "perhaps"}, "report.show_zero: not a boolean"),
        ({"fetch.attempts": 0}, "fetch.attempts: must be >= 1"),
    ]
    for values, message in cases:
        with pytest.raises(ConfigError) as info:
            schema().load(dict(values, name="x"))
        assert str(info.value).startswith(message)


def test_boundaries_are_inclusive_and_non_strings_pass_through():
    config = schema().load({"name": "x", "report.width": "40", "fetch.attempts": 1})
    assert config["report.width"] == 40
    assert config["fetch.attempts"] == 1
    assert schema().load({"name": "x", "report.width": 200})["report.width"] == 200
    assert schema().load({"name": "x", "report.accounts": ("a",)})["report.accounts"] == ("a",)


def test_environment_overrides():
    env = {"TALLYHO_REPORT_WIDTH": "100", "TALLYHO_NAME": "from-env", "OTHER": "1"}
    config = schema().load_text(CONFIG_TEXT, env=env)
    assert config["report.width"] == 100
    assert config["name"] == "from-env"
    assert schema().load({}, env={"TALLYHO_NAME": "only-env"})["name"] == "only-env"
    custom = Schema({"a.b": Field(int, default=1)}, env_prefix="APP_")
    assert custom.env_name("a.b") == "APP_A_B"
    assert custom.load({}, env={"APP_A_B": "9"})["a.b"] == 9


def test_field_required_and_load_file(tmp_path):
    assert Field().required is True
    assert Field(default=None).required is False
    path = tmp_path / "tallyho.ini"
    path.write_text("name = from-file\n[report]\nwidth = 60\n", encoding="utf-8")
    config = schema().load_file(path)
    assert config["name"] == "from-file"
    assert config["report.width"] == 60
    assert isinstance(config, Config)
    assert schema().load_file(path, env={"TALLYHO_REPORT_WIDTH": "61"})["report.width"] == 61
