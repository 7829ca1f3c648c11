// The drawing pad's browser side (qd/app/pad.py says why it exists). The pen draws here, at once;
// its points go to the kernel in batches: one message every `batch_ms` while a stroke is open, and
// one at its end. The kernel answers only with its guesses; when it changes the drawing itself
// (undo, clear, a new round, a stroke it refused) it bumps `revision` and the pad redraws `strokes`,
// with the stroke still being drawn on top: the kernel has not seen all of it yet (a round's clean
// canvas can arrive after its first stroke began), and says so again if it refuses it.

function render({ model, el }) {
  const canvas = document.createElement("canvas");
  canvas.width = model.get("width");
  canvas.height = model.get("height");
  canvas.style.border = "2px solid #999";
  canvas.style.boxSizing = "border-box";
  canvas.style.width = "100%";
  canvas.style.maxWidth = `${model.get("width") + 4}px`;
  canvas.style.height = "auto";
  canvas.style.touchAction = "none";          // touch draws, never scrolls the page
  canvas.style.display = "block";
  el.appendChild(canvas);
  const ctx = canvas.getContext("2d");
  const round = (v) => Math.round(v * 10) / 10;

  function pen() {
    ctx.strokeStyle = ctx.fillStyle = model.get("color");
    ctx.lineWidth = model.get("pen_width");
    ctx.lineCap = ctx.lineJoin = "round";
  }
  function dot(x, y) {
    pen();
    ctx.beginPath();
    ctx.arc(x, y, model.get("pen_width") / 2, 0, 2 * Math.PI);
    ctx.fill();
  }
  function line(x0, y0, x1, y1) {
    pen();
    ctx.beginPath();
    ctx.moveTo(x0, y0);
    ctx.lineTo(x1, y1);
    ctx.stroke();
  }
  function redraw() {
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    for (const [xs, ys] of model.get("strokes")) {
      if (xs.length === 1) dot(xs[0], ys[0]);
      for (let i = 1; i < xs.length; i++) line(xs[i - 1], ys[i - 1], xs[i], ys[i]);
    }
  }

  let open = null;      // the open stroke's points so far; null while the pen is up
  let pointer = null;   // the pointer (mouse, finger, pen) drawing it
  let ops = [];         // pen operations not sent yet
  let timer = null;
  function flush() {
    if (ops.length) model.send({ event: "pen", ops });
    ops = [];
  }
  function at(e) {      // the pointer in canvas pixels, through the shown size and the border; null if not shown
    const r = canvas.getBoundingClientRect();
    const x = round((e.clientX - r.left - canvas.clientLeft) * canvas.width / canvas.clientWidth);
    const y = round((e.clientY - r.top - canvas.clientTop) * canvas.height / canvas.clientHeight);
    return Number.isFinite(x) && Number.isFinite(y) ? [x, y] : null;
  }
  function to([x, y]) {  // the open stroke goes on to (x, y)
    const [x0, y0] = open[open.length - 1];
    line(x0, y0, x, y);
    open.push([x, y]);
  }
  function finish(p) {   // the open stroke ends at p
    to(p);
    ops.push(["up", ...p]);
    open = pointer = null;
    clearInterval(timer);
    flush();
  }
  function end(e) {
    if (open !== null && e.pointerId === pointer) finish(at(e) || open[open.length - 1]);
  }
  canvas.addEventListener("pointerdown", (e) => {
    const p = at(e);
    if (e.button !== 0 || p === null) return;
    if (open !== null) finish(open[open.length - 1]);     // a second finger: the open stroke ends first
    dot(...p);
    ops.push(["down", ...p]);
    open = [p];
    pointer = e.pointerId;
    timer = setInterval(flush, model.get("batch_ms"));
  });
  canvas.addEventListener("pointermove", (e) => {
    const p = open !== null && e.pointerId === pointer ? at(e) : null;
    if (p === null) return;
    to(p);
    ops.push(["move", ...p]);
  });
  for (const name of ["pointerup", "pointerleave", "pointercancel"]) canvas.addEventListener(name, end);
  // A press's default moves the focus to a focusable ancestor, which the browser scrolls into view:
  // the page jumped 30 px under a pen already drawing. (On pointerdown it would also stop the mouse
  // events that follow, which pages may listen to.)
  canvas.addEventListener("mousedown", (e) => e.preventDefault());
  model.on("change:revision", () => {   // the kernel changed the drawing: its strokes, the open one on top
    redraw();
    if (open !== null) {
      dot(...open[0]);
      for (let i = 1; i < open.length; i++) line(...open[i - 1], ...open[i]);
    }
  });
  redraw();
  return () => clearInterval(timer);
}

export default { render };
