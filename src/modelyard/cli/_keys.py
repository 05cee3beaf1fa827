"""``modelyard keys ...``."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from ._app import DbOpt, JsonOpt, ProjectOpt, app, open_from_cli
from ._render import console, emit_json, err_console, iso, number, table, when


class Role(StrEnum):
    """What a key may do (``--role`` of ``keys create``); the store's ``ROLES``, spelled out
    here so that parsing the command line does not import the store."""

    read = "read"
    predict = "predict"
    deploy = "deploy"
    admin = "admin"


keys_app = typer.Typer(help="Create, list and revoke API keys of the prediction service.",
                       no_args_is_help=True)
app.add_typer(keys_app, name="keys")


@keys_app.command()
def create(
    role: Annotated[Role, typer.Option(help="read (the dashboard, read-only routes), predict "
                                       "(predictions, feedback), deploy (read, refresh, "
                                       "monitor passes) or admin (everything).")],
    name: Annotated[str, typer.Option(help="What the key is for.")] = "",
    scope: Annotated[str, typer.Option(help="Model-name patterns it reaches: 'fraud', "
                                       "'fraud*', 'fraud,churn'.")] = "*",
    rate: Annotated[float | None, typer.Option(help="Requests per second it may make (per "
                                               "server process); no limit if left out.")
                    ] = None,
    project: ProjectOpt = None,
    db_url: DbOpt = None,
) -> None:
    """Create a key; it is printed once and only its hash is stored."""
    with open_from_cli(project, db_url) as yard:
        record, key = yard.store.keys.create(role.value, name=name, scope=scope,
                                             rate_per_s=rate)
    console().print(f"created {record.role} key {record.id}"
                    + (f" ({record.name})" if record.name else "")
                    + "; store it now, it is not shown again:", markup=False)
    console().print(key, markup=False, soft_wrap=True)


@keys_app.command("list")
def list_(
    everything: Annotated[bool, typer.Option("--all", help="Include revoked keys.")] = False,
    json_out: JsonOpt = False,
    project: ProjectOpt = None,
    db_url: DbOpt = None,
) -> None:
    """List keys (never their secrets)."""
    with open_from_cli(project, db_url) as yard:
        keys = yard.store.keys.list(include_revoked=everything)
    if json_out:
        emit_json([{"id": k.id, "role": k.role, "name": k.name, "scope": k.scope,
                    "rate_per_s": k.rate_per_s, "created_at": iso(k.created_at),
                    "revoked_at": iso(k.revoked_at)} for k in keys])
        return
    table("API keys", ["id", "role", "name", "scope", "rate/s", "created", "revoked"],
          [(k.id, k.role, k.name, k.scope, "" if k.rate_per_s is None else number(k.rate_per_s),
            when(k.created_at), when(k.revoked_at)) for k in keys])


@keys_app.command()
def revoke(key_id: Annotated[str, typer.Argument(metavar="ID")],
           project: ProjectOpt = None, db_url: DbOpt = None) -> None:
    """Revoke a key by its id; running servers refuse it within one poll."""
    with open_from_cli(project, db_url) as yard:
        record = yard.store.keys.revoke(key_id)
        left = yard.store.keys.list()
    console().print(f"revoked key {record.id}", markup=False)
    # auth fails closed: revoking the last key shuts the service, it does not open it
    if not left:
        err_console().print("warning: that was the last active key: the prediction service "
                            "now refuses every call that needs a key (auth fails closed); "
                            "create one with `modelyard keys create --role admin`",
                            style="yellow", markup=False)
    elif record.role == "admin" and not any(k.role == "admin" for k in left):
        err_console().print("warning: no admin key is left; create one with `modelyard keys "
                            "create --role admin` to manage the service", style="yellow",
                            markup=False)
