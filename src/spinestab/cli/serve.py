"""``spinestab serve``: the clinic web app (uvicorn)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from spinestab.cli._common import console, err_console, exit_on_bad_input

if TYPE_CHECKING:
    from spinestab.service.settings import ServiceSettings

__all__ = ["production_problems", "register"]


def production_problems(settings: ServiceSettings, demo_accounts: list[str]) -> list[str]:
    """Return why ``serve --production`` must not start (empty: it may)."""
    problems = []
    if settings.secret_key is None:
        problems.append(
            "no secret configured: set SPINESTAB_SECRET_KEY (at least 32 random characters)"
        )
    if demo_accounts:
        problems.append(
            "demo accounts exist ("
            + ", ".join(demo_accounts)
            + "): remove them with 'spinestab user remove NAME'"
        )
    return problems


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=0, max=65535)] = 8000,
    production: Annotated[
        bool,
        typer.Option(
            "--production",
            help="Refuse to start without a configured secret or while demo accounts exist; "
            "Secure cookies and HSTS (run behind an HTTPS reverse proxy, see docs/).",
        ),
    ] = False,
    workers: Annotated[
        int, typer.Option(help="Worker processes (each with its own job threads).", min=1)
    ] = 1,
    demo: Annotated[
        bool,
        typer.Option(
            "--demo",
            help="Create the demo accounts (a clinician, a patient tied to demo-001) if missing "
            "and print how to log in (make run). Never with --production.",
        ),
    ] = False,
    forwarded_allow_ips: Annotated[
        str,
        typer.Option(help="Proxy addresses trusted for X-Forwarded-For/-Proto."),
    ] = "127.0.0.1",
    keepalive_requests: Annotated[
        int | None,
        typer.Option(
            help="Close a keep-alive connection after this many requests (Connection: close, "
            "as nginx's keepalive_requests), so that with several workers connections move "
            "to the free one; 0: never. Default: SPINESTAB_KEEPALIVE_REQUESTS or 20.",
            min=0,
        ),
    ] = None,
) -> None:
    """Serve the clinic web app (pages and /api/v1) with uvicorn."""
    import logging
    import os

    import uvicorn

    from spinestab.service.accounts import demo_users
    from spinestab.service.demo import seed_demo_accounts
    from spinestab.service.security import Passwords
    from spinestab.service.settings import ServiceSettings
    from spinestab.store import open_store, session_scope

    overrides: dict[str, Any] = {"production": production}
    if keepalive_requests is not None:
        overrides["keepalive_requests"] = keepalive_requests
    settings = ServiceSettings(**overrides)
    if demo and production:
        err_console.print("[bold red]refusing:[/] --demo and --production exclude each other")
        raise typer.Exit(2)
    with exit_on_bad_input():
        sessions = open_store(settings)
        accounts = []
        with session_scope(sessions) as session:
            if demo:
                accounts = seed_demo_accounts(
                    session,
                    passwords=Passwords(
                        time_cost=settings.argon2_time_cost,
                        memory_kib=settings.argon2_memory_kib,
                    ),
                )
            demo_accounts = demo_users(session)
        sessions.kw["bind"].dispose()
        if production:
            problems = production_problems(settings, demo_accounts)
            if problems:
                for problem in problems:
                    err_console.print(f"[bold red]refusing --production:[/] {problem}")
                raise typer.Exit(2)
        # Build the app here, so a bad secret or database fails before listening.
        from spinestab.service import create_app

        app = create_app(settings)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    shown = f"[{host}]" if ":" in host else host
    console.print(f"spinestab web app on http://{shown}:{port}/  (Ctrl+C stops it)")
    if production:
        console.print("production mode: Secure cookies and HSTS; serve it behind HTTPS.")
    for account in accounts:
        console.print(
            f"  log in as [bold]{account.username}[/] with password "
            f"[bold]{account.password}[/]  ({account.role}"
            + (f" of {account.patient})" if account.patient else ")"),
            highlight=False,
            soft_wrap=True,  # one line each, however narrow the terminal: easy to copy
        )
    if accounts:
        console.print("  demo accounts are for this computer only; --production refuses them")
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "access_log": False,  # spinestab.service.access logs route templates, no pseudonyms
        "proxy_headers": True,
        "forwarded_allow_ips": forwarded_allow_ips,
        "log_level": "info",
    }
    if workers == 1:
        from spinestab.service.asgi import prepare_to_serve

        prepare_to_serve(app)
        uvicorn.run(app, **options)
        return
    # Several processes: each builds its own app from the same settings; the flag is
    # handed to them the way every setting travels, as SPINESTAB_PRODUCTION.
    del app
    os.environ["SPINESTAB_PRODUCTION"] = "1" if production else "0"
    os.environ["SPINESTAB_KEEPALIVE_REQUESTS"] = str(settings.keepalive_requests)
    uvicorn.run("spinestab.service.asgi:create", factory=True, workers=workers, **options)


def register(app: typer.Typer) -> None:
    """Add ``serve`` to the app."""
    app.command("serve")(serve)
