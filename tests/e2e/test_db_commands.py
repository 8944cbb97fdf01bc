"""``campaign db upgrade`` and ``campaign db current`` as an operator runs them."""
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from shared import migrations
from shared.config import SERVICES
from tests.support.cluster import free_port

CAMPAIGN = str(Path(sys.executable).parent / "campaign")
ROOT = Path(__file__).parents[2]


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


def test_the_package_ships_every_service_s_migrations(tmp_path):
    """A non-editable install (as deploy/Dockerfile makes) must have them to start a service."""
    source = tmp_path / "source"
    source.mkdir()
    for part in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / part, source / part)
    for part in ("campaign", "services", "shared"):
        shutil.copytree(ROOT / part, source / part, ignore=shutil.ignore_patterns("__pycache__"))
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                            "-w", str(tmp_path / "wheel"), str(source)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr

    [wheel] = (tmp_path / "wheel").glob("*.whl")
    shipped = set(zipfile.ZipFile(wheel).namelist())
    expected = {str(path.relative_to(ROOT)) for path in ROOT.glob("services/*/migrations/**/*")
                if path.is_file() and "__pycache__" not in path.parts}
    assert {f"services/{s}/migrations/env.py" for s in SERVICES} <= expected
    assert expected <= shipped
