"""Typed settings loaded from INI-style text, with defaults and overrides."""

from .errors import ConfigError, ParseError

_REQUIRED = object()
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def parse_bool(text):
    value = text.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"not a boolean: {text!r}")


def _unquote(value):
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def parse_config_text(text):
    """Read ``[section]`` / ``key = value`` text into a flat ``{"section.key": str}``."""
    values = {}
    section = None
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            if not line.endswith("]"):
                raise ParseError("unterminated section header", lineno)
            section = line[1:-1].strip().lower()
            if not section:
                raise ParseError("empty section name", lineno)
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise ParseError(f"expected 'key = value', got {line!r}", lineno)
        key = key.strip().lower()
        if not key:
            raise ParseError("missing key", lineno)
        full = key if section is None else f"{section}.{key}"
        if full in values:
            raise ParseError(f"duplicate setting {full!r}", lineno)
        values[full] = _unquote(value.strip())
    return values


class Field:
    """Description of one setting: its type, default and constraints."""

    def __init__(self, kind=str, default=_REQUIRED, choices=None, minimum=None, maximum=None):
        self.kind = kind
        self.default = default
        self.choices = tuple(choices) if choices is not None else None
        self.minimum = minimum
        self.maximum = maximum

    @property
    def required(self):
        return self.default is _REQUIRED

    def convert(self, key, raw):
        if isinstance(raw, str):
            try:
                if self.kind is bool:
                    value = parse_bool(raw)
                elif self.kind is list:
                    value = [item.strip() for item in raw.split(",") if item.strip()]
                else:
                    value = self.kind(raw)
            except ValueError as exc:
                raise ConfigError(key, str(exc)) from None
        else:
            value = raw
        return self.validate(key, value)

    def validate(self, key, value):
        if self.choices is not None and value not in self.choices:
            allowed = ", ".join(map(str, self.choices))
            raise ConfigError(key, f"must be one of {allowed}")
        if self.minimum is not None and value < self.minimum:
            raise ConfigError(key, f"must be >= {self.minimum}")
        if self.maximum is not None and value > self.maximum:
            raise ConfigError(key, f"must be <= {self.maximum}")
        return value


class Config:
    """Read-only view over validated settings."""

    def __init__(self, values):
        self._values = dict(values)

    def __getitem__(self, key):
        return self._values[key]

    def __contains__(self, key):
        return key in self._values

    def get(self, key, default=None):
        return self._values.get(key, default)

    def section(self, name):
        prefix = name + "."
        return {k[len(prefix):]: v for k, v in self._values.items() if k.startswith(prefix)}


class Schema:
    """A set of :class:`Field` definitions keyed by ``section.name``."""

    def __init__(self, fields, env_prefix="TALLYHO_"):
        self.fields = dict(fields)
        self.env_prefix = env_prefix

    def env_name(self, key):
        return self.env_prefix + key.replace(".", "_").upper()

    def load(self, values, env=None, allow_unknown=False):
        """Validate *values*; entries in *env* take precedence over them."""
        if not allow_unknown:
            for key in values:
                if key not in self.fields:
                    raise ConfigError(key, "unknown setting")
        result = {}
        for key, field in self.fields.items():
            raw = values.get(key, _REQUIRED)
            if env is not None:
                raw = env.get(self.env_name(key), raw)
            if raw is _REQUIRED:
                if field.required:
                    raise ConfigError(key, "missing required setting")
                result[key] = field.default
                continue
            result[key] = field.convert(key, raw)
        return Config(result)

    def load_text(self, text, env=None, allow_unknown=False):
        return self.load(parse_config_text(text), env=env, allow_unknown=allow_unknown)

    def load_file(self, path, env=None):
        with open(path, encoding="utf-8") as handle:
            return self.load_text(handle.read(), env=env)
