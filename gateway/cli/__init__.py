"""The ``gateway`` command. Commands that create print one JSON object on stdout; lists, a JSON array.

Human messages go to stderr, so scripts can read stdout as JSON.
"""

import click

from gateway.cli.keys import keys
from gateway.cli.maintenance import migrate, rekey
from gateway.cli.presets import presets
from gateway.cli.server import openapi, serve, worker
from gateway.cli.workspaces import workspace


@click.group()
def main() -> None:
    """Portal Gateway: Stripe portal URLs by preset, subscription changes out to callbacks."""


for command in (serve, worker, migrate, rekey, workspace, keys, presets, openapi):
    main.add_command(command)
