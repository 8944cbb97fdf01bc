"""``campaign db upgrade`` and ``campaign db current`` as an operator runs them."""
import os
import subprocess
import sys
from pathlib import Path

from shared import migrations
from shared.config import SERVICES
from tests.support.cluster import free_port

CAMPAIGN = str(Path(sys.executable).parent / "campaign")


def campaign(*args, **env):
    clean_env = {k: v for k, v in os.environ.items() if not k.endswith("_DATABASE_URL")}
    return subprocess.run([CAMPAIGN, *args], env={**clean_env, **env}, capture_output=True, text=True, timeout=120)


def test_db_upgrade_builds_all_four_schemas_in_an_empty_data_dir(tmp_path):
    data_dir = tmp_path / "data"

    before = campaign("db", "current", CAMPAIGN_DATA_DIR=str(data_dir))
    upgraded = campaign("db", "upgrade", CAMPAIGN_DATA_DIR=str(data_dir))
    after = campaign("db", "current", CAMPAIGN_DATA_DIR=str(data_dir))

    assert before.stdout.splitlines() == [
        f"{s}: none (head is {migrations.head(s)}: run campaign db upgrade)" for s in SERVICES]
    assert upgraded.returncode == 0, upgraded.stderr
    assert upgraded.stdout.splitlines() == [f"{s}: {migrations.head(s)} (head)" for s in SERVICES]
    assert after.stdout.splitlines() == upgraded.stdout.splitlines()
    for service in SERVICES:
        url = f"sqlite:///{data_dir / service}.db"
        assert migrations.current(service, url) == migrations.head(service)
        assert migrations.drift(service, url) == []


def test_db_upgrade_of_one_service_leaves_the_others_alone(tmp_path):
    upgraded = campaign("db", "upgrade", "assessment", CAMPAIGN_DATA_DIR=str(tmp_path))

    assert upgraded.stdout.splitlines() == [f"assessment: {migrations.head('assessment')} (head)"]
    assert sorted(p.name for p in tmp_path.glob("*.db")) == ["assessment.db"]


def test_a_database_that_does_not_answer_is_named_on_one_line_and_the_exit_is_non_zero(tmp_path):
    nobody = f"postgresql://postgres:secret@127.0.0.1:{free_port()}/registration"

    result = campaign("db", "upgrade", CAMPAIGN_DATA_DIR=str(tmp_path), REGISTRATION_DATABASE_URL=nobody)

    assert result.returncode == 1
    [error] = result.stderr.splitlines()
    assert error.startswith("error: registration: the database postgresql://postgres:***@127.0.0.1:")
    assert "does not answer" in error and "secret" not in error
    # The other services' databases are still brought up to date.
    assert result.stdout.splitlines() == [f"{s}: {migrations.head(s)} (head)" for s in SERVICES[1:]]
