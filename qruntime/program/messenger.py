"""``UserMessenger``: how a running program sends interim results."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from qruntime.serialization import RuntimeEncoder

InterimSink = Callable[[str], None]
"""Receives each interim result already encoded in the wire format (a JSON text)."""


class UserMessenger:
    """Publishes a program's interim results.

    Inside the runtime each message goes to the job's event sink (stored with a sequence
    number and streamed to subscribers). Created without a sink, it prints the JSON as IBM's
    local ``UserMessenger`` did, so a program can be tried in a plain Python session.
    """

    def __init__(self, sink: InterimSink | None = None) -> None:
        self._sink = sink
        self.final_result: str | None = None
        """The encoded message published with ``final=True``, if any (programs written before
        September 2021 published their result that way instead of returning it)."""

    def publish(
        self,
        message: Any,
        encoder: type[json.JSONEncoder] = RuntimeEncoder,
        final: bool = False,
    ) -> None:
        """Send ``message`` as an interim result, or as the final result with ``final=True``."""
        text = json.dumps(message, cls=encoder)
        if final:
            self.final_result = text
        elif self._sink is None:
            print(text)
        else:
            self._sink(text)
