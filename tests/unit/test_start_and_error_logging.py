import logging

from shared.connect import masked
from shared.errors import NotFound
from shared.web import ApiEndpoint, quiet_expected_errors


class Worker:
    def __init__(self, entrypoint):
        self.entrypoint = entrypoint


def nameko_record(message, worker, exc):
    return logging.LogRecord("nameko.containers", logging.WARNING, __file__, 1, message, (worker, exc),
                             (type(exc), exc, None))


def test_nameko_s_traceback_of_an_expected_api_error_is_dropped():
    record = nameko_record("(expected) error handling worker %s: %s", Worker(ApiEndpoint("GET", "/x")),
                           NotFound("rollout 9 does not exist"))
    assert not quiet_expected_errors(record)


def test_an_unexpected_api_error_keeps_its_traceback():
    record = nameko_record("error handling worker %s: %s", Worker(ApiEndpoint("GET", "/x")), ZeroDivisionError())
    assert quiet_expected_errors(record)


def test_an_expected_error_of_an_event_handler_is_still_logged():
    record = nameko_record("(expected) error handling worker %s: %s", Worker(object()), NotFound("x"))
    assert quiet_expected_errors(record)


def test_passwords_are_masked_in_urls():
    assert masked("amqp://guest:s3cret@127.0.0.1:5672/vh") == "amqp://guest:****@127.0.0.1:5672/vh"
    assert masked("postgresql+psycopg2://postgres:p%40ss@db:5432/registration") == \
        "postgresql+psycopg2://postgres:****@db:5432/registration"
    assert masked("smtps://mailer:a@b@smtp.example:465") == "smtps://mailer:****@smtp.example:465"
    assert masked("postgresql://postgres@127.0.0.1/x") == "postgresql://postgres@127.0.0.1/x"
    assert masked("maildir:///tmp/maildir") == "maildir:///tmp/maildir"
