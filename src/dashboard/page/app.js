// moe-router dashboard page: the live page (snapshots over Server-Sent Events)
// and the offline report (one snapshot in a <script type="application/json">)
// run this same script. Record texts are untrusted: they reach the page only
// through textContent, never as markup.
/* global uPlot */
(function () {
  'use strict';

  var ONE = 65536;
  var LOW_CONFIDENCE = 0.1;
  var MAX_ROWS = 500;
  var $ = function (id) { return document.getElementById(id); };

  var state = { snap: null, charts: null, numExperts: 0, finished: false, range: null, points: [], receivedAt: 0 };

  // ------------------------------------------------------------ formatting
  function fmtInt(n) { return Math.round(n).toLocaleString('en-US'); }
  function fmtQ(q) { return (q / ONE).toFixed(4); }
  function fmtPct(x) { return (100 * x).toFixed(1) + '%'; }
  function fmtTime(ms) {
    if (!(ms >= 0) || !isFinite(ms)) return '–';
    var s = Math.round(ms / 1000);
    var h = Math.floor(s / 3600);
    var m = Math.floor((s % 3600) / 60);
    var ss = String(s % 60).padStart(2, '0');
    return h > 0 ? h + ':' + String(m).padStart(2, '0') + ':' + ss : m + ':' + ss;
  }
  function fmtRate(recPerS, bytesPerS) {
    if (!(recPerS > 0)) return '–';
    return fmtInt(recPerS) + ' rec/s, ' + (bytesPerS / 1e6).toFixed(2) + ' MB/s';
  }
  function setText(id, text, value) {
    var el = $(id);
    if (!el) return;
    el.textContent = text;
    if (value !== undefined) el.setAttribute('data-value', String(value));
  }
  function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); }
  function cell(tr, text, cls) {
    var td = document.createElement('td');
    td.textContent = text;
    if (cls) td.className = cls;
    tr.appendChild(td);
    return td;
  }

  // viridis, 5 stops: low confidence dark purple, high yellow
  var STOPS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
  function colorOf(x) {
    x = Math.max(0, Math.min(1, x)) * (STOPS.length - 1);
    var i = Math.min(STOPS.length - 2, Math.floor(x));
    var f = x - i;
    var a = STOPS[i];
    var b = STOPS[i + 1];
    return 'rgb(' + Math.round(a[0] + f * (b[0] - a[0])) + ',' + Math.round(a[1] + f * (b[1] - a[1])) + ',' + Math.round(a[2] + f * (b[2] - a[2])) + ')';
  }
  // a small, fixed vertical jitter per record, so that equal experts do not overdraw into one line
  function jitter(index) { return (((Math.imul(index, 2654435761) >>> 0) / 4294967296) - 0.5) * 0.5; }

  var SHADES = ['rgba(66,133,244,0.07)', 'rgba(244,160,0,0.07)'];

  function width(id) {
    var el = $(id);
    return Math.max(280, (el && el.clientWidth) || 480);
  }

  // ------------------------------------------------------------ charts
  function makeCharts(snap) {
    var n = snap.config.numExperts;
    var bq = snap.config.boundariesQ16;
    var charts = {};
    var axisX = function (label) { return { label: label, stroke: '#444', grid: { stroke: '#eee' } }; };
    var axisY = function (label, side, scale) { return { label: label, stroke: '#444', grid: { stroke: '#eee' }, side: side || 3, scale: scale || 'y', size: 60 }; };

    charts.load = new uPlot({
      width: width('load-chart'), height: 200, legend: { show: false }, cursor: { show: false },
      scales: { x: { time: false, range: [-0.5, n - 0.5] }, y: { range: function (u, lo, hi) { return [0, Math.max(hi, 1 / n) * 1.15]; } } },
      axes: [Object.assign(axisX('expert'), { splits: function () { return expertSplits(n); }, values: function (u, s) { return s.map(String); } }), axisY('share')],
      series: [{}, { label: 'share', stroke: '#3367d6', fill: 'rgba(51,103,214,0.55)', paths: uPlot.paths.bars({ size: [0.7, 60] }), points: { show: false } },
        { label: '1/N', stroke: '#d93025', width: 1.5, dash: [6, 4], points: { show: false } }],
    }, [[0], [0], [1 / n]], $('load-chart'));

    charts.hist = new uPlot({
      width: width('hist-chart'), height: 240, legend: { show: false },
      cursor: { drag: { x: true, y: false, setScale: false }, points: { show: false } },
      scales: { x: { time: false, range: [0, 1] }, y: { range: function (u, lo, hi) { return [0, Math.max(1, hi) * 1.08]; } }, r: { range: function (u, lo, hi) { return [0, Math.max(1, hi) * 1.08]; } } },
      axes: [axisX('complexity'), axisY('records'), axisY('last 10 s', 1, 'r')],
      series: [{}, { label: 'all', stroke: '#5f6368', fill: 'rgba(95,99,104,0.45)', paths: uPlot.paths.bars({ size: [1, 100], gap: 0 }), points: { show: false } },
        { label: 'recent', scale: 'r', stroke: '#e8710a', width: 2, points: { show: false } }],
      hooks: {
        drawClear: [function (u) {
          var ctx = u.ctx;
          var edges = [0].concat(bq.map(function (b) { return b / ONE; }), [1]);
          for (var e = 0; e < edges.length - 1; e++) {
            var x0 = u.valToPos(edges[e], 'x', true);
            var x1 = u.valToPos(edges[e + 1], 'x', true);
            ctx.fillStyle = SHADES[e % 2];
            ctx.fillRect(x0, u.bbox.top, x1 - x0, u.bbox.height);
          }
        }],
        draw: [function (u) {
          var ctx = u.ctx;
          ctx.save();
          ctx.strokeStyle = '#d93025';
          ctx.lineWidth = 1.5 * devicePixelRatio;
          ctx.setLineDash([6 * devicePixelRatio, 4 * devicePixelRatio]);
          bq.forEach(function (b) {
            var x = u.valToPos(b / ONE, 'x', true);
            ctx.beginPath();
            ctx.moveTo(x, u.bbox.top);
            ctx.lineTo(x, u.bbox.top + u.bbox.height);
            ctx.stroke();
          });
          ctx.restore();
        }],
        setSelect: [function (u) {
          if (u.select.width < 2) return;
          var lo = Math.max(0, u.posToVal(u.select.left, 'x'));
          var hi = Math.min(1, u.posToVal(u.select.left + u.select.width, 'x'));
          state.range = [lo, hi];
          renderSample();
        }],
      },
    }, histData(snap), $('hist-chart'));

    charts.scatter = new uPlot({
      width: width('scatter-chart'), height: Math.min(420, Math.max(200, 36 * n + 60)), legend: { show: false },
      cursor: { drag: { x: false, y: false }, points: { show: false } },
      scales: { x: { time: false, range: [0, 1] }, y: { range: [-0.5, n - 0.5] } },
      axes: [axisX('complexity'), Object.assign(axisY('expert'), { splits: function () { return expertSplits(n); }, values: function (u, s) { return s.map(String); } })],
      series: [{}, { label: 'sample', stroke: 'transparent', paths: function () { return null; }, points: { show: false } }],
      hooks: {
        draw: [function (u) { drawScatter(u); }],
        setCursor: [function (u) { hover(u); }],
      },
    }, [[0, 1], [null, null]], $('scatter-chart'));

    var seriesAxes = [axisX('seconds'), axisY('records/s'), axisY('MB/s', 1, 'mb')];
    charts.rate = new uPlot({
      width: width('rate-chart'), height: 200, legend: { show: true },
      scales: { x: { time: false }, y: { range: function (u, lo, hi) { return [0, Math.max(1, hi) * 1.1]; } }, mb: { range: function (u, lo, hi) { return [0, Math.max(0.001, hi) * 1.1]; } } },
      axes: seriesAxes,
      series: [{ label: 's' }, { label: 'records/s', stroke: '#3367d6', width: 2 }, { label: 'MB/s', scale: 'mb', stroke: '#188038', width: 2 }],
    }, [[], [], []], $('rate-chart'));

    charts.latency = new uPlot({
      width: width('latency-chart'), height: 200, legend: { show: true },
      scales: { x: { time: false }, y: { range: function (u, lo, hi) { return [0, Math.max(0.001, hi) * 1.1]; } } },
      axes: [axisX('seconds'), axisY('ms')],
      series: [{ label: 's' }, { label: 'mean ms', stroke: '#8430ce', width: 2 }, { label: 'max ms', stroke: '#c5221f', width: 1, dash: [4, 3] }],
    }, [[], [], []], $('latency-chart'));

    drawColorbar();
    return charts;
  }

  function expertSplits(n) {
    var step = Math.max(1, Math.ceil(n / 16));
    var out = [];
    for (var e = 0; e < n; e += step) out.push(e);
    return out;
  }

  function histData(snap) {
    var counts = snap.histogram.counts;
    var w = (1 << snap.histogram.binShift) / ONE;
    var xs = counts.map(function (_c, b) { return (b + 0.5) * w; });
    return [xs, counts, snap.recent.counts];
  }

  function drawColorbar() {
    var c = $('colorbar');
    if (!c || !c.getContext) return;
    var ctx = c.getContext('2d');
    for (var x = 0; x < c.width; x++) {
      ctx.fillStyle = colorOf(x / (c.width - 1));
      ctx.fillRect(x, 0, 1, c.height);
    }
  }

  function drawScatter(u) {
    var snap = state.snap;
    if (!snap) return;
    var ctx = u.ctx;
    var r = 3 * devicePixelRatio;
    state.points = [];
    ctx.save();
    snap.sample.records.forEach(function (rec) {
      var xv = rec.scoreQ16 / ONE;
      var yv = rec.expert + jitter(rec.index);
      var x = u.valToPos(xv, 'x', true);
      var y = u.valToPos(yv, 'y', true);
      ctx.fillStyle = colorOf(rec.confidenceQ16 / ONE);
      ctx.beginPath();
      ctx.arc(x, y, r, 0, 2 * Math.PI);
      ctx.fill();
      state.points.push({ x: u.valToPos(xv, 'x'), y: u.valToPos(yv, 'y'), rec: rec });
    });
    ctx.restore();
  }

  function hover(u) {
    var tip = $('tooltip');
    var cx = u.cursor.left;
    var cy = u.cursor.top;
    var best = null;
    var bestD = 64;
    if (cx != null && cx >= 0) {
      state.points.forEach(function (p) {
        var d = (p.x - cx) * (p.x - cx) + (p.y - cy) * (p.y - cy);
        if (d < bestD) { bestD = d; best = p; }
      });
    }
    if (!best) { tip.hidden = true; return; }
    var rec = best.rec;
    clear(tip);
    var head = document.createElement('div');
    head.className = 'tip-head';
    head.textContent = '#' + rec.index + '  expert ' + rec.expert + '  complexity ' + fmtQ(rec.scoreQ16) + '  confidence ' + fmtQ(rec.confidenceQ16);
    var body = document.createElement('div');
    body.className = 'tip-text';
    body.textContent = rec.text;
    tip.appendChild(head);
    tip.appendChild(body);
    var wrap = $('scatter-wrap').getBoundingClientRect();
    var over = u.over.getBoundingClientRect();
    tip.style.left = Math.round(over.left - wrap.left + best.x + 10) + 'px';
    tip.style.top = Math.round(over.top - wrap.top + best.y + 10) + 'px';
    tip.hidden = false;
  }

  // ------------------------------------------------------------ panels
  function renderStatus(snap) {
    var t = snap.totals;
    var run = snap.run;
    var elapsed = run.elapsedMs;
    var done = snap.state === 'done';
    setText('title-input', run.input ? run.input + (run.format ? ' (' + run.format + ')' : '') + (run.parts > 1 ? ', ' + run.parts + ' parts' : '') : '');
    var frac = done ? 1 : run.inputSize ? Math.min(1, t.bytes / run.inputSize) : null;
    setText('st-percent', frac === null ? '–' : fmtPct(frac));
    setText('st-records', fmtInt(t.recordsOut), t.recordsOut);
    setText('st-routed', fmtInt(t.routed), t.routed);
    setText('st-elapsed', fmtTime(elapsed));
    var avgRec = elapsed > 0 ? t.recordsOut / (elapsed / 1000) : 0;
    var avgBytes = elapsed > 0 ? t.bytes / (elapsed / 1000) : 0;
    setText('st-avg', fmtRate(avgRec, avgBytes));
    var eta = done ? 0 : run.inputSize && avgBytes > 0 ? ((run.inputSize - t.bytes) / avgBytes) * 1000 : NaN;
    setText('st-eta', done ? 'done' : fmtTime(eta));
    var pts = snap.series.points;
    var cur = null;
    // while running, the newest interval is still filling: the one before it is the current rate
    var last = done ? pts.length - 1 : pts.length - 2;
    for (var i = last; i >= 0 && !cur; i--) if (pts[i].records > 0) cur = pts[i];
    setText('st-rate', cur ? fmtRate(cur.records / (snap.series.bucketMs / 1000), cur.bytes / (snap.series.bucketMs / 1000)) : '–');
    setText('st-errors', fmtInt(t.errors), t.errors);
    setText('st-fallbacks', fmtInt(t.fallbackBatches), t.fallbackBatches);
    setText('st-backend', run.backend ? run.backend + (run.adapter ? ': ' + run.adapter : '') : '');
    $('st-errors').parentNode.classList.toggle('bad', t.errors > 0);
    $('st-fallbacks').parentNode.classList.toggle('warn', t.fallbackBatches > 0);
  }

  function setState(name, label) {
    var el = $('st-state');
    el.textContent = label;
    el.className = 'state state-' + name;
    el.setAttribute('data-state', name);
  }

  function renderLoad(snap) {
    var n = snap.config.numExperts;
    var routed = snap.perExpert.reduce(function (a, b) { return a + b; }, 0);
    var xs = [];
    var shares = [];
    var line = [];
    for (var e = 0; e < n; e++) {
      xs.push(e);
      shares.push(routed > 0 ? snap.perExpert[e] / routed : 0);
      line.push(1 / n);
    }
    state.charts.load.setData([xs, shares, line]);
    var tbody = $('load-table').tBodies[0];
    clear(tbody);
    var bq = snap.config.boundariesQ16;
    for (var k = 0; k < n; k++) {
      var tr = document.createElement('tr');
      tr.setAttribute('data-expert', String(k));
      cell(tr, String(k));
      cell(tr, '[' + fmtQ(k === 0 ? 0 : bq[k - 1]) + ', ' + (k === n - 1 ? '1]' : fmtQ(bq[k]) + ')'), 'muted');
      cell(tr, fmtInt(snap.perExpert[k]), 'num count').setAttribute('data-value', String(snap.perExpert[k]));
      cell(tr, fmtPct(shares[k]), 'num');
      var ratio = shares[k] * n;
      cell(tr, ratio.toFixed(2), 'num ' + (ratio > 1.5 ? 'hot' : ratio < 0.5 ? 'cold' : ''));
      tbody.appendChild(tr);
    }
  }

  function renderSeries(snap) {
    var s = snap.series;
    var sec = s.bucketMs / 1000;
    var xs = [];
    var rec = [];
    var mb = [];
    var mean = [];
    var max = [];
    s.points.forEach(function (p) {
      xs.push((p.t + s.bucketMs / 2) / 1000);
      rec.push(p.records / sec);
      mb.push(p.bytes / 1e6 / sec);
      mean.push(p.batches > 0 ? p.latencyMsSum / p.batches : null);
      max.push(p.batches > 0 ? p.latencyMsMax : null);
    });
    state.charts.rate.setData([xs, rec, mb]);
    state.charts.latency.setData([xs, mean, max]);
    var l = snap.latency;
    setText('latency-pct', l.count > 0 ? 'batches ' + fmtInt(l.count) + ': p50 ' + l.p50.toFixed(2) + ' ms, p90 ' + l.p90.toFixed(2) + ' ms, p99 ' + l.p99.toFixed(2) + ' ms, max ' + l.max.toFixed(2) + ' ms' : 'no batch timings');
  }

  function renderExpertFilter(n) {
    var sel = $('f-expert');
    var keep = sel.value;
    while (sel.options.length > 1) sel.remove(1);
    for (var e = 0; e < n; e++) {
      var o = document.createElement('option');
      o.value = String(e);
      o.textContent = String(e);
      sel.appendChild(o);
    }
    sel.value = keep && Number(keep) < n ? keep : '';
  }

  function renderSample() {
    var snap = state.snap;
    if (!snap) return;
    var expert = $('f-expert').value;
    var low = $('f-lowconf').checked;
    var range = state.range;
    var rows = snap.sample.records.filter(function (r) {
      if (expert !== '' && r.expert !== Number(expert)) return false;
      if (low && r.confidenceQ16 / ONE >= LOW_CONFIDENCE) return false;
      if (range && (r.scoreQ16 / ONE < range[0] || r.scoreQ16 / ONE > range[1])) return false;
      return true;
    });
    setText('f-range', range ? 'complexity in [' + range[0].toFixed(3) + ', ' + range[1].toFixed(3) + ']' : '');
    $('f-clear').hidden = !range;
    setText('sample-count', '(' + fmtInt(Math.min(rows.length, MAX_ROWS)) + ' shown of ' + fmtInt(snap.sample.records.length) + ' sampled from ' + fmtInt(snap.sample.seen) + ')');
    var tbody = $('sample-table').tBodies[0];
    clear(tbody);
    rows.slice(0, MAX_ROWS).forEach(function (r) {
      var tr = document.createElement('tr');
      cell(tr, String(r.index), 'num');
      cell(tr, fmtQ(r.scoreQ16), 'num');
      cell(tr, String(r.expert), 'num');
      cell(tr, fmtQ(r.confidenceQ16), 'num' + (r.confidenceQ16 / ONE < LOW_CONFIDENCE ? ' low' : ''));
      cell(tr, r.text, 'text');
      tbody.appendChild(tr);
    });
  }

  // the elapsed time goes on between snapshots (a slow input sends none for a while)
  setInterval(function () {
    var snap = state.snap;
    if (!snap || state.finished || snap.state !== 'running' || !state.receivedAt) return;
    setText('st-elapsed', fmtTime(snap.run.elapsedMs + (Date.now() - state.receivedAt)));
  }, 1000);

  function render(snap) {
    if (state.snap && snap.seq < state.snap.seq && snap.run.startedAt === state.snap.run.startedAt) return;
    state.snap = snap;
    state.receivedAt = Date.now();
    if (!state.charts || state.numExperts !== snap.config.numExperts) {
      if (state.charts) Object.keys(state.charts).forEach(function (k) { state.charts[k].destroy(); });
      state.charts = makeCharts(snap);
      state.numExperts = snap.config.numExperts;
      renderExpertFilter(snap.config.numExperts);
    }
    setText('recent-window', String(Math.round(snap.recent.windowMs / 1000)));
    renderStatus(snap);
    renderLoad(snap);
    state.charts.hist.setData(histData(snap));
    state.charts.scatter.redraw(false, false);
    renderSeries(snap);
    renderSample();
    document.body.setAttribute('data-seq', String(snap.seq));
  }

  // ------------------------------------------------------------ wiring
  $('f-expert').addEventListener('change', renderSample);
  $('f-lowconf').addEventListener('change', renderSample);
  $('f-clear').addEventListener('click', function () {
    state.range = null;
    if (state.charts) state.charts.hist.setSelect({ left: 0, width: 0, top: 0, height: 0 }, false);
    renderSample();
  });

  var embedded = $('moe-data');
  if (embedded) {
    // the report: the data is an inert JSON block, parsed, never evaluated
    render(JSON.parse(embedded.textContent));
    setState('finished', 'finished');
    document.body.setAttribute('data-ready', '1');
    return;
  }

  var source = new EventSource('events');
  source.onopen = function () { if (!state.finished) setState('live', 'live'); };
  source.onmessage = function (ev) {
    render(JSON.parse(ev.data));
    if (!state.finished) setState('live', 'live');
  };
  source.addEventListener('done', function (ev) {
    render(JSON.parse(ev.data));
    state.finished = true;
    setState('finished', 'finished');
    document.body.setAttribute('data-ready', '1');
    source.close();
  });
  source.onerror = function () {
    if (!state.finished) setState('reconnecting', 'reconnecting');
  };
})();
