"""The deploy part's Jinja2 templates (package data under ``deploy/templates/``)."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import jinja2

from ..errors import InvalidInput

__all__ = ["dns_name", "render"]

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("modelyard.deploy", "templates"),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )


def render(template: str, **context: Any) -> str:
    """Render one template (``k8s/service.yaml.j2``) with ``context``; a name the template
    uses but ``context`` lacks is an error, not an empty string."""
    return _environment().get_template(template).render(**context)


def dns_name(value: str, *, what: str, max_length: int = 63) -> str:
    """``value`` as a Kubernetes object name (an RFC 1123 label): lower case, ``.`` and
    ``_`` turned into ``-``.

    Raises:
        InvalidInput: nothing usable is left, or it is longer than ``max_length``.

    Example:
        >>> dns_name("Fraud_v2.model", what="model")
        'fraud-v2-model'
    """
    name = re.sub(r"[^a-z0-9-]+", "-", value.lower()).strip("-")
    if not name or not _DNS_LABEL.match(name) or len(name) > max_length:
        raise InvalidInput(
            f"{what} {value!r} does not make a Kubernetes name ({name!r}): use at most "
            f"{max_length} letters, digits and '-', starting and ending with a letter or digit"
            " (pass --name)"
        )
    return name
