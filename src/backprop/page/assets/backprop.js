/* Backpropagation in float64 for one sample, as backprop's engine computes it:
   z = W·a + b, a = f(z); E; output delta; delta rule; dE/dW = delta·aᵀ; w ← w − η·dE/dw.
   Layers are indexed from 1 (index 0 is the input); W[l][i][j] is the weight from unit j of
   layer l − 1 to unit i of layer l.  Exposes window.BackpropMath. */
(function () {
  "use strict";
  const EPS = 2.220446049250313e-16;

  function sigmoid(z) { return 1 / (1 + Math.exp(-z)); }

  const ACTIVATIONS = {
    identity: { f: (z) => z, df: (z, a) => 1 },
    sigmoid: { f: sigmoid, df: (z, a) => (1 - a) * a },
    tanh: { f: Math.tanh, df: (z, a) => 1 - a * a },
    relu: { f: (z) => (z > 0 ? z : 0), df: (z, a) => (a > 0 ? 1 : 0) },
    softplus: {
      f: (z) => Math.log1p(Math.exp(-Math.abs(z))) + Math.max(z, 0),
      df: (z, a) => sigmoid(z),
    },
    softmax: { vector: true },
  };

  function softmax(z) {
    const top = Math.max(...z);
    const e = z.map((v) => Math.exp(v - top));
    const total = e.reduce((s, v) => s + v, 0);
    return e.map((v) => v / total);
  }

  function clip(o) { return Math.min(Math.max(o, EPS), 1 - EPS); }

  /* J from the outputs o (or, for a canonical pair, from the net inputs z) and dJ/do. */
  const LOSSES = {
    squared: {
      J: (o, y) => 0.5 * o.reduce((s, v, k) => s + (v - y[k]) * (v - y[k]), 0),
      dJdo: (o, y) => o.map((v, k) => v - y[k]),
    },
    log_loss: {
      J: (o, y) => -o.reduce((s, v, k) => {
        const c = clip(v);
        return s + y[k] * Math.log(c) + (1 - y[k]) * Math.log1p(-c);
      }, 0),
      fromLogits: (z, y) => z.reduce(
        (s, v, k) => s + Math.max(v, 0) - y[k] * v + Math.log1p(Math.exp(-Math.abs(v))), 0),
      dJdo: (o, y) => o.map((v, k) => { const c = clip(v); return (c - y[k]) / (c * (1 - c)); }),
    },
    cross_entropy: {
      J: (o, y) => -o.reduce((s, v, k) => s + y[k] * Math.log(Math.max(v, EPS)), 0),
      fromLogits: (z, y) => {
        const top = Math.max(...z);
        const lse = top + Math.log(z.reduce((s, v) => s + Math.exp(v - top), 0));
        return lse * y.reduce((s, v) => s + v, 0) - z.reduce((s, v, k) => s + y[k] * v, 0);
      },
      dJdo: (o, y) => o.map((v, k) => -y[k] / Math.max(v, EPS)),
    },
    absolute: {
      J: (o, y) => o.reduce((s, v, k) => s + Math.abs(v - y[k]), 0),
      dJdo: (o, y) => o.map((v, k) => Math.sign(v - y[k])),
    },
  };

  function copy(array) { return JSON.parse(JSON.stringify(array)); }

  /* One iteration on net = {layers: [{activation, W, b, train_weights, train_bias}], loss:
     {name, canonical}}: every intermediate quantity, and the parameters after the step. */
  function iterate(net, x, y, lr) {
    const L = net.layers.length;
    const W = [null], b = [null], z = [null], a = [x.slice()], fprime = [null];
    for (let l = 1; l <= L; l++) {
      const layer = net.layers[l - 1];
      W.push(layer.W); b.push(layer.b);
      const zl = layer.W.map((row, i) => row.reduce((s, w, j) => s + w * a[l - 1][j], 0) + layer.b[i]);
      const act = ACTIVATIONS[layer.activation];
      const al = act.vector ? softmax(zl) : zl.map((v) => act.f(v));
      z.push(zl); a.push(al);
      fprime.push(act.vector ? null : zl.map((v, i) => act.df(v, al[i])));
    }
    const output = net.layers[L - 1].activation, loss = LOSSES[net.loss.name];
    const o = a[L], canonical = net.loss.canonical === output;
    const E = canonical && loss.fromLogits ? loss.fromLogits(z[L], y) : loss.J(o, y);
    const g = loss.dJdo(o, y);
    const delta = new Array(L + 1).fill(null);
    let weighted = null;
    if (canonical) {
      delta[L] = o.map((v, k) => v - y[k]);
    } else if (fprime[L]) {
      delta[L] = fprime[L].map((d, k) => d * g[k]);
    } else {
      weighted = g.reduce((s, v, m) => s + v * o[m], 0);
      delta[L] = o.map((v, k) => v * (g[k] - weighted));
    }
    for (let l = L - 1; l >= 1; l--) {
      delta[l] = z[l].map((_, j) =>
        fprime[l][j] * W[l + 1].reduce((s, row, k) => s + row[j] * delta[l + 1][k], 0));
    }
    const gradW = [null], gradb = [null];
    for (let l = 1; l <= L; l++) {
      gradW.push(delta[l].map((d) => a[l - 1].map((v) => d * v)));
      gradb.push(delta[l].slice());
    }
    const after = copy(net);
    after.layers.forEach((layer, index) => {
      const l = index + 1;
      if (layer.train_weights) layer.W = layer.W.map((row, i) => row.map((w, j) => w - lr * gradW[l][i][j]));
      if (layer.train_bias) layer.b = layer.b.map((v, i) => v - lr * gradb[l][i]);
    });
    return { W, b, z, a, fprime, E, g, weighted, canonical, delta, gradW, gradb, after };
  }

  /* `count` iterations from net, then the forward pass and error of the network they leave. */
  function run(net, x, y, lr, count) {
    const iterations = [];
    let current = net;
    for (let t = 0; t <= count; t++) {
      const it = iterate(current, x, y, lr);
      iterations.push(it);
      current = it.after;
    }
    return iterations;
  }

  window.BackpropMath = { ACTIVATIONS, LOSSES, iterate, run, softmax };
})();
