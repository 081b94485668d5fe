"""UserMessenger publishes interim results in IBM's wire format."""

from __future__ import annotations

import json

import numpy as np
import pytest

from qruntime.program import UserMessenger
from qruntime.serialization import decode


def test_default_messenger_prints_json_like_ibms(capsys: pytest.CaptureFixture[str]) -> None:
    UserMessenger().publish({"iteration": 1, "counts": {"00": 3}})
    assert json.loads(capsys.readouterr().out) == {"iteration": 1, "counts": {"00": 3}}


def test_messages_reach_the_sink_encoded() -> None:
    received: list[str] = []
    messenger = UserMessenger(sink=received.append)
    messenger.publish({"values": np.arange(3), "z": 1j})
    messenger.publish("second")
    assert len(received) == 2
    first = decode(received[0])
    np.testing.assert_array_equal(first["values"], np.arange(3))
    assert first["z"] == 1j
    assert decode(received[1]) == "second"


def test_final_publish_is_kept_not_streamed() -> None:
    received: list[str] = []
    messenger = UserMessenger(sink=received.append)
    messenger.publish({"answer": 42}, final=True)
    assert received == []
    assert messenger.final_result is not None
    assert decode(messenger.final_result) == {"answer": 42}
