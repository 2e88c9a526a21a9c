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
})();
