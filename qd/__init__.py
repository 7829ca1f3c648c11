"""qd: recognising Quick, Draw! doodles.

Small modules, read top to bottom:
  data         load bundled/official bitmaps and stroke ndjson, protocols, deterministic splits
  download     fetch official class files for users who are online (parallel, resumable, checked)
  datasets     torch Datasets over official files: memory-mapped .npy, ndjson rendered on the fly
  render       strokes -> bitmap with cairo, the way the official numpy_bitmap files were made
  strokes      stroke drawings as model input: dedupe, sequences, order/time channels
  augment      flips, rotations, shifts/scale for training
  models       the reference MLP and one-conv CNN, our CNN, the stroke RNN
  train        in-memory training loop, checkpoints, the `python -m qd.train` CLI
  distributed  streaming training: DataLoader workers, CUDA + AMP, torchrun/DDP, resume
  baselines    random forests on pixels and PCA
  evaluate     accuracy, top-k, MAP@3, confusion, timing, report rows
  doodlenet    ml5's DoodleNet in PyTorch, the public peer
  plots        every figure the notebooks show
  infer        a saved model -> probabilities for a drawing
  game         the rules of the game the demo plays (rounds, won/lost, throttle)
  unknown      "I don't know": a detector for drawings outside the vocabulary
  demo         the ipycanvas app served by Voila: play mode and free draw
  pipeline     papermill runs of the notebooks and the HTML report
  atomic       write-to-temp-then-rename for every file the project writes
"""
from pathlib import Path

from qd.errors import QDError, QDDataWarning

__version__ = "0.1.0"

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "data"
REPORTS_DIR = ROOT / "reports"
MODELS_DIR = ROOT / "models"

__all__ = ["QDError", "QDDataWarning", "ROOT", "DATA_DIR", "REPORTS_DIR", "MODELS_DIR"]
