"""``modelyard ui``: the dashboard in a browser."""

from __future__ import annotations

from typing import Annotated

import typer

from ..errors import InvalidInput
from ._app import DbOpt, ProjectOpt, app, open_from_cli
from ._render import console


@app.command()
def ui(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    server_url: Annotated[list[str] | None, typer.Option(
        "--server-url", help="A prediction server whose /metrics the serving page reads "
        "(repeat for several).")] = None,
    sample_interval_s: Annotated[float, typer.Option(
        help="Seconds between reads of the servers' metrics.")] = 5.0,
    log_level: Annotated[str, typer.Option(help="Server log level.")] = "warning",
    project: ProjectOpt = None,
    db_url: DbOpt = None,
) -> None:
    """Serve the dashboard (runs, datasets, models, serving, monitoring, loop) until Ctrl-C.

    Once API keys exist, pages need a read (or admin) key; promoting and rolling back
    need an admin key. The JSON API is documented at /docs (offline).
    """
    if not 0 <= port <= 65535:
        raise InvalidInput(f"port {port} is not a TCP port (0-65535)")
    if sample_interval_s <= 0:
        raise InvalidInput(f"--sample-interval-s must be above 0, not {sample_interval_s}")
    import uvicorn

    from ..ui import create_ui_app

    yard = open_from_cli(project, db_url)
    try:
        web = create_ui_app(yard, server_urls=list(server_url or []),
                            sample_interval_s=sample_interval_s)
        shown = "localhost" if host in ("127.0.0.1", "::1") else host
        console().print(f"modelyard dashboard on http://{shown}:{port}/ (Ctrl-C stops it)")
        uvicorn.run(web, host=host, port=port, log_level=log_level, access_log=False,
                    server_header=False)
    finally:
        yard.close()
