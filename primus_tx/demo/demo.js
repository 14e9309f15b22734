// The primus-tx demo chat: one Primus client, its events shown as they
// happen, and a round-trip time measured with an application-level ping
// (the server answers {type: 'latency'} messages to the sender only).
(function demo() {
  'use strict';

  var $ = function (id) { return document.getElementById(id); };
  var messages = $('messages');
  var status = $('status');
  var rtts = [];
  var myId = null;
  var lastPing = null;
  var nextAttemptAt = null;
  var latencyTimer = null;

  var nameInput = $('name');
  nameInput.value = localStorage.getItem('primus-tx-name') || 'guest-' + Math.floor(Math.random() * 1000);

  var primus = new Primus({ reconnect: { min: 500, max: 8000, retries: Infinity } });
  window.primus = primus; // for poking at it from the console

  function setState(state, label) {
    status.setAttribute('data-state', state);
    $('status-text').textContent = label || state;
    $('m-state').textContent = label || state;
  }

  function colour(text) {
    var hash = 0;
    for (var i = 0; i < text.length; i++) hash = (hash * 31 + text.charCodeAt(i)) | 0;
    return 'hsl(' + (Math.abs(hash) % 360) + ', 70%, 70%)';
  }

  function scrolledToBottom() {
    return messages.scrollHeight - messages.scrollTop - messages.clientHeight < 40;
  }

  function append(li) {
    var stick = scrolledToBottom();
    messages.appendChild(li);
    while (messages.children.length > 300) messages.removeChild(messages.firstChild);
    if (stick) messages.scrollTop = messages.scrollHeight;
  }

  function system(text) {
    var li = document.createElement('li');
    li.className = 'system';
    li.textContent = text;
    append(li);
  }

  function chatMessage(message) {
    var data = message.data || {};
    var name = String(data.name || 'anonymous').slice(0, 24);
    var li = document.createElement('li');
    if (message.from === myId) li.className = 'mine';
    var avatar = document.createElement('div');
    avatar.className = 'avatar';
    avatar.style.background = colour(name);
    avatar.textContent = name.charAt(0).toUpperCase();
    var bubble = document.createElement('div');
    bubble.className = 'bubble';
    var meta = document.createElement('div');
    meta.className = 'meta';
    meta.textContent = name + ' · ' + new Date(message.at).toLocaleTimeString();
    var text = document.createElement('div');
    text.className = 'text';
    text.textContent = typeof data.text === 'string' ? data.text : JSON.stringify(data);
    bubble.appendChild(meta);
    bubble.appendChild(text);
    li.appendChild(avatar);
    li.appendChild(bubble);
    append(li);
  }

  function drawSparkline() {
    var canvas = $('sparkline');
    var ctx = canvas.getContext('2d');
    var width = canvas.width;
    var height = canvas.height;
    ctx.clearRect(0, 0, width, height);
    if (rtts.length < 2) return;
    var max = Math.max.apply(null, rtts.concat([5]));
    ctx.strokeStyle = '#6c8cff';
    ctx.lineWidth = 2;
    ctx.beginPath();
    rtts.forEach(function (value, i) {
      var x = (i / (rtts.length - 1)) * (width - 4) + 2;
      var y = height - 4 - (value / max) * (height - 8);
      if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
    });
    ctx.stroke();
  }

  function measureLatency() {
    if (primus.readyState === Primus.OPEN) primus.write({ type: 'latency', sent: performance.now() });
  }

  primus.on('readyStateChange', function (state) {
    if (state === 'opening') setState('connecting', primus.recovery.reconnecting() ? 'reconnecting' : 'connecting');
  });

  primus.on('open', function () {
    setState('open', 'connected');
    $('m-attempts').textContent = '0';
    $('m-next').textContent = '–';
    nextAttemptAt = null;
    primus.id(function (id) {
      myId = id;
      $('m-id').textContent = id;
    });
    measureLatency();
    clearInterval(latencyTimer);
    latencyTimer = setInterval(measureLatency, 2000);
  });

  primus.on('data', function (message) {
    if (!message || typeof message !== 'object') return;
    if (message.type === 'latency') {
      var rtt = performance.now() - message.sent;
      rtts.push(rtt);
      if (rtts.length > 40) rtts.shift();
      $('m-latency').textContent = rtt.toFixed(1) + ' ms';
      drawSparkline();
    } else if (message.type === 'presence') {
      $('m-people').textContent = String(message.count);
    } else if (message.type === 'message') {
      chatMessage(message);
    }
  });

  // The server pings every ping_interval; its timestamp says how long ago
  // we last heard from it.
  primus.on('incoming::ping', function (time) {
    lastPing = Date.now();
  });

  primus.on('reconnect scheduled', function (opts) {
    setState('reconnecting', 'reconnecting');
    $('m-attempts').textContent = String(opts.attempt);
    nextAttemptAt = Date.now() + opts.scheduled;
  });

  primus.on('reconnect', function () { nextAttemptAt = null; });

  primus.on('close', function () {
    clearInterval(latencyTimer);
    $('m-latency').textContent = '–';
    system('connection lost');
  });
  primus.on('reconnected', function (opts) {
    system('back after ' + opts.attempt + ' attempt' + (opts.attempt === 1 ? '' : 's') +
      ' (' + (opts.duration / 1000).toFixed(1) + ' s)');
  });
  primus.on('offline', function () { setState('offline', 'offline'); });
  primus.on('online', function () { setState('connecting', 'online, reconnecting'); });
  primus.on('end', function () {
    clearInterval(latencyTimer);
    if (primus.online === false) return;
    setState('ended', 'disconnected');
  });

  setInterval(function tick() {
    $('m-ping').textContent = lastPing ? Math.round((Date.now() - lastPing) / 1000) + ' s ago' : '–';
    $('m-next').textContent = nextAttemptAt ? Math.max(0, (nextAttemptAt - Date.now()) / 1000).toFixed(1) + ' s' : '–';
  }, 250);

  $('composer').addEventListener('submit', function (event) {
    event.preventDefault();
    var text = $('text').value.trim();
    if (!text) return;
    var name = nameInput.value.trim() || 'anonymous';
    localStorage.setItem('primus-tx-name', name);
    primus.write({ name: name, text: text }); // buffered while reconnecting
    $('text').value = '';
  });

  system('welcome: open this page in two tabs and chat with yourself');
})();
