"""``campaign reporting ...`` on a reporting database, as a coordinator runs it."""
import pytest
from click.testing import CliRunner

from campaign.reporting_commands import reporting
from services.reporting import publication
from services.reporting.models import Base
from services.reporting.repository import ReportingUnitOfWork
from shared.database import Store
from tests.unit.test_reporting import a_season_of_events
from tests.unit.test_reporting_repository import record


@pytest.fixture
def data_dir(tmp_path):
    store = Store("sqlite:///" + str(tmp_path / "reporting.db"), Base.metadata, consumer="reporting",
                  unit_of_work=ReportingUnitOfWork)
    record(store, *a_season_of_events())
    with store.unit_of_work() as uow:  # one publication round: what partners may see
        publication.publish_changed_summaries(uow)
    store.dispose()
    return tmp_path


def run(data_dir, *args):
    env = {"CAMPAIGN_DATA_DIR": str(data_dir), "REPORTS_DIR": str(data_dir / "reports"),
           "REPORTING_DATABASE_URL": ""}
    return CliRunner().invoke(reporting, list(args), env=env, catch_exceptions=False)


def test_rebuild_report_and_export(data_dir):
    rebuilt = run(data_dir, "rebuild")
    assert rebuilt.exit_code == 0, rebuilt.output
    assert rebuilt.output == f"rebuilt the read models from {len(a_season_of_events())} events\n"

    written = run(data_dir, "report", "pontianak", "--lang", "en", "--format", "md", "--format", "pdf")
    assert written.exit_code == 0, written.output
    assert [line.rsplit("/", 1)[1] for line in written.output.splitlines()] == [
        "report-pontianak-2019.md", "report-pontianak-2019.pdf"]

    exported = run(data_dir, "export", "national", "--public", "--format", "xlsx")
    assert exported.exit_code == 0, exported.output
    assert exported.output.strip().endswith("laporan-nasional-2019-publik.xlsx")

    public = run(data_dir, "report", "national", "--public", "--format", "md")
    assert public.exit_code == 0, public.output
    markdown = (data_dir / "reports" / "laporan-nasional-2019-publik.md").read_text(encoding="utf-8")
    assert "Catatan tentang angka publik" in markdown and '"x"' in markdown


def test_mistakes_are_messages_and_a_non_zero_exit(data_dir, tmp_path_factory):
    unknown = run(data_dir, "report", "surabaya")
    assert unknown.exit_code == 1
    assert "surabaya has no launched rollout to report on" in unknown.output

    nowhere = run(tmp_path_factory.mktemp("empty"), "rebuild")
    assert nowhere.exit_code == 1 and "no reporting database at" in nowhere.output

    wrong_language = run(data_dir, "report", "pontianak", "--lang", "fr")
    assert wrong_language.exit_code == 2 and "--lang" in wrong_language.output


def test_a_data_dir_given_reads_the_database_and_rollout_chooses_the_city_s_rollout(data_dir, tmp_path_factory):
    elsewhere = {"CAMPAIGN_API_URL": "http://127.0.0.1:9", "CAMPAIGN_DATA_DIR": "", "REPORTING_DATABASE_URL": ""}

    def report(rollout_id):
        out = tmp_path_factory.mktemp(f"rollout-{rollout_id}")
        result = CliRunner().invoke(reporting, ["report", "medan", "--rollout", str(rollout_id), "--format", "md",
                                                "--data-dir", str(data_dir), "--dir", str(out)], env=elsewhere)
        assert result.exit_code == 0, result.output
        return (out / result.output.strip().rsplit("/", 1)[1]).read_text(encoding="utf-8")

    assert "- Peserta terdaftar: 7 (" in report(2)
    assert "- Peserta terdaftar: 1 (" in report(3)  # the cancelled one, asked for by id

    other_city = CliRunner().invoke(reporting, ["report", "medan", "--rollout", "1", "--local"],
                                    env={"CAMPAIGN_DATA_DIR": str(data_dir), "REPORTING_DATABASE_URL": ""})
    assert other_city.exit_code == 1 and "medan has no rollout 1 to report on" in other_city.output
