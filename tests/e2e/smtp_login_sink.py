"""An SMTP server that wants a login, for the e2e tests: ``python smtp_login_sink.py DIR USER PASSWORD``.

It prints its port once ready and keeps each accepted message as ``DIR/<n>.eml``
(as ``tests.support.smtp_sink``), after a successful AUTH over plain SMTP.
"""
import socket
import sys
import threading
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

sys.path.insert(0, str(Path(__file__).parents[2]))
from tests.support.smtp_sink import SaveToDirectory  # noqa: E402


def main():
    directory, user, password = Path(sys.argv[1]), sys.argv[2].encode(), sys.argv[3].encode()
    directory.mkdir(parents=True, exist_ok=True)

    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (user, password)
        return AuthResult(success=ok)

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(SaveToDirectory(directory), hostname="127.0.0.1", port=port,
                            authenticator=authenticate, auth_required=True, auth_require_tls=False)
    controller.start()
    print(port, flush=True)
    try:
        threading.Event().wait()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
