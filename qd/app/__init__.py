"""App: the drawing demo served by Voila, the rules of the game it plays, and the explorers for JupyterLab.

  game       rounds (announced, begun, won/lost), prompts, when ink counts, the throttle, what the game says (no widgets)
  recorder   pen events -> strokes
  view       the answer line, probability bars and the model's input as HTML and PNG
  guesser    a model for the demo: ours (a checkpoint) or DoodleNet
  pad        the drawing pad: draws in the page, sends the pen's points in batches (an anywidget; pad.js)
  canvas     `Board`, the pad with its strokes, and `PictureCanvas` (ipycanvas, a PNG, with the Voila fix)
  free       free draw: our model's bars and a second model beside them
  play       play mode: a card per round, rounds against the clock, results like Google's
  demo       the app (play + free draw) and `make_app`, what notebooks/demo.ipynb calls
  latency    stroke end -> probabilities, measured without a browser
  replay     real drawings replayed at their own pace through the game's rules, beside Google's AI (`--bench`)
  serve      the classroom: Voila with a bound, a bound per client address and a grace time (`python -m qd.app.serve`; voila.json)
  loadtest   many real Chromium pages on the served demo at once (`make bench-demo`); the server helper
  pupil      one page's traffic on the wire, without a browser: page, websocket, widgets, the pad's batches
  classbench a class of protocol visitors: 1-30 drawing at once, the capacity curve (`make bench-class`)
  playtest   whole games in Chromium, held-out drawings at their own pace (`make bench-play`); the page-driving helpers
  pictures   what the explorers show as numpy and PNG: a page of drawings, a confusion matrix, cards, a playback
  explore    the explorers for JupyterLab: `DataExplorer` (notebook 01) and `ModelExplorer` (notebook 04)

May import: the foundation, qd.data and qd.models; never qd.training or qd.report.
"""
