"""
A chat room: clients connect with ``?name=...``, everything they write goes
to everyone, and everyone hears who joins and leaves.
"""

from __future__ import annotations

from primus_tx import Primus, Spark


def setup(primus: Primus) -> None:
    def connection(spark: Spark) -> None:
        name = spark.query.get("name")
        if not isinstance(name, str) or not name:
            spark.end({"error": "a name is required"})
            return
        spark.write({"welcome": name, "online": primus.connected})
        primus.write({"joined": name})
        spark.on("data", lambda text: primus.write({"from": name, "text": text}))
        spark.on("end", lambda: primus.write({"left": name}))

    primus.on("connection", connection)
