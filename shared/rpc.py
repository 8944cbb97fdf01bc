"""nameko's ``@rpc``, made to answer over the in-process transport too, and an RPC proxy that gives up.

kombu's virtual transports keep a message's content type on the message, not in
its properties, where nameko's responder looks for it.

nameko's ``RpcProxy`` waits for a reply for ever: a stalled broker once held a
request 24 minutes.  ``TimedRpcProxy`` waits ``CALL_TIMEOUT`` seconds and then
raises ``Unavailable`` (a 503 saying which service did not answer).  Only ids and
codes travel by RPC: anything with a person's name goes over HTTP (docs/notification.md).
"""
import eventlet
from nameko.rpc import ReplyListener, Rpc, RpcConsumer, RpcProxy

from shared.consumer import PromptQueueConsumer
from shared.errors import Unavailable


class _RpcConsumer(RpcConsumer):
    queue_consumer = PromptQueueConsumer()

    def handle_message(self, body, message):
        message.properties.setdefault("content_type", message.content_type)
        super().handle_message(body, message)


class _Rpc(Rpc):
    rpc_consumer = _RpcConsumer()


rpc = _Rpc.decorator


class _ReplyListener(ReplyListener):
    queue_consumer = PromptQueueConsumer()


class TimedRpcProxy(RpcProxy):
    """``RpcProxy("registration")`` whose every call gives up after ``CALL_TIMEOUT`` seconds."""

    rpc_reply_listener = _ReplyListener()

    def get_dependency(self, worker_ctx):
        timeout = float(self.container.config.get("CALL_TIMEOUT") or 10)
        return _TimedServiceProxy(super().get_dependency(worker_ctx), self.target_service, timeout)


class _TimedServiceProxy:
    def __init__(self, proxy, service: str, timeout: float) -> None:
        self._proxy = proxy
        self._service = service
        self._timeout = timeout

    def __getattr__(self, method_name: str):
        method = getattr(self._proxy, method_name)

        def call(*args, **kwargs):
            timer = eventlet.Timeout(self._timeout)
            try:
                return method(*args, **kwargs)
            except eventlet.Timeout as exc:
                if exc is not timer:
                    raise
                raise Unavailable(f"{self._service} did not answer {method_name} within {self._timeout:g} s; "
                                  "try again shortly", service=self._service) from None
            finally:
                timer.cancel()
        return call
