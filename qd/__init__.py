"""qd: recognising Quick, Draw! doodles.

Small modules, read top to bottom:
  data      load bundled/official bitmaps and stroke ndjson, deterministic splits
  download  fetch official class files for users who are online
  render    strokes -> 28x28 bitmap, the way the official numpy_bitmap files were made
  augment   flips, rotations, shifts/scale for training
  models    the reference MLP and one-conv CNN, and our own CNN
  train     training loop, checkpoints, the `python -m qd.train` CLI
  evaluate  accuracy, top-k, confusion, timing
  plots     every figure the notebooks show
  infer     a saved model -> probabilities for a drawing
  demo      the ipycanvas drawing app served by Voila
  pipeline  papermill runs of the notebooks and the HTML report
"""
from pathlib import Path

from qd.errors import QDError, QDDataWarning

__version__ = "0.1.0"

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "data"
REPORTS_DIR = ROOT / "reports"
MODELS_DIR = ROOT / "models"

__all__ = ["QDError", "QDDataWarning", "ROOT", "DATA_DIR", "REPORTS_DIR", "MODELS_DIR"]
