"""
The application of the node processes in the multi-process cluster test
(``twistd primus --app tests.cluster.node_app:setup --redis ...``).

A client asks its node to act by writing ``{"broadcast": data}`` (the node
runs ``primus.write(data)``) or ``{"forward": data, "to": id}`` (the node
runs ``primus.forward.spark(id, data)`` and writes the result back as
``{"forwarded": result}``, or ``{"forward_failed": message}``).
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
            elif "forward" in message:
                d = primus.forward.spark(message["to"], message["forward"])
                d.addCallbacks(
                    lambda result: spark.write({"forwarded": result}),
                    lambda failure: spark.write({"forward_failed": failure.getErrorMessage()}),
                )

        spark.on("data", data)

    primus.on("connection", connection)
