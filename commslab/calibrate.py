"""Placeholder: being written."""

import click


@click.command()
def calibrate() -> None:
    """Not ready yet."""
    raise click.ClickException("commslab calibrate is not ready yet")
