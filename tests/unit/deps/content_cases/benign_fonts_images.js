#! path=dist/styles.js flags=none expect= max=LOW
// Written for this test: inlined assets (generated data URIs) next to ordinary code.
export const logo = 'data:image/svg+xml;base64,PHN2ZyB4bWxucz0iaHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmciIHZpZXdCb3g9IjAgMCAxMCAxMCI+PGNpcmNsZSBjeD0iNSIgY3k9IjUiIHI9IjQiLz48L3N2Zz4=';
export const mono = "@font-face{font-family:m;src:url(data:font/woff2;base64,d09GMgABAAAAAAKoAA0AAAAABiwAAAJTAAEAAAAAAAAAAAAAAAAAAAAAAAAAAAAAP0ZGVE0cGh4GYACCUhEICoE8gTYLCgABNgIkAxAEIAWDHAc6G1MFyI6Ucg4KkMXB82hhfvx+t++8F4FqOQNEkCgGsIqKbRjVVhXlsVkkiWWAoRAAdgU/AVgAoHAAUDDdUPDGQQvKGMcEDcgAjaAC4wwAAACAAKSIGEE5XkAIQCzWVADAAAAAABBsQcIYQwwAAAAAAAI)}";
export function toText(b64) { return typeof atob === 'function' ? atob(b64) : Buffer.from(b64, 'base64').toString('binary'); }
export const isNode = Function('try { return this === global } catch (e) { return false }');
