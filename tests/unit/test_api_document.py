"""The API's own description: complete, built without a warning, and its timestamps as it says."""
import warnings

from services.registration.models import Base
from services.registration.repository import RegistrationUnitOfWork
from services.registration.schemas import ParticipantOut
from shared import openapi
from shared.database import Store
from tests.unit.test_registration import ADULT, launched, register


def test_the_document_is_built_without_a_warning():
    openapi.document.cache_clear()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        document = openapi.document()
    assert {"RegistrationImportOut", "AssessmentImportOut"} <= set(document["components"]["schemas"])


def test_a_timestamp_read_back_from_sqlite_is_answered_with_its_time_zone(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'registration.db'}", Base.metadata, unit_of_work=RegistrationUnitOfWork)
    with store.unit_of_work() as uow:
        participant_id = register(uow, launched(uow).id, ADULT).id
    with store.read() as uow:
        answer = ParticipantOut().dump(uow.participants.get(participant_id))
    store.dispose()
    assert answer["registered_at"].endswith("+00:00"), answer["registered_at"]
