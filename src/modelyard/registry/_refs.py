"""Model names, alias names, and the references that name a model version."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import InvalidInput
from ..store import NAME_PATTERN, check_name

__all__ = ["ModelRef", "check_alias", "check_model_name", "parse_ref"]

_ALIAS = re.compile(r"[a-z][a-z0-9_-]{0,49}")
_REF_FORMS = "'name', 'name@alias', 'name@latest', 'name@N' or 'name/versions/N'"


@dataclass(frozen=True)
class ModelRef:
    """A parsed reference: a model name and at most one of a version number or an alias.

    Neither means the latest version.
    """

    name: str
    version: int | None = None
    alias: str | None = None


def check_model_name(name: str) -> str:
    """Return ``name`` if it is a valid model name, else raise InvalidInput.

    Example:
        >>> check_model_name("fraud-v2")
        'fraud-v2'
    """
    return check_name(name, "model")


def check_alias(alias: str) -> str:
    """Return ``alias`` if it is a valid alias name, else raise InvalidInput.

    Example:
        >>> check_alias("champion")
        'champion'
    """
    if not isinstance(alias, str) or not _ALIAS.fullmatch(alias):
        raise InvalidInput(
            f"alias {alias!r} is not valid: use 1-50 lower-case letters, digits, '_' or '-', "
            "starting with a letter (e.g. 'champion')"
        )
    if alias == "latest":
        raise InvalidInput("alias 'latest' is reserved: it always means the newest version")
    return alias


def parse_ref(ref: str) -> ModelRef:
    """Parse ``name``, ``name@alias``, ``name@latest``, ``name@N`` or ``name/versions/N``.

    Raises:
        InvalidInput: the text is none of these forms.

    Example:
        >>> parse_ref("fraud@champion")
        ModelRef(name='fraud', version=None, alias='champion')
        >>> parse_ref("fraud/versions/3").version
        3
    """
    if not isinstance(ref, str) or not ref:
        raise InvalidInput(f"{ref!r} is not a model reference; use {_REF_FORMS}")
    bad = InvalidInput(f"{ref!r} is not a model reference; use {_REF_FORMS}")
    if "/" in ref:
        name, sep, number = ref.partition("/versions/")
        if not sep or not number.isdigit() or not NAME_PATTERN.fullmatch(name):
            raise bad
        return ModelRef(name, version=int(number))
    name, sep, tail = ref.partition("@")
    if not NAME_PATTERN.fullmatch(name):
        raise bad
    if not sep or tail == "latest":
        return ModelRef(name)
    if tail.isdigit():
        return ModelRef(name, version=int(tail))
    if not _ALIAS.fullmatch(tail):
        raise bad
    return ModelRef(name, alias=tail)
