"""The rules stand alone: every domain and handler module imports where nameko, eventlet and
werkzeug cannot, so they can be read, tested and reused without the framework."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# The modules that are the framework's edge: entrypoints, providers, the web server, the relay.
EDGE = {
    "shared.web", "shared.consumer", "shared.dependencies", "shared.outbox", "shared.metrics",
    "shared.rpc", "shared.openapi", "shared.health", "shared.operations",
    "services.registration.import_worker",  # a service class, as service.py is
}


def plain_modules():
    modules = []
    for path in sorted((ROOT / "services").glob("*/*.py")) + sorted((ROOT / "shared").glob("*.py")):
        if path.name in ("__init__.py", "service.py", "dependencies.py"):  # the framework side of a service
            continue
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        if module not in EDGE:
            modules.append(module)
    return modules


BLOCK = """
import importlib, importlib.abc, sys

class NoFramework(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("nameko", "eventlet", "werkzeug"):
            raise ImportError(f"{name} may not be imported here")
        return None

sys.meta_path.insert(0, NoFramework())
failed = []
for module in sys.argv[1:]:
    try:
        importlib.import_module(module)
    except ImportError as exc:
        failed.append(f"{module}: {exc}")
print("\\n".join(failed))
sys.exit(1 if failed else 0)
"""


def test_every_domain_and_handler_module_imports_without_nameko_eventlet_or_werkzeug():
    modules = plain_modules()
    assert "services.registration.models" in modules and "shared.handling" in modules
    result = subprocess.run([sys.executable, "-c", BLOCK, *modules], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
