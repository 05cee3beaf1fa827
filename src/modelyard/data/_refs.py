"""Dataset names and references: ``name``, ``name@latest``, ``name@3``."""

from __future__ import annotations

from collections.abc import Iterable

from ..errors import InvalidInput
from ..store import check_name as _check_name

__all__ = ["check_name", "describe_versions", "parse_ref"]



def check_name(name: object) -> str:
    """Check a dataset name and return it.

    Args:
        name: a letter or digit, then up to 99 letters, digits, ``.``, ``_`` or ``-``.

    Returns:
        The name.

    Raises:
        InvalidInput: the name breaks the rule.

    Example:
        >>> check_name("fraud-2024.v1")
        'fraud-2024.v1'
    """
    return _check_name(name, "dataset")


def parse_ref(ref: str) -> tuple[str, int | None]:
    """Split a dataset reference into its name and version (``None`` for the newest).

    Args:
        ref: ``name``, ``name@latest`` or ``name@<version>``.

    Returns:
        ``(name, version)``.

    Raises:
        InvalidInput: the name is invalid or the version is not a positive number.

    Example:
        >>> parse_ref("fraud@3"), parse_ref("fraud@latest"), parse_ref("fraud")
        (('fraud', 3), ('fraud', None), ('fraud', None))
    """
    if not isinstance(ref, str):
        raise InvalidInput(
            f"a dataset reference is text like 'name' or 'name@3', got {type(ref).__name__}"
        )
    name, sep, version = ref.partition("@")
    check_name(name)
    if not sep or version == "latest":
        return name, None
    if not version.isdigit() or int(version) < 1:
        raise InvalidInput(
            f"dataset reference {ref!r} has version {version!r}; use a positive number or "
            f"'latest', e.g. '{name}@1' or '{name}@latest'"
        )
    return name, int(version)


def describe_versions(versions: Iterable[int]) -> str:
    """Compact ranges of version numbers, e.g. ``1-3, 5``.

    Example:
        >>> describe_versions([1, 2, 3, 5, 7, 8])
        '1-3, 5, 7-8'
    """
    ordered = sorted(set(versions))
    parts: list[str] = []
    start = prev = None
    for v in [*ordered, None]:
        if start is not None and prev is not None and (v is None or v != prev + 1):
            parts.append(str(start) if start == prev else f"{start}-{prev}")
            start = None
        if v is not None:
            if start is None:
                start = v
            prev = v
    return ", ".join(parts)
