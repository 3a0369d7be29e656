/* The page of one worked iteration: stepping, playing, jumping, the step in the address's hash,
   the formulas of any unit or edge, and numbers to change.  Reads the JSON in #page-data. */
(function () {
  "use strict";
  const spec = JSON.parse(document.getElementById("page-data").textContent);
  const { stepsOf, number, equation, symbol } = window.BackpropExplain;
  const sub = (units) => symbol({ s: "", l: null, u: units });
  const $ = (id) => document.getElementById(id);
  const digits = spec.precision;
  const original = JSON.stringify({ net: spec.network, input: spec.input, target: spec.target, lr: spec.lr });
  let values = JSON.parse(original), iterations = [], steps = [], current = 0, timer = null;
  let starts = [], where = new Map();
  let selected = null, hovered = null;

  const sizes = [spec.input.length, ...spec.network.layers.map((layer) => layer.b.length)];
  const drawing = window.BackpropNetwork.draw($("network"), sizes, {
    onSelect: (key) => { selected = selected === key ? null : key; render(); },
  });
  drawing.keys().forEach((key) => {
    const node = document.querySelector(`[data-key="${key}"]`);
    node.addEventListener("mouseenter", () => { hovered = key; inspect(); });
    node.addEventListener("mouseleave", () => { hovered = null; inspect(); });
  });

  function recompute() {
    iterations = window.BackpropMath.run(values.net, values.input, values.target, values.lr, spec.iterations);
    steps = [];
    starts = [];
    iterations.forEach((it, t) => {
      starts.push(steps.length);
      steps.push(...stepsOf(it, t, netAt(t), values.target, values.lr, t < spec.iterations));
    });
    starts.push(steps.length);
    where = new Map();
    steps.forEach((s, index) => {
      if (s.section !== "gradient") where.set(`${s.iteration}|${s.symbol.s}|${s.symbol.l}|${s.symbol.u}`, index);
    });
  }
  function netAt(t) { return t === 0 ? values.net : iterations[t - 1].after; }

  function title(step) {
    const layer = spec.network.layers[(step.layer || 1) - 1], L = spec.network.layers.length;
    const names = {
      forward: `Forward pass, layer ${step.layer} (${layer.activation})`,
      error: "Error",
      output_delta: `Output deltas, layer ${L} (${layer.activation} with ${spec.network.loss.name})`,
      hidden_delta: `Hidden deltas, layer ${step.layer} (${layer.activation}), by the delta rule`,
      gradient: `Gradients, layer ${step.layer}`,
      update: `Gradient descent step, learning rate η = ${number(values.lr, digits)}`,
    };
    return `Iteration ${step.iteration + 1}: ${names[step.section]}`;
  }

  /* the words the text of `backprop explain` puts before a section's equations */
  function note(step) {
    const L = spec.network.layers.length, loss = spec.network.loss;
    const layer = spec.network.layers[(step.layer || 1) - 1], it = iterations[step.iteration];
    const vector = (values) => `(${values.map((v) => number(v, digits)).join(", ")})`;
    const fixed = (l) => ["W", "b"].filter((which) =>
      !spec.network.layers[l - 1][which === "W" ? "train_weights" : "train_bias"]).map((w) => `${w}${l}`);
    if (step.section === "error") return `o = ${vector(it.a[L])}, y = ${vector(values.target)}.`;
    if (step.section === "output_delta") {
      if (it.canonical) {
        return `${layer.activation} with ${loss.name} is a canonical pair: f'(z) and ∂J/∂o cancel to δ = o − y.`;
      }
      if (it.fprime[L]) return `δ = f'(z) ⊙ ∂J/∂o with ∂J/∂o = ${loss.gradient_text}; f'(z) = ${layer.derivative_text}.`;
      return `δ = f'(z)·g with the Jacobian f'(z) = ${layer.derivative_text} and g = ∂J/∂o = ` +
        `${loss.gradient_text}: δₖ = oₖ(gₖ − Σₘ gₘ oₘ).`;
    }
    if (step.section === "hidden_delta") {
      return `The delta rule: each unit's δ is f'(z) times the sum of the weights from it times the ` +
        `deltas of the layer above; f'(z) = ${layer.derivative_text}.`;
    }
    if (step.section === "gradient") {
      const held = fixed(step.layer);
      return held.length ? `${held.join(" and ")} held fixed: the gradient is shown, but the update leaves them unchanged.` : "";
    }
    if (step.section === "update") {
      const held = spec.network.layers.flatMap((_, index) => fixed(index + 1));
      return "Every weight and bias takes a step against its gradient, w ← w − η·∂E/∂w." +
        (held.length ? ` ${held.join(", ")} held fixed: no step.` : "");
    }
    return "";
  }

  /* the step of iteration t that computes `name` at (l, units), once the stepping has reached it */
  function known(t, name, l, units) {
    const index = where.get(`${t}|${name}|${l}|${units}`);
    return index !== undefined && index <= current ? steps[index] : null;
  }

  function labels() {
    const step = steps[current], t = step.iteration, it = iterations[t];
    values.input.forEach((x, j) => drawing.label(`unit-0-${j}`, [`a⁰${sub([j])} = ${number(x, digits)}`]));
    for (let l = 1; l < sizes.length; l++) {
      for (let i = 0; i < sizes[l]; i++) {
        const lines = [];
        for (const [name, text] of [["z", "z"], ["a", "a"], ["delta", "δ"]]) {
          const found = known(t, name, l, [i]);
          if (found) lines.push(`${text} = ${number(found.value, digits)}`);
        }
        drawing.label(`unit-${l}-${i}`, lines);
        const bias = known(t, "b", l, [i]);
        drawing.label(`bias-${l}-${i}`, `b = ${number(bias ? bias.value : it.b[l][i], digits)}`, bias);
        for (let j = 0; j < sizes[l - 1]; j++) {
          const w = known(t, "w", l, [i, j]);
          drawing.label(`edge-${l}-${i}-${j}`, number(w ? w.value : it.W[l][i][j], digits), w);
        }
      }
    }
  }

  function relatedTo(key, step) {
    const [kind, l, i, j] = key.split("-").map((part, n) => (n ? Number(part) : part));
    const sym = step.symbol;
    if (kind === "unit") return sym.l === l && sym.u.length === 1 && sym.u[0] === i && ["z", "a", "delta"].includes(sym.s);
    if (kind === "edge") return sym.l === l && sym.u[0] === i && sym.u[1] === j && ["w", "dE/dw"].includes(sym.s);
    return sym.l === l && sym.u[0] === i && sym.u.length === 1 && ["b", "dE/db"].includes(sym.s);
  }

  function inspect() {
    const key = hovered || selected, box = $("inspector");
    if (!key) {
      box.innerHTML = '<p class="hint">Click, tap or hover a unit, a weight or a bias to see its own formulas.</p>';
      return;
    }
    const t = steps[current].iteration;
    const node = document.querySelector(`[data-key="${key}"]`);
    const heading = document.createElement("h3");
    heading.textContent = `${node.getAttribute("aria-label")}, iteration ${t + 1}`;
    const list = document.createElement("ul");
    if (key.startsWith("unit-0-")) {
      const item = document.createElement("li");
      const j = Number(key.split("-")[2]);
      item.textContent = `a⁰${sub([j])} = x${sub([j])} = ${number(values.input[j], digits)}`;
      list.appendChild(item);
    }
    steps.slice(starts[t], starts[t + 1]).forEach((step, offset) => {
      const index = starts[t] + offset;
      if (!relatedTo(key, step)) return;
      const item = document.createElement("li");
      item.textContent = equation(step, digits, spec.max_precision) + (index > current ? "  (a later step)" : "");
      if (index > current) item.className = "later";
      list.appendChild(item);
    });
    box.replaceChildren(heading, list);
  }

  function errorTable() {
    const body = $("errors").querySelector("tbody");
    const t = steps[current].iteration;
    body.replaceChildren(...iterations.map((it, n) => {
      const row = document.createElement("tr");
      row.className = n === t ? "current" : "";
      const first = document.createElement("td"), second = document.createElement("td");
      first.textContent = String(n + 1);
      second.textContent = number(it.E, digits);
      second.dataset.value = String(it.E);
      row.append(first, second);
      return row;
    }));
    const box = $("errors").parentElement, row = body.children[t];
    if (row.offsetTop < box.scrollTop || row.offsetTop + row.offsetHeight > box.scrollTop + box.clientHeight) {
      box.scrollTop = row.offsetTop - box.clientHeight / 2;
    }
  }

  function render() {
    current = Math.max(0, Math.min(current, steps.length - 1));
    const step = steps[current];
    $("step-title").textContent = title(step);
    $("step-equation").textContent = equation(step, digits, spec.max_precision);
    $("step-equation").dataset.value = String(step.value);
    $("step-note").textContent = note(step);
    $("counter").textContent = `${current + 1} of ${steps.length}`;
    $("position").max = String(steps.length);
    $("position").value = String(current + 1);
    $("previous").disabled = current === 0;
    $("next").disabled = current === steps.length - 1;
    const t = step.iteration;
    $("to-update").disabled = !steps.some((s) => s.iteration === t && s.section === "update");
    $("to-backward").disabled = !steps.some((s) => s.iteration === t && s.section === "output_delta");
    labels();
    drawing.highlight(step.keys);
    drawing.select(selected);
    keepInView(step.keys[0]);
    inspect();
    errorTable();
    const hash = `#step=${current + 1}`;
    if (location.hash !== hash) history.replaceState(null, "", hash);
  }

  /* a drawing wider than its box scrolls sideways to keep the step's main element in view */
  function keepInView(key) {
    const figure = $("network").parentElement, node = document.querySelector(`[data-key="${key}"]`);
    if (!node || figure.scrollWidth <= figure.clientWidth) return;
    const box = figure.getBoundingClientRect(), shown = node.getBoundingClientRect();
    if (shown.left < box.left || shown.right > box.right) {
      figure.scrollLeft += shown.left + shown.width / 2 - (box.left + box.width / 2);
    }
  }

  function go(index) { current = index; render(); }
  function jump(section) {
    const t = steps[current].iteration;
    const index = steps.findIndex((s) => s.iteration === t && s.section === section);
    if (index >= 0) go(index);
  }
  function play(on) {
    if (timer) clearInterval(timer);
    timer = null;
    if (on) {
      if (current === steps.length - 1) current = 0;
      timer = setInterval(() => { if (current < steps.length - 1) go(current + 1); else play(false); },
        Number($("speed").value));
    }
    $("play").textContent = timer ? "⏸ Pause" : "▶ Play";
    $("play").setAttribute("aria-label", timer ? "Pause" : "Play");
  }
  function fromHash() {
    const match = /step=(\d+)/.exec(location.hash);
    if (match) current = Number(match[1]) - 1;
  }

  /* the numbers a learner may change, each an input bound to a place in `values` */
  function editor() {
    const form = $("values");
    form.replaceChildren();
    const field = (legend, entries) => {
      const set = document.createElement("fieldset");
      const caption = document.createElement("legend");
      caption.textContent = legend;
      set.appendChild(caption);
      for (const [name, get, put] of entries) {
        const label = document.createElement("label");
        const input = document.createElement("input");
        Object.assign(input, { type: "number", step: "any", value: String(get()) });
        input.dataset.name = name;
        input.addEventListener("input", () => {
          const value = Number(input.value);
          const ok = input.value.trim() !== "" && Number.isFinite(value) && (name !== "η" || value > 0);
          input.setAttribute("aria-invalid", ok ? "false" : "true");
          if (!ok) return;
          put(value);
          recompute();
          render();
        });
        label.append(name, input);
        set.appendChild(label);
      }
      form.appendChild(set);
    };
    field("Input and target", [
      ...values.input.map((_, j) => [`x${sub([j])}`, () => values.input[j], (v) => { values.input[j] = v; }]),
      ...values.target.map((_, k) => [`y${sub([k])}`, () => values.target[k], (v) => { values.target[k] = v; }]),
      ["η", () => values.lr, (v) => { values.lr = v; }],
    ]);
    values.net.layers.forEach((layer, index) => {
      const l = index + 1, entries = [];
      layer.W.forEach((row, i) => row.forEach((_, j) => entries.push(
        [symbol({ s: "w", l, u: [i, j] }), () => layer.W[i][j], (v) => { layer.W[i][j] = v; }])));
      layer.b.forEach((_, i) => entries.push(
        [symbol({ s: "b", l, u: [i] }), () => layer.b[i], (v) => { layer.b[i] = v; }]));
      field(`Layer ${l} (${layer.activation})`, entries);
    });
  }

  $("previous").addEventListener("click", () => go(current - 1));
  $("next").addEventListener("click", () => go(current + 1));
  $("play").addEventListener("click", () => play(!timer));
  $("speed").addEventListener("change", () => { if (timer) play(true); });
  $("to-forward").addEventListener("click", () => jump("forward"));
  $("to-backward").addEventListener("click", () => jump("output_delta"));
  $("to-update").addEventListener("click", () => jump("update"));
  $("reset").addEventListener("click", () => {
    play(false);
    values = JSON.parse(original);
    editor(); recompute(); go(0);
  });
  $("position").addEventListener("input", () => go(Number($("position").value) - 1));
  window.addEventListener("hashchange", () => { fromHash(); render(); });
  document.addEventListener("keydown", (event) => {
    const typing = ["INPUT", "SELECT", "TEXTAREA"].includes(event.target.tagName);
    if (typing || event.altKey || event.ctrlKey || event.metaKey) return;
    if (event.key === "ArrowRight") { event.preventDefault(); go(Math.min(current + 1, steps.length - 1)); }
    else if (event.key === "ArrowLeft") { event.preventDefault(); go(Math.max(current - 1, 0)); }
    else if (event.key === " " && event.target.tagName !== "BUTTON") { event.preventDefault(); play(!timer); }
  });

  $("summary").textContent = spec.summary;
  editor();
  recompute();
  fromHash();
  render();

  window.backpropPage = {
    steps: () => steps,
    iterations: () => iterations,
    current: () => current,
    go,
    stepsFor: (net, input, target, lr, count) =>
      window.BackpropMath.run(net, input, target, lr, count).flatMap((it, t, all) =>
        stepsOf(it, t, t ? all[t - 1].after : net, target, lr, t < count)),
  };
})();
