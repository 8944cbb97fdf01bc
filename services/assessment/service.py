from nameko.rpc import RpcProxy

from services.assessment import domain
from services.assessment.models import Base
from services.assessment.schemas import InstrumentIn, InstrumentOut, SubmissionIn, SubmissionOut
from shared.database import Database
from shared.metrics import Metrics, PrometheusEndpoint
from shared.outbox import OutboxRelay
from shared.web import api, json_body


class AssessmentService(PrometheusEndpoint):
    name = "assessment"

    db = Database(Base.metadata)
    outbox = OutboxRelay()
    metrics = Metrics()
    registration = RpcProxy("registration")

    @api("POST", "/instruments", body=InstrumentIn, response=InstrumentOut, status=201)
    def create_instrument(self, request):
        with self.db.unit_of_work() as uow:
            return 201, InstrumentOut().dump(domain.create_instrument(uow, json_body(request)))

    @api("GET", "/instruments/<int:instrument_id>", response=InstrumentOut)
    def show_instrument(self, request, instrument_id):
        with self.db.read() as session:
            return InstrumentOut().dump(domain.get_instrument(session, instrument_id))

    @api("POST", "/submissions", body=SubmissionIn, response=SubmissionOut, status=201)
    def submit(self, request):
        data = domain.parse_submission(json_body(request))
        participant = self._participant(data["participant_code"])
        with self.db.unit_of_work() as uow:
            return 201, SubmissionOut().dump(domain.submit(uow, data, participant))

    def _participant(self, code):
        """Registration owns participants; ask it once per code, then remember."""
        with self.db.read() as session:
            known = domain.known_participant(session, code)
        if known is not None:
            return known
        answer = self.registration.participant_by_code(code)
        if answer is None:
            return None
        with self.db.unit_of_work() as uow:
            return domain.remember_participant(uow.session, answer)
