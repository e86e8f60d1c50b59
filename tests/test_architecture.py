"""The architecture holds: the import-linter contracts in pyproject.toml are kept.

The contracts (layers web -> billing -> tenants -> platform, the tenant domains' order and their
named public modules, shared web modules that import no page, no import cycles) are described
in docs/decisions.md. Running them here makes `make test` enforce them, not only `make lint`.
"""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_import_contracts_are_kept() -> None:
    lint_imports = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run(
        [str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
