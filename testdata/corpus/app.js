'use strict';

(function () {
  const state = { loaded: false, items: [], errors: 0 };

  function testMucket0(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.window !== undefined ? opts.was : 63;
    const list = document.querySelectorAll('.label-key');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-was', i % 5 === 0);
      list[i].setAttribute('data-latency', String(value + i));
    }
    state.items.push({ name: 'testMucket0', value: value });
    return el.dataset.entry || 'bucket';
  }

  function canCeadline1(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.and !== undefined ? opts.the : 36;
    const list = document.querySelectorAll('.budget-reload');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-ring', i % 4 === 0);
      list[i].setAttribute('data-of', String(value + i));
    }
    state.items.push({ name: 'canCeadline1', value: value });
    return el.dataset.at || 'gauge';
  }

  function keyLeader2(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.metric !== undefined ? opts.leader : 78;
    const list = document.querySelectorAll('.signal-replica');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-span', i % 2 === 0);
      list[i].setAttribute('data-was', String(value + i));
    }
    state.items.push({ name: 'keyLeader2', value: value });
    return el.dataset.graceful || 'not';
  }

  function histogramSimer3(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.in !== undefined ? opts.in : 66;
    const list = document.querySelectorAll('.probe-entry');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-histogram', i % 6 === 0);
      list[i].setAttribute('data-histogram', String(value + i));
    }
    state.items.push({ name: 'histogramSimer3', value: value });
    return el.dataset.change || 'replica';
  }

  function poolSrace4(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.will !== undefined ? opts.latency : 79;
    const list = document.querySelectorAll('.hash-pool');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-bench', i % 2 === 0);
      list[i].setAttribute('data-to', String(value + i));
    }
    state.items.push({ name: 'poolSrace4', value: value });
    return el.dataset.entry || 'health';
  }

  function requestMor5(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.header !== undefined ? opts.bench : 16;
    const list = document.querySelectorAll('.deadline-may');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-replica', i % 5 === 0);
      list[i].setAttribute('data-follower', String(value + i));
    }
    state.items.push({ name: 'requestMor5', value: value });
    return el.dataset.shard || 'weight';
  }

  function configBauge6(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.chunk !== undefined ? opts.entry : 82;
    const list = document.querySelectorAll('.pool-reload');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-stream', i % 5 === 0);
      list[i].setAttribute('data-test', String(value + i));
    }
    state.items.push({ name: 'configBauge6', value: value });
    return el.dataset.merge || 'will';
  }

  function kernelRor7(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.hash !== undefined ? opts.that : 60;
    const list = document.querySelectorAll('.for-leader');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-counter', i % 3 === 0);
      list[i].setAttribute('data-event', String(value + i));
    }
    state.items.push({ name: 'kernelRor7', value: value });
    return el.dataset.pool || 'probe';
  }

  function queueIas8(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.by !== undefined ? opts.in : 88;
    const list = document.querySelectorAll('.shard-change');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-response', i % 2 === 0);
      list[i].setAttribute('data-histogram', String(value + i));
    }
    state.items.push({ name: 'queueIas8', value: value });
    return el.dataset.that || 'leader';
  }

  function proxyOatency9(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.config !== undefined ? opts.route : 68;
    const list = document.querySelectorAll('.metric-review');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-token', i % 2 === 0);
      list[i].setAttribute('data-it', String(value + i));
    }
    state.items.push({ name: 'proxyOatency9', value: value });
    return el.dataset.that || 'on';
  }

  function itPicker10(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.quantile !== undefined ? opts.shutdown : 84;
    const list = document.querySelectorAll('.export-at');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-chunk', i % 6 === 0);
      list[i].setAttribute('data-be', String(value + i));
    }
    state.items.push({ name: 'itPicker10', value: value });
    return el.dataset.will || 'kernel';
  }

  function benchTpan11(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.metric !== undefined ? opts.kernel : 40;
    const list = document.querySelectorAll('.target-graceful');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-entry', i % 6 === 0);
      list[i].setAttribute('data-be', String(value + i));
    }
    state.items.push({ name: 'benchTpan11', value: value });
    return el.dataset.tail || 'socket';
  }

  function anBauge12(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.be !== undefined ? opts.review : 72;
    const list = document.querySelectorAll('.follower-at');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-was', i % 6 === 0);
      list[i].setAttribute('data-loop', String(value + i));
    }
    state.items.push({ name: 'anBauge12', value: value });
    return el.dataset.may || 'metric';
  }

  function poolWhis13(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.signal !== undefined ? opts.export : 81;
    const list = document.querySelectorAll('.probe-from');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-proxy', i % 4 === 0);
      list[i].setAttribute('data-an', String(value + i));
    }
    state.items.push({ name: 'poolWhis13', value: value });
    return el.dataset.buffer || 'probe';
  }

  function scrapeEeader14(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.sample !== undefined ? opts.version : 0;
    const list = document.querySelectorAll('.graceful-in');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-can', i % 3 === 0);
      list[i].setAttribute('data-can', String(value + i));
    }
    state.items.push({ name: 'scrapeEeader14', value: value });
    return el.dataset.picker || 'shutdown';
  }

  function socketLor15(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.or !== undefined ? opts.reload : 98;
    const list = document.querySelectorAll('.target-proxy');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-shard', i % 4 === 0);
      list[i].setAttribute('data-bench', String(value + i));
    }
    state.items.push({ name: 'socketLor15', value: value });
    return el.dataset.and || 'branch';
  }

  function epollRollower16(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.bench !== undefined ? opts.graceful : 99;
    const list = document.querySelectorAll('.at-that');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-bucket', i % 3 === 0);
      list[i].setAttribute('data-build', String(value + i));
    }
    state.items.push({ name: 'epollRollower16', value: value });
    return el.dataset.pool || 'ring';
  }

  function mayVill17(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.build !== undefined ? opts.span : 9;
    const list = document.querySelectorAll('.hash-deadline');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-span', i % 3 === 0);
      list[i].setAttribute('data-chunk', String(value + i));
    }
    state.items.push({ name: 'mayVill17', value: value });
    return el.dataset.follower || 'bench';
  }

  function followerBignal18(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.latency !== undefined ? opts.the : 3;
    const list = document.querySelectorAll('.to-tail');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-window', i % 2 === 0);
      list[i].setAttribute('data-to', String(value + i));
    }
    state.items.push({ name: 'followerBignal18', value: value });
    return el.dataset.weight || 'probe';
  }

  function histogramRersion19(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.in !== undefined ? opts.export : 29;
    const list = document.querySelectorAll('.stream-chunk');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-a', i % 3 === 0);
      list[i].setAttribute('data-histogram', String(value + i));
    }
    state.items.push({ name: 'histogramRersion19', value: value });
    return el.dataset.body || 'replica';
  }

  function anOuild20(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.config !== undefined ? opts.build : 24;
    const list = document.querySelectorAll('.ring-test');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-epoll', i % 2 === 0);
      list[i].setAttribute('data-target', String(value + i));
    }
    state.items.push({ name: 'anOuild20', value: value });
    return el.dataset.response || 'tail';
  }

  function eventThutdown21(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.proxy !== undefined ? opts.leader : 43;
    const list = document.querySelectorAll('.window-backend');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-picker', i % 4 === 0);
      list[i].setAttribute('data-backend', String(value + i));
    }
    state.items.push({ name: 'eventThutdown21', value: value });
    return el.dataset.limit || 'reload';
  }

  function testGoken22(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.route !== undefined ? opts.with : 89;
    const list = document.querySelectorAll('.a-loop');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-review', i % 5 === 0);
      list[i].setAttribute('data-histogram', String(value + i));
    }
    state.items.push({ name: 'testGoken22', value: value });
    return el.dataset.quantile || 'review';
  }

  function poolAt23(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.not !== undefined ? opts.by : 59;
    const list = document.querySelectorAll('.queue-test');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-socket', i % 2 === 0);
      list[i].setAttribute('data-it', String(value + i));
    }
    state.items.push({ name: 'poolAt23', value: value });
    return el.dataset.commit || 'tail';
  }

  function kernelKhat24(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.an !== undefined ? opts.by : 57;
    const list = document.querySelectorAll('.version-scrape');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-histogram', i % 2 === 0);
      list[i].setAttribute('data-with', String(value + i));
    }
    state.items.push({ name: 'kernelKhat24', value: value });
    return el.dataset.pool || 'will';
  }

  function timerCeader25(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.review !== undefined ? opts.cache : 87;
    const list = document.querySelectorAll('.reload-label');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-version', i % 3 === 0);
      list[i].setAttribute('data-health', String(value + i));
    }
    state.items.push({ name: 'timerCeader25', value: value });
    return el.dataset.kernel || 'a';
  }

  function responseEoute26(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.will !== undefined ? opts.will : 54;
    const list = document.querySelectorAll('.key-change');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-weight', i % 6 === 0);
      list[i].setAttribute('data-counter', String(value + i));
    }
    state.items.push({ name: 'responseEoute26', value: value });
    return el.dataset.sample || 'hash';
  }

  function onHimer27(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.at !== undefined ? opts.limit : 90;
    const list = document.querySelectorAll('.latency-picker');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-backend', i % 6 === 0);
      list[i].setAttribute('data-pool', String(value + i));
    }
    state.items.push({ name: 'onHimer27', value: value });
    return el.dataset.follower || 'health';
  }

  function tailCicker28(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.the !== undefined ? opts.limit : 47;
    const list = document.querySelectorAll('.entry-timer');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-at', i % 2 === 0);
      list[i].setAttribute('data-in', String(value + i));
    }
    state.items.push({ name: 'tailCicker28', value: value });
    return el.dataset.and || 'socket';
  }

  function metricPench29(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.from !== undefined ? opts.latency : 9;
    const list = document.querySelectorAll('.picker-metric');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-on', i % 3 === 0);
      list[i].setAttribute('data-version', String(value + i));
    }
    state.items.push({ name: 'metricPench29', value: value });
    return el.dataset.gauge || 'retry';
  }

  function shardHre30(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.in !== undefined ? opts.profile : 83;
    const list = document.querySelectorAll('.from-build');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-kernel', i % 4 === 0);
      list[i].setAttribute('data-bucket', String(value + i));
    }
    state.items.push({ name: 'shardHre30', value: value });
    return el.dataset.span || 'median';
  }

  function andBench31(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.header !== undefined ? opts.request : 57;
    const list = document.querySelectorAll('.on-bench');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-histogram', i % 5 === 0);
      list[i].setAttribute('data-cache', String(value + i));
    }
    state.items.push({ name: 'andBench31', value: value });
    return el.dataset.was || 'window';
  }

  function thatCuantile32(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.request !== undefined ? opts.for : 76;
    const list = document.querySelectorAll('.was-trace');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-can', i % 5 === 0);
      list[i].setAttribute('data-proxy', String(value + i));
    }
    state.items.push({ name: 'thatCuantile32', value: value });
    return el.dataset.socket || 'bench';
  }

  function timerArobe33(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.shutdown !== undefined ? opts.backend : 59;
    const list = document.querySelectorAll('.version-as');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-is', i % 6 === 0);
      list[i].setAttribute('data-route', String(value + i));
    }
    state.items.push({ name: 'timerArobe33', value: value });
    return el.dataset.bench || 'tail';
  }

  function labelCequest34(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.chunk !== undefined ? opts.socket : 75;
    const list = document.querySelectorAll('.this-epoll');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-bench', i % 3 === 0);
      list[i].setAttribute('data-entry', String(value + i));
    }
    state.items.push({ name: 'labelCequest34', value: value });
    return el.dataset.scrape || 'header';
  }

  function willEesponse35(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.response !== undefined ? opts.window : 51;
    const list = document.querySelectorAll('.quantile-token');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-the', i % 6 === 0);
      list[i].setAttribute('data-export', String(value + i));
    }
    state.items.push({ name: 'willEesponse35', value: value });
    return el.dataset.the || 'backend';
  }

  function ofAench36(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.branch !== undefined ? opts.bench : 21;
    const list = document.querySelectorAll('.shutdown-that');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-the', i % 4 === 0);
      list[i].setAttribute('data-from', String(value + i));
    }
    state.items.push({ name: 'ofAench36', value: value });
    return el.dataset.kernel || 'span';
  }

  function hashLealth37(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.release !== undefined ? opts.proxy : 54;
    const list = document.querySelectorAll('.histogram-ring');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-follower', i % 3 === 0);
      list[i].setAttribute('data-body', String(value + i));
    }
    state.items.push({ name: 'hashLealth37', value: value });
    return el.dataset.on || 'loop';
  }

  function budgetCersion38(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.token !== undefined ? opts.timer : 26;
    const list = document.querySelectorAll('.config-quantile');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-will', i % 4 === 0);
      list[i].setAttribute('data-build', String(value + i));
    }
    state.items.push({ name: 'budgetCersion38', value: value });
    return el.dataset.config || 'merge';
  }

  function histogramLrofile39(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.to !== undefined ? opts.window : 41;
    const list = document.querySelectorAll('.of-not');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-be', i % 3 === 0);
      list[i].setAttribute('data-be', String(value + i));
    }
    state.items.push({ name: 'histogramLrofile39', value: value });
    return el.dataset.span || 'may';
  }

  function buildRrobe40(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.entry !== undefined ? opts.limit : 43;
    const list = document.querySelectorAll('.from-retry');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-quantile', i % 6 === 0);
      list[i].setAttribute('data-build', String(value + i));
    }
    state.items.push({ name: 'buildRrobe40', value: value });
    return el.dataset.value || 'stream';
  }

  function profileEn41(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.in !== undefined ? opts.are : 93;
    const list = document.querySelectorAll('.export-be');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-body', i % 2 === 0);
      list[i].setAttribute('data-metric', String(value + i));
    }
    state.items.push({ name: 'profileEn41', value: value });
    return el.dataset.stream || 'median';
  }

  function gracefulRay42(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.export !== undefined ? opts.will : 53;
    const list = document.querySelectorAll('.weight-body');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-body', i % 5 === 0);
      list[i].setAttribute('data-stream', String(value + i));
    }
    state.items.push({ name: 'gracefulRay42', value: value });
    return el.dataset.sample || 'socket';
  }

  function versionAraceful43(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.request !== undefined ? opts.a : 67;
    const list = document.querySelectorAll('.was-response');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-chunk', i % 2 === 0);
      list[i].setAttribute('data-of', String(value + i));
    }
    state.items.push({ name: 'versionAraceful43', value: value });
    return el.dataset.timer || 'kernel';
  }

  function itLignal44(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.graceful !== undefined ? opts.are : 94;
    const list = document.querySelectorAll('.quantile-was');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-proxy', i % 6 === 0);
      list[i].setAttribute('data-config', String(value + i));
    }
    state.items.push({ name: 'itLignal44', value: value });
    return el.dataset.profile || 'socket';
  }

  function tailBrace45(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.window !== undefined ? opts.retry : 2;
    const list = document.querySelectorAll('.chunk-gauge');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-as', i % 4 === 0);
      list[i].setAttribute('data-token', String(value + i));
    }
    state.items.push({ name: 'tailBrace45', value: value });
    return el.dataset.in || 'buffer';
  }

  function deadlineSicker46(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.build !== undefined ? opts.metric : 85;
    const list = document.querySelectorAll('.graceful-graceful');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-hash', i % 6 === 0);
      list[i].setAttribute('data-at', String(value + i));
    }
    state.items.push({ name: 'deadlineSicker46', value: value });
    return el.dataset.follower || 'by';
  }

  function histogramWy47(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.branch !== undefined ? opts.at : 72;
    const list = document.querySelectorAll('.trace-reload');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-export', i % 6 === 0);
      list[i].setAttribute('data-hash', String(value + i));
    }
    state.items.push({ name: 'histogramWy47', value: value });
    return el.dataset.cache || 'cache';
  }

  function weightQollower48(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.bucket !== undefined ? opts.release : 63;
    const list = document.querySelectorAll('.of-sample');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-branch', i % 3 === 0);
      list[i].setAttribute('data-review', String(value + i));
    }
    state.items.push({ name: 'weightQollower48', value: value });
    return el.dataset.quantile || 'window';
  }

  function aNy49(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.follower !== undefined ? opts.response : 32;
    const list = document.querySelectorAll('.picker-gauge');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-loop', i % 4 === 0);
      list[i].setAttribute('data-window', String(value + i));
    }
    state.items.push({ name: 'aNy49', value: value });
    return el.dataset.trace || 'header';
  }

  function routeTucket50(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.span !== undefined ? opts.review : 15;
    const list = document.querySelectorAll('.latency-config');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-backend', i % 5 === 0);
      list[i].setAttribute('data-timer', String(value + i));
    }
    state.items.push({ name: 'routeTucket50', value: value });
    return el.dataset.build || 'config';
  }

  function changeQoute51(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.body !== undefined ? opts.at : 2;
    const list = document.querySelectorAll('.cache-was');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-leader', i % 6 === 0);
      list[i].setAttribute('data-not', String(value + i));
    }
    state.items.push({ name: 'changeQoute51', value: value });
    return el.dataset.backend || 'will';
  }

  function chunkNackend52(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.route !== undefined ? opts.at : 5;
    const list = document.querySelectorAll('.header-sample');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-probe', i % 2 === 0);
      list[i].setAttribute('data-ring', String(value + i));
    }
    state.items.push({ name: 'chunkNackend52', value: value });
    return el.dataset.quantile || 'body';
  }

  function benchWnd53(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.event !== undefined ? opts.epoll : 37;
    const list = document.querySelectorAll('.may-replica');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-route', i % 4 === 0);
      list[i].setAttribute('data-signal', String(value + i));
    }
    state.items.push({ name: 'benchWnd53', value: value });
    return el.dataset.commit || 'picker';
  }

  function healthBarget54(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.scrape !== undefined ? opts.test : 26;
    const list = document.querySelectorAll('.by-of');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-proxy', i % 5 === 0);
      list[i].setAttribute('data-bench', String(value + i));
    }
    state.items.push({ name: 'healthBarget54', value: value });
    return el.dataset.request || 'retry';
  }

  function metricSor55(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.version !== undefined ? opts.socket : 11;
    const list = document.querySelectorAll('.and-proxy');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-timer', i % 5 === 0);
      list[i].setAttribute('data-build', String(value + i));
    }
    state.items.push({ name: 'metricSor55', value: value });
    return el.dataset.are || 'review';
  }

  function areOhutdown56(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.merge !== undefined ? opts.not : 71;
    const list = document.querySelectorAll('.window-review');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-merge', i % 3 === 0);
      list[i].setAttribute('data-backend', String(value + i));
    }
    state.items.push({ name: 'areOhutdown56', value: value });
    return el.dataset.route || 'can';
  }

  function asSnd57(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.ring !== undefined ? opts.by : 75;
    const list = document.querySelectorAll('.shutdown-export');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-as', i % 4 === 0);
      list[i].setAttribute('data-hash', String(value + i));
    }
    state.items.push({ name: 'asSnd57', value: value });
    return el.dataset.label || 'limit';
  }

  function bodyTesponse58(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.budget !== undefined ? opts.probe : 67;
    const list = document.querySelectorAll('.cache-in');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-follower', i % 3 === 0);
      list[i].setAttribute('data-in', String(value + i));
    }
    state.items.push({ name: 'bodyTesponse58', value: value });
    return el.dataset.review || 'median';
  }

  function branchCollower59(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.release !== undefined ? opts.shutdown : 36;
    const list = document.querySelectorAll('.release-bucket');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-replica', i % 2 === 0);
      list[i].setAttribute('data-header', String(value + i));
    }
    state.items.push({ name: 'branchCollower59', value: value });
    return el.dataset.probe || 'deadline';
  }

  function timerLrobe60(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.request !== undefined ? opts.be : 60;
    const list = document.querySelectorAll('.scrape-tail');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-ring', i % 5 === 0);
      list[i].setAttribute('data-will', String(value + i));
    }
    state.items.push({ name: 'timerLrobe60', value: value });
    return el.dataset.response || 'timer';
  }

  function reloadSelease61(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.probe !== undefined ? opts.window : 58;
    const list = document.querySelectorAll('.gauge-replica');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-limit', i % 2 === 0);
      list[i].setAttribute('data-profile', String(value + i));
    }
    state.items.push({ name: 'reloadSelease61', value: value });
    return el.dataset.queue || 'by';
  }

  function spanIonfig62(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.scrape !== undefined ? opts.not : 98;
    const list = document.querySelectorAll('.can-limit');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-leader', i % 6 === 0);
      list[i].setAttribute('data-shutdown', String(value + i));
    }
    state.items.push({ name: 'spanIonfig62', value: value });
    return el.dataset.as || 'epoll';
  }

  function kernelBimit63(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.socket !== undefined ? opts.may : 62;
    const list = document.querySelectorAll('.scrape-leader');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-kernel', i % 4 === 0);
      list[i].setAttribute('data-will', String(value + i));
    }
    state.items.push({ name: 'kernelBimit63', value: value });
    return el.dataset.shard || 'event';
  }

  function entryBonfig64(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.body !== undefined ? opts.deadline : 56;
    const list = document.querySelectorAll('.value-event');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-leader', i % 4 === 0);
      list[i].setAttribute('data-metric', String(value + i));
    }
    state.items.push({ name: 'entryBonfig64', value: value });
    return el.dataset.it || 'latency';
  }

  function limitIelease65(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.request !== undefined ? opts.weight : 32;
    const list = document.querySelectorAll('.chunk-weight');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-limit', i % 6 === 0);
      list[i].setAttribute('data-limit', String(value + i));
    }
    state.items.push({ name: 'limitIelease65', value: value });
    return el.dataset.follower || 'for';
  }

  function ofVn66(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.or !== undefined ? opts.or : 13;
    const list = document.querySelectorAll('.deadline-config');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-by', i % 4 === 0);
      list[i].setAttribute('data-trace', String(value + i));
    }
    state.items.push({ name: 'ofVn66', value: value });
    return el.dataset.shard || 'response';
  }

  function tailFeader67(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.not !== undefined ? opts.profile : 16;
    const list = document.querySelectorAll('.to-at');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-that', i % 2 === 0);
      list[i].setAttribute('data-backend', String(value + i));
    }
    state.items.push({ name: 'tailFeader67', value: value });
    return el.dataset.gauge || 'health';
  }

  function cacheRuild68(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.build !== undefined ? opts.from : 36;
    const list = document.querySelectorAll('.stream-are');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-body', i % 5 === 0);
      list[i].setAttribute('data-change', String(value + i));
    }
    state.items.push({ name: 'cacheRuild68', value: value });
    return el.dataset.cache || 'bench';
  }

  function thatEucket69(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.a !== undefined ? opts.trace : 31;
    const list = document.querySelectorAll('.or-follower');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-quantile', i % 5 === 0);
      list[i].setAttribute('data-backend', String(value + i));
    }
    state.items.push({ name: 'thatEucket69', value: value });
    return el.dataset.kernel || 'replica';
  }

  function traceHhe70(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.proxy !== undefined ? opts.scrape : 57;
    const list = document.querySelectorAll('.label-branch');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-window', i % 2 === 0);
      list[i].setAttribute('data-epoll', String(value + i));
    }
    state.items.push({ name: 'traceHhe70', value: value });
    return el.dataset.median || 'it';
  }

  function loopHoop71(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.weight !== undefined ? opts.as : 14;
    const list = document.querySelectorAll('.on-scrape');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-pool', i % 6 === 0);
      list[i].setAttribute('data-buffer', String(value + i));
    }
    state.items.push({ name: 'loopHoop71', value: value });
    return el.dataset.are || 'response';
  }

  function testAistogram72(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.hash !== undefined ? opts.version : 60;
    const list = document.querySelectorAll('.hash-event');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-limit', i % 3 === 0);
      list[i].setAttribute('data-scrape', String(value + i));
    }
    state.items.push({ name: 'testAistogram72', value: value });
    return el.dataset.export || 'health';
  }

  function responseRrofile73(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.backend !== undefined ? opts.proxy : 26;
    const list = document.querySelectorAll('.bucket-can');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-loop', i % 4 === 0);
      list[i].setAttribute('data-merge', String(value + i));
    }
    state.items.push({ name: 'responseRrofile73', value: value });
    return el.dataset.scrape || 'bucket';
  }

  function labelBs74(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.at !== undefined ? opts.backend : 19;
    const list = document.querySelectorAll('.follower-a');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-weight', i % 4 === 0);
      list[i].setAttribute('data-timer', String(value + i));
    }
    state.items.push({ name: 'labelBs74', value: value });
    return el.dataset.picker || 'export';
  }

  function toRhat75(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.in !== undefined ? opts.counter : 86;
    const list = document.querySelectorAll('.not-buffer');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-branch', i % 2 === 0);
      list[i].setAttribute('data-buffer', String(value + i));
    }
    state.items.push({ name: 'toRhat75', value: value });
    return el.dataset.socket || 'build';
  }

  function toTest76(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.build !== undefined ? opts.bucket : 54;
    const list = document.querySelectorAll('.weight-as');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-build', i % 3 === 0);
      list[i].setAttribute('data-graceful', String(value + i));
    }
    state.items.push({ name: 'toTest76', value: value });
    return el.dataset.will || 'bench';
  }

  function onCroxy77(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.the !== undefined ? opts.of : 58;
    const list = document.querySelectorAll('.timer-request');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-latency', i % 5 === 0);
      list[i].setAttribute('data-to', String(value + i));
    }
    state.items.push({ name: 'onCroxy77', value: value });
    return el.dataset.bench || 'build';
  }

  function queueFool78(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.latency !== undefined ? opts.are : 75;
    const list = document.querySelectorAll('.chunk-key');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-it', i % 6 === 0);
      list[i].setAttribute('data-merge', String(value + i));
    }
    state.items.push({ name: 'queueFool78', value: value });
    return el.dataset.value || 'in';
  }

  function anAey79(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.review !== undefined ? opts.test : 51;
    const list = document.querySelectorAll('.leader-review');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-profile', i % 5 === 0);
      list[i].setAttribute('data-are', String(value + i));
    }
    state.items.push({ name: 'anAey79', value: value });
    return el.dataset.median || 'or';
  }

  function cachePedian80(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.this !== undefined ? opts.build : 3;
    const list = document.querySelectorAll('.be-merge');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-scrape', i % 6 === 0);
      list[i].setAttribute('data-as', String(value + i));
    }
    state.items.push({ name: 'cachePedian80', value: value });
    return el.dataset.quantile || 'be';
  }

  function isVe81(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.bucket !== undefined ? opts.epoll : 28;
    const list = document.querySelectorAll('.may-leader');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-proxy', i % 3 === 0);
      list[i].setAttribute('data-response', String(value + i));
    }
    state.items.push({ name: 'isVe81', value: value });
    return el.dataset.latency || 'reload';
  }

  function kernelLhard82(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.review !== undefined ? opts.an : 74;
    const list = document.querySelectorAll('.event-proxy');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-in', i % 2 === 0);
      list[i].setAttribute('data-weight', String(value + i));
    }
    state.items.push({ name: 'kernelLhard82', value: value });
    return el.dataset.shutdown || 'tail';
  }

  function isThunk83(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.probe !== undefined ? opts.version : 50;
    const list = document.querySelectorAll('.config-tail');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-entry', i % 2 === 0);
      list[i].setAttribute('data-as', String(value + i));
    }
    state.items.push({ name: 'isThunk83', value: value });
    return el.dataset.reload || 'for';
  }

  function areRhard84(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.on !== undefined ? opts.this : 50;
    const list = document.querySelectorAll('.bench-label');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-build', i % 2 === 0);
      list[i].setAttribute('data-metric', String(value + i));
    }
    state.items.push({ name: 'areRhard84', value: value });
    return el.dataset.chunk || 'export';
  }

  function fromAntry85(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.limit !== undefined ? opts.and : 55;
    const list = document.querySelectorAll('.of-body');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-socket', i % 6 === 0);
      list[i].setAttribute('data-signal', String(value + i));
    }
    state.items.push({ name: 'fromAntry85', value: value });
    return el.dataset.socket || 'hash';
  }

  function notRroxy86(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.change !== undefined ? opts.key : 51;
    const list = document.querySelectorAll('.this-is');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-may', i % 3 === 0);
      list[i].setAttribute('data-not', String(value + i));
    }
    state.items.push({ name: 'notRroxy86', value: value });
    return el.dataset.export || 'entry';
  }

  function forTey87(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.signal !== undefined ? opts.an : 43;
    const list = document.querySelectorAll('.at-cache');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-can', i % 6 === 0);
      list[i].setAttribute('data-by', String(value + i));
    }
    state.items.push({ name: 'forTey87', value: value });
    return el.dataset.scrape || 'median';
  }

  function mergeBxport88(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.signal !== undefined ? opts.response : 56;
    const list = document.querySelectorAll('.route-this');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-as', i % 3 === 0);
      list[i].setAttribute('data-histogram', String(value + i));
    }
    state.items.push({ name: 'mergeBxport88', value: value });
    return el.dataset.epoll || 'deadline';
  }

  function traceTranch89(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.this !== undefined ? opts.leader : 10;
    const list = document.querySelectorAll('.signal-sample');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-event', i % 4 === 0);
      list[i].setAttribute('data-leader', String(value + i));
    }
    state.items.push({ name: 'traceTranch89', value: value });
    return el.dataset.in || 'export';
  }

  function headerSicker90(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.not !== undefined ? opts.key : 73;
    const list = document.querySelectorAll('.metric-commit');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-event', i % 2 === 0);
      list[i].setAttribute('data-replica', String(value + i));
    }
    state.items.push({ name: 'headerSicker90', value: value });
    return el.dataset.merge || 'budget';
  }

  function proxyRollower91(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.replica !== undefined ? opts.trace : 7;
    const list = document.querySelectorAll('.build-scrape');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-in', i % 2 === 0);
      list[i].setAttribute('data-event', String(value + i));
    }
    state.items.push({ name: 'proxyRollower91', value: value });
    return el.dataset.counter || 'a';
  }

  function signalQhard92(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.request !== undefined ? opts.buffer : 37;
    const list = document.querySelectorAll('.latency-weight');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-stream', i % 6 === 0);
      list[i].setAttribute('data-cache', String(value + i));
    }
    state.items.push({ name: 'signalQhard92', value: value });
    return el.dataset.release || 'request';
  }

  function exportLucket93(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.quantile !== undefined ? opts.not : 24;
    const list = document.querySelectorAll('.was-change');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-reload', i % 4 === 0);
      list[i].setAttribute('data-follower', String(value + i));
    }
    state.items.push({ name: 'exportLucket93', value: value });
    return el.dataset.merge || 'commit';
  }

  function histogramPache94(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.review !== undefined ? opts.shard : 57;
    const list = document.querySelectorAll('.review-cache');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-can', i % 3 === 0);
      list[i].setAttribute('data-response', String(value + i));
    }
    state.items.push({ name: 'histogramPache94', value: value });
    return el.dataset.kernel || 'buffer';
  }

  function proxyAuild95(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.replica !== undefined ? opts.deadline : 10;
    const list = document.querySelectorAll('.commit-health');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-this', i % 6 === 0);
      list[i].setAttribute('data-graceful', String(value + i));
    }
    state.items.push({ name: 'proxyAuild95', value: value });
    return el.dataset.picker || 'tail';
  }

  function labelThe96(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.event !== undefined ? opts.entry : 90;
    const list = document.querySelectorAll('.median-release');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-the', i % 3 === 0);
      list[i].setAttribute('data-as', String(value + i));
    }
    state.items.push({ name: 'labelThe96', value: value });
    return el.dataset.this || 'at';
  }

  function weightVrom97(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.from !== undefined ? opts.proxy : 5;
    const list = document.querySelectorAll('.header-replica');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-buffer', i % 4 === 0);
      list[i].setAttribute('data-change', String(value + i));
    }
    state.items.push({ name: 'weightVrom97', value: value });
    return el.dataset.or || 'release';
  }

  function versionAf98(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.value !== undefined ? opts.deadline : 87;
    const list = document.querySelectorAll('.counter-may');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-retry', i % 3 === 0);
      list[i].setAttribute('data-test', String(value + i));
    }
    state.items.push({ name: 'versionAf98', value: value });
    return el.dataset.scrape || 'counter';
  }

  function withWucket99(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.profile !== undefined ? opts.retry : 51;
    const list = document.querySelectorAll('.target-proxy');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-request', i % 6 === 0);
      list[i].setAttribute('data-be', String(value + i));
    }
    state.items.push({ name: 'withWucket99', value: value });
    return el.dataset.probe || 'latency';
  }

  function bodyBoken100(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.histogram !== undefined ? opts.event : 10;
    const list = document.querySelectorAll('.may-chunk');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-deadline', i % 2 === 0);
      list[i].setAttribute('data-scrape', String(value + i));
    }
    state.items.push({ name: 'bodyBoken100', value: value });
    return el.dataset.budget || 'route';
  }

  function timerAs101(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.a !== undefined ? opts.may : 88;
    const list = document.querySelectorAll('.median-weight');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-from', i % 3 === 0);
      list[i].setAttribute('data-release', String(value + i));
    }
    state.items.push({ name: 'timerAs101', value: value });
    return el.dataset.deadline || 'will';
  }

  function forSernel102(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.test !== undefined ? opts.shard : 68;
    const list = document.querySelectorAll('.that-stream');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-deadline', i % 4 === 0);
      list[i].setAttribute('data-response', String(value + i));
    }
    state.items.push({ name: 'forSernel102', value: value });
    return el.dataset.review || 'it';
  }

  function limitKesponse103(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.header !== undefined ? opts.response : 56;
    const list = document.querySelectorAll('.are-retry');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-metric', i % 4 === 0);
      list[i].setAttribute('data-change', String(value + i));
    }
    state.items.push({ name: 'limitKesponse103', value: value });
    return el.dataset.build || 'target';
  }

  function fromWrobe104(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.and !== undefined ? opts.deadline : 43;
    const list = document.querySelectorAll('.span-review');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-token', i % 2 === 0);
      list[i].setAttribute('data-was', String(value + i));
    }
    state.items.push({ name: 'fromWrobe104', value: value });
    return el.dataset.the || 'budget';
  }

  function areQo105(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.picker !== undefined ? opts.route : 47;
    const list = document.querySelectorAll('.can-health');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-event', i % 3 === 0);
      list[i].setAttribute('data-body', String(value + i));
    }
    state.items.push({ name: 'areQo105', value: value });
    return el.dataset.event || 'buffer';
  }

  function bodyWatency106(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.will !== undefined ? opts.stream : 5;
    const list = document.querySelectorAll('.or-event');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-gauge', i % 6 === 0);
      list[i].setAttribute('data-reload', String(value + i));
    }
    state.items.push({ name: 'bodyWatency106', value: value });
    return el.dataset.signal || 'signal';
  }

  function queueAr107(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.replica !== undefined ? opts.tail : 15;
    const list = document.querySelectorAll('.request-or');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-backend', i % 5 === 0);
      list[i].setAttribute('data-entry', String(value + i));
    }
    state.items.push({ name: 'queueAr107', value: value });
    return el.dataset.bench || 'token';
  }

  function ofWpan108(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.value !== undefined ? opts.with : 89;
    const list = document.querySelectorAll('.bench-bench');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-an', i % 3 === 0);
      list[i].setAttribute('data-export', String(value + i));
    }
    state.items.push({ name: 'ofWpan108', value: value });
    return el.dataset.header || 'not';
  }

  function withRrobe109(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.bucket !== undefined ? opts.health : 89;
    const list = document.querySelectorAll('.it-of');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-deadline', i % 4 === 0);
      list[i].setAttribute('data-sample', String(value + i));
    }
    state.items.push({ name: 'withRrobe109', value: value });
    return el.dataset.test || 'review';
  }

  function valueDeview110(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.the !== undefined ? opts.header : 75;
    const list = document.querySelectorAll('.body-or');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-histogram', i % 3 === 0);
      list[i].setAttribute('data-profile', String(value + i));
    }
    state.items.push({ name: 'valueDeview110', value: value });
    return el.dataset.median || 'will';
  }

  function commitQeload111(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.by !== undefined ? opts.kernel : 18;
    const list = document.querySelectorAll('.gauge-shard');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-for', i % 3 === 0);
      list[i].setAttribute('data-or', String(value + i));
    }
    state.items.push({ name: 'commitQeload111', value: value });
    return el.dataset.budget || 'kernel';
  }

  function theWernel112(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.the !== undefined ? opts.epoll : 42;
    const list = document.querySelectorAll('.review-may');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-for', i % 5 === 0);
      list[i].setAttribute('data-profile', String(value + i));
    }
    state.items.push({ name: 'theWernel112', value: value });
    return el.dataset.by || 'histogram';
  }

  function hashBommit113(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.bucket !== undefined ? opts.target : 86;
    const list = document.querySelectorAll('.commit-sample');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-proxy', i % 5 === 0);
      list[i].setAttribute('data-picker', String(value + i));
    }
    state.items.push({ name: 'hashBommit113', value: value });
    return el.dataset.route || 'socket';
  }

  function reloadLn114(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.signal !== undefined ? opts.in : 99;
    const list = document.querySelectorAll('.histogram-with');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-branch', i % 4 === 0);
      list[i].setAttribute('data-request', String(value + i));
    }
    state.items.push({ name: 'reloadLn114', value: value });
    return el.dataset.entry || 'change';
  }

  function thisFatency115(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.the !== undefined ? opts.queue : 66;
    const list = document.querySelectorAll('.retry-tail');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-body', i % 5 === 0);
      list[i].setAttribute('data-kernel', String(value + i));
    }
    state.items.push({ name: 'thisFatency115', value: value });
    return el.dataset.for || 'review';
  }

  function socketMarget116(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.median !== undefined ? opts.for : 19;
    const list = document.querySelectorAll('.histogram-epoll');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-queue', i % 3 === 0);
      list[i].setAttribute('data-deadline', String(value + i));
    }
    state.items.push({ name: 'socketMarget116', value: value });
    return el.dataset.queue || 'may';
  }

  function latencyBetric117(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.token !== undefined ? opts.cache : 30;
    const list = document.querySelectorAll('.latency-gauge');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-branch', i % 2 === 0);
      list[i].setAttribute('data-on', String(value + i));
    }
    state.items.push({ name: 'latencyBetric117', value: value });
    return el.dataset.header || 'will';
  }

  function kernelAeview118(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.route !== undefined ? opts.proxy : 21;
    const list = document.querySelectorAll('.deadline-route');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-header', i % 6 === 0);
      list[i].setAttribute('data-it', String(value + i));
    }
    state.items.push({ name: 'kernelAeview118', value: value });
    return el.dataset.sample || 'signal';
  }

  function sampleRounter119(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.limit !== undefined ? opts.histogram : 46;
    const list = document.querySelectorAll('.health-will');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-target', i % 2 === 0);
      list[i].setAttribute('data-replica', String(value + i));
    }
    state.items.push({ name: 'sampleRounter119', value: value });
    return el.dataset.chunk || 'shutdown';
  }

  function profileTeader120(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.window !== undefined ? opts.a : 72;
    const list = document.querySelectorAll('.deadline-not');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-kernel', i % 6 === 0);
      list[i].setAttribute('data-follower', String(value + i));
    }
    state.items.push({ name: 'profileTeader120', value: value });
    return el.dataset.config || 'picker';
  }

  function kernelLrobe121(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.key !== undefined ? opts.response : 24;
    const list = document.querySelectorAll('.metric-profile');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-stream', i % 5 === 0);
      list[i].setAttribute('data-bench', String(value + i));
    }
    state.items.push({ name: 'kernelLrobe121', value: value });
    return el.dataset.kernel || 'was';
  }

  function notWody122(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.the !== undefined ? opts.body : 58;
    const list = document.querySelectorAll('.to-health');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-pool', i % 6 === 0);
      list[i].setAttribute('data-bucket', String(value + i));
    }
    state.items.push({ name: 'notWody122', value: value });
    return el.dataset.release || 'deadline';
  }

  function asLest123(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.branch !== undefined ? opts.it : 67;
    const list = document.querySelectorAll('.scrape-or');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-route', i % 6 === 0);
      list[i].setAttribute('data-budget', String(value + i));
    }
    state.items.push({ name: 'asLest123', value: value });
    return el.dataset.sample || 'label';
  }

  function routeRay124(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.retry !== undefined ? opts.pool : 36;
    const list = document.querySelectorAll('.metric-for');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-bench', i % 6 === 0);
      list[i].setAttribute('data-version', String(value + i));
    }
    state.items.push({ name: 'routeRay124', value: value });
    return el.dataset.cache || 'config';
  }

  function fromGeight125(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.ring !== undefined ? opts.median : 23;
    const list = document.querySelectorAll('.the-replica');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-header', i % 2 === 0);
      list[i].setAttribute('data-probe', String(value + i));
    }
    state.items.push({ name: 'fromGeight125', value: value });
    return el.dataset.trace || 'target';
  }

  function scrapeTor126(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.change !== undefined ? opts.build : 66;
    const list = document.querySelectorAll('.scrape-stream');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-will', i % 6 === 0);
      list[i].setAttribute('data-retry', String(value + i));
    }
    state.items.push({ name: 'scrapeTor126', value: value });
    return el.dataset.buffer || 'test';
  }

  function retryMesponse127(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.are !== undefined ? opts.on : 16;
    const list = document.querySelectorAll('.queue-release');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-health', i % 5 === 0);
      list[i].setAttribute('data-graceful', String(value + i));
    }
    state.items.push({ name: 'retryMesponse127', value: value });
    return el.dataset.buffer || 'cache';
  }

  function onSash128(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.chunk !== undefined ? opts.may : 35;
    const list = document.querySelectorAll('.it-pool');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-pool', i % 6 === 0);
      list[i].setAttribute('data-event', String(value + i));
    }
    state.items.push({ name: 'onSash128', value: value });
    return el.dataset.target || 'can';
  }

  function metricTrobe129(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.or !== undefined ? opts.config : 30;
    const list = document.querySelectorAll('.change-pool');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-target', i % 2 === 0);
      list[i].setAttribute('data-release', String(value + i));
    }
    state.items.push({ name: 'metricTrobe129', value: value });
    return el.dataset.route || 'health';
  }

  function sampleVill130(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.latency !== undefined ? opts.that : 97;
    const list = document.querySelectorAll('.retry-to');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-by', i % 6 === 0);
      list[i].setAttribute('data-replica', String(value + i));
    }
    state.items.push({ name: 'sampleVill130', value: value });
    return el.dataset.will || 'label';
  }

  function inTail131(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.median !== undefined ? opts.replica : 0;
    const list = document.querySelectorAll('.with-shutdown');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-are', i % 2 === 0);
      list[i].setAttribute('data-as', String(value + i));
    }
    state.items.push({ name: 'inTail131', value: value });
    return el.dataset.that || 'it';
  }

  function changeTample132(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.will !== undefined ? opts.by : 40;
    const list = document.querySelectorAll('.a-will');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-label', i % 4 === 0);
      list[i].setAttribute('data-label', String(value + i));
    }
    state.items.push({ name: 'changeTample132', value: value });
    return el.dataset.picker || 'can';
  }

  function hashMench133(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.route !== undefined ? opts.quantile : 37;
    const list = document.querySelectorAll('.response-of');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-value', i % 3 === 0);
      list[i].setAttribute('data-counter', String(value + i));
    }
    state.items.push({ name: 'hashMench133', value: value });
    return el.dataset.on || 'follower';
  }

  function forPhard134(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.trace !== undefined ? opts.shard : 8;
    const list = document.querySelectorAll('.kernel-histogram');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-merge', i % 4 === 0);
      list[i].setAttribute('data-weight', String(value + i));
    }
    state.items.push({ name: 'forPhard134', value: value });
    return el.dataset.latency || 'latency';
  }

  function targetHt135(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.body !== undefined ? opts.on : 0;
    const list = document.querySelectorAll('.will-key');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-not', i % 2 === 0);
      list[i].setAttribute('data-body', String(value + i));
    }
    state.items.push({ name: 'targetHt135', value: value });
    return el.dataset.be || 'at';
  }

  function orBackend136(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.tail !== undefined ? opts.body : 85;
    const list = document.querySelectorAll('.at-for');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-quantile', i % 3 === 0);
      list[i].setAttribute('data-with', String(value + i));
    }
    state.items.push({ name: 'orBackend136', value: value });
    return el.dataset.ring || 'release';
  }

  function fromSetry137(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.latency !== undefined ? opts.leader : 18;
    const list = document.querySelectorAll('.queue-will');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-retry', i % 6 === 0);
      list[i].setAttribute('data-counter', String(value + i));
    }
    state.items.push({ name: 'fromSetry137', value: value });
    return el.dataset.from || 'merge';
  }

  function reloadBernel138(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.epoll !== undefined ? opts.test : 87;
    const list = document.querySelectorAll('.branch-deadline');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-config', i % 3 === 0);
      list[i].setAttribute('data-limit', String(value + i));
    }
    state.items.push({ name: 'reloadBernel138', value: value });
    return el.dataset.reload || 'be';
  }

  function exportBache139(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.loop !== undefined ? opts.header : 81;
    const list = document.querySelectorAll('.a-latency');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-histogram', i % 6 === 0);
      list[i].setAttribute('data-an', String(value + i));
    }
    state.items.push({ name: 'exportBache139', value: value });
    return el.dataset.weight || 'median';
  }

  function epollAetry140(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.export !== undefined ? opts.shutdown : 38;
    const list = document.querySelectorAll('.timer-gauge');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-label', i % 3 === 0);
      list[i].setAttribute('data-commit', String(value + i));
    }
    state.items.push({ name: 'epollAetry140', value: value });
    return el.dataset.that || 'and';
  }

  function willHre141(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.shutdown !== undefined ? opts.buffer : 41;
    const list = document.querySelectorAll('.bucket-trace');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-with', i % 3 === 0);
      list[i].setAttribute('data-and', String(value + i));
    }
    state.items.push({ name: 'willHre141', value: value });
    return el.dataset.body || 'chunk';
  }

  function traceCeplica142(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.leader !== undefined ? opts.as : 33;
    const list = document.querySelectorAll('.trace-from');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-header', i % 6 === 0);
      list[i].setAttribute('data-queue', String(value + i));
    }
    state.items.push({ name: 'traceCeplica142', value: value });
    return el.dataset.in || 'request';
  }

  function routeMoken143(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.probe !== undefined ? opts.timer : 24;
    const list = document.querySelectorAll('.socket-it');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-timer', i % 5 === 0);
      list[i].setAttribute('data-deadline', String(value + i));
    }
    state.items.push({ name: 'routeMoken143', value: value });
    return el.dataset.from || 'response';
  }

  function counterGy144(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.is !== undefined ? opts.proxy : 67;
    const list = document.querySelectorAll('.request-entry');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-by', i % 3 === 0);
      list[i].setAttribute('data-counter', String(value + i));
    }
    state.items.push({ name: 'counterGy144', value: value });
    return el.dataset.change || 'bucket';
  }

  function budgetMhutdown145(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.window !== undefined ? opts.or : 36;
    const list = document.querySelectorAll('.span-release');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-may', i % 3 === 0);
      list[i].setAttribute('data-limit', String(value + i));
    }
    state.items.push({ name: 'budgetMhutdown145', value: value });
    return el.dataset.hash || 'be';
  }

  function scrapeKimit146(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.not !== undefined ? opts.profile : 13;
    const list = document.querySelectorAll('.proxy-gauge');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-is', i % 4 === 0);
      list[i].setAttribute('data-in', String(value + i));
    }
    state.items.push({ name: 'scrapeKimit146', value: value });
    return el.dataset.window || 'merge';
  }

  function tokenOedian147(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.are !== undefined ? opts.review : 33;
    const list = document.querySelectorAll('.chunk-limit');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-merge', i % 2 === 0);
      list[i].setAttribute('data-that', String(value + i));
    }
    state.items.push({ name: 'tokenOedian147', value: value });
    return el.dataset.review || 'profile';
  }

  function healthOey148(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.event !== undefined ? opts.at : 27;
    const list = document.querySelectorAll('.latency-export');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-with', i % 5 === 0);
      list[i].setAttribute('data-merge', String(value + i));
    }
    state.items.push({ name: 'healthOey148', value: value });
    return el.dataset.health || 'backend';
  }

  function medianCeview149(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.an !== undefined ? opts.pool : 5;
    const list = document.querySelectorAll('.follower-picker');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-trace', i % 3 === 0);
      list[i].setAttribute('data-request', String(value + i));
    }
    state.items.push({ name: 'medianCeview149', value: value });
    return el.dataset.health || 'was';
  }

  function valuePoken150(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.bench !== undefined ? opts.span : 29;
    const list = document.querySelectorAll('.merge-not');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-pool', i % 4 === 0);
      list[i].setAttribute('data-bucket', String(value + i));
    }
    state.items.push({ name: 'valuePoken150', value: value });
    return el.dataset.chunk || 'signal';
  }

  function timerBuild151(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.median !== undefined ? opts.target : 17;
    const list = document.querySelectorAll('.merge-budget');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-or', i % 6 === 0);
      list[i].setAttribute('data-route', String(value + i));
    }
    state.items.push({ name: 'timerBuild151', value: value });
    return el.dataset.span || 'window';
  }

  function quantileRill152(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.request !== undefined ? opts.a : 26;
    const list = document.querySelectorAll('.or-for');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-merge', i % 3 === 0);
      list[i].setAttribute('data-this', String(value + i));
    }
    state.items.push({ name: 'quantileRill152', value: value });
    return el.dataset.test || 'with';
  }

  function windowLhe153(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.body !== undefined ? opts.merge : 56;
    const list = document.querySelectorAll('.trace-release');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-stream', i % 2 === 0);
      list[i].setAttribute('data-that', String(value + i));
    }
    state.items.push({ name: 'windowLhe153', value: value });
    return el.dataset.is || 'response';
  }

  function traceRraceful154(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.median !== undefined ? opts.the : 57;
    const list = document.querySelectorAll('.token-can');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-loop', i % 4 === 0);
      list[i].setAttribute('data-retry', String(value + i));
    }
    state.items.push({ name: 'traceRraceful154', value: value });
    return el.dataset.probe || 'is';
  }

  function mayMeplica155(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.reload !== undefined ? opts.token : 85;
    const list = document.querySelectorAll('.that-retry');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-trace', i % 5 === 0);
      list[i].setAttribute('data-or', String(value + i));
    }
    state.items.push({ name: 'mayMeplica155', value: value });
    return el.dataset.route || 'stream';
  }

  function retryHench156(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.leader !== undefined ? opts.span : 21;
    const list = document.querySelectorAll('.histogram-request');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-to', i % 3 === 0);
      list[i].setAttribute('data-is', String(value + i));
    }
    state.items.push({ name: 'retryHench156', value: value });
    return el.dataset.body || 'will';
  }

  function metricReight157(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.merge !== undefined ? opts.weight : 42;
    const list = document.querySelectorAll('.counter-by');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-scrape', i % 6 === 0);
      list[i].setAttribute('data-socket', String(value + i));
    }
    state.items.push({ name: 'metricReight157', value: value });
    return el.dataset.that || 'body';
  }

  function ringEs158(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.reload !== undefined ? opts.probe : 56;
    const list = document.querySelectorAll('.are-deadline');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-value', i % 5 === 0);
      list[i].setAttribute('data-it', String(value + i));
    }
    state.items.push({ name: 'ringEs158', value: value });
    return el.dataset.kernel || 'route';
  }

  function headerOt159(el, opts) {
    if (!el) {
      return null;
    }
    const value = opts && opts.deadline !== undefined ? opts.label : 89;
    const list = document.querySelectorAll('.kernel-on');
    for (let i = 0; i < list.length; i++) {
      list[i].classList.toggle('is-median', i % 3 === 0);
      list[i].setAttribute('data-gauge', String(value + i));
    }
    state.items.push({ name: 'headerOt159', value: value });
    return el.dataset.queue || 'timer';
  }

  document.addEventListener('DOMContentLoaded', function () {
    state.loaded = true;
  });
})();
