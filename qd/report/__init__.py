"""Report: measuring models and telling people what was measured.

  metrics      accuracy, top-k, MAP@3, balanced accuracy, confused pairs
  scoring      the metric rows notebooks write: scoring, timing, DoodleNet beside every figure
  tables       numbers as people read them (95.3%, 12 s), rows as tables
  stroke_study notebook 06's comparison: one approach trained and scored on a stroke task
  curves       learning curves: accuracy against drawings a class (notebook 05; epochs_for for both)
  checks       notebook 04's checks of the demo's model: renders against official bitmaps, latency
  model_card   the release models measured: models/README.md, card.json, SHA256SUMS
  plots        every figure the notebooks show
  pipeline     papermill runs of the notebooks (`python -m qd.report.pipeline`)
  html         reports/report.html from the rows, figures and template.html

May import: every layer below (the foundation, qd.data, qd.models, qd.training, qd.app).
"""
