"""nameko's ``@rpc``, made to answer over the in-process transport too.

kombu's virtual transports keep a message's content type on the message, not in
its properties, where nameko's responder looks for it.
"""
from nameko.rpc import Rpc, RpcConsumer


class _RpcConsumer(RpcConsumer):
    def handle_message(self, body, message):
        message.properties.setdefault("content_type", message.content_type)
        super().handle_message(body, message)


class _Rpc(Rpc):
    rpc_consumer = _RpcConsumer()


rpc = _Rpc.decorator
