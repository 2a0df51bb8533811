"""The ``pipeline`` command: log in, browse your models, download (by id or ``ns/repo@alias``) and
verify them, move aliases.

Exit status: 0 when everything worked, 1 on any failure (one ``error:`` line per problem), 2 for
wrong usage. Expected failures (network down, a rejected token, an unknown model) never print a
traceback.
"""

from __future__ import annotations

import ipaddress
import json
import os
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
import httpx
from click.core import ParameterSource

from pipeline_client import __version__, config, repos
from pipeline_client.api import Api
from pipeline_client.checksums import verify_folder
from pipeline_client.download import Downloader, make_progress
from pipeline_client.errors import ClientError
from pipeline_client.names import folder_name
from pipeline_client.views import print_model, print_models


def fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)


class Cli(click.Group):
    """Turns expected errors into one line on stderr and exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ClientError as exc:
            fail(str(exc))
        except httpx.HTTPError as exc:
            fail(f"HTTP error: {exc}")
        except OSError as exc:
            fail(f"{exc.filename + ': ' if exc.filename else ''}{exc.strerror or exc}")
        except KeyboardInterrupt:
            fail("interrupted; run the same command again to resume")
            ctx.exit(130)
        ctx.exit(1)


@click.group(cls=Cli, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="pipeline")
def cli() -> None:
    """Browse and download your PIPELINE models.

    Log in once with `pipeline login --url URL`; PIPELINE_URL and PIPELINE_TOKEN in the
    environment override the saved login.
    """


def api() -> Api:
    return Api(config.resolve())


# --- login ----------------------------------------------------------------------------------------
def plain_http_to_remote(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme != "http":
        return False
    host = parts.hostname or ""
    if host == "localhost":
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return True


@cli.command()
@click.option(
    "--url", required=True, envvar=config.URL_ENV, help="The server's address, e.g. https://models.example.com"
)
@click.option("--token", help="An API token; prompted for (hidden) when omitted.")
def login(url: str, token: str | None) -> None:
    """Check an API token against the server and save it (readable by you only).

    Create a token on the site's API tokens page (URL/account/tokens), or ask an operator to run
    `python manage.py create_api_token USERNAME`.
    """
    url = config.normalise_url(url)
    if not token:
        click.echo(config.TOKEN_HELP.format(url=url), err=True)
        token = click.prompt("API token", hide_input=True, err=True)
    token = (token or "").strip()
    if not token:
        raise ClientError("no token given")
    if plain_http_to_remote(url):
        click.echo(f"warning: {url} is plain HTTP; the token is sent unencrypted", err=True)
    with Api(config.Login(url=url, token=token)) as client:
        client.check_login()
    path = config.save(config.Login(url=url, token=token))
    click.echo(f"Logged in to {url}. Token saved to {path} (mode 0600).")
    if os.environ.get(config.TOKEN_ENV):
        click.echo(f"note: {config.TOKEN_ENV} is set and overrides the saved token", err=True)


@cli.command()
def logout() -> None:
    """Forget the saved login."""
    path = config.config_path()
    if path.exists():
        path.unlink()
        click.echo(f"Removed {path}.")
    else:
        click.echo("Not logged in.")


# --- models ---------------------------------------------------------------------------------------
@cli.group()
def models() -> None:
    """List your models or show one."""


@models.command("list")
@click.option("--sort", type=click.Choice(["created_at", "quality"]), default="created_at", show_default=True)
@click.option("--page", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--limit", type=click.IntRange(1, 100), default=12, show_default=True)
@click.option("--search", "-s", "q", metavar="TEXT", help="Only models whose name contains TEXT (any case).")
@click.option("--min-score", type=click.IntRange(1, 5), help="Only models rated at least this (1-5).")
@click.option(
    "--verdict",
    "verdicts",
    multiple=True,
    type=click.Choice(["ok", "warnings", "unusable"]),
    help="Only models with this verdict (repeat for more).",
)
@click.option("--convergence", metavar="LABEL", help="Only models with this convergence label, e.g. good.")
@click.option("--dataset", metavar="ID", help="Only models trained on this dataset.")
@click.option("--repository", metavar="[NS/]REPO", help="Only revisions of this repository.")
@click.option("--alias", metavar="NAME", help="Only models an alias of this name points at, e.g. production.")
@click.option("--deleted", is_flag=True, help="Your recently deleted models instead (restorable).")
@click.option("--json", "as_json", is_flag=True, help="Print the API's data as JSON.")
def list_models(sort: str, page: int, limit: int, as_json: bool, verdicts: tuple[str, ...], **filters: Any) -> None:
    """Your models, newest first (or best first with --sort quality), filtered as on the models
    page; the server checks each filter and says what it refuses."""
    params = {name: value for name, value in filters.items() if value not in (None, "", False)}
    if verdicts:
        params["verdict"] = ",".join(dict.fromkeys(verdicts))
    empty = "No models match these filters." if params else "No models."
    if params.pop("deleted", False):
        # The server lists every recently deleted model, newest deletion first, whatever else is asked.
        explicit_sort = click.get_current_context().get_parameter_source("sort") != ParameterSource.DEFAULT
        if params or explicit_sort:
            raise click.UsageError("--deleted lists every recently deleted model: it takes no filters or --sort.")
        params["deleted"] = "true"
        empty = "No recently deleted models."
    with api() as client:
        data = client.list_models(page=page, limit=limit, sort=sort, filters=params)
    if as_json:
        click.echo(json.dumps(data, indent=2))
    else:
        print_models(data, empty=empty)


@models.command("show")
@click.argument("model_id")
@click.option("--json", "as_json", is_flag=True, help="Print the API's data as JSON.")
def show_model(model_id: str, as_json: bool) -> None:
    """One model with its dataset, job and files."""
    with api() as client:
        data = client.get_model(model_id)
    if as_json:
        click.echo(json.dumps(data, indent=2))
    else:
        print_model(data)


# --- download and verify --------------------------------------------------------------------------
@cli.command()
@click.argument("model_id", metavar="MODEL_ID|NS/REPO[@ALIAS]")
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--files", "files", multiple=True, metavar="NAME", help="Only this file (repeat for more).")
@click.option("--workers", type=click.IntRange(1, 16), default=4, show_default=True, help="Files fetched at once.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars.")
@click.option("--overwrite", is_flag=True, help="Replace existing files that differ from the model's.")
def download(
    model_id: str, directory: Path | None, files: tuple[str, ...], workers: int, quiet: bool, overwrite: bool
) -> None:
    """Download a model's files into DIRECTORY (default: the model's folder name, in the current
    directory). Name the model by its id, or by repository: `alice/support-bot-lora@production`
    downloads the revision the alias points at now (`@main` when no alias is given; a full
    40-hex commit after @ names one revision).

    Partial files are kept as .dl-<hash>.part and resumed by the next run; every file is checked
    against the server's sha256 before it takes its name. A file already there with other contents
    is left alone unless --overwrite is given. SHA256SUMS and the model card are written beside
    them (under other names when the model has files of those names).
    """
    ref = parse_ref(model_id) if repos.looks_like_repo(model_id) else None
    with api() as client:
        if ref is not None:
            model_id, commit = repos.resolve(client, ref)
            click.echo(f"{ref} is model {model_id} (commit {commit[:12] or 'unknown'})", err=True)
        model = client.get_model(model_id)
        target = directory or Path(folder_name(model))
        progress = make_progress(quiet=quiet or not sys.stderr.isatty())
        notes: list[str] = []
        with progress:
            downloader = Downloader(
                client, model_id, target, workers=workers, progress=progress, say=notes.append, overwrite=overwrite
            )
            outcome = downloader.run(model, files)
    for note in notes + outcome.notes:
        click.echo(f"note: {note}", err=True)
    for name in outcome.skipped:
        click.echo(f"{name}: already present and verified")
    for failure in outcome.failures:
        fail(failure)
    total = len(outcome.downloaded) + len(outcome.skipped)
    click.echo(
        f"{len(outcome.downloaded)} downloaded, {len(outcome.skipped)} already present, "
        f"{len(outcome.failures)} failed: {total} verified file(s) in {target}"
    )
    if outcome.failures:
        raise SystemExit(1)


@cli.command()
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
def verify(directory: Path) -> None:
    """Check every file listed in DIRECTORY/SHA256SUMS (or SHA256SUMS.generated, where a download
    wrote its sums when the model has its own SHA256SUMS)."""
    sums, checks = verify_folder(directory)
    for check in checks:
        click.echo(f"{check.name}: OK" if check.ok else f"{check.name}: FAILED ({check.problem})")
    bad = [check for check in checks if not check.ok]
    if bad:
        fail(f"{len(bad)} of {len(checks)} file(s) listed in {sums.name} did not verify")
        raise SystemExit(1)
    click.echo(f"All {len(checks)} file(s) verified.", err=True)


# --- aliases --------------------------------------------------------------------------------------
def parse_ref(text: str, *, allow_revision: bool = True) -> repos.RepoRef:
    """``ns/repo[@alias]``; a malformed one is wrong usage (exit status 2)."""
    try:
        return repos.parse_repo(text, allow_revision=allow_revision)
    except repos.BadName as exc:
        raise click.UsageError(str(exc)) from None


def parse_alias(alias: str) -> str:
    try:
        return repos.check_alias(alias)
    except repos.BadName as exc:
        raise click.UsageError(str(exc)) from None


@cli.group()
def alias() -> None:
    """Point a repository's alias (main, production, staging, ...) at one of its revisions, or remove it."""


@alias.command("set")
@click.argument("repository", metavar="NS/REPO")
@click.argument("name", metavar="ALIAS")
@click.argument("model_id")
@click.option("--force", is_flag=True, help="Point the alias at a revision whose verdict is unusable.")
def alias_set(repository: str, name: str, model_id: str, force: bool) -> None:
    """Point ALIAS of NS/REPO at MODEL_ID (a model of that repository). Moving main pins it there;
    `alias rm NS/REPO main` lets it follow the newest usable revision again. Every move is recorded."""
    ref = parse_ref(repository, allow_revision=False)
    name = parse_alias(name)
    with api() as client:
        data = repos.set_alias(client, ref, name, model_id, force=force)
    commit = str(data.get("commit") or "")
    click.echo(f"{ref.repo_id}@{name} -> model {data.get('model', model_id)} (commit {commit[:12] or 'unknown'})")
    if name == repos.DEFAULT_ALIAS:
        click.echo(f"note: main is pinned there until you run `pipeline alias rm {ref.repo_id} main`", err=True)


@alias.command("rm")
@click.argument("repository", metavar="NS/REPO")
@click.argument("name", metavar="ALIAS")
def alias_rm(repository: str, name: str) -> None:
    """Remove ALIAS from NS/REPO (the revision stays). For main this unpins it: it follows the newest
    usable revision again."""
    ref = parse_ref(repository, allow_revision=False)
    name = parse_alias(name)
    with api() as client:
        repos.remove_alias(client, ref, name)
    if name == repos.DEFAULT_ALIAS:
        click.echo(f"{ref.repo_id}@main unpinned: it follows the newest usable revision again")
    else:
        click.echo(f"Removed {ref.repo_id}@{name}")


def main() -> None:
    cli(prog_name="pipeline")
