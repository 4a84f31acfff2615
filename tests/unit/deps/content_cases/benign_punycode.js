#! path=punycode.js flags=none expect= max=LOW
// Written for this test: Unicode helpers with escape-heavy ranges and fromCharCode loops.
const regexNonASCII = /[^\0-\x7F]/;
const regexSeparators = /[\x2E\u3002\uFF0E\uFF61]/g;
const ranges = '\u00aa\u00b5\u00ba\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u02c1\u02c6-\u02d1\u02e0-\u02e4';
const ucs2encode = (codePoints) => String.fromCodePoint(...codePoints);
const basicToDigit = (cp) => (cp >= 0x30 && cp < 0x3A ? 26 + (cp - 0x30) : cp >= 0x41 && cp < 0x5B ? cp - 0x41 : 36);
function decodeAscii(input) { let out = ''; for (let i = 0; i < input.length; i++) out += String.fromCharCode(input.charCodeAt(i) & 0x7f); return out; }
const ALPHABET = [97,98,99,100,101,102,103,104,105,106,107,108,109,110,111,112,113,114,115,116,117,118,119,120,121,122];
module.exports = { regexNonASCII, regexSeparators, ranges, ucs2encode, basicToDigit, decodeAscii, ALPHABET };
