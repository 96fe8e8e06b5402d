"""The ``gateway`` command. Commands that create print one JSON object on stdout; lists, a JSON array.

Human messages go to stderr, so scripts can read stdout as JSON.
"""

from typing import Any

import click
from pydantic import ValidationError

from gateway.cli.keys import keys
from gateway.cli.maintenance import migrate, rekey
from gateway.cli.output import say
from gateway.cli.presets import presets
from gateway.cli.server import openapi, serve, worker
from gateway.cli.workspaces import workspace
from gateway.settings import configuration_problems


class _Gateway(click.Group):
    """The command group: a wrong environment is named in a line per problem and exits 2, no traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ValidationError as exc:  # only Settings validates with pydantic: the environment is wrong
            for problem in configuration_problems(exc):
                say(f"gateway: configuration error: {problem}")
            ctx.exit(2)


@click.group(cls=_Gateway)
def main() -> None:
    """Portal Gateway: Stripe portal URLs by preset, subscription changes out to callbacks."""


for command in (serve, worker, migrate, rekey, workspace, keys, presets, openapi):
    main.add_command(command)
