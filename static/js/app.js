/* CoSA Circles: the few behaviours the CSP will not let us inline. Plain ES2017, no dependencies. */
(function () {
  'use strict';

  // (1) Move focus to [data-autofocus] (the error summary) on load and after htmx swaps.
  // Each element is focused once, so later swaps elsewhere do not pull focus back to it.
  var done = new WeakSet();
  function autofocus() {
    var fresh = Array.prototype.filter.call(document.querySelectorAll('[data-autofocus]'), function (el) {
      return !done.has(el);
    });
    fresh.forEach(function (el) { done.add(el); });
    var el = fresh[0];
    if (!el) return;
    if (!el.hasAttribute('tabindex') && el.tabIndex < 0) el.setAttribute('tabindex', '-1');
    el.focus();
  }
  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', autofocus);
  } else {
    autofocus();
  }
  document.addEventListener('htmx:afterSettle', autofocus);

  // (2) data-confirm="message" on a form, or on the button/link that submits it.
  // Capture phase, so a declined confirm also stops htmx from sending the request.
  function stop(event) {
    event.preventDefault();
    event.stopPropagation();
  }
  document.addEventListener('click', function (event) {
    var el = event.target.closest && event.target.closest('button[data-confirm], input[data-confirm], a[data-confirm]');
    if (el && !el.disabled && !window.confirm(el.getAttribute('data-confirm'))) stop(event);
  }, true);
  document.addEventListener('submit', function (event) {
    var form = event.target;
    if (form.hasAttribute('data-confirm') && !window.confirm(form.getAttribute('data-confirm'))) stop(event);
  }, true);

  // (3) Forms marked data-keep-on-error (the check-in): when the request cannot be sent, for example with
  // no signal, nothing is swapped, so everything typed stays in the page; say so. The form's idempotency
  // key makes sending it again safe.
  function offline(event) {
    var form = event.target.closest && event.target.closest('form[data-keep-on-error]');
    var message = form && form.querySelector('[data-offline-message]');
    if (message) {
      message.hidden = false;
      if (!message.hasAttribute('tabindex')) message.setAttribute('tabindex', '-1');
      message.focus();
    }
  }
  document.addEventListener('htmx:sendError', offline);
  document.addEventListener('htmx:timeout', offline);
  document.addEventListener('htmx:beforeRequest', function (event) {
    var message = event.target.querySelector && event.target.querySelector('[data-offline-message]');
    if (message) message.hidden = true;
  });
})();
