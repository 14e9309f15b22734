"""
The servers under test, one script each, started as their own processes.

Every script takes ``--port`` (0 picks a free one) and prints one line
``PORT <number>`` on stdout once it listens; ``--ping`` is the heartbeat
interval in seconds (0 disables it) where the server has one.
"""
