// The primus-tx demo chat: rooms and a user list (the server's `rooms`
// plugin), every message acknowledged with the number of people it reached
// (the `emitter` plugin's acks), and one Primus client's events shown as
// they happen, with a round-trip time measured by an acknowledged ping.
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
  var currentRoom = 'lobby';
  var joinedRoom = null;

  var nameInput = $('name');
  nameInput.value = localStorage.getItem('primus-tx-name') || 'guest-' + Math.floor(Math.random() * 1000);
  var lastName = nameInput.value;

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
    var name = String(message.name || 'anonymous').slice(0, 24);
    var li = document.createElement('li');
    var mine = message.from === myId;
    if (mine) {
      li.className = 'mine';
      li.setAttribute('data-at', String(message.at));
    }
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
    text.textContent = String(message.text);
    bubble.appendChild(meta);
    bubble.appendChild(text);
    if (mine) { // until the server's ack says how many it reached
      var ack = document.createElement('div');
      ack.className = 'ack';
      ack.textContent = 'sending…';
      bubble.appendChild(ack);
    }
    li.appendChild(avatar);
    li.appendChild(bubble);
    append(li);
    return li;
  }

  function showRooms(counts) {
    var list = $('rooms');
    list.textContent = '';
    Object.keys(counts).forEach(function (room) {
      var li = document.createElement('li');
      li.setAttribute('data-room', room);
      if (room === currentRoom) li.className = 'current';
      var label = document.createElement('span');
      label.textContent = '#' + room;
      var count = document.createElement('span');
      count.textContent = String(counts[room]);
      li.appendChild(label);
      li.appendChild(count);
      li.addEventListener('click', function () { join(room); });
      list.appendChild(li);
    });
  }

  function showUsers(users) {
    var list = $('users');
    list.textContent = '';
    users.forEach(function (user) {
      var li = document.createElement('li');
      li.textContent = user;
      list.appendChild(li);
    });
  }

  function join(room) {
    primus.send('join', room, function (reply) {
      if (!reply || reply.error) return system(reply ? reply.error : 'could not join ' + room);
      if (reply.room !== joinedRoom) { // not a rejoin after a reconnect
        if (joinedRoom) messages.textContent = '';
        system('you are in #' + reply.room);
      }
      currentRoom = joinedRoom = reply.room;
      showUsers(reply.users);
      Array.prototype.forEach.call($('rooms').children, function (li) {
        li.className = li.getAttribute('data-room') === currentRoom ? 'current' : '';
      });
    });
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

  // An acknowledged ping: the server's ack carries our timestamp back.
  function measureLatency() {
    if (primus.readyState !== Primus.OPEN) return;
    primus.send('ping', performance.now(), function (sent) {
      var rtt = performance.now() - sent;
      rtts.push(rtt);
      if (rtts.length > 40) rtts.shift();
      $('m-latency').textContent = rtt.toFixed(1) + ' ms';
      drawSparkline();
    });
  }

  primus.on('readyStateChange', function (state) {
    if (state === 'opening') setState('connecting', primus.recovery.reconnecting() ? 'reconnecting' : 'connecting');
  });

  primus.on('open', function () {
    setState('open', 'connected');
    $('m-attempts').textContent = '0';
    $('m-next').textContent = '–';
    nextAttemptAt = null;
    // The server forgets a connection's rooms when it ends: say who we
    // are and (re)join our room on every open.
    primus.send('hello', nameInput.value.trim() || 'anonymous', function (reply) {
      myId = reply.id;
      $('m-id').textContent = reply.id;
      join(currentRoom);
    });
    measureLatency();
    clearInterval(latencyTimer);
    latencyTimer = setInterval(measureLatency, 2000);
  });

  primus.on('message', chatMessage);
  primus.on('users', function (room, users) { if (room === currentRoom) showUsers(users); });
  primus.on('rooms', showRooms);
  primus.on('presence', function (count) { $('m-people').textContent = String(count); });

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
    $('text').value = '';
    if (name !== lastName) {
      lastName = name;
      primus.send('hello', name, function () {});
    }
    // Buffered while reconnecting; the ack says how many people it reached.
    primus.send('say', text, function (reply) {
      if (reply.error) return system(reply.error);
      var ack = document.querySelector('#messages li[data-at="' + reply.at + '"] .ack:not(.done)');
      if (!ack) return;
      ack.className = 'ack done';
      ack.textContent = '✓ delivered to ' + reply.delivered + (reply.delivered === 1 ? ' person' : ' people');
    });
  });

  system('welcome: open this page in two tabs, pick rooms, and chat with yourself');
})();
