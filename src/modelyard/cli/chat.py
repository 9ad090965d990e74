"""``modelyard chat``: a quick try from the terminal, through the gateway in this process."""

from __future__ import annotations

import asyncio
import sys
from typing import Annotated

import typer

from modelyard.library import open as open_yard

from ._common import JsonFlag, load_settings, print_json
from ._database import require_database


def chat(
    prompt: Annotated[str, typer.Argument(help="What to ask.")],
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="Model id or provider/model-id.")
    ] = None,
    system: Annotated[str | None, typer.Option(help="A system message to send first.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Send one prompt through the gateway (as the first admin) and stream the answer.

    The same resolution, limits, retries, fallbacks and usage recording as /v1 apply.
    """
    messages = [{"role": "system", "content": system}] if system else []
    messages.append({"role": "user", "content": prompt})

    settings = load_settings()
    require_database(settings)

    async def main() -> None:
        async with open_yard(settings=settings, bootstrap_empty=False) as yard:
            if as_json:
                print_json(await yard.chat(messages, model=model))
                return
            async for chunk in yard.stream(messages, model=model):
                for choice in chunk.get("choices") or ():
                    text = (choice.get("delta") or {}).get("content")
                    if text:
                        sys.stdout.write(text)
                        sys.stdout.flush()
            sys.stdout.write("\n")

    asyncio.run(main())
