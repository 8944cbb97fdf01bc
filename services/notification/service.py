import logging

from nameko.dependency_providers import Config
from nameko.rpc import RpcProxy
from nameko.timer import timer

from services.notification import domain, mail
from services.notification.models import Base
from shared import events
from shared.consumer import city_event_handler
from shared.database import Database
from shared.metrics import Metrics, PrometheusEndpoint
from shared.outbox import OutboxRelay
from shared.web import api

log = logging.getLogger(__name__)


class NotificationService(PrometheusEndpoint):
    name = "notification"

    db = Database(Base.metadata)
    outbox = OutboxRelay()
    metrics = Metrics()
    registration = RpcProxy("registration")
    config = Config()

    @city_event_handler(events.REGISTRATION_CLOSED)
    def on_registration_closed(self, payload):
        event = events.REGISTRATION_CLOSED.load(payload)
        with self.db.unit_of_work() as uow:
            if uow.first_delivery(event):
                domain.queue_participant_list(uow, event)

    @timer(interval=0.5)
    def send_queued(self):
        """Deliveries are queued by handlers and sent here, so a crash leaves them queued, not lost."""
        with self.db.read() as session:
            queued = [(d.id, d.rollout_id) for d in domain.due_deliveries(session)]
        for delivery_id, rollout_id in queued:
            listing = self.registration.committee_list(rollout_id)
            with self.db.read() as session:
                delivery = session.get(domain.Delivery, delivery_id)
                message = mail.participant_list_message(
                    self.config["MAIL_FROM"], listing, domain.message_id(delivery))
            try:
                mail.send(self.config["SMTP_URL"], message)
            except Exception as exc:
                log.warning("delivery %s to the %s committee failed: %s", delivery_id, listing["city"], exc)
                with self.db.unit_of_work() as uow:
                    domain.record_failure(uow, delivery_id, str(exc))
                continue
            with self.db.unit_of_work() as uow:
                domain.record_sent(uow, delivery_id, listing)

    @api("GET", "/participants/<int:participant_id>/disclosures")
    def disclosures(self, request, participant_id):
        with self.db.read() as session:
            return [{
                "delivery_id": d.delivery_id, "recipient": d.recipient, "channel": d.channel,
                "disclosed_at": d.disclosed_at.isoformat(),
            } for d in domain.disclosures_of(session, participant_id)]
