"""The one rule for the names of datasets and models."""

from __future__ import annotations

import re

from ..errors import InvalidInput

__all__ = ["NAME_PATTERN", "check_name"]

#: 1-100 letters, digits, '.', '_' or '-', starting with a letter or digit
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def check_name(name: object, kind: str) -> str:
    """Return ``name`` if it is a valid name of a ``kind`` (``dataset``, ``model``).

    Raises:
        InvalidInput: the name breaks the rule, said with an example.

    Example:
        >>> check_name("fraud-2024.v1", "dataset")
        'fraud-2024.v1'
    """
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise InvalidInput(
            f"{name!r} is not a valid {kind} name; use 1-100 letters, digits, '.', '_' or "
            "'-', starting with a letter or digit (e.g. 'fraud-v2')"
        )
    return name
