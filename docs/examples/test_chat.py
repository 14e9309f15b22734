"""
The chat room's tests: no network, no reactor, no browser.
"""

from __future__ import annotations

import chat

from primus_tx.testing import PrimusFixture


def chat_server() -> PrimusFixture:
    fixture = PrimusFixture()
    chat.setup(fixture.primus)
    return fixture


def test_a_client_is_welcomed_by_name() -> None:
    fixture = chat_server()
    _, ada = fixture.connect(query="name=ada")
    assert ada.messages == [{"welcome": "ada", "online": 1}, {"joined": "ada"}]


def test_what_one_writes_everyone_reads() -> None:
    fixture = chat_server()
    _, ada = fixture.connect(query="name=ada")
    _, grace = fixture.connect(query="name=grace")
    grace.receive("hello")
    assert ada.messages[-1] == grace.messages[-1] == {"from": "grace", "text": "hello"}


def test_a_client_without_a_name_is_turned_away() -> None:
    fixture = chat_server()
    _, anonymous = fixture.connect()
    assert anonymous.messages == [{"error": "a name is required"}]
    assert anonymous.ended_by_server  # told not to reconnect
    assert fixture.primus.connected == 0


def test_the_others_hear_who_left() -> None:
    fixture = chat_server()
    _, ada = fixture.connect(query="name=ada")
    _, grace = fixture.connect(query="name=grace")
    grace.lose()  # the browser tab closed
    assert ada.messages[-1] == {"left": "grace"}


def test_a_client_that_stops_answering_pings_is_dropped() -> None:
    fixture = chat_server()
    _, ada = fixture.connect(query="name=ada")
    _, grace = fixture.connect(query="name=grace")
    fixture.advance(30)  # the heartbeat pings both
    ada.pong()  # only ada answers
    fixture.advance(30)
    assert grace.closed and not ada.closed
    assert ada.messages[-1] == {"left": "grace"}
