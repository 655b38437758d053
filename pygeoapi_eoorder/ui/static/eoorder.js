/* The eoorder pages' script: every page talks to the server's public API with fetch. */
(function () {
  'use strict';
  var OSEO = 'http://www.opengis.net/oseo/1.0';
  var SWE = 'http://www.opengis.net/swe/2.0';
  var OWS = 'http://www.opengis.net/ows/2.0';
  var BASE = (document.getElementById('eoorder-page') || {dataset: {}}).dataset.base || '';
  var FINAL_JOB = ['successful', 'failed', 'dismissed'];
  var FINAL_ORDER = ['Completed', 'Failed', 'Cancelled', 'Downloaded'];
  var BADGE = {accepted: 'bg-secondary', running: 'bg-primary', successful: 'bg-success',
               failed: 'bg-danger', dismissed: 'bg-warning text-dark',
               Submitted: 'bg-secondary', Accepted: 'bg-secondary', InProduction: 'bg-primary',
               Completed: 'bg-success', Downloaded: 'bg-success', Failed: 'bg-danger',
               Cancelled: 'bg-warning text-dark', Suspended: 'bg-warning text-dark'};

  // -- helpers ------------------------------------------------------------------------
  function safeHref(value) {
    // only http(s) and relative URLs become links (hrefs come from records and jobs)
    var href = String(value).replace(/[\u0000-\u0020\u007f]/g, '');
    var scheme = /^([a-z][a-z0-9+.\-]*):/i.exec(href);
    return !scheme || ['http', 'https'].indexOf(scheme[1].toLowerCase()) >= 0;
  }
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === 'text') node.textContent = attrs[key];
      else if ((key === 'href' || key === 'src') && attrs[key] != null && !safeHref(attrs[key])) return;
      else if (key === 'class') node.className = attrs[key];
      else if (key.slice(0, 2) === 'on') node.addEventListener(key.slice(2), attrs[key]);
      else if (attrs[key] !== undefined && attrs[key] !== null) node.setAttribute(key, attrs[key]);
    });
    (children || []).forEach(function (child) {
      node.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
    });
    return node;
  }
  function xmlEscape(text) {
    return String(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;');
  }
  function problemText(response, body) {
    if (body && typeof body === 'object') {
      return (body.title ? body.title + ': ' : '') + (body.detail || body.description ||
                                                       JSON.stringify(body));
    }
    return response.status + ' ' + response.statusText + (body ? ': ' + body : '');
  }
  function readBody(response) {
    var type = response.headers.get('Content-Type') || '';
    return (type.indexOf('json') >= 0 ? response.json() : response.text())
      .catch(function () { return null; });
  }
  function getJSON(url) {
    return fetch(url, {headers: {Accept: 'application/json'}, credentials: 'same-origin'})
      .then(function (response) {
        return readBody(response).then(function (body) {
          if (!response.ok) throw new Error(problemText(response, body));
          return body;
        });
      });
  }
  function setBadge(node, status) {
    node.textContent = status;
    node.className = 'badge ' + (BADGE[status] || 'bg-secondary');
  }
  function linkOf(record, rel) {
    return (record.links || []).filter(function (l) { return l.rel === rel; })[0];
  }
  function productHref(record) {
    // the product itself: an enclosure link, else a data asset, else the record (STAC item)
    var enclosure = linkOf(record, 'enclosure');
    if (enclosure) return enclosure.href;
    var assets = record.assets || {};
    var keys = Object.keys(assets);
    var data = keys.filter(function (k) { return (assets[k].roles || []).indexOf('data') >= 0; });
    if (data.length) return assets[data[0]].href;
    if (keys.length) return assets[keys[0]].href;
    var self = linkOf(record, 'self');
    return self ? self.href : '';
  }
  function recordTime(record) {
    var props = record.properties || {};
    var interval = (record.time || {}).interval;
    if (interval) return interval[0] + (interval[1] && interval[1] !== interval[0] ? ' / ' + interval[1] : '');
    return props.datetime || props.start_datetime || (record.time || {}).timestamp ||
      (record.time || {}).date || '';
  }
  function recordCollections() {
    return getJSON(BASE + '/collections?f=json').then(function (body) {
      return (body.collections || []).filter(function (c) {
        return c.itemType === 'record' || (c.itemType || '').indexOf('record') >= 0;
      });
    });
  }
  function fillCollections(select, wanted) {
    return recordCollections().then(function (collections) {
      select.innerHTML = '';
      collections.forEach(function (c) {
        select.appendChild(el('option', {value: c.id, text: c.title || c.id}));
      });
      if (wanted) select.value = wanted;
      return collections;
    });
  }
  function postXML(xml) {
    return fetch(BASE + '/oseo', {method: 'POST', body: xml, credentials: 'same-origin',
                                 headers: {'Content-Type': 'application/xml'}})
      .then(function (response) {
        return response.text().then(function (text) {
          var doc = new DOMParser().parseFromString(text, 'application/xml');
          var report = doc.getElementsByTagNameNS(OWS, 'ExceptionText')[0] ||
            doc.getElementsByTagNameNS('http://www.opengis.net/ows/1.1', 'ExceptionText')[0];
          if (report || !response.ok) {
            var exc = doc.getElementsByTagNameNS(OWS, 'Exception')[0];
            var code = exc ? exc.getAttribute('exceptionCode') + ': ' : '';
            throw new Error(code + (report ? report.textContent : response.status + ' ' + text));
          }
          return doc;
        });
      });
  }
  function childrenNS(node, ns, name) {
    return Array.prototype.filter.call(node.children, function (c) {
      return c.namespaceURI === ns && c.localName === name;
    });
  }
  function textNS(node, ns, name) {
    var found = node.getElementsByTagNameNS(ns, name)[0];
    return found ? found.textContent.trim() : null;
  }

  // -- job page -----------------------------------------------------------------------
  function jobPage(root) {
    var jobId = root.dataset.job;
    var url = BASE + '/jobs/' + encodeURIComponent(jobId);
    var bar = document.getElementById('job-progress');
    var log = document.getElementById('job-log');
    var finished = false;

    function showResults() {
      getJSON(url + '/results?response=document').then(function (doc) {
        var list = document.getElementById('job-results');
        list.innerHTML = '';
        Object.keys(doc || {}).forEach(function (name) {
          var value = doc[name];
          var item = el('li', {'data-output': name}, [el('strong', {text: name}), ': ']);
          if (value && value.href) {
            item.appendChild(el('a', {href: value.href, text: value.href, 'class': 'result-link'}));
            if (value.type) item.appendChild(document.createTextNode(' (' + value.type + ')'));
          } else {
            item.appendChild(el('code', {text: typeof value === 'object' ?
              JSON.stringify(value.value !== undefined ? value.value : value) : String(value)}));
          }
          list.appendChild(item);
        });
        document.getElementById('job-results-box').hidden = false;
      }).catch(function (err) {
        document.getElementById('job-results').textContent = err.message;
        document.getElementById('job-results-box').hidden = false;
      });
    }
    function refreshLog() {
      return fetch(url + '/log', {credentials: 'same-origin'}).then(function (response) {
        return response.text().then(function (text) {
          var atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
          log.textContent = response.ok ? (text || '(empty)') : '(' + response.status + ') ' + text;
          if (atEnd) log.scrollTop = log.scrollHeight;
        });
      });
    }
    function poll() {
      getJSON(url).then(function (job) {
        setBadge(document.getElementById('job-status'), job.status);
        root.dataset.status = job.status;
        var progress = job.progress === undefined || job.progress === null ? 0 : job.progress;
        if (job.status === 'successful') progress = 100;
        bar.style.width = progress + '%';
        bar.textContent = progress + '%';
        bar.setAttribute('aria-valuenow', progress);
        bar.classList.toggle('progress-bar-striped', job.status === 'running');
        bar.classList.toggle('progress-bar-animated', job.status === 'running');
        bar.classList.toggle('bg-danger', job.status === 'failed');
        bar.classList.toggle('bg-success', job.status === 'successful');
        document.getElementById('job-message').textContent = job.message || '';
        document.getElementById('job-created').textContent = job.created || '';
        document.getElementById('job-started').textContent = job.started || '';
        document.getElementById('job-finished').textContent = job.finished || '';
        if (job.processID && !document.getElementById('job-process').textContent.trim()) {
          document.getElementById('job-process').textContent = job.processID;
        }
        document.getElementById('job-dismiss').disabled = FINAL_JOB.indexOf(job.status) >= 0;
        return refreshLog().then(function () {
          if (FINAL_JOB.indexOf(job.status) >= 0) {
            finished = true;
            if (job.status === 'successful') showResults();
          }
        });
      }).catch(function (err) {
        document.getElementById('job-message').textContent = err.message;
      }).then(function () {
        if (!finished) setTimeout(poll, 700);
      });
    }
    document.getElementById('job-dismiss').addEventListener('click', function () {
      fetch(url, {method: 'DELETE', credentials: 'same-origin'});
    });
    poll();
  }

  // -- deploy page --------------------------------------------------------------------
  function detectType(text) {
    var start = text.replace(/^\s+/, '');
    if (start.charAt(0) === '<') return 'application/atom+xml';
    if (start.charAt(0) === '{') {
      try {
        var doc = JSON.parse(start);
        return doc.cwlVersion || doc.$graph ? 'application/cwl+json' : 'application/ogcapppkg+json';
      } catch (e) { return 'application/ogcapppkg+json'; }
    }
    return 'application/cwl+yaml';
  }
  function describeProcess(container, process) {
    container.appendChild(el('h2', {text: process.title || process.id}));
    container.appendChild(el('p', {text: process.description || ''}));
    var rows = Object.keys(process.inputs || {}).map(function (key) {
      var input = process.inputs[key];
      var schema = input.schema || {};
      return el('tr', {}, [el('td', {text: key}), el('td', {text: input.title || ''}),
        el('td', {text: schema.type || (schema.oneOf ? 'oneOf' : '')}),
        el('td', {text: String(input.minOccurs === undefined ? 1 : input.minOccurs) + '..' +
                        String(input.maxOccurs === undefined ? 1 : input.maxOccurs)})]);
    });
    container.appendChild(el('table', {'class': 'table table-sm table-bordered', id: 'deployed-inputs'}, [
      el('caption', {text: 'Inputs'}),
      el('thead', {}, [el('tr', {}, [el('th', {text: 'id'}), el('th', {text: 'title'}),
                                    el('th', {text: 'type'}), el('th', {text: 'occurs'})])]),
      el('tbody', {}, rows)]));
    container.appendChild(el('p', {text: 'Outputs: ' + Object.keys(process.outputs || {}).join(', ')}));
    container.appendChild(el('p', {}, [
      el('a', {'class': 'btn btn-success me-2', id: 'deployed-execute',
               href: BASE + '/ui/processes/' + encodeURIComponent(process.id) + '/execute',
               text: 'Execute ' + process.id}),
      el('a', {'class': 'btn btn-outline-secondary me-2',
               href: BASE + '/processes/' + encodeURIComponent(process.id) + '?f=html',
               text: 'Process description'}),
      el('a', {'class': 'btn btn-outline-secondary',
               href: BASE + '/processes/' + encodeURIComponent(process.id) + '/package',
               text: 'Package'})]));
  }
  function deployPage(form) {
    var text = document.getElementById('deploy-text');
    var result = document.getElementById('deploy-result');
    document.getElementById('deploy-file').addEventListener('change', function (event) {
      var file = event.target.files[0];
      if (!file) return;
      file.text().then(function (content) { text.value = content; });
    });
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      result.innerHTML = '';
      var body = text.value;
      if (!body.trim()) {
        result.appendChild(el('div', {'class': 'alert alert-warning', text: 'Upload or paste a package first.'}));
        return;
      }
      var type = document.getElementById('deploy-type').value || detectType(body);
      document.getElementById('deploy-sent-type').textContent = 'Content-Type: ' + type;
      var params = new URLSearchParams();
      params.set('visibility', document.getElementById('deploy-visibility').value);
      var w = document.getElementById('deploy-w').value.trim();
      if (w) params.set('w', w);
      fetch(BASE + '/processes?' + params.toString(), {
        method: 'POST', body: body, credentials: 'same-origin',
        headers: {'Content-Type': type, Accept: 'application/json'}
      }).then(function (response) {
        return readBody(response).then(function (reply) {
          if (response.status !== 201) throw new Error(problemText(response, reply));
          var location = response.headers.get('Location');
          var warnings = response.headers.get('Warning');
          result.appendChild(el('div', {'class': 'alert alert-success', id: 'deploy-ok'}, [
            'Deployed: ', el('a', {href: location + '?f=html', text: location})]));
          if (warnings) result.appendChild(el('div', {'class': 'alert alert-warning', text: warnings}));
          return getJSON(location + (location.indexOf('?') >= 0 ? '&' : '?') + 'f=json');
        });
      }).then(function (process) {
        var box = el('div', {id: 'deployed-process', 'data-process': process.id});
        describeProcess(box, process);
        result.appendChild(box);
      }).catch(function (err) {
        result.appendChild(el('div', {'class': 'alert alert-danger', id: 'deploy-error', text: err.message}));
      });
    });
  }

  // -- execute page -------------------------------------------------------------------
  function typed(value, type) {
    if (type === 'integer') return parseInt(value, 10);
    if (type === 'number') return parseFloat(value);
    return value;
  }
  function collectInput(box) {
    var kind = box.dataset.kind, type = box.dataset.type;
    var multiple = box.dataset.multiple === 'true';
    var control = box.querySelector('input, select, textarea');
    var lines = function (v) { return v.split(/\n/).map(function (s) { return s.trim(); }).filter(Boolean); };
    if (kind === 'boolean') return control.checked;
    if (kind === 'enum') {
      if (multiple) {
        var chosen = Array.prototype.filter.call(control.options, function (o) { return o.selected; })
          .map(function (o) { return typed(o.value, type); });
        return chosen.length ? chosen : undefined;
      }
      return control.value === '' ? undefined : typed(control.value, type);
    }
    var raw = control.value.trim();
    if (raw === '') return undefined;
    if (kind === 'file') {
      var refs = (multiple ? lines(raw) : [raw]).map(function (href) {
        var ref = {href: href};
        if (box.dataset.mediaType && box.dataset.mediaType.indexOf('*') < 0) ref.type = box.dataset.mediaType;
        return ref;
      });
      return multiple ? refs : refs[0];
    }
    if (kind === 'bbox') {
      return {bbox: raw.split(',').map(function (v) { return parseFloat(v); }),
              crs: 'http://www.opengis.net/def/crs/OGC/1.3/CRS84'};
    }
    if (kind === 'json') return JSON.parse(raw);
    if (multiple) return lines(raw).map(function (v) { return typed(v, type); });
    return typed(raw, type);
  }
  function checkInput(box, value) {
    var control = box.querySelector('input, select, textarea');
    if (value === undefined) {
      return box.dataset.required === 'true' ? 'a value is required' : '';
    }
    if (box.dataset.kind === 'literal' && (box.dataset.type === 'integer' || box.dataset.type === 'number')) {
      var values = Array.isArray(value) ? value : [value];
      for (var i = 0; i < values.length; i++) {
        var v = values[i];
        if (isNaN(v)) return 'not a number';
        if (box.dataset.type === 'integer' && !Number.isInteger(v)) return 'must be a whole number';
        var min = control.getAttribute('min'), max = control.getAttribute('max');
        if (min !== null && (control.dataset.exclusiveMin ? v <= +min : v < +min)) return 'must be ' + (control.dataset.exclusiveMin ? '> ' : '≥ ') + min;
        if (max !== null && (control.dataset.exclusiveMax ? v >= +max : v > +max)) return 'must be ' + (control.dataset.exclusiveMax ? '< ' : '≤ ') + max;
      }
    }
    if (control.getAttribute('pattern') && typeof value === 'string' &&
        !new RegExp(control.getAttribute('pattern')).test(value)) return 'does not match ' + control.getAttribute('pattern');
    if (box.dataset.kind === 'bbox' && (value.bbox.length !== 4 || value.bbox.some(isNaN))) return 'needs four numbers';
    return '';
  }
  function pickerFor(box) {
    var picker = box.querySelector('.eoorder-picker');
    var select = picker.querySelector('.picker-collection');
    var results = picker.querySelector('.picker-results');
    var target = box.querySelector('input[type=url], textarea');
    var loaded = null;
    var latest = 0;  // only the last search asked for is shown (answers can come out of order)
    function search() {
      var asked = ++latest;
      results.innerHTML = '';
      var params = new URLSearchParams({f: 'json', limit: '10'});
      var q = picker.querySelector('.picker-q').value.trim();
      if (q) params.set('q', q);
      getJSON(BASE + '/collections/' + encodeURIComponent(select.value) + '/items?' + params.toString())
        .then(function (body) {
          if (asked !== latest) return;
          results.innerHTML = '';
          if (!(body.features || []).length) results.appendChild(el('li', {'class': 'list-group-item text-muted', text: 'no match'}));
          (body.features || []).forEach(function (record) {
            var href = productHref(record);
            var title = (record.properties || {}).title || record.id;
            results.appendChild(el('li', {'class': 'list-group-item d-flex justify-content-between align-items-center'}, [
              el('span', {}, [el('strong', {text: title}), ' ', el('small', {'class': 'text-muted', text: record.id})]),
              el('button', {'class': 'btn btn-sm btn-outline-primary picker-use', type: 'button',
                            'data-record': record.id, text: 'Use', disabled: href ? null : 'disabled',
                            onclick: function () {
                              target.value = target.tagName === 'TEXTAREA' && target.value.trim() ?
                                target.value.trim() + '\n' + href : href;
                              picker.hidden = true;
                            }})]));
          });
        }).catch(function (err) {
          if (asked !== latest) return;
          results.appendChild(el('li', {'class': 'list-group-item text-danger', text: err.message}));
        });
    }
    box.querySelector('.eoorder-pick').addEventListener('click', function () {
      picker.hidden = !picker.hidden;
      if (!picker.hidden && !loaded) loaded = fillCollections(select).then(search);
    });
    picker.querySelector('.picker-search').addEventListener('click', search);
    picker.querySelector('.picker-q').addEventListener('keydown', function (event) {
      if (event.key === 'Enter') { event.preventDefault(); search(); }
    });
  }
  function executePage(form) {
    var processId = form.dataset.process;
    var boxes = Array.prototype.slice.call(form.querySelectorAll('.eoorder-input'));
    var error = document.getElementById('execute-error');
    boxes.filter(function (b) { return b.dataset.kind === 'file'; }).forEach(pickerFor);
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      error.hidden = true;
      var inputs = {}, bad = 0;
      boxes.forEach(function (box) {
        var control = box.querySelector('input, select, textarea');
        var message = '', value;
        try { value = collectInput(box); message = checkInput(box, value); }
        catch (e) { message = 'not valid JSON: ' + e.message; }
        control.classList.toggle('is-invalid', !!message);
        box.querySelector('.invalid-feedback').textContent = message;
        if (message) bad += 1;
        else if (value !== undefined) inputs[box.dataset.input] = value;
      });
      if (bad) return;
      var request = {inputs: inputs};
      document.getElementById('execute-request').textContent = JSON.stringify(request, null, 2);
      var headers = {'Content-Type': 'application/json', Accept: 'application/json'};
      if (form.dataset.async === 'true') headers.Prefer = 'respond-async';
      document.getElementById('execute-submit').disabled = true;
      fetch(BASE + '/processes/' + encodeURIComponent(processId) + '/execution', {
        method: 'POST', body: JSON.stringify(request), headers: headers, credentials: 'same-origin'
      }).then(function (response) {
        var location = response.headers.get('Location');
        if ((response.status === 201 || response.status === 200) && location) {
          window.location.href = BASE + '/ui/jobs/' + encodeURIComponent(location.split('/').pop());
          return null;
        }
        return readBody(response).then(function (body) { throw new Error(problemText(response, body)); });
      }).catch(function (err) {
        error.textContent = err.message;
        error.hidden = false;
        document.getElementById('execute-submit').disabled = false;
      });
    });
  }

  // -- catalogue search ---------------------------------------------------------------
  function searchPage(form) {
    var mapNode = document.getElementById('search-map');
    var map = L.map(mapNode).setView([20, 0], 1);
    if (mapNode.dataset.tiles) {
      L.tileLayer(mapNode.dataset.tiles, {maxZoom: 18, attribution: mapNode.dataset.attribution}).addTo(map);
    }
    var layer = L.geoJSON(null, {style: {color: '#0d6efd', weight: 2, fillOpacity: 0.1}}).addTo(map);
    var select = document.getElementById('search-collection');
    var tbody = document.querySelector('#search-results tbody');
    var offset = 0, limit = 10;

    function actions(record, collection) {
      var cell = el('td', {'class': 'text-nowrap'});
      var self = BASE + '/collections/' + encodeURIComponent(collection) + '/items/' +
        encodeURIComponent(record.id) + '?f=html';
      cell.appendChild(el('a', {'class': 'btn btn-sm btn-outline-secondary me-1', href: self, text: 'Details'}));
      var orderable = (form.dataset.orderable || '').split(' ').indexOf(collection) >= 0;
      if (form.dataset.ordering === 'true' && (linkOf(record, 'order') || orderable)) {
        cell.appendChild(el('a', {'class': 'btn btn-sm btn-primary me-1 order-product',
          'data-record': record.id, text: 'Order this product',
          href: BASE + '/ui/order?collection=' + encodeURIComponent(collection) +
                '&identifier=' + encodeURIComponent(record.id)}));
      }
      (record.links || []).filter(function (l) {
        return l.rel === 'http://www.opengis.net/def/rel/ogc/1.0/execute';
      }).forEach(function (l) {
        var pid = decodeURIComponent(l.href.replace(/\/execution$/, '').split('/').pop());
        cell.appendChild(el('a', {'class': 'btn btn-sm btn-outline-success me-1', text: l.title || ('Process with ' + pid),
          href: BASE + '/ui/processes/' + encodeURIComponent(pid) + '/execute'}));
      });
      return cell;
    }
    function run() {
      var collection = select.value;
      if (!collection) return;
      var params = new URLSearchParams({f: 'json', limit: String(limit), offset: String(offset)});
      var q = document.getElementById('search-q').value.trim();
      if (q) params.set('q', q);
      var start = document.getElementById('search-start').value;
      var end = document.getElementById('search-end').value;
      if (start || end) params.set('datetime', (start || '..') + '/' + (end ? end + 'T23:59:59Z' : '..'));
      if (document.getElementById('search-in-view').checked) {
        var b = map.getBounds();
        params.set('bbox', [Math.max(b.getWest(), -180), Math.max(b.getSouth(), -90),
                            Math.min(b.getEast(), 180), Math.min(b.getNorth(), 90)]
                  .map(function (v) { return v.toFixed(5); }).join(','));
      }
      var url = BASE + '/collections/' + encodeURIComponent(collection) + '/items?' + params.toString();
      getJSON(url).then(function (body) {
        var features = body.features || [];
        tbody.innerHTML = '';
        layer.clearLayers();
        var shapes = {};
        features.forEach(function (record) {
          if (record.geometry) {
            var shape = L.geoJSON(record, {style: {color: '#0d6efd', weight: 2, fillOpacity: 0.1}});
            shape.bindPopup((record.properties || {}).title || record.id);
            layer.addLayer(shape);
            shapes[record.id] = shape;
          }
          var props = record.properties || {};
          var row = el('tr', {'data-record': record.id}, [
            el('td', {}, [el('strong', {text: props.title || record.id}), el('br'),
                          el('small', {'class': 'text-muted', text: record.id})]),
            el('td', {'class': 'small', text: recordTime(record)}),
            el('td', {text: [props.platform, props.instrument].filter(Boolean).join(' / ')}),
            el('td', {text: props.cloudCover !== undefined && props.cloudCover !== null ? props.cloudCover + ' %' : ''}),
            actions(record, collection)]);
          row.addEventListener('mouseenter', function () {
            Array.prototype.forEach.call(tbody.children, function (r) { r.classList.remove('selected'); });
            row.classList.add('selected');
            if (shapes[record.id]) shapes[record.id].setStyle({color: '#dc3545', weight: 3});
          });
          row.addEventListener('mouseleave', function () {
            if (shapes[record.id]) shapes[record.id].setStyle({color: '#0d6efd', weight: 2});
          });
          tbody.appendChild(row);
        });
        var matched = body.numberMatched;
        document.getElementById('search-summary').textContent = (matched === undefined ? features.length : matched) +
          ' products' + (features.length ? ', showing ' + (offset + 1) + '–' + (offset + features.length) : '');
        if (features.length && layer.getBounds().isValid() && !document.getElementById('search-in-view').checked) {
          map.fitBounds(layer.getBounds().pad(0.3), {maxZoom: 8});
        }
        var pages = document.getElementById('search-pages');
        pages.innerHTML = '';
        if (offset > 0) pages.appendChild(el('li', {'class': 'page-item'}, [el('a', {'class': 'page-link', href: '#', text: 'previous',
          onclick: function (e) { e.preventDefault(); offset = Math.max(0, offset - limit); run(); }})]));
        if (matched !== undefined && offset + limit < matched) pages.appendChild(el('li', {'class': 'page-item'}, [el('a', {'class': 'page-link', href: '#', text: 'next',
          onclick: function (e) { e.preventDefault(); offset += limit; run(); }})]));
        form.dataset.done = String(Number(form.dataset.done || 0) + 1);
      }).catch(function (err) {
        tbody.innerHTML = '';
        document.getElementById('search-summary').textContent = err.message;
      });
    }
    form.addEventListener('submit', function (event) { event.preventDefault(); offset = 0; run(); });
    select.addEventListener('change', function () { offset = 0; run(); });
    fillCollections(select, form.dataset.collection).then(function (collections) {
      if (!collections.length) document.getElementById('search-summary').textContent = 'This server has no records collection.';
      run();
    });
  }

  // -- order form (GetOptions → Submit) ---------------------------------------------------
  function optionsOf(doc) {
    // the PRODUCT_ORDER options: processing options, packaging, priority, delivery protocols
    var found = {options: [], packaging: null, priority: null, protocols: [], description: ''};
    var all = doc.getElementsByTagNameNS(OSEO, 'orderOptions');
    var chosen = Array.prototype.filter.call(all, function (o) {
      return textNS(o, OSEO, 'orderType') === 'PRODUCT_ORDER';
    })[0];
    if (!chosen) return null;
    found.description = textNS(chosen, OSEO, 'description') || '';
    childrenNS(chosen, OSEO, 'option').forEach(function (option) {
      var fieldNode = option.getElementsByTagNameNS(SWE, 'field')[0];
      if (!fieldNode) return;
      var values = Array.prototype.map.call(
        fieldNode.getElementsByTagNameNS(SWE, 'AllowedTokens'), function (tokens) {
          return childrenNS(tokens, SWE, 'value').map(function (v) { return v.textContent.trim(); });
        })[0] || [];
      var category = fieldNode.firstElementChild;
      var defaults = category ? childrenNS(category, SWE, 'value') : [];
      var spec = {name: fieldNode.getAttribute('name'), values: values,
                  description: category ? (textNS(category, SWE, 'description') || '') : '',
                  'default': defaults.length ? defaults[0].textContent.trim() : null,
                  grouping: textNS(option, OSEO, 'grouping') || ''};
      if (spec.name === 'packaging') found.packaging = spec;
      else if (spec.name === 'priority') found.priority = spec;
      else found.options.push(spec);
    });
    Array.prototype.forEach.call(chosen.getElementsByTagNameNS(OSEO, 'onlineDataAccess'), function (access) {
      childrenNS(access, OSEO, 'protocol').forEach(function (p) { found.protocols.push(p.textContent.trim()); });
    });
    return found;
  }
  function optionControl(spec, required) {
    var id = 'opt-' + spec.name;
    var control;
    if (spec.values.length) {
      control = el('select', {'class': 'form-select', id: id, name: spec.name});
      if (!required) control.appendChild(el('option', {value: '', text: spec['default'] ? '— (default: ' + spec['default'] + ')' : '—'}));
      spec.values.forEach(function (v) {
        control.appendChild(el('option', {value: v, text: v, selected: v === spec['default'] && required ? 'selected' : null}));
      });
    } else {
      control = el('input', {'class': 'form-control', id: id, name: spec.name, placeholder: spec['default'] || ''});
    }
    return el('div', {'class': 'col-md-4 mb-2', 'data-option': spec.name}, [
      el('label', {'class': 'form-label', 'for': id, text: spec.name + (spec.grouping ? ' (' + spec.grouping + ')' : '')}),
      control, spec.description ? el('div', {'class': 'form-text', text: spec.description}) : el('span')]);
  }
  function submitXML(form, found) {
    var identifier = document.getElementById('order-identifier').value.trim();
    var collection = form.dataset.collection;
    var reference = document.getElementById('order-reference').value.trim() || 'web order';
    var value = function (name) {
      var node = document.getElementById('opt-' + name);
      return node ? node.value.trim() : '';
    };
    var options = found.options.map(function (spec) {
      var v = value(spec.name);
      return v ? '<' + spec.name + '>' + xmlEscape(v) + '</' + spec.name + '>' : '';
    }).join('');
    var packaging = found.packaging && value('packaging');
    var priority = found.priority && value('priority');
    var protocol = value('protocol');
    return '<Submit xmlns="' + OSEO + '" service="OS" version="1.0.0"><orderSpecification>' +
      '<orderReference>' + xmlEscape(reference) + '</orderReference>' +
      (packaging ? '<packaging>' + xmlEscape(packaging) + '</packaging>' : '') +
      (options ? '<option><ParameterData><encoding>XMLEncoding</encoding><values>' + options +
                 '</values></ParameterData></option>' : '') +
      (protocol ? '<deliveryOptions><onlineDataAccess><protocol>' + xmlEscape(protocol) +
                  '</protocol></onlineDataAccess></deliveryOptions>' : '') +
      (priority ? '<priority>' + xmlEscape(priority) + '</priority>' : '') +
      '<orderType>PRODUCT_ORDER</orderType>' +
      '<orderItem><itemId>1</itemId><productId><identifier>' + xmlEscape(identifier) + '</identifier>' +
      (collection ? '<collectionId>' + xmlEscape(collection) + '</collectionId>' : '') +
      '</productId></orderItem></orderSpecification><statusNotification>None</statusNotification></Submit>';
  }
  function orderPage(form) {
    var fieldset = document.getElementById('order-options');
    var info = document.getElementById('order-options-info');
    var error = document.getElementById('order-error');
    var found = null;
    function fail(err) { error.textContent = err.message; error.hidden = false; }
    var collection = form.dataset.collection, identifier = form.dataset.identifier;
    var ask = '<GetOptions xmlns="' + OSEO + '" service="OS" version="1.0.0">' +
      (collection ? '<collectionId>' + xmlEscape(collection) + '</collectionId>'
                  : '<identifier>' + xmlEscape(identifier) + '</identifier>') + '</GetOptions>';
    postXML(ask).then(function (doc) {
      found = optionsOf(doc);
      if (!found) throw new Error('this collection does not accept product orders');
      info.textContent = found.description;
      var row = el('div', {'class': 'row'});
      found.options.forEach(function (spec) { row.appendChild(optionControl(spec, false)); });
      if (found.packaging && found.packaging.values.length) row.appendChild(optionControl(found.packaging, false));
      if (found.priority && found.priority.values.length) row.appendChild(optionControl(found.priority, false));
      if (found.protocols.length) {
        row.appendChild(optionControl({name: 'protocol', values: found.protocols, 'default': found.protocols[0],
                                       description: 'how the product is delivered', grouping: 'Delivery'}, true));
      }
      fieldset.appendChild(el('legend', {'class': 'fs-5', text: 'Options'}));
      fieldset.appendChild(row);
      document.getElementById('order-submit').disabled = false;
      form.dataset.ready = 'true';
    }).catch(fail);
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      error.hidden = true;
      var xml = submitXML(form, found);
      document.getElementById('order-xml').textContent = xml;
      document.getElementById('order-submit').disabled = true;
      postXML(xml).then(function (doc) {
        var orderId = textNS(doc.documentElement, OSEO, 'orderId');
        if (!orderId) throw new Error('the server accepted the order but returned no order id');
        window.location.href = BASE + '/ui/orders/' + encodeURIComponent(orderId);
      }).catch(function (err) {
        fail(err);
        document.getElementById('order-submit').disabled = false;
      });
    });
  }

  // -- order progress -----------------------------------------------------------------
  function orderStatusPage(root) {
    var orderId = root.dataset.order;
    var done = false, downloadsShown = false;
    function downloads() {
      var ask = '<DescribeResultAccess xmlns="' + OSEO + '" service="OS" version="1.0.0"><orderId>' +
        xmlEscape(orderId) + '</orderId><subFunction>allReady</subFunction></DescribeResultAccess>';
      return postXML(ask).then(function (doc) {
        var list = document.getElementById('order-downloads');
        list.innerHTML = '';
        Array.prototype.forEach.call(doc.getElementsByTagNameNS(OSEO, 'URLs'), function (entry) {
          var url = textNS(entry, OSEO, 'URL');
          var item = textNS(entry, OSEO, 'itemId');
          var expires = textNS(entry, OSEO, 'expirationDate');
          if (!url) return;
          list.appendChild(el('li', {}, [
            el('a', {href: url, 'class': 'download-link', download: '', 'data-item': item || '', text: url.split('/').pop()}),
            ' ', el('small', {'class': 'text-muted', text: (item ? 'item ' + item : '') + (expires ? ', until ' + expires : '')})]));
        });
        document.getElementById('order-downloads-box').hidden = !list.children.length;
        downloadsShown = list.children.length > 0;
      }).catch(function (err) {
        document.getElementById('order-downloads').textContent = err.message;
        document.getElementById('order-downloads-box').hidden = false;
      });
    }
    function poll() {
      getJSON(BASE + '/orders/' + encodeURIComponent(orderId)).then(function (order) {
        setBadge(document.getElementById('order-status'), order.status);
        root.dataset.status = order.status;
        document.getElementById('order-status-info').textContent = order.statusInfo || '';
        document.getElementById('order-reference').textContent = order.reference || '';
        document.getElementById('order-created').textContent = order.created || '';
        document.getElementById('order-updated').textContent = order.updated || '';
        var items = order.items || [];
        var ended = items.filter(function (i) { return FINAL_ORDER.indexOf(i.status) >= 0; }).length;
        var bar = document.getElementById('order-progress');
        bar.style.width = (items.length ? Math.round(100 * ended / items.length) : 0) + '%';
        bar.textContent = ended + ' / ' + items.length;
        var tbody = document.querySelector('#order-items tbody');
        tbody.innerHTML = '';
        items.forEach(function (item) {
          var badge = el('span');
          setBadge(badge, item.status);
          tbody.appendChild(el('tr', {'data-item': item.itemId}, [
            el('td', {text: item.itemId}), el('td', {text: item.identifier || ''}), el('td', {}, [badge]),
            el('td', {'class': 'small', text: item.statusInfo || ''}),
            el('td', {}, item.jobID ? [el('a', {href: BASE + '/ui/jobs/' + encodeURIComponent(item.jobID), text: 'progress & log'})] : [])]));
        });
        var history = document.getElementById('order-history');
        history.innerHTML = '';
        (order.history || []).forEach(function (h) {
          history.appendChild(el('li', {text: h.at + ' ' + (h.item ? 'item ' + h.item : 'order') + ': ' +
            (h.from || '—') + ' → ' + h.to + (h.message ? ' (' + h.message + ')' : '')}));
        });
        var completed = items.some(function (i) { return i.status === 'Completed' || i.status === 'Downloaded'; });
        if (completed && !downloadsShown) return downloads().then(function () { return order; });
        return order;
      }).then(function (order) {
        done = order && FINAL_ORDER.indexOf(order.status) >= 0 && (downloadsShown ||
          order.status === 'Failed' || order.status === 'Cancelled');
      }).catch(function (err) {
        document.getElementById('order-status-info').textContent = err.message;
      }).then(function () {
        if (!done) setTimeout(poll, 700);
      });
    }
    poll();
  }

  window.EOOrder = {jobPage: jobPage, deployPage: deployPage, executePage: executePage,
                    searchPage: searchPage, orderPage: orderPage, orderStatusPage: orderStatusPage,
                    detectType: detectType, productHref: productHref};
})();
