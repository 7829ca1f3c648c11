"""Training: how models are made.

  config        `TrainConfig`, the one home of every training default, and the CLI flags built from it
  loop          the seeded in-memory training loop, transfer from a checkpoint
  train         `python -m qd.training.train`: train from the command line
  distributed   process-group helpers for torchrun (know nothing of the training loop)
  stream        training at scale: streaming datasets, DataLoader workers, CUDA + AMP, DDP, resume;
                its `--bench`: throughput from memory-mapped bitmaps against rendering on the fly
  release       the release models' recipe: `make models` trains them into models/
  approaches    the registry of stroke approaches that notebook 06, the pipeline and the tests read

May import: the foundation, qd.data and qd.models.
"""
