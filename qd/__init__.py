"""qd: recognising Quick, Draw! doodles.

One subpackage per layer; a layer imports only the layers listed before it (tests/test_layers.py
checks this, and that no import cycle exists):

  errors, atomic, paths, cli, checks   the foundation: the one error family, atomic writes, the
                project's folders, how a benchmark's command line prints its result, argument checks
  qd.data       bundled and official files, splits, streaming datasets, rendering, encodings, download
  qd.models     architectures, the checkpoint format, inference, "I don't know", DoodleNet, baselines
  qd.training   one config, the in-memory and the streaming/DDP loops, benchmarks, the approaches
  qd.app        the Voila demo and the game's rules (models and data, never training)
  qd.report     metrics, report rows, plots, the notebook pipeline and the HTML report
"""
from qd.errors import QDDataWarning, QDError
from qd.paths import DATA_DIR, MODELS_DIR, NOTEBOOKS_DIR, REPORTS_DIR, ROOT

__version__ = "0.1.0"

__all__ = ["QDError", "QDDataWarning", "ROOT", "DATA_DIR", "REPORTS_DIR", "MODELS_DIR", "NOTEBOOKS_DIR"]
