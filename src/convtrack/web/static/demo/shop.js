/* The demo shop's own code, not part of the tag: the write key, one product, the cart and the
   order. Data from the address bar or storage is only ever shown with textContent. */
(function () {
  'use strict';
  var KEY = 'convtrack_demo_key', CART = 'convtrack_demo_cart', ORDER = 'convtrack_demo_order';
  var PRODUCT = {item_id: 'TSHIRT-1', item_name: 'convtrack T-shirt', price: 24.95};
  var CURRENCY = 'EUR';

  function load(store, name, fallback) {
    try { return JSON.parse(store.getItem(name)) || fallback; } catch (e) { return fallback; }
  }
  function save(store, name, value) {
    try { value == null ? store.removeItem(name) : store.setItem(name, JSON.stringify(value)); } catch (e) {}
  }
  // The public write key: from ?key= on the landing, then kept in localStorage for later pages.
  function writeKey() {
    var fromUrl = new URLSearchParams(location.search).get('key');
    if (fromUrl && /^ctk_pub_[\w-]{1,200}$/.test(fromUrl)) save(localStorage, KEY, fromUrl);
    return load(localStorage, KEY, null);
  }
  function cart() { return load(sessionStorage, CART, []); }
  function total(lines) {
    var sum = 0;
    lines.forEach(function (l) { sum += l.price * l.quantity; });
    return Math.round(sum * 100) / 100;
  }
  function add(quantity) {
    var lines = cart(), line = lines.filter(function (l) { return l.item_id === PRODUCT.item_id; })[0];
    if (!line) lines.push(line = {item_id: PRODUCT.item_id, item_name: PRODUCT.item_name, price: PRODUCT.price, quantity: 0});
    line.quantity += quantity;
    save(sessionStorage, CART, lines);
    return lines;
  }
  function randomHex(n) {
    return Array.from(crypto.getRandomValues(new Uint8Array(n)), function (b) {
      return (b + 256).toString(16).slice(1);
    }).join('');
  }
  // Place the order: the browser and the shop's server both derive event_id from order_id.
  function placeOrder() {
    var lines = cart(), orderId = 'demo-' + randomHex(6);
    var order = {order_id: orderId, event_id: 'purchase-' + orderId, value: total(lines),
                 currency: CURRENCY, items: lines};
    save(sessionStorage, ORDER, order);
    save(sessionStorage, CART, null);
    return order;
  }
  function order() { return load(sessionStorage, ORDER, null); }
  // The same purchase as your server would send it: a secret key, the same event_id.
  function serverCopy(o) {
    var aid = load(localStorage, 'ct_aid', null);  // the tag's copy of the visitor id
    var event = {type: 'conversion', event_name: 'purchase', event_id: o.event_id,
                 order_id: o.order_id, value: o.value, currency: o.currency,
                 properties: {items: o.items}};
    if (aid) event.anonymous_id = aid; else event.user_id = 'demo-customer';
    var body = JSON.stringify(event).replace(/'/g, "'\\''");
    return 'curl -s ' + new URL('../v1/events', location.href).href + ' \\\n' +
      '  -H "Authorization: Bearer $KEY" -H \'content-type: application/json\' \\\n' +
      "  -d '" + body + "'";
  }
  function money(v) { return v.toFixed(2) + ' ' + CURRENCY; }
  function text(id, value) { var el = document.getElementById(id); if (el) el.textContent = value; }
  function showCartCount() {
    var n = 0;
    cart().forEach(function (l) { n += l.quantity; });
    text('cart-count', String(n));
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', showCartCount);
  else showCartCount();

  window.shop = {key: writeKey(), product: PRODUCT, currency: CURRENCY, cart: cart, add: add,
                 total: total, placeOrder: placeOrder, order: order, serverCopy: serverCopy,
                 money: money, text: text};
})();
