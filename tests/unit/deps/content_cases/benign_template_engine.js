#! path=lib/template.js flags=none expect= max=LOW
// Written for this test: a template compiler in the style of lodash/underscore.
var reInterpolate = /<%=([\s\S]+?)%>/g, reEscape = /<%-([\s\S]+?)%>/g;
var escapes = { "'": "'", '\\': '\\', '\r': 'r', '\n': 'n', '\u2028': 'u2028', '\u2029': 'u2029' };
function template(text, settings) {
  var source = "__p += '" + text.replace(/\\|'|\r|\n|\u2028|\u2029/g, function (m) { return '\\' + escapes[m]; }) + "';\n";
  source = decodeURIComponent(settings && settings.prefix || '') + source;
  var render = new Function(settings.variable || 'obj', '_', source);
  return function (data) { return render.call(this, data, {}); };
}
module.exports = template;
