"""
WebSocket conformance: the Autobahn testsuite's fuzzing client (wstest)
against primus-tx's WebSocket engines, with raw Autobahn as the control.
"""
