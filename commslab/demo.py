"""Placeholder: being written."""

import click


@click.command()
def demo() -> None:
    """Not ready yet."""
    raise click.ClickException("commslab demo is not ready yet")
