/* A layered network drawn in SVG: units as circles with lines of text beside them, edges with
   their weights, biases as small squares feeding each unit; styled by network.css.  Used by
   backprop's pages.

   const drawing = BackpropNetwork.draw(svgElement, [2, 2, 2], {onSelect: (key) => ...});
   drawing.label("unit-1-0", ["z = 0.3775", "a = 0.59327"]);  // text beside a unit
   drawing.label("edge-1-0-1", "0.2", true);                   // an edge's weight, marked
   drawing.highlight(["unit-1-0", "edge-1-0-1"]);              // all others dimmed
   drawing.select("unit-1-0");                                 // outlined as chosen

   Options: onSelect(key), column and row (spacing), radius, minScale (the drawing scrolls rather
   than shrink below it, default 0.8), maxLabelled (a layer with more edges writes only the
   weights of lit and chosen edges, default 16).

   Keys: "unit-L-I" (unit I of layer L, 0 the input), "edge-L-I-J" (W[L][I][J], from unit J of
   layer L-1 to unit I of layer L), "bias-L-I".  Units and indices count from 0; names shown
   to people count from 1.  Every element can take keyboard focus; Enter or a click selects it. */
(function () {
  "use strict";
  const NS = "http://www.w3.org/2000/svg";
  const SUP = "⁰¹²³⁴⁵⁶⁷⁸⁹", SUB = "₀₁₂₃₄₅₆₇₈₉";
  const script = (digits, n) => String(n).split("").map((c) => digits[+c]).join("");

  function element(name, attributes, parent) {
    const node = document.createElementNS(NS, name);
    for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
    if (parent) parent.appendChild(node);
    return node;
  }

  function draw(svg, sizes, options = {}) {
    const column = options.column || 270, row = options.row || 165, radius = options.radius || 24;
    const tallest = Math.max(...sizes);
    const width = column * (sizes.length - 1) + 2 * 110, height = row * tallest + 70;
    svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    // never shrunk below minScale (the container scrolls instead), so the numbers stay legible
    svg.style.minWidth = `${(options.minScale || 0.8) * width}px`;
    // with many edges, only the weights of the lit or chosen edges are written
    const dense = sizes.some((n, l) => l > 0 && n * sizes[l - 1] > (options.maxLabelled || 16));
    svg.classList.toggle("dense", dense);
    svg.setAttribute("role", "group");
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    const where = (l, i) => [110 + l * column, 45 + row * (i + 0.5 + (tallest - sizes[l]) / 2)];
    const nodes = {}, texts = {};
    const edges = element("g", { class: "edges" }, svg);
    const units = element("g", { class: "units" }, svg);

    function focusable(node, key, name) {
      node.setAttribute("tabindex", "0");
      node.setAttribute("role", "button");
      node.setAttribute("aria-label", name);
      node.dataset.key = key;
      node.addEventListener("click", () => options.onSelect && options.onSelect(key));
      node.addEventListener("keydown", (event) => {
        if (event.key === "Enter") { event.preventDefault(); options.onSelect && options.onSelect(key); }
      });
      nodes[key] = node;
    }

    for (let l = 1; l < sizes.length; l++) {
      for (let i = 0; i < sizes[l]; i++) {
        const [x2, y2] = where(l, i);
        for (let j = 0; j < sizes[l - 1]; j++) {
          const [x1, y1] = where(l - 1, j);
          const key = `edge-${l}-${i}-${j}`;
          const group = element("g", { class: "edge" }, edges);
          element("line", { x1, y1, x2, y2, class: "wire" }, group);
          element("line", { x1, y1, x2, y2, class: "hit" }, group);
          // along the edge, near its source, where the edges of a layer fan apart
          const angle = (Math.atan2(y2 - y1, x2 - x1) * 180) / Math.PI;
          const t = 0.42 - (sizes[l - 1] > 1 ? (0.12 * j) / (sizes[l - 1] - 1) : 0);
          const [lx, ly] = [x1 + t * (x2 - x1), y1 + t * (y2 - y1)];
          const label = element("text", {
            x: lx, y: ly - 6, class: "weight", transform: `rotate(${angle.toFixed(2)} ${lx} ${ly})`,
          }, group);
          focusable(group, key, `weight w${script(SUP, l)}${script(SUB, i + 1)}${script(SUB, j + 1)}`);
          texts[key] = [label];
        }
        const key = `bias-${l}-${i}`;
        const group = element("g", { class: "bias" }, edges);
        element("line", { x1: x2, y1: y2 - radius - 22, x2, y2: y2 - radius, class: "wire" }, group);
        element("rect", { x: x2 - 8, y: y2 - radius - 36, width: 16, height: 16, rx: 3 }, group);
        const label = element("text", { x: x2 - 13, y: y2 - radius - 23, class: "weight" }, group);
        focusable(group, key, `bias b${script(SUP, l)}${script(SUB, i + 1)}`);
        texts[key] = [label];
      }
    }
    for (let l = 0; l < sizes.length; l++) {
      for (let i = 0; i < sizes[l]; i++) {
        const [x, y] = where(l, i);
        const key = `unit-${l}-${i}`;
        const group = element("g", { class: l === 0 ? "unit input" : "unit" }, units);
        element("circle", { cx: x, cy: y, r: radius }, group);
        const name = element("text", { x, y: y + 5, class: "name" }, group);
        name.textContent = l === 0 ? `x${script(SUB, i + 1)}` : `a${script(SUP, l)}${script(SUB, i + 1)}`;
        const lines = [0, 1, 2].map((n) =>
          element("text", { x, y: y + radius + 16 + 15 * n, class: "value" }, group));
        const title = l === 0 ? `input ${i + 1}` : `unit ${i + 1} of layer ${l}`;
        focusable(group, key, title);
        texts[key] = lines;
      }
    }

    return {
      svg,
      keys: () => Object.keys(nodes),
      label(key, content, marked) {
        const lines = Array.isArray(content) ? content : [content];
        texts[key].forEach((node, n) => { node.textContent = lines[n] || ""; });
        nodes[key].classList.toggle("marked", Boolean(marked));
      },
      highlight(keys) {
        const chosen = new Set(keys || []);
        svg.classList.toggle("focused", chosen.size > 0);
        for (const [key, node] of Object.entries(nodes)) node.classList.toggle("lit", chosen.has(key));
      },
      select(key) {
        for (const [name, node] of Object.entries(nodes)) node.classList.toggle("chosen", name === key);
      },
    };
  }

  window.BackpropNetwork = { draw };
})();
