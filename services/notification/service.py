import logging
import os

from kombu import Exchange, Queue
from nameko.amqp.publish import get_connection
from nameko.dependency_providers import Config
from nameko.exceptions import RemoteError
from nameko.extensions import DependencyProvider
from nameko.rpc import RpcProxy
from nameko.timer import timer

from services.notification import domain, mail, webhook
from services.notification.models import Base, Committee, Delivery
from services.notification.schemas import AlertOut, CommitteeOut, DeliveryOut, DisclosureOut
from shared import events
from shared.consumer import BATCH, city_event_handler
from shared.dependencies import Database, Metrics
from shared.errors import InvalidInput, NotFound
from shared.health import HealthEndpoints
from shared.outbox import OutboxRelay
from shared.turns import taking_turns
from shared.web import PrometheusEndpoint, api, json_body

log = logging.getLogger(__name__)

DEAD_LETTERS = "notification.dead-letters"
COORDINATOR_ALERTS = "coordinator.alerts"


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

    db = Database(Base.metadata)
    outbox = OutboxRelay()
    own_queues = OwnQueues()
    metrics = Metrics()
    registration = RpcProxy("registration")
    config = Config()

    @property
    def policy(self):
        return domain.Policy.from_config(self.config)

    @property
    def city(self):
        return self.config.get("CITY", "*")

    # --- what registration tells us ----------------------------------------

    @city_event_handler(events.ROLLOUT_LAUNCHED)
    def on_rollout_launched(self, payload):
        self._handle(events.ROLLOUT_LAUNCHED, payload, domain.record_rollout)

    # Registrations come in thousands with bulk imports: taken in batches, one transaction each.
    @city_event_handler(events.PARTICIPANT_REGISTERED, batch=BATCH)
    def on_participant_registered(self, payloads):
        loaded = self._load(events.PARTICIPANT_REGISTERED, payloads)
        with self.db.unit_of_work() as uow:
            domain.record_changes(uow, uow.first_deliveries(loaded), "registered")

    @city_event_handler(events.PARTICIPANT_UPDATED)
    def on_participant_updated(self, payload):
        self._handle(events.PARTICIPANT_UPDATED, payload, lambda uow, e: domain.record_change(uow, e, "updated"))

    @city_event_handler(events.PARTICIPANT_CANCELLED)
    def on_participant_cancelled(self, payload):
        self._handle(events.PARTICIPANT_CANCELLED, payload, lambda uow, e: domain.record_change(uow, e, "cancelled"))

    @city_event_handler(events.PARTICIPANT_PROMOTED)
    def on_participant_promoted(self, payload):
        self._handle(events.PARTICIPANT_PROMOTED, payload, lambda uow, e: domain.record_change(uow, e, "promoted"))

    @city_event_handler(events.TARGET_GAP)
    def on_target_gap(self, payload):
        self._handle(events.TARGET_GAP, payload, domain.queue_target_gap)

    @city_event_handler(events.ROLLOUT_CANCELLED)
    def on_rollout_cancelled(self, payload):
        self._handle(events.ROLLOUT_CANCELLED, payload, domain.record_cancellation)

    @city_event_handler(events.REGISTRATION_CLOSED)
    def on_registration_closed(self, payload):
        self._handle(events.REGISTRATION_CLOSED, payload, domain.queue_participant_list)

    @staticmethod
    def _load(event_type, payloads):
        return [event_type.load(p) for p in taking_turns(payloads if isinstance(payloads, list) else [payloads])]

    def _handle(self, event_type, payloads, work):
        """Apply ``work`` to each event (one payload, or a batch) not handled before."""
        loaded = self._load(event_type, payloads)
        with self.db.unit_of_work() as uow:
            for event in uow.first_deliveries(loaded):
                work(uow, event)

    # --- sending -----------------------------------------------------------

    @timer(interval=0.5)
    def send_queued(self):
        """Deliveries are queued by handlers and sent here, so a crash leaves them queued, not lost."""
        with self.db.read() as session:
            waiting = domain.work_waiting(session, self.city)
        if waiting:
            with self.db.unit_of_work() as uow:
                domain.collect_digests(uow, self.policy.digest_window, city=self.city)
                domain.queue_final_lists(uow, days_before=self.policy.final_list_days_before, city=self.city)
        with self.db.read() as session:
            due = [d.id for d in domain.due_deliveries(session, city=self.city)]
        listings = {}  # one RPC per rollout per round
        for delivery_id in due:
            try:
                self._send(delivery_id, listings)
            except Exception:  # one bad delivery must not hold up the others
                log.exception("delivery %s could not be attempted; it stays queued", delivery_id)

    def _send(self, delivery_id, listings):
        with self.db.unit_of_work() as uow:
            if not domain.claim(uow, delivery_id, lease=self._timeout() + 30):
                return
        with self.db.read() as session:
            delivery = session.get(Delivery, delivery_id)
            committee = session.get(Committee, delivery.rollout_id)
            inactive = domain.inactive_participants(session, delivery.rollout_id)
        if delivery.rollout_id not in listings:
            listings[delivery.rollout_id] = self.registration.committee_list(delivery.rollout_id)
        listing = listings[delivery.rollout_id]
        rows = domain.list_rows(delivery, listing, inactive) if delivery.kind in domain.LISTS else []
        ack_url = f"{self._public_url()}/deliveries/{delivery.id}/acknowledge?token={delivery.ack_token}"
        key = domain.idempotency_key(delivery)
        if delivery.channel == "webhook":
            outcome, detail = webhook.post(
                committee.webhook_url, committee.webhook_secret,
                webhook.body(delivery, listing, rows, key), key,
                timeout=self._timeout())
            recipients = [committee.webhook_url]
        else:
            recipients = committee.emails if committee and committee.emails else [listing["committee_email"]]
            message = mail.committee_message(
                self.config["MAIL_FROM"], recipients, delivery, listing, rows,
                list_format=committee.list_format if committee else "csv", ack_url=ack_url,
                message_id=domain.message_id(delivery), committee_name=committee.name if committee else None)
            try:
                mail.send(self.config["SMTP_URL"], message)
                outcome, detail = webhook.SENT, "accepted by the mail server"
            except Exception as exc:
                outcome, detail = webhook.RETRY, f"{exc.__class__.__name__}: {exc}"[:500]
        with self.db.unit_of_work() as uow:
            if outcome == webhook.SENT:
                # For a webhook, the receiver's 2xx is its receipt.
                domain.record_sent(uow, delivery_id, recipients, rows, detail,
                                   acknowledged=delivery.channel == "webhook")
            elif outcome == webhook.GONE:
                log.warning("delivery %s: the webhook answered 410 and is disabled", delivery_id)
                domain.record_gone(uow, delivery_id, detail)
            else:
                log.warning("delivery %s to the %s committee failed: %s", delivery_id, delivery.city, detail)
                domain.record_failure(uow, delivery_id, detail, self.policy)

    def _timeout(self):
        return float(self.config.get("WEBHOOK_TIMEOUT") or os.environ.get("WEBHOOK_TIMEOUT") or 10)

    def _public_url(self):
        return (self.config.get("PUBLIC_API_URL") or os.environ.get("PUBLIC_API_URL")
                or f"http://{self.config['WEB_SERVER_ADDRESS']}/api/v1").rstrip("/")

    # --- the API -----------------------------------------------------------

    @api("PUT", "/rollouts/<int:rollout_id>/committee", response=CommitteeOut)
    def set_committee(self, request, rollout_id):
        data = json_body(request)
        try:
            rollout = self.registration.committee_list(rollout_id)
        except RemoteError as exc:
            if exc.exc_type == "NotFound":
                raise NotFound(f"rollout {rollout_id} does not exist", field="rollout_id")
            raise
        with self.db.unit_of_work() as uow:
            return CommitteeOut().dump(domain.set_committee(uow, rollout_id, rollout["city"], data))

    @api("GET", "/rollouts/<int:rollout_id>/committee", response=CommitteeOut)
    def show_committee(self, request, rollout_id):
        with self.db.read() as session:
            return CommitteeOut().dump(domain.get_committee(session, rollout_id))

    @api("GET", "/deliveries", response=DeliveryOut, many=True)
    def list_deliveries(self, request):
        filters = {}
        for name in ("rollout_id", "status", "kind", "city"):
            value = request.args.get(name)
            if value not in (None, ""):
                filters[name] = value
        if "rollout_id" in filters:
            if not filters["rollout_id"].isdigit():
                raise InvalidInput("rollout_id: must be a number", fields={"rollout_id": ["Not a valid integer."]})
            filters["rollout_id"] = int(filters["rollout_id"])
        with self.db.read() as session:
            return DeliveryOut(many=True, exclude=("attempt_log",)).dump(domain.find_deliveries(session, **filters))

    @api("GET", "/deliveries/<int:delivery_id>", response=DeliveryOut)
    def show_delivery(self, request, delivery_id):
        with self.db.read() as session:
            return self._delivery_out(session, domain.get_delivery(session, delivery_id))

    @api("POST", "/deliveries/<int:delivery_id>/resend", response=DeliveryOut)
    def resend_delivery(self, request, delivery_id):
        with self.db.unit_of_work() as uow:
            return self._delivery_out(uow.session, domain.resend(uow, delivery_id))

    @api("POST", "/deliveries/<int:delivery_id>/acknowledge", response=DeliveryOut)
    def acknowledge_delivery(self, request, delivery_id):
        token = request.args.get("token") or (json_body(request).get("token") if request.data else None)
        with self.db.unit_of_work() as uow:
            return self._delivery_out(uow.session, domain.acknowledge(uow, delivery_id, token))

    @api("GET", "/deliveries/<int:delivery_id>/acknowledge", response=DeliveryOut)
    def acknowledge_by_link(self, request, delivery_id):
        """The link in the committee's mail."""
        with self.db.unit_of_work() as uow:
            return self._delivery_out(uow.session, domain.acknowledge(uow, delivery_id, request.args.get("token")))

    @api("GET", "/participants/<int:participant_id>/disclosures", response=DisclosureOut, many=True)
    def disclosures(self, request, participant_id):
        """Who received this participant's data, when, by which channel."""
        with self.db.read() as session:
            return [DisclosureOut().dump({
                "delivery_id": record.delivery_id, "rollout_id": delivery.rollout_id, "kind": delivery.kind,
                "recipient": record.recipient, "channel": record.channel, "disclosed_at": record.disclosed_at,
            }) for record, delivery in domain.disclosures_of(session, participant_id)]

    @api("GET", "/alerts", response=AlertOut, many=True)
    def list_alerts(self, request):
        rollout_id = request.args.get("rollout_id")
        with self.db.read() as session:
            return AlertOut(many=True).dump(
                domain.alerts(session, int(rollout_id) if rollout_id and rollout_id.isdigit() else None))

    @staticmethod
    def _delivery_out(session, delivery):
        out = DeliveryOut(exclude=("attempt_log",)).dump(delivery)
        out["attempt_log"] = [{"attempted_at": a.attempted_at.isoformat(), "outcome": a.outcome, "detail": a.detail}
                              for a in domain.attempts_of(session, delivery.id)]
        return out
