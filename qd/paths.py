"""Where the project's folders are: one home for every path the package reads or writes by default."""
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "data"            # the bundled real data (read-only at run time)
MODELS_DIR = ROOT / "models"        # the shipped release models
REPORTS_DIR = ROOT / "reports"      # everything a run writes
NOTEBOOKS_DIR = ROOT / "notebooks"
