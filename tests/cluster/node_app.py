"""
The application of the node processes in the multi-process cluster test
(``twistd primus --app tests.cluster.node_app:setup --redis ...``).

A client asks its node to act by writing ``{"broadcast": data}`` (the node
runs ``primus.write(data)``) or ``{"forward": data, "to": id}`` (the node
runs ``primus.forward.spark(id, data)`` and writes the result back as
``{"forwarded": result}``, or ``{"forward_failed": message}``).  With the
rooms plugin, ``{"join": room}`` joins the room (answered with
``{"joined": room}``) and ``{"room": rooms, "write": data, "except": ids}``
runs ``primus.room(*rooms).excluding(*ids).write(data)``.
"""

from __future__ import annotations

from typing import Any


def setup(primus: Any) -> None:
    def connection(spark: Any) -> None:
        def data(message: Any) -> None:
            if not isinstance(message, dict):
                return
            if "broadcast" in message:
                primus.write(message["broadcast"])
            elif "join" in message:
                room = message["join"]
                spark.join(room).addCallback(lambda _: spark.write({"joined": room}))
            elif "room" in message:
                primus.room(*message["room"]).excluding(*message.get("except", ())).write(
                    message["write"]
                )
            elif "forward" in message:
                d = primus.forward.spark(message["to"], message["forward"])
                d.addCallbacks(
                    lambda result: spark.write({"forwarded": result}),
                    lambda failure: spark.write({"forward_failed": failure.getErrorMessage()}),
                )

        spark.on("data", data)

    primus.on("connection", connection)
