"""The notification service: each rollout's committee gets its lists, once, and we know who got what."""
import logging
import os
from pathlib import Path

from kombu import Exchange, Queue
from nameko.amqp.publish import get_connection
from nameko.dependency_providers import Config
from nameko.extensions import DependencyProvider
from nameko.timer import timer
from werkzeug.wrappers import Response

from services.notification import audit, committees, deliveries, destinations, mail, retention, rules, sending, webhook
from services.notification.commands import (
    AcknowledgeDelivery,
    ClaimDelivery,
    ConfirmReceipt,
    QueueDueLists,
    RecordOutcome,
    ResendDelivery,
    SetCommittee,
)
from services.notification.models import Base
from services.notification.registration_api import RegistrationApi
from services.notification.repository import NotificationUnitOfWork
from services.notification.schemas import (
    AcknowledgeIn,
    AlertPage,
    AlertQuery,
    CommitteeChangePage,
    CommitteeIn,
    CommitteeOut,
    DeliveryOut,
    DeliveryPage,
    DeliveryQuery,
    DisclosurePage,
    Query,
)
from shared import events, secrets
from shared.auth import PUBLIC
from shared.consumer import batched, consume_events
from shared.dependencies import Database, Metrics
from shared.errors import Unavailable
from shared.health import HealthEndpoints
from shared.operations import dead_letter_endpoints
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


class Registration(DependencyProvider):
    """Registration's API (a committee's list, a rollout's city), called as notification's service account."""

    def setup(self):
        config = self.container.config
        self.api = RegistrationApi(config["REGISTRATION_URL"], config["IDENTITY_URL"],
                                   secrets.client_secret(config, "notification"), timeout=config["CALL_TIMEOUT"])

    def get_dependency(self, worker_ctx):
        return self.api


class CommitteeSecrets(DependencyProvider):
    """Webhook secrets sealed at rest (Fernet under SECRET_KEY); the few kept in the clear before, sealed at start."""

    def setup(self):
        self.vault = secrets.Secrets(self.container.config, "webhook-secrets")

    def start(self):
        database = next(d for d in self.container.dependencies if isinstance(d, Database))
        with database.store.unit_of_work() as uow:
            sealed = committees.seal_stored_secrets(uow, self.vault.seal, self.vault.is_sealed)
        if sealed:
            log.info("sealed %d webhook secret(s) kept in the clear by an earlier version", sealed)

    def get_dependency(self, worker_ctx):
        return self.vault


class NotificationService(PrometheusEndpoint, HealthEndpoints, dead_letter_endpoints("notification")):
    name = "notification"

    db = Database(Base.metadata, unit_of_work=NotificationUnitOfWork)
    outbox = OutboxRelay()
    own_queues = OwnQueues()
    metrics = Metrics()
    registration = Registration()
    vault = CommitteeSecrets()
    config = Config()

    # What registration tells us: each becomes deliveries queued (or changes kept for a digest).
    handle_events = consume_events({
        events.ROLLOUT_LAUNCHED: deliveries.record_rollout,
        # Registrations come in thousands with bulk imports: taken in batches, one transaction each,
        # and each run of one kind of change written in one insert.
        events.PARTICIPANT_REGISTERED: batched(deliveries.record_registrations),
        events.PARTICIPANT_UPDATED: batched(deliveries.record_participant_updates),
        events.PARTICIPANT_CANCELLED: batched(deliveries.record_participant_cancellations),
        events.PARTICIPANT_PROMOTED: batched(deliveries.record_promotions),
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
            except Unavailable as exc:  # tried again when its lease runs out
                log.warning("delivery %s waits: %s", delivery_id, exc.message)
            except Exception:  # one bad delivery must not hold up the others
                log.exception("delivery %s could not be attempted; it stays queued", delivery_id)

    def _send(self, delivery_id, listings):
        with self.db.unit_of_work() as uow:
            delivery = sending.claim_delivery(ClaimDelivery(delivery_id, lease=self._timeout() + 30), uow)
        if delivery is None:
            return  # another process took it
        # Names are fetched only for a delivery that carries a list; never on the broker.
        wanted = (delivery.rollout_id, delivery.kind in rules.LISTS)
        if wanted not in listings:
            listings[wanted] = self.registration.listing(*wanted)
        with self.db.read() as uow:
            outgoing = sending.outgoing(uow, delivery, listings[wanted])
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
            return webhook.post(outgoing.webhook_url, self.vault.open(outgoing.webhook_secret), raw,
                                outgoing.idempotency_key, timeout=self._timeout(), allowed=self._allowed())
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

    def _allowed(self):
        return destinations.AllowList.from_config(self.config)

    def _policy(self):
        return rules.Policy.from_config(self.config)

    def _timeout(self):
        return float(self.config.get("WEBHOOK_TIMEOUT") or os.environ.get("WEBHOOK_TIMEOUT") or 10)

    def _public_url(self):
        return (self.config.get("PUBLIC_API_URL") or os.environ.get("PUBLIC_API_URL")
                or f"http://{self.config['WEB_SERVER_ADDRESS']}/api/v1").rstrip("/")

    # --- committees --------------------------------------------------------

    @api("PUT", "/rollouts/<int:rollout_id>/committee", body=CommitteeIn, response=CommitteeOut,
         permission="committee:write")
    def set_committee(self, request, rollout_id, body, principal):
        """Set where a rollout's lists go; a change of addresses is audited and told to the previous ones."""
        city = self.registration.rollout(rollout_id)["city"]  # registration owns rollouts and their cities
        allowed = self._allowed()
        with self.db.unit_of_work() as uow:
            committee = committees.set_committee(
                SetCommittee(rollout_id, city, principal, **body), uow,
                check_url=lambda url: destinations.check(url, allowed), seal=self.vault.seal)
            return CommitteeOut().dump(committee)

    @api("GET", "/rollouts/<int:rollout_id>/committee", response=CommitteeOut, permission="committee:read")
    def show_committee(self, request, rollout_id, principal):
        with self.db.read() as uow:
            return CommitteeOut().dump(committees.get_committee(uow, rollout_id, principal.city_filter()))

    @api("GET", "/rollouts/<int:rollout_id>/committee/changes", query=Query, response=CommitteeChangePage,
         permission="committee:read")
    def committee_changes(self, request, rollout_id, query, principal):
        """Who set or changed the committee, when, from what to what."""
        with self.db.read() as uow:
            return CommitteeChangePage().dump(committees.changes_of(uow, rollout_id, principal.city_filter(), **query))

    # --- deliveries --------------------------------------------------------

    @api("GET", "/deliveries", query=DeliveryQuery, response=DeliveryPage, permission="deliveries:read")
    def list_deliveries(self, request, query, principal):
        with self.db.read() as uow:
            found = sending.find_deliveries(uow, **query, cities=principal.city_filter())
            return DeliveryPage(exclude=("items.attempt_log",)).dump(found)

    @api("GET", "/deliveries/<int:delivery_id>", response=DeliveryOut, permission="deliveries:read")
    def show_delivery(self, request, delivery_id, principal):
        with self.db.read() as uow:
            return self._delivery_out(uow, sending.get_delivery(uow, delivery_id, principal.city_filter()))

    @api("POST", "/deliveries/<int:delivery_id>/resend", response=DeliveryOut, permission="committee:write")
    def resend_delivery(self, request, delivery_id, principal):
        """Send a list again: personal data going out once more, so it is the committee's coordinators' call."""
        with self.db.unit_of_work() as uow:
            delivery = sending.resend_delivery(ResendDelivery(delivery_id, principal.city_filter()), uow)
            return self._delivery_out(uow, delivery)

    # The committee's adults need no account: the one-time token of the mail's link is what lets them
    # acknowledge (compared in constant time), so the page and its answer are open to anyone holding it.
    @api("POST", "/deliveries/<int:delivery_id>/acknowledge", body=AcknowledgeIn, response=DeliveryOut,
         permission=PUBLIC)
    def acknowledge_delivery(self, request, delivery_id, body):
        with self.db.unit_of_work() as uow:
            delivery = sending.acknowledge_delivery(AcknowledgeDelivery(delivery_id, **body), uow)
            return self._delivery_out(uow, delivery)

    @api("POST", "/deliveries/<int:delivery_id>/receipt", response=DeliveryOut,
         permission="deliveries:acknowledge")
    def confirm_receipt(self, request, delivery_id, principal):
        """A committee member signed in (the console) confirms receipt, as the mail's link does."""
        with self.db.unit_of_work() as uow:
            delivery = sending.confirm_receipt(ConfirmReceipt(delivery_id, principal.city_filter()), uow)
            return self._delivery_out(uow, delivery)

    @api("GET", "/deliveries/<int:delivery_id>/acknowledge", produces="text/html", permission=PUBLIC)
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

    @api("GET", "/participants/<int:participant_id>/disclosures", query=Query, response=DisclosurePage,
         permission="audit:read")
    def disclosures(self, request, participant_id, query, principal):
        """Who received this participant's data, when, by which channel (in the caller's cities)."""
        with self.db.read() as uow:
            return DisclosurePage().dump(audit.disclosures_of(uow, participant_id, principal.city_filter(), **query))

    @api("GET", "/alerts", query=AlertQuery, response=AlertPage, permission="deliveries:read")
    def list_alerts(self, request, query, principal):
        with self.db.read() as uow:
            return AlertPage().dump(audit.alerts(uow, **query, cities=principal.city_filter()))
