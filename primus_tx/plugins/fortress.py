# -*- test-case-name: tests.plugins.test_fortress -*-
"""
The ``fortress-maximus`` plugin: every incoming event is validated before
any listener sees it, as the npm fortress-maximus does::

    primus = Primus(site, plugin="fortress-maximus, emit")   # either order

    def chat(spark, room, text):
        return isinstance(room, str) and isinstance(text, str) and len(text) < 500

    primus.validate("chat", chat)
    primus.on("invalid", lambda error, args: log.warn(...))

A message is an event when it is a primus-emit envelope (``{"emit":
[event, arg...]}``) or a primus-emitter event (``{"type": 0, "data":
[event, arg...]}``); it is dropped, with the ``invalid`` event on the
server, unless all of this holds:

1. the event is not reserved (``data``, ``end``...);
2. the event has listeners (on the spark, or on the server with
   ``FortressPlugin(listeners="primus")``);
3. a validator was given for it;
4. the validator accepts the spark and the event's arguments
   (``validator(spark, *args)`` must bind: a wrong argument count is
   invalid);
5. the validator returns a true value, or an awaitable that fires with
   one.  Raising (or failing) is invalid with that error; so is returning
   ``None``, so a validator that forgets to answer refuses.

Anything else, ``null`` and arrays included, is plain ``data`` and passes
untouched, unless ``FortressPlugin(validate_data=True)``, which treats it
as the event ``"data"`` with the message as its one argument (and so needs
``data`` listeners and a ``data`` validator).

The order of the plugins does not matter: this one is an incoming
transform, and transforms run before ``data`` listeners, which is where the
``emit`` and ``emitter`` plugins find events.  Acknowledgements
(``{"type": 1, ...}``) are answers, not events, and pass.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, Optional

from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from primus_tx._errors import PrimusError
from primus_tx._events import as_deferred, is_awaitable
from primus_tx._transforms import Packet
from primus_tx.interfaces import IPrimusPlugin
from primus_tx.plugins import PluginBase
from primus_tx.spark import Spark

__all__ = ["FortressPlugin", "InvalidMessage", "event_of", "plugin"]

log = Logger()

_NOT_AN_EVENT = object()


class InvalidMessage(PrimusError):
    """
    Why a message was refused.

    :ivar event: the event it carried (``"data"`` for plain data).
    :ivar args: its arguments.
    """

    def __init__(self, message: str, event: Any, args: list[Any]) -> None:
        super().__init__(message)
        self.event = event
        self.args_ = args


def event_of(data: Any) -> Any:
    """
    ``(event, args)`` when ``data`` is a primus-emit envelope or a
    primus-emitter event, else a sentinel meaning plain data.
    """
    if type(data) is not dict:
        return _NOT_AN_EVENT
    emitted = data.get("emit")
    if type(emitted) is list:
        return (emitted[0] if emitted else None), emitted[1:]
    if type(data.get("type")) is int and data["type"] == 0:
        body = data.get("data")
        if type(body) is list:
            return (body[0] if body else None), body[1:]
    return _NOT_AN_EVENT


def _binds(validator: Callable[..., Any], args: list[Any]) -> bool:
    try:
        inspect.signature(validator).bind(*args)
    except TypeError:
        return False
    except ValueError:  # no signature to read (a builtin): let the call decide
        return True
    return True


@implementer(IPrimusPlugin)
class FortressPlugin(PluginBase):
    """
    The fortress-maximus plugin (found by name as ``"fortress-maximus"``).

    :param validate_data: validate plain data too, as the event ``"data"``.
    :param listeners: where event listeners live: ``"spark"`` (the emit and
        emitter plugins) or ``"primus"`` (a broadcast-style emit plugin).
    """

    name = "fortress-maximus"
    #: Server only.
    client: Any = None

    def __init__(self, validate_data: bool = False, listeners: str = "spark") -> None:
        if listeners not in ("spark", "primus"):
            raise PrimusError(f"listeners must be 'spark' or 'primus', not {listeners!r}")
        self.validate_data = bool(validate_data)
        self.listeners = listeners

    def server(self, primus: Any, options: Any = None) -> None:
        """
        Give the server ``validate(event, validator)`` and check every
        incoming message.
        """
        validators: dict[str, Callable[..., Any]] = {}

        def validate(event: str, validator: Callable[..., Any]) -> Any:
            """
            Validate ``event`` with ``validator(spark, *args)``.
            """
            if not isinstance(event, str) or not event:
                raise PrimusError("The event to validate must be a non-empty string")
            if not callable(validator):
                raise PrimusError(f"The validator of {event!r} must be callable")
            validators[event] = validator
            return primus

        primus.validate = validate
        primus.transform("incoming", self._transform(primus, validators))

    def _transform(self, primus: Any, validators: dict[str, Callable[..., Any]]) -> Any:
        validate_data = self.validate_data
        on_primus = self.listeners == "primus"

        def invalid(error: Exception, event: Any, args: list[Any]) -> bool:
            if not isinstance(error, InvalidMessage):
                wrapped = InvalidMessage(str(error) or type(error).__name__, event, args)
                wrapped.__cause__ = error
                error = wrapped
            try:
                primus.emit("invalid", error, args)
            except Exception:
                log.failure("'invalid' listener raised")
            return False

        def verdict(result: Any, event: Any, args: list[Any]) -> Optional[bool]:
            if result:
                return None
            return invalid(InvalidMessage(f"{event} did not validate", event, args), event, args)

        def refused(failure: Failure, event: Any, args: list[Any]) -> bool:
            return invalid(failure.value, event, args)  # type: ignore[arg-type]

        def fortress(packet: Packet) -> Any:
            spark = packet.spark
            if not isinstance(spark, Spark):  # a substream's own messages
                return None
            found = event_of(packet.data)
            if found is _NOT_AN_EVENT:
                if not validate_data:
                    return None
                event, args = "data", [packet.data]
            else:
                event, args = found
                if not isinstance(event, str):
                    return invalid(InvalidMessage("Missing event name", event, args), event, args)
                if spark.reserved(event):
                    message = f"{event} is a reserved event"
                    return invalid(InvalidMessage(message, event, args), event, args)
            target = primus if on_primus else spark
            if not target.listener_count(event):
                message = f"Missing listener for {event}"
                return invalid(InvalidMessage(message, event, args), event, args)
            validator = validators.get(event)
            if validator is None:
                message = f"Missing validator for {event}"
                return invalid(InvalidMessage(message, event, args), event, args)
            if not _binds(validator, [spark, *args]):
                message = f"Missing arguments for {event}"
                return invalid(InvalidMessage(message, event, args), event, args)
            try:
                result = validator(spark, *args)
            except Exception as error:
                return invalid(error, event, args)
            if result is not None and is_awaitable(result):
                checked: Deferred[Any] = as_deferred(result)
                return checked.addCallbacks(
                    verdict, refused, callbackArgs=(event, args), errbackArgs=(event, args)
                )
            return verdict(result, event, args)

        return fortress


#: The plugin as found by name (``plugin="fortress-maximus"``).
plugin = FortressPlugin()
