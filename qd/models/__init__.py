"""Models: what a trained model is and how it answers.

  architectures   the reference MLP and one-conv CNN, our CNN (QDNet), the stroke RNN
  checkpoint      the checkpoint format: save, load, checksum, metadata (the only place that knows it)
  infer           probabilities for images and strokes; `Predictor`, a loaded checkpoint
  calibrate       temperature scaling and expected calibration error: percentages that mean what they say
  unknown         "I don't know": a detector for drawings outside the vocabulary
  doodlenet       ml5's DoodleNet in PyTorch, the public peer
  baselines       random forests on pixels and on PCA

May import: the foundation and qd.data.
"""
