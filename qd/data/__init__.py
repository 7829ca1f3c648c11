"""Data: the bundled and official Quick, Draw! files and everything that turns them into arrays.

  bitmaps    the 28x28 bitmap files, class lists, named protocols
  ndjson     stroke drawings from ndjson files (simplified and raw), read line by line and checked
  splits     every split: stratified (bitmaps), by hashed key (streams, stroke drawings)
  geometry   strokes checked, aligned and scaled to the 0..255 box, or fitted to a screen; raw strokes simplified (RDP)
  render     strokes -> bitmaps with cairo, as Google drew them (`--bench`: its figures)
  sketch     `Sketch`: the demo's drawing, rendered stroke by stroke
  prefixes   partial drawings (the first k strokes, a stroke cut halfway): what the game sees early
  strokes    the bundled stroke drawings as one set: dedupe by key_id, twins of bitmap rows
  encode     stroke drawings as model input: images, order/time channels, point sequences
  augment    flips, rotations, shifts, scale; the reference's copies; stroke jitter
  datasets   streaming torch Datasets over official files (memory-mapped .npy, ndjson)
  download   official files for users who are online
  filecheck  is a file a sound official class file (cheap checks of downloaded and cached files)

May import: the foundation (qd.errors, qd.atomic, qd.paths). Nothing above it.
"""
