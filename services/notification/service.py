"""The notification service: each rollout's committee gets its lists, once, and we know who got what."""
import logging
import os
from pathlib import Path

from kombu import Exchange, Queue
from nameko.amqp.publish import get_connection
from nameko.dependency_providers import Config
from nameko.exceptions import RemoteError
from nameko.extensions import DependencyProvider
from nameko.rpc import RpcProxy
from nameko.timer import timer
from werkzeug.wrappers import Response

from services.notification import audit, committees, deliveries, mail, retention, rules, sending, webhook
from services.notification.commands import (
    AcknowledgeDelivery,
    ClaimDelivery,
    QueueDueLists,
    RecordOutcome,
    ResendDelivery,
    SetCommittee,
)
from services.notification.models import Base
from services.notification.repository import NotificationUnitOfWork
from services.notification.schemas import (
    AcknowledgeIn,
    AlertOut,
    AlertQuery,
    CommitteeIn,
    CommitteeOut,
    DeliveryOut,
    DeliveryQuery,
    DisclosureOut,
)
from shared import events
from shared.consumer import batched, consume_events
from shared.dependencies import Database, Metrics
from shared.errors import NotFound
from shared.health import HealthEndpoints
from shared.outbox import OutboxRelay
from shared.web import PrometheusEndpoint, api

log = logging.getLogger(__name__)

DEAD_LETTERS = "notification.dead-letters"
COORDINATOR_ALERTS = "coordinator.alerts"
ACKNOWLEDGE_PAGE = (Path(__file__).parent / "templates" / "acknowledge.html").read_text(encoding="utf-8")


class OwnQueues(DependencyProvider):
    """The queues notification's own events land in, declared before anything is published.

    Failed deliveries wait in ``notification.dead-letters``; the coordinator's
    alerts in ``coordinator.alerts``.  Both outlive the service.
    """

    def setup(self):
        exchange = Exchange("notification.events", type="topic", durable=True)
        queues = [
            Queue(DEAD_LETTERS, exchange=exchange, routing_key=events.DELIVERY_DEAD_LETTERED.routing_key("*"),
                  durable=True),
            Queue(COORDINATOR_ALERTS, exchange=exchange, routing_key=events.COORDINATOR_ALERT.routing_key("*"),
                  durable=True),
        ]
        with get_connection(self.container.config["AMQP_URI"]) as connection:
            channel = connection.default_channel
            exchange(channel).declare()
            for queue in queues:
                queue(channel).declare()


class NotificationService(PrometheusEndpoint, HealthEndpoints):
    name = "notification"

    db = Database(Base.metadata, unit_of_work=NotificationUnitOfWork)
    outbox = OutboxRelay()
    own_queues = OwnQueues()
    metrics = Metrics()
    registration = RpcProxy("registration")
    config = Config()

    # What registration tells us: each becomes deliveries queued (or changes kept for a digest).
    handle_events = consume_events({
        events.ROLLOUT_LAUNCHED: deliveries.record_rollout,
        # Registrations come in thousands with bulk imports: taken in batches, one transaction each.
        events.PARTICIPANT_REGISTERED: batched(deliveries.record_registrations),
        events.PARTICIPANT_UPDATED: deliveries.record_participant_update,
        events.PARTICIPANT_CANCELLED: deliveries.record_participant_cancellation,
        events.PARTICIPANT_PROMOTED: deliveries.record_promotion,
        events.TARGET_GAP: deliveries.queue_target_gap,
        events.ROLLOUT_CANCELLED: deliveries.record_rollout_cancellation,
        events.REGISTRATION_CLOSED: deliveries.queue_participant_list,
        # The end of a rollout's retention: its committee's names and addresses go.
        events.PERSONAL_DATA_PURGED: retention.purge_committee,
    })

    # --- sending -----------------------------------------------------------

    @timer(interval=0.5)
    def send_queued(self):
        """Deliveries are queued by handlers and sent here, so a crash leaves them queued, not lost."""
        cities = rules.served_cities(self.config.get("CITY", "*"))
        with self.db.read() as uow:
            lists_may_be_due = deliveries.lists_may_be_due(uow, cities)
        if lists_may_be_due:
            with self.db.unit_of_work() as uow:
                deliveries.queue_due_lists(QueueDueLists(cities=cities, policy=self._policy()), uow)
        with self.db.read() as uow:
            due = sending.due_deliveries(uow, cities=cities)
        listings = {}  # registration is asked once per rollout per round
        for delivery_id in due:
            try:
                self._send(delivery_id, listings)
            except Exception:  # one bad delivery must not hold up the others
                log.exception("delivery %s could not be attempted; it stays queued", delivery_id)

    def _send(self, delivery_id, listings):
        with self.db.unit_of_work() as uow:
            delivery = sending.claim_delivery(ClaimDelivery(delivery_id, lease=self._timeout() + 30), uow)
        if delivery is None:
            return  # another process took it
        if delivery.rollout_id not in listings:
            listings[delivery.rollout_id] = self.registration.committee_list(delivery.rollout_id)
        with self.db.read() as uow:
            outgoing = sending.outgoing(uow, delivery, listings[delivery.rollout_id])
        outcome, detail = self._transmit(outgoing)
        if outcome == rules.GONE:
            log.warning("delivery %s: the webhook answered 410 and is disabled", delivery_id)
        elif outcome == rules.RETRY:
            log.warning("delivery %s to the %s committee failed: %s", delivery_id, delivery.city, detail)
        with self.db.unit_of_work() as uow:
            sending.record_outcome(RecordOutcome(
                delivery_id, outcome, detail, recipients=outgoing.recipients,
                participant_ids=outgoing.participant_ids, policy=self._policy()), uow)

    def _transmit(self, outgoing):
        """(outcome, detail) of handing one delivery to its channel."""
        delivery, committee = outgoing.delivery, outgoing.committee
        if delivery.channel == "webhook":
            raw = webhook.body(delivery, outgoing.listing, outgoing.rows, outgoing.idempotency_key)
            return webhook.post(committee.webhook_url, committee.webhook_secret, raw, outgoing.idempotency_key,
                                timeout=self._timeout())
        message = mail.committee_message(
            self.config["MAIL_FROM"], list(outgoing.recipients), delivery, outgoing.listing, outgoing.rows,
            list_format=committee.list_format if committee else "csv", message_id=outgoing.message_id,
            # The token rides in the fragment: browsers never send it, so no access log holds it.
            ack_url=f"{self._public_url()}/deliveries/{delivery.id}/acknowledge#token={delivery.ack_token}",
            committee_name=committee.name if committee else None)
        try:
            mail.send(self.config["SMTP_URL"], message)
        except Exception as exc:
            return rules.RETRY, f"{exc.__class__.__name__}: {exc}"[:500]
        return rules.SENT, "accepted by the mail server"

    def _policy(self):
        return rules.Policy.from_config(self.config)

    def _timeout(self):
        return float(self.config.get("WEBHOOK_TIMEOUT") or os.environ.get("WEBHOOK_TIMEOUT") or 10)

    def _public_url(self):
        return (self.config.get("PUBLIC_API_URL") or os.environ.get("PUBLIC_API_URL")
                or f"http://{self.config['WEB_SERVER_ADDRESS']}/api/v1").rstrip("/")

    # --- committees --------------------------------------------------------

    @api("PUT", "/rollouts/<int:rollout_id>/committee", body=CommitteeIn, response=CommitteeOut)
    def set_committee(self, request, rollout_id, body):
        city = self._city_of(rollout_id)
        with self.db.unit_of_work() as uow:
            return CommitteeOut().dump(committees.set_committee(SetCommittee(rollout_id, city, **body), uow))

    def _city_of(self, rollout_id):
        """Registration owns rollouts: it says whether this one exists, and in which city."""
        try:
            return self.registration.committee_list(rollout_id)["city"]
        except RemoteError as exc:
            if exc.exc_type == "NotFound":
                raise NotFound(f"rollout {rollout_id} does not exist", field="rollout_id")
            raise

    @api("GET", "/rollouts/<int:rollout_id>/committee", response=CommitteeOut)
    def show_committee(self, request, rollout_id):
        with self.db.read() as uow:
            return CommitteeOut().dump(committees.get_committee(uow, rollout_id))

    # --- deliveries --------------------------------------------------------

    @api("GET", "/deliveries", query=DeliveryQuery, response=DeliveryOut, many=True)
    def list_deliveries(self, request, query):
        with self.db.read() as uow:
            return DeliveryOut(many=True, exclude=("attempt_log",)).dump(sending.find_deliveries(uow, **query))

    @api("GET", "/deliveries/<int:delivery_id>", response=DeliveryOut)
    def show_delivery(self, request, delivery_id):
        with self.db.read() as uow:
            return self._delivery_out(uow, sending.get_delivery(uow, delivery_id))

    @api("POST", "/deliveries/<int:delivery_id>/resend", response=DeliveryOut)
    def resend_delivery(self, request, delivery_id):
        with self.db.unit_of_work() as uow:
            return self._delivery_out(uow, sending.resend_delivery(ResendDelivery(delivery_id), uow))

    @api("POST", "/deliveries/<int:delivery_id>/acknowledge", body=AcknowledgeIn, response=DeliveryOut)
    def acknowledge_delivery(self, request, delivery_id, body):
        with self.db.unit_of_work() as uow:
            delivery = sending.acknowledge_delivery(AcknowledgeDelivery(delivery_id, **body), uow)
            return self._delivery_out(uow, delivery)

    @api("GET", "/deliveries/<int:delivery_id>/acknowledge", produces="text/html")
    def acknowledge_page(self, request, delivery_id):
        """The page the committee's mail links to; its button POSTs the link's token."""
        return Response(ACKNOWLEDGE_PAGE, mimetype="text/html", headers={
            "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})

    @staticmethod
    def _delivery_out(uow, delivery):
        out = DeliveryOut(exclude=("attempt_log",)).dump(delivery)
        out["attempt_log"] = [{"attempted_at": a.attempted_at.isoformat(), "outcome": a.outcome, "detail": a.detail}
                              for a in sending.attempts_of(uow, delivery.id)]
        return out

    # --- the audit ---------------------------------------------------------

    @api("GET", "/participants/<int:participant_id>/disclosures", response=DisclosureOut, many=True)
    def disclosures(self, request, participant_id):
        """Who received this participant's data, when, by which channel."""
        with self.db.read() as uow:
            return DisclosureOut(many=True).dump(audit.disclosures_of(uow, participant_id))

    @api("GET", "/alerts", query=AlertQuery, response=AlertOut, many=True)
    def list_alerts(self, request, query):
        with self.db.read() as uow:
            return AlertOut(many=True).dump(audit.alerts(uow, query["rollout_id"]))
