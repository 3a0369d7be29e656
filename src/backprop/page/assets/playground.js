/* The training view: replays a run recorded by backprop's Python engine, frame by frame.
   Reads the JSON in #page-data; draws with canvas and SVG; needs no network. */
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("page-data").textContent);
  const frames = data.frames;
  const SVG = "http://www.w3.org/2000/svg";
  // Okabe-Ito: told apart with the common colour-vision deficiencies
  const CLASS_COLOURS = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00",
    "#F0E442", "#000000"];
  const POSITIVE = [0, 114, 178], NEGATIVE = [213, 94, 0];
  const $ = (id) => document.getElementById(id);
  const state = { index: frames.length - 1, timer: null };

  function rgb(hex) {
    const n = parseInt(hex.slice(1), 16);
    return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
  }
  function mix(colour, weight) { // colour blended with white
    return colour.map((c) => Math.round(255 + (c - 255) * weight));
  }
  function classColour(k) { return rgb(CLASS_COLOURS[k % CLASS_COLOURS.length]); }
  function ramp(t) { // regression values: vermillion (low), white, blue (high)
    return t < 0.5 ? mix(NEGATIVE, 1 - 2 * t) : mix(POSITIVE, 2 * t - 1);
  }
  function css(c) { return `rgb(${c[0]},${c[1]},${c[2]})`; }
  function el(tag, attrs, parent) {
    const node = document.createElementNS(SVG, tag);
    for (const key in attrs) node.setAttribute(key, attrs[key]);
    if (parent) parent.appendChild(node);
    return node;
  }
  function fmt(v) {
    if (v === null || v === undefined) return "–";
    const a = Math.abs(v);
    return a !== 0 && (a < 1e-3 || a >= 1e4) ? v.toExponential(2) : v.toPrecision(4);
  }
  function tick(v) {
    const a = Math.abs(v);
    return a !== 0 && (a < 1e-2 || a >= 1e4) ? v.toExponential(1) : String(Number(v.toPrecision(3)));
  }
  function decode(b64) {
    const s = atob(b64), out = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
    return out;
  }

  // ---- the input plane: decision regions, or the fitted curve for one input ----
  const canvas = $("plane");
  const ctx = canvas.getContext("2d");
  const [xr, yr] = [data.ranges[0], data.ranges[1]];
  const curveMode = data.ranges.length === 1;
  let yRange = yr;
  if (curveMode) {
    if (data.task === "classification") yRange = [-0.05, 1.05];
    else {
      let lo = Math.min(...data.points.y), hi = Math.max(...data.points.y);
      const pad = (hi - lo) * 0.15 || 1;
      yRange = [lo - pad, hi + pad];
    }
  }
  const px = (x) => ((x - xr[0]) / (xr[1] - xr[0])) * canvas.width;
  const py = (y) => (1 - (y - yRange[0]) / (yRange[1] - yRange[0])) * canvas.height;

  function drawRegions(frame) {
    const g = data.grid, cells = decode(frame.regions);
    const image = ctx.createImageData(g, g);
    const classes = data.classes ? data.classes.length : 0;
    const levels = classes ? Math.floor(256 / classes) : 256;
    for (let i = 0; i < g * g; i++) {
      const v = cells[i];
      const c = classes
        ? mix(classColour(Math.floor(v / levels)), 0.15 + 0.45 * ((v % levels) / (levels - 1)))
        : ramp(v / 255);
      image.data.set([c[0], c[1], c[2], 255], 4 * i);
    }
    const small = document.createElement("canvas");
    small.width = small.height = g;
    small.getContext("2d").putImageData(image, 0, 0);
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(small, 0, 0, canvas.width, canvas.height);
  }

  function drawCurve(frame) {
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    const n = frame.curve[0].length;
    const xs = Array.from({ length: n }, (_, i) => xr[0] + (i * (xr[1] - xr[0])) / (n - 1));
    const show = data.task === "classification" && frame.curve.length === 2 ? [1] :
      frame.curve.map((_, k) => k);
    for (const k of show) {
      ctx.strokeStyle = data.task === "classification" ? css(classColour(k)) : "#222";
      ctx.lineWidth = 3;
      ctx.beginPath();
      frame.curve[k].forEach((v, i) => (i ? ctx.lineTo : ctx.moveTo).call(ctx, px(xs[i]), py(v)));
      ctx.stroke();
    }
  }

  function pointY(i) {
    const y = data.points.y[i];
    if (!curveMode) return data.points.x[i][1];
    if (data.task === "regression") return y;
    return data.classes.length === 1 ? 0 : y / (data.classes.length - 1);
  }

  function drawPoints() {
    const pts = data.points;
    const [lo, hi] = data.value_range || [0, 1];
    pts.x.forEach((x, i) => {
      const c = data.task === "classification" ? classColour(pts.y[i]) :
        ramp((pts.y[i] - lo) / (hi - lo));
      ctx.beginPath();
      ctx.arc(px(x[0]), py(pointY(i)), 4.5, 0, 2 * Math.PI);
      ctx.fillStyle = pts.validation[i] ? "#fff" : css(c);
      ctx.fill();
      ctx.strokeStyle = "#1b1b1f";
      ctx.lineWidth = 1;
      ctx.stroke();
      if (pts.validation[i]) { // a ring in the class colour inside a dark edge
        ctx.beginPath();
        ctx.arc(px(x[0]), py(pointY(i)), 3, 0, 2 * Math.PI);
        ctx.strokeStyle = css(c);
        ctx.lineWidth = 2.2;
        ctx.stroke();
      }
    });
  }

  function drawPlane(frame) {
    if (curveMode) drawCurve(frame);
    else drawRegions(frame);
    drawPoints();
  }

  // ---- curves over the epochs (SVG) ----
  const PLOT = { w: 420, h: 220, left: 62, right: 12, top: 12, bottom: 36 };

  function lineChart(svg, series, options) {
    const values = series.flatMap((s) => s.values).filter((v) => v !== null && (!options.log || v > 0));
    let lo = Math.min(...values), hi = Math.max(...values);
    if (options.log) { lo = Math.log10(lo); hi = Math.log10(hi); }
    if (!(hi > lo)) { hi = lo + 1; lo -= 1; }
    const t = (v) => (options.log ? Math.log10(v) : v);
    const sx = (e) => PLOT.left + ((e - 1) / Math.max(data.epochs - 1, 1)) *
      (PLOT.w - PLOT.left - PLOT.right);
    const sy = (v) => PLOT.top + (1 - (t(v) - lo) / (hi - lo)) * (PLOT.h - PLOT.top - PLOT.bottom);
    svg.setAttribute("viewBox", `0 0 ${PLOT.w} ${PLOT.h}`);
    Object.assign(svg.dataset, { yMin: lo, yMax: hi, log: options.log ? "true" : "false" });
    const axis = el("g", { class: "axis" }, svg);
    el("line", { x1: PLOT.left, y1: PLOT.h - PLOT.bottom, x2: PLOT.w - PLOT.right,
      y2: PLOT.h - PLOT.bottom }, axis);
    el("line", { x1: PLOT.left, y1: PLOT.top, x2: PLOT.left, y2: PLOT.h - PLOT.bottom }, axis);
    for (const f of [0, 0.5, 1]) {
      const v = lo + f * (hi - lo), label = options.log ? 10 ** v : v;
      const y = sy(options.log ? label : v);
      el("text", { x: PLOT.left - 6, y: y + 4, "text-anchor": "end" }, axis).textContent = tick(label);
    }
    el("text", { x: PLOT.left, y: PLOT.h - 14, "text-anchor": "middle" }, axis).textContent = "1";
    el("text", { x: PLOT.w - PLOT.right, y: PLOT.h - 14, "text-anchor": "end" }, axis)
      .textContent = String(data.epochs);
    el("text", { x: (PLOT.w + PLOT.left) / 2, y: PLOT.h - 2, "text-anchor": "middle" }, axis)
      .textContent = "epoch";
    series.forEach((s) => {
      const points = s.values.map((v, i) => (v === null || (options.log && v <= 0) ? null :
        `${sx(i + 1).toFixed(2)},${sy(v).toFixed(2)}`)).filter((p) => p !== null);
      el("polyline", { points: points.join(" "), fill: "none", stroke: s.colour,
        "stroke-width": 2, "stroke-dasharray": s.dash || "none", "data-series": s.name }, svg);
    });
    const marker = el("line", { class: "marker", y1: PLOT.top, y2: PLOT.h - PLOT.bottom }, svg);
    return (epoch) => {
      const x = sx(Math.max(epoch, 1));
      marker.setAttribute("x1", x);
      marker.setAttribute("x2", x);
      marker.setAttribute("visibility", epoch === 0 ? "hidden" : "visible");
    };
  }

  function legend(list, series) {
    list.replaceChildren(...series.map((s) => {
      const item = document.createElement("li");
      const swatch = document.createElement("span");
      swatch.className = "swatch" + (s.dash ? " dashed" : "");
      swatch.style.borderColor = s.colour;
      item.append(swatch, s.label);
      return item;
    }));
  }

  const lossSeries = [{ name: "loss", label: "training loss", values: data.loss, colour: "#0072B2" }];
  if (data.val_loss) {
    lossSeries.push({ name: "val_loss", label: "validation loss", values: data.val_loss,
      colour: "#D55E00", dash: "6 4" });
  }
  const deltaColours = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000"];
  const deltaSeries = data.mean_abs_delta.map((values, l) => ({
    name: `delta${l + 1}`, values, colour: deltaColours[l % deltaColours.length],
    dash: l >= deltaColours.length ? "2 3" : null,
    label: l === data.mean_abs_delta.length - 1 ? `layer ${l + 1} (output)` : `layer ${l + 1}`,
  }));
  // a loss that falls by more than two orders of magnitude is read on a log scale
  const losses = lossSeries.flatMap((s) => s.values).filter((v) => v !== null);
  const lossLog = Math.min(...losses) > 0 && Math.max(...losses) / Math.min(...losses) > 100;
  const moveLossMarker = lineChart($("loss-chart"), lossSeries, { log: lossLog });
  const moveDeltaMarker = lineChart($("delta-chart"), deltaSeries, { log: true });
  legend($("loss-legend"), lossSeries);
  legend($("delta-legend"), deltaSeries);

  // ---- the network: weights coloured by sign, width by size; or a summary table ----
  function drawNetwork() {
    const svg = $("network");
    if (data.too_large) {
      svg.remove();
      return summaryTable();
    }
    const sizes = data.sizes, W = 420, H = 260, top = 30, bottom = 16;
    svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
    const xs = sizes.map((_, l) => 30 + (l * (W - 60)) / (sizes.length - 1));
    const ys = sizes.map((n) => Array.from({ length: n }, (_, i) =>
      top + ((i + 0.5) * (H - top - bottom)) / n));
    const edges = [], units = [];
    for (let l = 1; l < sizes.length; l++) {
      const group = el("g", { class: "edges" }, svg);
      edges.push(ys[l].map((yi) => ys[l - 1].map((yj, j) =>
        el("line", { x1: xs[l - 1], y1: yj, x2: xs[l], y2: yi }, group))));
    }
    sizes.forEach((n, l) => {
      const hidden = sizes.length > 5 ? `h${l}` : `hidden ${l}`; // short when columns are close
      const name = l === 0 ? "input" : l === sizes.length - 1 ? "output" : hidden;
      el("text", { x: xs[l], y: 14, "text-anchor": "middle", class: "layer-name" }, svg)
        .textContent = name;
      units.push(ys[l].map((y) => el("circle", { cx: xs[l], cy: y, r: Math.min(9, 90 / n + 3) },
        svg)));
    });
    return (frame) => {
      const scale = Math.max(1e-9, ...frame.W.flat(2).map(Math.abs), ...frame.b.flat().map(Math.abs));
      frame.W.forEach((Wl, l) => Wl.forEach((row, i) => row.forEach((w, j) => {
        const line = edges[l][i][j];
        line.setAttribute("stroke", css(w >= 0 ? POSITIVE : NEGATIVE));
        line.setAttribute("stroke-width", (0.4 + 4 * Math.abs(w) / scale).toFixed(2));
        line.setAttribute("stroke-opacity", (0.25 + 0.75 * Math.abs(w) / scale).toFixed(2));
      })));
      frame.b.forEach((bl, l) => bl.forEach((b, i) => {
        const c = mix(b >= 0 ? POSITIVE : NEGATIVE, Math.abs(b) / scale);
        units[l + 1][i].setAttribute("fill", css(c));
      }));
      units[0].forEach((u) => u.setAttribute("fill", "#fff"));
    };
  }

  function summaryTable() {
    const box = $("network-summary");
    box.hidden = false;
    $("network-message").textContent = `Not drawn: ${data.too_large}.`;
    $("network-caption").textContent = "Each layer's mean |W| at the epoch shown.";
    const body = box.querySelector("tbody");
    const cells = data.sizes.slice(1).map((n, l) => {
      const row = body.insertRow();
      row.insertCell().textContent = String(l + 1);
      row.insertCell().textContent = `${data.sizes[l]} → ${n}`;
      row.insertCell().textContent = data.activations[l];
      return row.insertCell();
    });
    return (frame) => frame.mean_abs_W.forEach((v, l) => { cells[l].textContent = fmt(v); });
  }
  const drawWeights = drawNetwork();
  if (data.classes) {
    legend($("plane-legend"), data.classes.map((name, k) => ({
      label: `class ${name}`, colour: CLASS_COLOURS[k % CLASS_COLOURS.length] })));
  }

  // ---- the epoch slider and play ----
  const slider = $("epoch"), readout = $("readout");
  slider.max = String(frames.length - 1);

  function show(index) {
    state.index = index;
    const frame = frames[index], e = frame.epoch;
    slider.value = String(index);
    slider.setAttribute("aria-valuetext", `epoch ${e} of ${data.epochs}`);
    $("epoch-label").textContent = `epoch ${e} of ${data.epochs}`;
    const parts = e === 0 ? ["before training"] : [`training loss ${fmt(data.loss[e - 1])}`];
    if (e > 0 && data.val_loss) parts.push(`validation loss ${fmt(data.val_loss[e - 1])}`);
    if (e > 0 && data.val_accuracy) parts.push(`validation accuracy ${fmt(data.val_accuracy[e - 1])}`);
    readout.textContent = parts.join(" · ");
    readout.dataset.epoch = String(e);
    drawPlane(frame);
    drawWeights(frame);
    moveLossMarker(e);
    moveDeltaMarker(e);
  }

  function stop() {
    clearInterval(state.timer);
    state.timer = null;
    $("play").textContent = "Play";
    $("play").setAttribute("aria-pressed", "false");
  }
  function play() {
    if (state.index >= frames.length - 1) show(0);
    $("play").textContent = "Pause";
    $("play").setAttribute("aria-pressed", "true");
    state.timer = setInterval(() => {
      if (state.index >= frames.length - 1) stop();
      else show(state.index + 1);
    }, Math.max(20, 6000 / frames.length));
  }
  $("play").addEventListener("click", () => (state.timer ? stop() : play()));
  slider.addEventListener("input", () => { stop(); show(Number(slider.value)); });
  show(state.index);
  window.backpropPlayground = { data, show, frameIndex: () => state.index };
})();
